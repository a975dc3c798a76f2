/**
 * The pure heart of the table driver: compare what tabby wants in one table
 * with what the dataplane holds (read back or believed), decide the smallest
 * whole-chain change, and render it as one `iptables-restore --noflush` input.
 *
 * Granularity is the chain: a chain whose tags differ in any way is rewritten
 * whole (`:chain - [0:0]` flushes it, then its rules are appended). Chains
 * that match are not mentioned at all, so their rules and counters stay
 * untouched. The only rules tabby writes outside its own chains are its hook
 * rules in the built-in chains; they are deleted by their exact text (never by
 * position, which a concurrent writer could shift) and inserted again.
 *
 * Order inside the restore input, all in one table and one COMMIT (atomic):
 *   1. `:chain - [0:0]` for every chain rewritten or deleted (creates or flushes),
 *   2. `-D BUILTIN <spec>` for stale hook rules,
 *   3. `-A chain ...` for the rewritten chains,
 *   4. `-I BUILTIN n ...` / `-A BUILTIN ...` for the hook rules,
 *   5. `-X chain` for deleted chains, which by now nothing of ours references.
 */
import type { RenderedRules } from './hash.js';
import type { HookMode, TableName } from './model.js';
import type { OwnedTableState } from './save-parser.js';

export interface DesiredHooks {
  mode: HookMode;
  rendered: RenderedRules;
}

export interface TablePlan {
  table: TableName;
  /** Chains written whole (created or replaced). */
  rewrite: string[];
  /** Chains flushed and deleted. */
  delete: string[];
  /** Stale chains that a foreign rule still references: flushed but kept (`-X` would fail). */
  flushOnly: string[];
  /** Built-in chains whose tabby rules are replaced (or removed). */
  hooks: string[];
}

export function isEmptyPlan(p: TablePlan): boolean {
  return p.rewrite.length + p.delete.length + p.flushOnly.length + p.hooks.length === 0;
}

