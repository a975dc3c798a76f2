/**
 * PolicyDataplane: hands a compiled ruleset to the kernel drivers of one
 * network namespace (the filter table driver and the ipset driver).
 *
 * It passes on only what changed since the last ruleset: a chain whose
 * rules are unchanged is not set again (its rendering and hashing are
 * skipped, and the driver leaves it alone in the kernel), a set whose
 * members are unchanged is not touched. Order of one `apply()`, as Felix:
 *   1. ipsets created and updated (new rules find their sets),
 *   2. one `iptables-restore --noflush` of the filter table (atomic: the
 *      kernel sees the old rules or the new ones, never a mix; this is what
 *      makes replacing one policy by another leave no window),
 *   3. ipsets no longer referenced destroyed.
 * The Felix agent and the lab tests both go through this class.
 */
import type { IpSetDeleteResult, IpSetUpdateResult } from '../felix/ipsets/ipsets.js';
import { IpSets } from '../felix/ipsets/ipsets.js';
import type { ApplyResult, ResyncReport } from '../felix/iptables/table.js';
import { IptablesTable } from '../felix/iptables/table.js';
import { createIptablesTables } from '../felix/iptables/factory.js';
import type { IptablesBackendMode } from '../felix/iptables/backend.js';
import type { CommandRunner } from '../felix/iptables/runner.js';
import type { CompiledRuleset } from './calc.js';
import type { CompiledChain } from './origin.js';
import type { IpVersion } from './model.js';

export interface PolicyApplyReport {
  /** Chains handed to the driver because they are new or changed. */
  chainsSet: string[];
  chainsRemoved: string[];
  /** ipsets handed to the driver because they are new or their members changed. */
  setsSet: string[];
  setsRemoved: string[];
  ipsetUpdate: IpSetUpdateResult;
  iptables: ApplyResult;
  ipsetDeletes: IpSetDeleteResult;
}

function chainKey(c: CompiledChain): string {
  return JSON.stringify(c.rules);
}

export class PolicyDataplane {
  private chains = new Map<string, { chain: CompiledChain; key: string | undefined }>();
  private sets = new Map<string, readonly string[]>();
  private pending = { chainsSet: [] as string[], chainsRemoved: [] as string[], setsSet: [] as string[], setsRemoved: [] as string[] };

  constructor(
    readonly filter: IptablesTable,
    readonly ipsets: IpSets,
  ) {}

  /** Detect the iptables backend and build the drivers (inside `runner`'s namespace). */
  static async create(opts: { runner: CommandRunner; backend?: IptablesBackendMode; ipVersion?: IpVersion }): Promise<PolicyDataplane> {
    const { tables } = await createIptablesTables({ runner: opts.runner, backend: opts.backend ?? 'auto', ipVersion: opts.ipVersion ?? 4 });
    return new PolicyDataplane(tables.filter, new IpSets({ runner: opts.runner }));
  }

  /** Desire this ruleset; nothing reaches the kernel before `apply()`. */
  setRuleset(rs: CompiledRuleset): void {
    const seen = new Set<string>();
    for (const c of rs.chains) {
      seen.add(c.name);
      const prev = this.chains.get(c.name);
      if (prev && prev.chain === c) continue;
      const key = chainKey(c);
      if (prev && (prev.key ?? chainKey(prev.chain)) === key) {
        this.chains.set(c.name, { chain: c, key });
        continue;
      }
      this.filter.setChain({ name: c.name, rules: c.rules });
      this.chains.set(c.name, { chain: c, key });
      this.pending.chainsSet.push(c.name);
    }
    for (const name of [...this.chains.keys()]) {
      if (seen.has(name)) continue;
      this.filter.removeChain(name);
      this.chains.delete(name);
      this.pending.chainsRemoved.push(name);
    }
    for (const [hook, rules] of Object.entries(rs.hooks)) this.filter.setHooks(hook, rules, 'insert');

    const seenSets = new Set<string>();
    for (const s of rs.ipsets) {
      seenSets.add(s.name);
      const prev = this.sets.get(s.name);
      if (prev === s.members || (prev && prev.length === s.members.length && prev.every((m, i) => m === s.members[i]))) {
        this.sets.set(s.name, s.members);
        continue;
      }
      this.ipsets.setIpSet({ name: s.name, type: s.type, family: s.family, members: s.members });
      this.sets.set(s.name, s.members);
      this.pending.setsSet.push(s.name);
    }
    for (const name of [...this.sets.keys()]) {
      if (seenSets.has(name)) continue;
      this.ipsets.removeIpSet(name);
      this.sets.delete(name);
      this.pending.setsRemoved.push(name);
    }
  }

  /** Program the pending changes: ipsets, then the filter table in one restore, then ipset deletions. */
  async apply(): Promise<PolicyApplyReport> {
    const p = this.pending;
    this.pending = { chainsSet: [], chainsRemoved: [], setsSet: [], setsRemoved: [] };
    const ipsetUpdate = await this.ipsets.applyCreatesAndUpdates();
    const iptables = await this.filter.apply();
    const ipsetDeletes = await this.ipsets.applyDeletes();
    return { ...p, ipsetUpdate, iptables, ipsetDeletes };
  }

  /** Read the kernel back and repair drift (iptables and ipsets). */
  async resync(): Promise<{ iptables: ResyncReport; ipsets: Awaited<ReturnType<IpSets['resync']>> }> {
    const ipsets = await this.ipsets.resync();
    const iptables = await this.filter.resync();
    await this.ipsets.applyDeletes();
    return { iptables, ipsets };
  }

  /** Remove everything tabby owns in the filter table, then its ipsets. */
  async teardown(): Promise<void> {
    await this.filter.teardown();
    for (const name of [...this.sets.keys()]) this.ipsets.removeIpSet(name);
    this.sets.clear();
    this.chains.clear();
    await this.ipsets.applyDeletes();
  }
}
