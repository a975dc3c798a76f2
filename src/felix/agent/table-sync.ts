/**
 * Hand a producer's chains and ipsets to the drivers, passing on only what
 * changed since the last hand-over.
 *
 * The drivers would find unchanged chains themselves (equal rule hashes),
 * but only after rendering and hashing every rule again; with 10k workloads
 * that is 100k rules per update. Here a chain object seen before is skipped
 * outright (the policy compiler reuses the objects of unchanged endpoints),
 * and a new object with the same rules costs one structural comparison.
 *
 * Each producer (policy, NAT) has its own instance and removes only what it
 * set itself, so producers sharing one table or one ipset driver never
 * delete each other's objects.
 */
import type { Chain, Rule } from '../iptables/model.js';
import type { IptablesTable } from '../iptables/table.js';
import type { IpSets } from '../ipsets/ipsets.js';
import type { DesiredIpSet } from '../calc/types.js';

export interface SyncChanges {
  set: string[];
  removed: string[];
  /** Of `set`: names this producer had not handed over before (new chains or sets). */
  created: string[];
}

/** Deep equality of plain data (what rules are made of: objects, arrays, strings, numbers, booleans). */
export function samePlain(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!samePlain(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!samePlain((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

export class ChainSync {
  private readonly chains = new Map<string, Chain>();
  private readonly hooks = new Map<string, string>();

  constructor(private readonly table: IptablesTable) {}

  /** Make this producer's chains and hooks exactly these. Throws (from the driver) on an invalid rule. */
  set(chains: readonly Chain[], hooks: Readonly<Record<string, readonly Rule[]>>): SyncChanges {
    const out: SyncChanges = { set: [], removed: [], created: [] };
    const seen = new Set<string>();
    for (const c of chains) {
      seen.add(c.name);
      const prev = this.chains.get(c.name);
      if (prev === c) continue;
      this.chains.set(c.name, c);
      if (prev && samePlain(prev.rules, c.rules)) continue;
      this.table.setChain({ name: c.name, rules: c.rules });
      out.set.push(c.name);
      if (!prev) out.created.push(c.name);
    }
    for (const name of [...this.chains.keys()]) {
      if (seen.has(name)) continue;
      this.table.removeChain(name);
      this.chains.delete(name);
      out.removed.push(name);
    }
    for (const [builtin, rules] of Object.entries(hooks)) {
      const key = JSON.stringify(rules);
      if (this.hooks.get(builtin) === key) continue;
      this.table.setHooks(builtin, rules, 'insert');
      this.hooks.set(builtin, key);
    }
    for (const builtin of [...this.hooks.keys()]) {
      if (builtin in hooks) continue;
      this.table.removeHooks(builtin);
      this.hooks.delete(builtin);
    }
    return out;
  }

  /** Forget what was handed over (the next `set` hands over everything again). */
  reset(): void {
    this.chains.clear();
    this.hooks.clear();
  }
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class SetSync {
  private readonly sets = new Map<string, DesiredIpSet>();

  constructor(private readonly ipsets: IpSets) {}

  /** Make this producer's ipsets exactly these (members canonical and sorted). */
  set(sets: readonly DesiredIpSet[]): SyncChanges {
    const out: SyncChanges = { set: [], removed: [], created: [] };
    const seen = new Set<string>();
    for (const s of sets) {
      seen.add(s.name);
      const prev = this.sets.get(s.name);
      if (prev && prev.type === s.type && prev.family === s.family && sameMembers(prev.members, s.members)) continue;
      this.ipsets.setIpSet({ name: s.name, type: s.type, family: s.family, members: s.members });
      this.sets.set(s.name, s);
      out.set.push(s.name);
      if (!prev) out.created.push(s.name);
    }
    for (const name of [...this.sets.keys()]) {
      if (seen.has(name)) continue;
      this.ipsets.removeIpSet(name);
      this.sets.delete(name);
      out.removed.push(name);
    }
    return out;
  }

  reset(): void {
    this.sets.clear();
  }
}
