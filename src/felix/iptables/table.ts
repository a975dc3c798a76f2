/**
 * IptablesTable: the driver of one iptables table (filter, nat, mangle or
 * raw) for one IP version and one backend.
 *
 * It holds three things:
 *   - the desired chains and hook rules (set by the managers, rendered and
 *     hashed at once, so a bad rule fails where it was set, not at apply);
 *   - its belief of what the dataplane holds: per tabby chain the tags of its
 *     rules, and tabby's rules in each built-in chain;
 *   - dirty sets: the chains and hooks touched since the last apply.
 *
 * Design goals and how they are met:
 *   1. Minimal writes. `apply()` compares only the dirty chains with the
 *      belief and rewrites only chains whose tags differ; an unchanged chain is
 *      never written, so its counters survive (nft: constant cost per update).
 *   2. Atomic. All changes of the table go into one `iptables-restore
 *      --noflush` (one COMMIT), so the kernel never sees half an update.
 *   3. Restart-safe. A new instance reads the table back before its first
 *      write and adopts every chain whose tags already match: a restart
 *      rewrites nothing that is still right, and never duplicates hook rules.
 *   4. Drift repair. `resync()` reads back, reports each difference (chain
 *      flushed, edited, foreign rule inside, hook rule deleted, moved or
 *      duplicated, stale chain) and repairs it.
 *   5. Never touches what tabby does not own: only `tabby-` chains are
 *      declared, flushed or deleted, and in built-in chains only rules with a
 *      `tabby:` tag are deleted, by their exact text.
 *   6. Failure recovery. A failed restore means the belief was wrong (or a
 *      concurrent writer interfered): the table is read back and the apply
 *      retried once from the real state; a second failure is thrown, and the
 *      next apply starts with a read-back.
 */
import { logger } from '../../util/log.js';
import type { IptablesExecutor } from './backend.js';
import { IptablesRestoreError } from './backend.js';
import { renderRules, type RenderedRules } from './hash.js';
import { actionTarget, BUILTIN_CHAINS, type Chain, type HookMode, type Rule, type TableName } from './model.js';
import { assertOwnedChainName, OWNED_PREFIX } from './names.js';
import { computePlan, describeDrift, renderRestoreInputSplit, stateAfter, type DesiredHooks, type DriftItem } from './plan.js';
import { checkActionForTable } from './render.js';
import { emptyOwnedState, ownedStateOf, parseIptablesSave, type OwnedTableState } from './save-parser.js';

const log = logger('felix.iptables');

export interface IptablesTableOptions {
  table: TableName;
  executor: IptablesExecutor;
  /** Owned chain prefix; `tabby-` unless a test isolates itself. */
  prefix?: string;
}

export interface ApplyResult {
  table: TableName;
  /** True when the table was read back first (first apply, resync, or after a failure). */
  readBack: boolean;
  /** True when an iptables-restore ran. */
  restoreRan: boolean;
  /** True when the first restore failed and the apply was retried after a read-back. */
  retried: boolean;
  rewritten: string[];
  deleted: string[];
  /** Stale chains still referenced by foreign rules: emptied but kept. */
  flushedOnly: string[];
  /** Built-in chains whose tabby rules were rewritten. */
  hooks: string[];
  /** The restore input that was applied (the last one, when retried). */
  input?: string;
}

export interface ResyncReport {
  table: TableName;
  /** Every difference found between the dataplane and the desired state; all repaired by `apply`. */
  drift: DriftItem[];
  apply: ApplyResult;
}

export class IptablesTable {
  readonly table: TableName;
  private readonly executor: IptablesExecutor;
  private readonly prefix: string;

  private readonly desired = new Map<string, RenderedRules>();
  /** tabby chains each desired chain jumps or goes to (checked at apply). */
  private readonly targets = new Map<string, string[]>();
  /** Desired chains with a rule that names an ipset (their lines may wait for the sets: see apply). */
  private readonly namesSets = new Set<string>();
  private readonly hooksDesired = new Map<string, DesiredHooks>();
  private readonly hookTargets = new Map<string, string[]>();

  private dp: OwnedTableState = emptyOwnedState();
  private needReadBack = true;
  private readonly dirtyChains = new Set<string>();
  private readonly dirtyHooks = new Set<string>();
  /** Serialises apply/resync/teardown. */
  private queue: Promise<unknown> = Promise.resolve();
  /** A read-back started early (see prefetch), and the number of restores run before it started. */
  private prefetched: { text: Promise<string>; restores: number } | undefined;
  private restores = 0;

