/**
 * IpSets: the driver of tabby's ipsets in one network namespace.
 *
 * Like the iptables table driver it holds the desired sets, a belief of the
 * kernel's sets, and the names touched since the last apply. Programming is
 * two-phase because iptables rules reference sets by name:
 *
 *   applyCreatesAndUpdates()  before iptables: create new sets and bring
 *                             changed ones up to date (incremental or by
 *                             temp-set swap), so new rules find their sets;
 *   applyDeletes()            after iptables: destroy sets no longer wanted,
 *                             now that no rule references them. A set still
 *                             in use is reported, kept, and retried next time.
 *
 * Each phase is one `ipset restore` process. `ipset restore` is not atomic
 * across lines (it stops at the first failing line), so on failure the sets
 * are read back and the phase retried once from the real state. Only sets
 * whose names start with the prefix are ever read, changed or destroyed.
 */
import { logger } from '../../util/log.js';
import { OWNED_PREFIX } from '../iptables/names.js';
import type { CommandRunner } from '../iptables/runner.js';
import { canonicalMembers } from './members.js';
import { canonicalSet, type IpSetSpec, type IpSetState } from './model.js';
import { describeSetDrift, planSetChange, tempSetName, type IpSetDriftItem, type SetChange } from './plan.js';
import { parseIpsetSave } from './save-parser.js';

const log = logger('felix.ipsets');

export class IpsetRestoreError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    /** 1-based line of the restore input that failed, when ipset said. */
    readonly line?: number,
  ) {
    super(message);
    this.name = 'IpsetRestoreError';
  }
}

export interface IpSetsOptions {
  runner: CommandRunner;
  prefix?: string;
  /** Deltas up to this size are always incremental (default 64). */
  incrementalMin?: number;
  /** The ipset binary (default `ipset`). */
  command?: string;
}

export interface IpSetUpdateResult {
  readBack: boolean;
  retried: boolean;
  changes: { name: string; kind: SetChange['kind']; added: number; removed: number }[];
  /** Sets whose type or family change could not be applied (destroy refused: still referenced); retried on the next apply. */
  failed: { name: string; error: string }[];
  /** The restore input that ran, if any. */
  input?: string;
}

export interface IpSetDeleteResult {
  deleted: string[];
  /** Sets that could not be destroyed (typically still referenced by an iptables rule); retried on the next call. */
  failed: { name: string; error: string }[];
}

export interface IpSetResyncReport {
  drift: IpSetDriftItem[];
  update: IpSetUpdateResult;
}

export class IpSets {
  private readonly runner: CommandRunner;
  private readonly prefix: string;
  private readonly incrementalMin: number | undefined;
  private readonly command: string;

  private readonly desired = new Map<string, IpSetState>();
  private dp = new Map<string, IpSetState>();
  private needReadBack = true;
  private readonly dirty = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();
  /** A read-back started early (see prefetch), and the number of restores run before it started. */
  private prefetched: { save: Promise<{ code: number; stdout: string; stderr: string }>; restores: number } | undefined;
  private restores = 0;

  constructor(opts: IpSetsOptions) {
    this.runner = opts.runner;
    this.prefix = opts.prefix ?? OWNED_PREFIX;
    this.incrementalMin = opts.incrementalMin;
    this.command = opts.command ?? 'ipset';
  }

  /** Desire a set with exactly these members (replaces any earlier version). Throws on bad input. */
  setIpSet(spec: IpSetSpec): void {
    const state = canonicalSet(spec, this.prefix);
    const temp = tempSetName(spec.name, this.prefix);
    if (this.desired.has(temp)) throw new Error(`ipset name ${spec.name} collides with a temporary set name`);
    this.desired.set(spec.name, state);
    this.dirty.add(spec.name);
  }

  /** Add members to a desired set. */
  addMembers(name: string, members: Iterable<string>): void {
    const set = this.mustGet(name);
    for (const m of canonicalMembers(set.meta.type, set.meta.family ?? 'inet', members)) set.members.add(m);
    this.dirty.add(name);
  }

  /** Remove members from a desired set. */
  removeMembers(name: string, members: Iterable<string>): void {
    const set = this.mustGet(name);
    for (const m of canonicalMembers(set.meta.type, set.meta.family ?? 'inet', members)) set.members.delete(m);
    this.dirty.add(name);
  }