function sameHashes(a: readonly (string | null)[] | undefined, b: readonly string[]): boolean {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hooksIntact(desired: DesiredHooks | undefined, dp: OwnedTableState, chain: string): boolean {
  const have = dp.hooks.get(chain) ?? [];
  const want = desired?.rendered.hashes ?? [];
  if (!sameHashes(have.map((h) => h.hash), want)) return false;
  // In insert mode our rules must be evaluated first: at positions 0..n-1.
  if (desired?.mode === 'insert') return have.every((h, i) => h.index === i);
  return true;
}

/**
 * Decide the work. `scope` limits the comparison to some chains (the dirty
 * ones); without it every chain and hook on either side is compared.
 */
export function computePlan(
  table: TableName,
  desiredChains: ReadonlyMap<string, RenderedRules>,
  desiredHooks: ReadonlyMap<string, DesiredHooks>,
  dp: OwnedTableState,
  scope?: { chains: Iterable<string>; hooks: Iterable<string> },
): TablePlan {
  const chainNames = scope ? new Set(scope.chains) : new Set([...desiredChains.keys(), ...dp.chains.keys()]);
  const hookNames = scope ? new Set(scope.hooks) : new Set([...desiredHooks.keys(), ...dp.hooks.keys()]);
  const plan: TablePlan = { table, rewrite: [], delete: [], flushOnly: [], hooks: [] };
  for (const name of chainNames) {
    const want = desiredChains.get(name);
    const have = dp.chains.get(name);
    if (want) {
      if (!sameHashes(have, want.hashes)) plan.rewrite.push(name);
    } else if (have) {
      if (!dp.foreignRefs.has(name)) plan.delete.push(name);
      else if (have.length > 0) plan.flushOnly.push(name);
    }
  }
  for (const chain of hookNames) if (!hooksIntact(desiredHooks.get(chain), dp, chain)) plan.hooks.push(chain);
  plan.rewrite.sort();
  plan.delete.sort();
  plan.flushOnly.sort();
  plan.hooks.sort();
  return plan;
}

/** Render the plan as one `iptables-restore --noflush` input, or undefined when there is nothing to do. */
export function renderRestoreInput(
  plan: TablePlan,
  desiredChains: ReadonlyMap<string, RenderedRules>,
  desiredHooks: ReadonlyMap<string, DesiredHooks>,
  dp: OwnedTableState,
): string | undefined {
  return renderRestoreInputSplit(plan, desiredChains, desiredHooks, dp)?.input;
}

/**
 * The same input, with the rules of `late` chains (those naming ipsets)
 * after every other chain's rules, and where that late part starts
 * (`early`: a character offset). Chains are independent, so the order of
 * whole chains' `-A` lines does not change what the restore does.
 */
export function renderRestoreInputSplit(
  plan: TablePlan,
  desiredChains: ReadonlyMap<string, RenderedRules>,
  desiredHooks: ReadonlyMap<string, DesiredHooks>,
  dp: OwnedTableState,
  late: (chain: string) => boolean = () => false,
): { input: string; early: number } | undefined {
  if (isEmptyPlan(plan)) return undefined;
  const out: string[] = [`*${plan.table}`];
  for (const name of [...plan.rewrite, ...plan.delete, ...plan.flushOnly].sort()) out.push(`:${name} - [0:0]`);
  for (const chain of plan.hooks) for (const h of dp.hooks.get(chain) ?? []) out.push(`-D ${chain} ${h.spec}`);
  const lateChains: string[] = [];
  for (const name of plan.rewrite) {
    if (late(name)) lateChains.push(name);
    else for (const spec of desiredChains.get(name)!.specs) out.push(`-A ${name} ${spec}`);
  }
  const early = out.reduce((n, l) => n + l.length + 1, 0);
  for (const name of lateChains) for (const spec of desiredChains.get(name)!.specs) out.push(`-A ${name} ${spec}`);
  for (const chain of plan.hooks) {
    const want = desiredHooks.get(chain);
    if (!want) continue;
    want.rendered.specs.forEach((spec, i) => out.push(want.mode === 'insert' ? `-I ${chain} ${i + 1} ${spec}` : `-A ${chain} ${spec}`));
  }
  for (const name of plan.delete) out.push(`-X ${name}`);
  out.push('COMMIT', '');
  const input = out.join('\n');
  // Nothing waits when no chain names a set.
  return { input, early: lateChains.length ? early : input.length };
}

/** What the dataplane holds once the plan's restore succeeded. */
export function stateAfter(
  plan: TablePlan,
  desiredChains: ReadonlyMap<string, RenderedRules>,
  desiredHooks: ReadonlyMap<string, DesiredHooks>,
  dp: OwnedTableState,
): OwnedTableState {
  const chains = new Map(dp.chains);
  const hooks = new Map(dp.hooks);
  for (const name of plan.rewrite) chains.set(name, [...desiredChains.get(name)!.hashes]);
  for (const name of plan.delete) chains.delete(name);
  for (const name of plan.flushOnly) chains.set(name, []);
  for (const chain of plan.hooks) {
    const want = desiredHooks.get(chain);
    if (!want || want.rendered.hashes.length === 0) {
      hooks.delete(chain);
      continue;
    }
    // Positions are exact for insert mode; for append mode only the order is known.
    hooks.set(
      chain,
      want.rendered.hashes.map((hash, i) => ({ hash, spec: want.rendered.specs[i]!, index: want.mode === 'insert' ? i : Number.MAX_SAFE_INTEGER })),
    );
  }
  return { chains, hooks, foreignRefs: new Set(dp.foreignRefs) };
}

export type DriftKind =
  | 'chain-missing'
  | 'chain-flushed'
  | 'chain-foreign-rule'
  | 'chain-modified'
  | 'chain-unexpected'
  | 'hook-missing'
  | 'hook-duplicated'
  | 'hook-moved'
  | 'hook-modified'
  | 'hook-unexpected';

export interface DriftItem {
  table: TableName;
  kind: DriftKind;
  chain: string;
  detail?: string;
}

/** Explain, chain by chain, how the dataplane differs from what tabby wants. */
export function describeDrift(
  table: TableName,
  desiredChains: ReadonlyMap<string, RenderedRules>,
  desiredHooks: ReadonlyMap<string, DesiredHooks>,
  dp: OwnedTableState,
): DriftItem[] {
  const items: DriftItem[] = [];
  for (const [name, want] of desiredChains) {
    const have = dp.chains.get(name);
    if (!have) items.push({ table, kind: 'chain-missing', chain: name });
    else if (sameHashes(have, want.hashes)) continue;
    else if (have.length === 0 && want.hashes.length > 0) items.push({ table, kind: 'chain-flushed', chain: name });
    else if (have.includes(null)) {
      const n = have.filter((h) => h === null).length;
      items.push({ table, kind: 'chain-foreign-rule', chain: name, detail: `${n} rule(s) without a tabby tag` });
    } else items.push({ table, kind: 'chain-modified', chain: name, detail: `${have.length} rule(s) found, ${want.hashes.length} wanted` });
  }
  for (const name of dp.chains.keys()) if (!desiredChains.has(name)) items.push({ table, kind: 'chain-unexpected', chain: name });
  const hookChains = new Set([...desiredHooks.keys(), ...dp.hooks.keys()]);
  for (const chain of [...hookChains].sort()) {
    const want = desiredHooks.get(chain);
    if (hooksIntact(want, dp, chain)) continue;
    const have = (dp.hooks.get(chain) ?? []).map((h) => h.hash);
    const wantHashes = want?.rendered.hashes ?? [];
    if (wantHashes.length === 0) items.push({ table, kind: 'hook-unexpected', chain, detail: `${have.length} stale rule(s)` });
    else if (have.length === 0) items.push({ table, kind: 'hook-missing', chain });
    else if (wantHashes.some((h) => have.filter((x) => x === h).length > 1)) items.push({ table, kind: 'hook-duplicated', chain });
    else if (sameHashes(have, wantHashes)) items.push({ table, kind: 'hook-moved', chain, detail: 'not at the top of the chain' });
    else items.push({ table, kind: 'hook-modified', chain });
  }
  return items;
}
