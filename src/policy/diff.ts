/**
 * What changed between two compiled rulesets: chains added, removed or
 * rewritten, ipsets added or removed, and member changes per set. Used to
 * show (and test) that an update touches only what it must.
 */
import type { CompiledRuleset } from './calc.js';

export interface RulesetDiff {
  chainsAdded: string[];
  chainsRemoved: string[];
  chainsChanged: string[];
  setsAdded: string[];
  setsRemoved: string[];
  /** Per set whose members changed: what was added and removed. */
  membersChanged: { set: string; added: string[]; removed: string[] }[];
  hooksChanged: boolean;
}

export function diffRulesets(a: CompiledRuleset, b: CompiledRuleset): RulesetDiff {
  const ca = new Map(a.chains.map((c) => [c.name, JSON.stringify(c.rules)]));
  const cb = new Map(b.chains.map((c) => [c.name, JSON.stringify(c.rules)]));
  const sa = new Map(a.ipsets.map((s) => [s.name, s]));
  const sb = new Map(b.ipsets.map((s) => [s.name, s]));
  const membersChanged: RulesetDiff['membersChanged'] = [];
  for (const [name, s] of sb) {
    const old = sa.get(name);
    if (!old) continue;
    const before = new Set(old.members);
    const after = new Set(s.members);
    const added = s.members.filter((m) => !before.has(m));
    const removed = old.members.filter((m) => !after.has(m));
    if (added.length || removed.length) membersChanged.push({ set: name, added, removed });
  }
  return {
    chainsAdded: [...cb.keys()].filter((n) => !ca.has(n)),
    chainsRemoved: [...ca.keys()].filter((n) => !cb.has(n)),
    chainsChanged: [...cb.keys()].filter((n) => ca.has(n) && ca.get(n) !== cb.get(n)),
    setsAdded: [...sb.keys()].filter((n) => !sa.has(n)),
    setsRemoved: [...sa.keys()].filter((n) => !sb.has(n)),
    membersChanged,
    hooksChanged: JSON.stringify(a.hooks) !== JSON.stringify(b.hooks),
  };
}

/** True when nothing changed. */
export function isEmptyDiff(d: RulesetDiff): boolean {
  return !d.chainsAdded.length && !d.chainsRemoved.length && !d.chainsChanged.length && !d.setsAdded.length && !d.setsRemoved.length && !d.membersChanged.length && !d.hooksChanged;
}