  constructor(opts: IptablesTableOptions) {
    this.table = opts.table;
    this.executor = opts.executor;
    this.prefix = opts.prefix ?? OWNED_PREFIX;
  }

  /** Desire `chain` as given (replaces any earlier version). Throws on an invalid rule. */
  setChain(chain: Chain): void {
    assertOwnedChainName(chain.name, this.prefix);
    const rendered = this.render(chain.name, chain.rules);
    const old = this.desired.get(chain.name);
    this.desired.set(chain.name, rendered);
    this.targets.set(chain.name, this.ownedTargets(chain.rules));
    if (chain.rules.some((r) => (r.match?.sets?.length ?? 0) > 0)) this.namesSets.add(chain.name);
    else this.namesSets.delete(chain.name);
    if (!old || old.hashes.join() !== rendered.hashes.join()) this.dirtyChains.add(chain.name);
  }

  removeChain(name: string): void {
    if (this.desired.delete(name)) {
      this.targets.delete(name);
      this.namesSets.delete(name);
      this.dirtyChains.add(name);
    }
  }

  /** Make the desired chains exactly `chains`: set them all, remove every other. */
  replaceChains(chains: readonly Chain[]): void {
    const keep = new Set(chains.map((c) => c.name));
    for (const name of [...this.desired.keys()]) if (!keep.has(name)) this.removeChain(name);
    for (const c of chains) this.setChain(c);
  }

  /**
   * Desire tabby's rules in a built-in chain, typically one jump into a tabby
   * chain. `insert` keeps them at the top (in this order), `append` at the end.
   */
  setHooks(builtinChain: string, rules: readonly Rule[], mode: HookMode = 'insert'): void {
    if (!BUILTIN_CHAINS[this.table].includes(builtinChain)) throw new Error(`${builtinChain} is not a built-in chain of the ${this.table} table`);
    if (rules.length === 0) return this.removeHooks(builtinChain);
    const rendered = this.render(builtinChain, rules);
    const old = this.hooksDesired.get(builtinChain);
    this.hooksDesired.set(builtinChain, { mode, rendered });
    this.hookTargets.set(builtinChain, this.ownedTargets(rules));
    if (!old || old.mode !== mode || old.rendered.hashes.join() !== rendered.hashes.join()) this.dirtyHooks.add(builtinChain);
  }

  removeHooks(builtinChain: string): void {
    if (this.hooksDesired.delete(builtinChain)) {
      this.hookTargets.delete(builtinChain);
      this.dirtyHooks.add(builtinChain);
    }
  }

  /** Forget the belief: the next apply reads the table back first. */
  invalidate(): void {
    this.needReadBack = true;
  }

  /**
   * Start the read-back the next apply or resync will need now, so it runs
   * while the caller is still computing (the agent's calc is synchronous
   * work on the one thread; the save runs in its own process meanwhile).
   * `always`: also when the belief is current (a resync reads back anyway).
   * A prefetch that a restore overtakes is thrown away.
   */
  prefetch(always = false): void {
    if (this.prefetched || (!always && !this.needReadBack)) return;
    const text = this.executor.save(this.table);
    text.catch(() => undefined);
    this.prefetched = { text, restores: this.restores };
  }

  desiredChainNames(): string[] {
    return [...this.desired.keys()].sort();
  }

  /** The tags tabby believes the dataplane holds for a chain (undefined: absent). */
  dataplaneHashes(name: string): readonly (string | null)[] | undefined {
    return this.dp.chains.get(name);
  }

  desiredHashes(name: string): readonly string[] | undefined {
    return this.desired.get(name)?.hashes;
  }

  /**
   * Program the pending changes (reading the table back first when the
   * belief is unknown). `setsReady`: the ipsets the rules name are still
   * being created; the restore starts at once with every other chain's
   * lines and takes the lines naming sets (and the COMMIT) once it resolves.
   * If it rejects, nothing is committed and apply rejects with its error.
   */
  apply(opts: { setsReady?: Promise<unknown> } = {}): Promise<ApplyResult> {
    return this.serialised(async () => {
      this.checkReferences();
      let readBack = false;
      if (this.needReadBack) {
        await this.readBack();
        readBack = true;
      }
      return this.applyWithRetry(readBack, opts.setsReady);
    });
  }