  /** Stop wanting a set; it is destroyed by the next `applyDeletes()`. */
  removeIpSet(name: string): void {
    if (this.desired.delete(name)) this.dirty.add(name);
  }

  desiredNames(): string[] {
    return [...this.desired.keys()].sort();
  }

  /** Canonical members tabby wants in a set. */
  desiredMembers(name: string): ReadonlySet<string> | undefined {
    return this.desired.get(name)?.members;
  }

  /** Sets tabby believes exist in the kernel but no longer wants (what `applyDeletes` will destroy). */
  pendingDeletes(): string[] {
    return [...this.dp.keys()].filter((n) => !this.desired.has(n)).sort();
  }

  /** Forget the belief: the next phase reads the sets back first. */
  invalidate(): void {
    this.needReadBack = true;
  }

  /**
   * Start the `ipset save` the next phase (or resync, with `always`) needs,
   * so that it runs while the caller is still computing. Thrown away if a
   * restore runs before it is used.
   */
  prefetch(always = false): void {
    if (this.prefetched || (!always && !this.needReadBack)) return;
    const save = this.runner.run(this.command, ['save']);
    save.catch(() => undefined);
    this.prefetched = { save, restores: this.restores };
  }

  /** Phase 1: create and update the wanted sets. */
  applyCreatesAndUpdates(): Promise<IpSetUpdateResult> {
    return this.serialised(async () => {
      let readBack = false;
      if (this.needReadBack) {
        await this.readBack();
        readBack = true;
      }
      return this.updateWithRetry(readBack);
    });
  }

  /** Phase 2: destroy the sets no longer wanted (call once iptables no longer references them). */
  applyDeletes(): Promise<IpSetDeleteResult> {
    return this.serialised(async () => {
      if (this.needReadBack) await this.readBack();
      return this.destroyStale();
    });
  }

  /**
   * Read back, report every difference, and repair the wanted sets (phase 1).
   * Unwanted sets are reported but left for `applyDeletes()`.
   */
  resync(): Promise<IpSetResyncReport> {
    return this.serialised(async () => {
      await this.readBack();
      const drift = describeSetDrift(this.desired, this.dp);
      if (drift.length) log.warn('felix.ipsets.drift', { drift: drift.map((d) => `${d.kind}:${d.set}`) });
      const update = await this.updateWithRetry(true);
      return { drift, update };
    });
  }

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private mustGet(name: string): IpSetState {
    const set = this.desired.get(name);
    if (!set) throw new Error(`ipset ${name} is not set`);
    return set;
  }

  private async readBack(): Promise<void> {
    const early = this.prefetched;
    this.prefetched = undefined;
    let r = early && early.restores === this.restores ? await early.save.catch(() => undefined) : undefined;
    if (!r || r.code !== 0) r = await this.runner.run(this.command, ['save']);
    if (r.code !== 0) throw new Error(`${this.command} save failed (exit ${r.code}): ${r.stderr.trim()}`);
    this.dp = parseIpsetSave(r.stdout, this.prefix);
    this.needReadBack = false;
  }

  private async restore(lines: string[]): Promise<string> {
    const input = lines.join('\n') + '\n';
    this.restores++;
    const r = await this.runner.run(this.command, ['restore'], input);
    if (r.code !== 0) {
      const m = /line (\d+)/i.exec(r.stderr);
      const line = m ? Number(m[1]) : undefined;
      const failed = line !== undefined ? ` at ${JSON.stringify(lines[line - 1])}` : '';
      throw new IpsetRestoreError(`${this.command} restore failed (exit ${r.code}): ${r.stderr.trim().split('\n').pop()}${failed}`, r.stderr, line);
    }
    return input;
  }

  private async updateWithRetry(full: boolean): Promise<IpSetUpdateResult> {
    try {
      return await this.updateOnce(full, full, false);
    } catch (err) {
      if (!(err instanceof IpsetRestoreError)) throw err;
      log.warn('felix.ipsets.restore_failed', { error: err.message }, 'reading sets back and retrying');
      await this.readBack();
      try {
        return await this.updateOnce(true, true, true);
      } catch (err2) {
        this.needReadBack = true;
        throw err2;
      }
    }
  }

