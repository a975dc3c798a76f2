/**
 * Pure planning of ipset changes: for one set, compare what tabby wants with
 * what the kernel holds and choose how to get there.
 *
 *   create       the set is absent: create it and add every member;
 *   incremental  same metadata, a small delta: `add`/`del` only the difference;
 *   replace      a large delta, or a new maxelem: fill a temporary set, `swap`
 *                it with the live one (atomic for anything matching the set,
 *                and iptables keeps its reference to the name), destroy the
 *                temporary;
 *   recreate     the type or family changed, which `swap` refuses: destroy
 *                and create, which only works once nothing references the set.
 */
import { sha224Base64Url } from '../iptables/names.js';
import { renderCreate, sameMeta, sortedMembers, swappable, type IpSetState } from './model.js';

export type SetChangeKind = 'create' | 'incremental' | 'replace' | 'recreate';

export interface SetChange {
  name: string;
  kind: SetChangeKind;
  /** `ipset restore` lines, in order. */
  lines: string[];
  added: number;
  removed: number;
}

/** Deltas up to this many lines are always applied incrementally. */
export const DEFAULT_INCREMENTAL_MIN = 64;

/** Name of the temporary set used to replace `name` (distinct for each set, deterministic). */
export function tempSetName(name: string, prefix: string): string {
  return `${prefix}t-${sha224Base64Url(name).slice(0, 16)}`;
}

export interface PlanOptions {
  prefix: string;
  /** Below this delta always incremental; above it, incremental only while the delta is under half the set. */
  incrementalMin?: number;
  /** Temporary set names that exist in the kernel (left by a crash) and must be destroyed before reuse. */
  existingTemps?: ReadonlySet<string>;
}

export function planSetChange(name: string, want: IpSetState, have: IpSetState | undefined, opts: PlanOptions): SetChange | undefined {
  const fill = (target: string) => sortedMembers(want.members).map((m) => `add ${target} ${m}`);
  if (!have) {
    return { name, kind: 'create', lines: [renderCreate(name, want.meta), ...fill(name)], added: want.members.size, removed: 0 };
  }
  const adds = sortedMembers([...want.members].filter((m) => !have.members.has(m)));
  const dels = sortedMembers([...have.members].filter((m) => !want.members.has(m)));
  if (!swappable(want.meta, have.meta)) {
    return {
      name,
      kind: 'recreate',
      lines: [`destroy ${name}`, renderCreate(name, want.meta), ...fill(name)],
      added: want.members.size,
      removed: have.members.size,
    };
  }
  const delta = adds.length + dels.length;
  const metaSame = sameMeta(want.meta, have.meta);
  if (metaSame && delta === 0) return undefined;
  const small = delta <= (opts.incrementalMin ?? DEFAULT_INCREMENTAL_MIN) || delta * 2 <= want.members.size;
  if (metaSame && small) {
    return { name, kind: 'incremental', lines: [...dels.map((m) => `del ${name} ${m}`), ...adds.map((m) => `add ${name} ${m}`)], added: adds.length, removed: dels.length };
  }
  const tmp = tempSetName(name, opts.prefix);
  return {
    name,
    kind: 'replace',
    lines: [...(opts.existingTemps?.has(tmp) ? [`destroy ${tmp}`] : []), renderCreate(tmp, want.meta), ...fill(tmp), `swap ${tmp} ${name}`, `destroy ${tmp}`],
    added: adds.length,
    removed: dels.length,
  };
}

export type IpSetDriftKind = 'set-missing' | 'set-members' | 'set-meta' | 'set-unexpected';

export interface IpSetDriftItem {
  kind: IpSetDriftKind;
  set: string;
  detail?: string;
}

/** How the kernel's tabby sets differ from the wanted ones. Temporary sets are reported as unexpected. */
export function describeSetDrift(desired: ReadonlyMap<string, IpSetState>, dp: ReadonlyMap<string, IpSetState>): IpSetDriftItem[] {
  const items: IpSetDriftItem[] = [];
  for (const [name, want] of [...desired].sort(([a], [b]) => a.localeCompare(b))) {
    const have = dp.get(name);
    if (!have) {
      items.push({ kind: 'set-missing', set: name });
      continue;
    }
    if (!sameMeta(want.meta, have.meta)) {
      items.push({ kind: 'set-meta', set: name, detail: `${have.meta.type}/${have.meta.family}/${have.meta.maxElem} -> ${want.meta.type}/${want.meta.family}/${want.meta.maxElem}` });
    }
    const missing = [...want.members].filter((m) => !have.members.has(m)).length;
    const extra = [...have.members].filter((m) => !want.members.has(m)).length;
    if (missing || extra) items.push({ kind: 'set-members', set: name, detail: `${missing} missing, ${extra} extra` });
  }
  for (const name of [...dp.keys()].sort()) if (!desired.has(name)) items.push({ kind: 'set-unexpected', set: name });
  return items;
}