  /** Read the table back, report every difference from the desired state, and repair it. */
  resync(opts: { setsReady?: Promise<unknown> } = {}): Promise<ResyncReport> {
    return this.serialised(async () => {
      this.checkReferences();
      await this.readBack();
      const drift = describeDrift(this.table, this.desired, this.hooksDesired, this.dp);
      if (drift.length) log.warn('felix.iptables.drift', { table: this.table, drift: drift.map((d) => `${d.kind}:${d.chain}`) });
      const apply = await this.applyWithRetry(true, opts.setsReady);
      return { table: this.table, drift, apply };
    });
  }

  /** Remove everything tabby owns in this table: its hook rules first, then its chains (also stale ones). */
  teardown(): Promise<ApplyResult> {
    return this.serialised(async () => {
      this.desired.clear();
      this.targets.clear();
      this.hooksDesired.clear();
      this.hookTargets.clear();
      await this.readBack();
      return this.applyWithRetry(true);
    });
  }

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private render(chain: string, rules: readonly Rule[]): RenderedRules {
    for (const r of rules) checkActionForTable(r.action, this.table);
    return renderRules(chain, rules, this.executor.ipVersion);
  }

  private ownedTargets(rules: readonly Rule[]): string[] {
    return rules.map((r) => actionTarget(r.action)).filter((t): t is string => t !== undefined && t.startsWith(this.prefix));
  }

  /** A jump to a tabby chain that is not desired would make the whole restore fail: refuse early. */
  private checkReferences(): void {
    const missing: string[] = [];
    for (const [from, targets] of [...this.targets, ...this.hookTargets]) {
      for (const t of targets) if (!this.desired.has(t)) missing.push(`${from} -> ${t}`);
    }
    if (missing.length) throw new Error(`${this.table}: rules jump to tabby chains that are not set: ${missing.join(', ')}`);
  }

  private async readBack(): Promise<void> {
    const early = this.prefetched;
    this.prefetched = undefined;
    let text: string | undefined;
    if (early && early.restores === this.restores) text = await early.text.catch(() => undefined);
    text ??= await this.executor.save(this.table);
    this.dp = ownedStateOf(parseIptablesSave(text).get(this.table), this.prefix);
    this.needReadBack = false;
  }

  private async applyWithRetry(full: boolean, setsReady?: Promise<unknown>): Promise<ApplyResult> {
    try {
      return await this.applyOnce(full, full, false, setsReady);
    } catch (err) {
      if (!(err instanceof IptablesRestoreError)) throw err;
      log.warn('felix.iptables.restore_failed', { table: this.table, error: err.message }, 'reading the table back and retrying');
      this.needReadBack = true;
      await this.readBack();
      try {
        return await this.applyOnce(true, true, true, setsReady);
      } catch (err2) {
        this.needReadBack = true;
        throw err2;
      }
    }
  }

  private async applyOnce(full: boolean, readBack: boolean, retried: boolean, setsReady?: Promise<unknown>): Promise<ApplyResult> {
    const plan = computePlan(this.table, this.desired, this.hooksDesired, this.dp, full ? undefined : { chains: this.dirtyChains, hooks: this.dirtyHooks });
    const split = renderRestoreInputSplit(plan, this.desired, this.hooksDesired, this.dp, setsReady ? (c) => this.namesSets.has(c) : undefined);
    const input = split?.input;
    if (split !== undefined && input !== undefined) {
      this.restores++;
      try {
        await this.executor.restore(input, setsReady ? { early: split.early, gate: setsReady } : {});
      } catch (err) {
        // Aborted by the gate (or a runner failure): the restore committed nothing.
        if (!(err instanceof IptablesRestoreError)) this.needReadBack = true;
        throw err;
      }
      log.debug('felix.iptables.applied', {
        table: this.table,
        rewritten: plan.rewrite.length,
        deleted: plan.delete.length,
        hooks: plan.hooks,
      });
    }
    this.dp = stateAfter(plan, this.desired, this.hooksDesired, this.dp);
    this.dirtyChains.clear();
    this.dirtyHooks.clear();
    return {
      table: this.table,
      readBack,
      restoreRan: input !== undefined,
      retried,
      rewritten: plan.rewrite,
      deleted: plan.delete,
      flushedOnly: plan.flushOnly,
      hooks: plan.hooks,
      ...(input !== undefined ? { input } : {}),
    };
  }
}