  private async updateOnce(full: boolean, readBack: boolean, retried: boolean): Promise<IpSetUpdateResult> {
    const scope = full ? [...this.desired.keys()] : [...this.dirty].filter((n) => this.desired.has(n));
    // list:set members are other sets: those must exist first.
    const order = scope.sort((a, b) => {
      const la = this.desired.get(a)!.meta.type === 'list:set' ? 1 : 0;
      const lb = this.desired.get(b)!.meta.type === 'list:set' ? 1 : 0;
      return la - lb || a.localeCompare(b);
    });
    const existingTemps = new Set([...this.dp.keys()].filter((n) => !this.desired.has(n)));
    const changes: SetChange[] = [];
    for (const name of order) {
      const c = planSetChange(name, this.desired.get(name)!, this.dp.get(name), {
        prefix: this.prefix,
        existingTemps,
        ...(this.incrementalMin !== undefined ? { incrementalMin: this.incrementalMin } : {}),
      });
      if (c) changes.push(c);
    }
    // A type or family change needs destroy + create, which fails while
    // iptables references the set: run each alone, so one stuck set cannot
    // hold back every other update.
    const batch = changes.filter((c) => c.kind !== 'recreate');
    const applied: SetChange[] = [];
    const failed: { name: string; error: string }[] = [];
    let input: string | undefined;
    if (batch.length) {
      input = await this.restore(batch.flatMap((c) => c.lines));
      applied.push(...batch);
    }
    for (const c of changes.filter((x) => x.kind === 'recreate')) {
      try {
        await this.restore(c.lines);
        applied.push(c);
      } catch (err) {
        if (!(err instanceof IpsetRestoreError)) throw err;
        failed.push({ name: c.name, error: err.stderr.trim().split('\n').pop() ?? err.message });
      }
    }
    if (applied.length) log.debug('felix.ipsets.updated', { changes: applied.map((c) => `${c.kind}:${c.name}`) });
    if (failed.length) log.warn('felix.ipsets.recreate_failed', { failed: failed.map((f) => f.name) }, 'type change blocked (set in use?); retried on the next apply');
    for (const c of applied) {
      const want = this.desired.get(c.name)!;
      this.dp.set(c.name, { meta: { ...want.meta }, members: new Set(want.members) });
      if (c.kind === 'replace') this.dp.delete(tempSetName(c.name, this.prefix));
    }
    for (const n of scope) this.dirty.delete(n);
    for (const f of failed) this.dirty.add(f.name);
    return {
      readBack,
      retried,
      changes: applied.map((c) => ({ name: c.name, kind: c.kind, added: c.added, removed: c.removed })),
      failed,
      ...(input !== undefined ? { input } : {}),
    };
  }

  private async destroyStale(): Promise<IpSetDeleteResult> {
    // A list:set holds references to its members: destroy lists first.
    const stale = [...this.dp.keys()]
      .filter((n) => !this.desired.has(n))
      .sort((a, b) => {
        const la = this.dp.get(a)!.meta.type === 'list:set' ? 0 : 1;
        const lb = this.dp.get(b)!.meta.type === 'list:set' ? 0 : 1;
        return la - lb || a.localeCompare(b);
      });
    const result: IpSetDeleteResult = { deleted: [], failed: [] };
    // One restore for all; when a line fails, everything before it is done,
    // that set is recorded as failed, and the rest goes in the next restore.
    let rest = stale;
    for (let guard = 0; rest.length > 0 && guard <= stale.length; guard++) {
      try {
        await this.restore(rest.map((n) => `destroy ${n}`));
        result.deleted.push(...rest);
        rest = [];
      } catch (err) {
        if (!(err instanceof IpsetRestoreError) || err.line === undefined || err.line < 1 || err.line > rest.length) {
          // Cannot tell which line failed: the belief is suspect.
          this.needReadBack = true;
          throw err;
        }
        result.deleted.push(...rest.slice(0, err.line - 1));
        const failed = rest[err.line - 1]!;
        const reason = err.stderr.trim().split('\n').pop() ?? err.message;
        // Already gone (someone else destroyed it): that is what we wanted.
        if (/does not exist/i.test(reason)) result.deleted.push(failed);
        else result.failed.push({ name: failed, error: reason });
        rest = rest.slice(err.line);
      }
    }
    for (const n of result.deleted) this.dp.delete(n);
    for (const f of result.failed) this.dirty.add(f.name);
    if (result.failed.length) log.warn('felix.ipsets.destroy_failed', { failed: result.failed.map((f) => f.name) }, 'kept; retried on the next applyDeletes');
    return result;
  }
}
