/**
 * The embedded backend: the store in a directory on this machine, shared by
 * any number of processes (the lab runs several daemons on one directory).
 *
 * Writes: take the in-process write mutex, then the cross-process flock
 * (file-lock.ts), catch up with the log, revoke expired leases, evaluate the
 * compares against the now-current state, append one record, fdatasync,
 * release. Because the lock serialises every writer of every process and
 * each writer first reads every record before its own, compare-and-swap is
 * exact across processes.
 *
 * Reads: catch up with the log (an fstat, plus a read of whatever is new),
 * then answer from memory, so a read sees every write that completed before
 * it started, whichever process made it.
 *
 * Watches: an fs.watch on the directory wakes the process when another one
 * appends; a slow safety re-read covers lost notifications. Each process
 * tails the log once and fans the changes out to its watchers.
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { logger } from '../../../util/log.js';
import { createViaTxn, deleteViaTxn, updateViaTxn } from '../crud.js';
import { LeaseNotFoundError, StoreClosedError, StoreCorruptError } from '../errors.js';
import { checkRevision, checkTtl, checkTxn, decodeKey, selectorPrefix, toSelector, encodeKey } from '../keys.js';
import { Mutex } from '../mutex.js';
import type {
  DeleteOptions,
  EmbeddedStoreConfig,
  KeySelector,
  KeyValue,
  LeaseGrant,
  LeaseId,
  ListResult,
  Store,
  StoreEvent,
  StoreKey,
  TxnRequest,
  TxnResult,
  UpdateOptions,
  Versioned,
  WatchHandle,
  WatchHandler,
  WatchOptions,
  WriteOptions,
} from '../types.js';
import { WatchDelivery } from '../watch-delivery.js';
import { FileLock, type HeldLock } from './file-lock.js';
import { fsyncDir, LOCK_FILE, META, META_FILE, segmentName, writeFileAtomic } from './layout.js';
import { LogTailer, readHistory } from './log.js';
import type { LogRecord } from './record-codec.js';
import type { AppliedChange, PlannedCompare, PlannedOp } from './state.js';

const log = logger('datastore');

const DEFAULTS = {
  segmentMaxBytes: 4 * 1024 * 1024,
  retainSegments: 3,
  lockTimeoutMs: 30_000,
  recheckIntervalMs: 5_000,
};

interface LocalWatcher {
  prefix: string;
  /** Events at or before this revision were already delivered (or are not wanted). */
  after: number;
  delivery: WatchDelivery;
}

export class EmbeddedStore implements Store {
  readonly backend = 'embedded' as const;

  private readonly lock: FileLock;
  /** Serialises catch-up and state reads in this process. */
  private readonly readMutex = new Mutex();
  /** Serialises this process's writers before they contend for the flock. */
  private readonly writeMutex = new Mutex();
  private readonly watchers = new Set<LocalWatcher>();
  private fsWatcher: FSWatcher | undefined;
  private recheckTimer: NodeJS.Timeout | undefined;
  private reaperTimer: NodeJS.Timeout | undefined;
  private reaperAt: number | undefined;
  private syncScheduled = false;
  private closed = false;
  private readonly opts: typeof DEFAULTS & { sync: boolean };

  private constructor(
    readonly dir: string,
    private readonly tailer: LogTailer,
    config: EmbeddedStoreConfig,
  ) {
    this.lock = new FileLock(join(dir, LOCK_FILE));
    this.opts = {
      segmentMaxBytes: config.segmentMaxBytes ?? DEFAULTS.segmentMaxBytes,
      retainSegments: config.retainSegments ?? DEFAULTS.retainSegments,
      lockTimeoutMs: config.lockTimeoutMs ?? DEFAULTS.lockTimeoutMs,
      recheckIntervalMs: config.recheckIntervalMs ?? DEFAULTS.recheckIntervalMs,
      sync: config.unsafeNoSync !== true,
    };
  }

  static async open(config: EmbeddedStoreConfig): Promise<EmbeddedStore> {
    const dir = resolve(config.path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await initialise(dir, config.lockTimeoutMs ?? DEFAULTS.lockTimeoutMs);
    const store = new EmbeddedStore(dir, await LogTailer.load(dir), config);
    store.scheduleReaper();
    return store;
  }

  // ---- reads ---------------------------------------------------------------

  async get<T = unknown>(key: StoreKey): Promise<Versioned<T> | undefined> {
    const k = encodeKey(key);
    return this.read(() => {
      const e = this.tailer.state.visible(k, Date.now());
      if (!e) return undefined;
      const out: Versioned<T> = { value: JSON.parse(e.json) as T, revision: e.mod };
      if (e.lease !== undefined) out.lease = e.lease;
      return out;
    });
  }

  list<T = unknown>(kind: string, options?: { namespace?: string }): Promise<ListResult<T>>;
  list<T = unknown>(selector: KeySelector): Promise<ListResult<T>>;
  async list<T = unknown>(selector: string | KeySelector, options?: { namespace?: string }): Promise<ListResult<T>> {
    const prefix = selectorPrefix(toSelector(selector, options?.namespace));
    return this.read(() => {
      const st = this.tailer.state;
      const items: KeyValue<T>[] = [];
      for (const [k, e] of st.visibleWithPrefix(prefix, Date.now())) {
        const key = decodeKey(k);
        if (!key) continue;
        const item: KeyValue<T> = { key, value: JSON.parse(e.json) as T, revision: e.mod };
        if (e.lease !== undefined) item.lease = e.lease;
        items.push(item);
      }
      return { items, revision: st.revision };
    });
  }

  async currentRevision(): Promise<number> {
    return this.read(() => this.tailer.state.revision);
  }

  // ---- writes --------------------------------------------------------------

  create(key: StoreKey, value: unknown, options?: WriteOptions): Promise<number> {
    return createViaTxn((r) => this.txn(r), key, value, options);
  }

  update(key: StoreKey, value: unknown, options?: UpdateOptions): Promise<number> {
    return updateViaTxn((r) => this.txn(r), key, value, options);
  }

  async put(key: StoreKey, value: unknown, options: WriteOptions = {}): Promise<number> {
    const r = await this.txn({ compare: [], ops: [{ type: 'put', key, value, ...(options.lease === undefined ? {} : { lease: options.lease }) }] });
    return r.revision;
  }

  delete(key: StoreKey, options?: DeleteOptions): Promise<number> {
    return deleteViaTxn((r) => this.txn(r), key, options);
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    const checked = checkTxn(request);
    const compare: PlannedCompare[] = checked.compare.map((c) => ('exists' in c ? { k: c.k, exists: true } : { k: c.k, revision: c.revision }));
    const ops: PlannedOp[] = checked.ops.map((op) => {
      if (op.type === 'delete') return { type: 'delete', k: op.k };
      // The JSON text serialised at call time: later mutation of the caller's object cannot leak in.
      return op.lease === undefined ? { type: 'put', k: op.k, json: op.json } : { type: 'put', k: op.k, json: op.json, lease: op.lease };
    });
    return this.write(async (): Promise<TxnResult> => {
      const st = this.tailer.state;
      const plan = st.planTxn(compare, ops);
      if (!plan.ok) {
        if ('missingLease' in plan) throw new LeaseNotFoundError(plan.missingLease);
        return { succeeded: false, revision: st.revision, current: checked.compare.map((c, i) => ({ key: c.key, revision: plan.current[i]! })) };
      }
      if (plan.kv.length === 0) return { succeeded: true, revision: st.revision };
      const rev = st.revision + 1;
      await this.appendAndDispatch([{ seq: st.seq + 1, rev, kv: plan.kv }]);
      return { succeeded: true, revision: rev };
    });
  }

  async compact(revision: number): Promise<void> {
    checkRevision('compact revision', revision);
    await this.write(() => this.tailer.compact(revision, this.opts.sync));
  }

  // ---- leases --------------------------------------------------------------

  async grantLease(ttlSeconds: number): Promise<LeaseGrant> {
    checkTtl(ttlSeconds);
    return this.write(async () => {
      const seq = this.tailer.state.seq + 1;
      // The grant record's seq is unique for the life of the store: use it as the id.
      const id = String(seq);
      await this.appendAndDispatch([{ seq, leases: [{ t: 'grant', id, ttl: ttlSeconds, exp: Date.now() + ttlSeconds * 1000 }] }]);
      return { id, ttl: ttlSeconds };
    });
  }

  async keepAliveLease(id: LeaseId): Promise<number> {
    return this.write(async () => {
      const lease = this.tailer.state.leases.get(id);
      if (!lease) throw new LeaseNotFoundError(id);
      await this.appendAndDispatch([{ seq: this.tailer.state.seq + 1, leases: [{ t: 'keepalive', id, exp: Date.now() + lease.ttl * 1000 }] }]);
      return lease.ttl;
    });
  }

  async revokeLease(id: LeaseId): Promise<void> {
    await this.write(async () => {
      if (!this.tailer.state.leases.has(id)) throw new LeaseNotFoundError(id);
      await this.appendAndDispatch([this.revokeRecord([id])]);
    });
  }

  private revokeRecord(ids: string[]): LogRecord {
    const st = this.tailer.state;
    const plan = st.planRevoke(ids);
    const rec: LogRecord = { seq: st.seq + 1, leases: plan.leases };
    if (plan.kv.length > 0) {
      rec.rev = st.revision + 1;
      rec.kv = plan.kv;
    }
    return rec;
  }

  // ---- watch ---------------------------------------------------------------

  async watch<T = unknown>(selector: KeySelector | string, options: WatchOptions, handler: WatchHandler<T>): Promise<WatchHandle> {
    this.assertOpen('watch');
    const prefix = selectorPrefix(toSelector(selector));
    if (options.fromRevision !== undefined) checkRevision('fromRevision', options.fromRevision);
    // Listen for other processes' appends before catching up, so none falls in between.
    this.startFsWatch();
    try {
      return await this.readMutex.run(async () => {
        await this.catchUp(false);
        const st = this.tailer.state;
        const from = options.fromRevision ?? st.revision;
        const delivery = new WatchDelivery<T>(handler, from, (err) =>
          log.error('datastore.watch.handler_error', { prefix, err: (err as Error)?.message ?? String(err) }, 'watch handler threw'),
        );
        const w: LocalWatcher = { prefix, after: Math.max(from, st.revision), delivery: delivery as WatchDelivery };
        if (from < st.revision) {
          const hist = await readHistory(this.dir, from, st.seq);
          if ('compacted' in hist) {
            delivery.push({ type: 'resync', reason: 'compacted', fromRevision: from, compactRevision: hist.compacted });
          } else {
            for (const ch of hist.changes) if (ch.k.startsWith(prefix)) delivery.push(toEvent(ch) as StoreEvent<T>);
          }
        } else {
          w.after = from;
        }
        if (!delivery.closed) this.watchers.add(w);
        this.stopFsWatchIfIdle();
        return {
          get lastRevision() {
            return delivery.lastRevision;
          },
          stop: async () => {
            delivery.stop();
            this.watchers.delete(w);
            this.stopFsWatchIfIdle();
          },
        };
      });
    } catch (err) {
      this.stopFsWatchIfIdle();
      throw err;
    }
  }

  private dispatch(changes: AppliedChange[]): void {
    if (changes.length === 0 || this.watchers.size === 0) return;
    for (const w of this.watchers) {
      for (const ch of changes) {
        if (ch.revision > w.after && ch.k.startsWith(w.prefix)) w.delivery.push(toEvent(ch));
      }
      if (w.delivery.closed) this.watchers.delete(w);
    }
  }

  /** The tailer reloaded after falling behind retention: its watchers cannot be exact any more. */
  private resyncAll(): void {
    const rev = this.tailer.state.revision;
    for (const w of this.watchers) {
      w.delivery.push({ type: 'resync', reason: 'gap', fromRevision: w.delivery.lastRevision, compactRevision: rev });
    }
    this.watchers.clear();
  }

  private startFsWatch(): void {
    if (this.fsWatcher || this.closed) return;
    try {
      this.fsWatcher = fsWatch(this.dir, { persistent: true }, (_event, filename) => {
        if (filename === null || filename.startsWith('log-')) this.scheduleSync();
      });
      this.fsWatcher.on('error', (err) => {
        log.warn('datastore.embedded.fswatch_error', { dir: this.dir, err: err.message }, 'change notification failed; relying on the periodic re-read');
        this.fsWatcher?.close();
        this.fsWatcher = undefined;
      });
    } catch (err) {
      log.warn('datastore.embedded.fswatch_error', { dir: this.dir, err: (err as Error).message }, 'cannot watch the store directory; relying on the periodic re-read');
    }
    this.recheckTimer = setInterval(() => this.scheduleSync(), this.opts.recheckIntervalMs);
    this.recheckTimer.unref();
  }

  private stopFsWatchIfIdle(): void {
    if (this.watchers.size > 0) return;
    this.fsWatcher?.close();
    this.fsWatcher = undefined;
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    this.recheckTimer = undefined;
  }

  /** Coalesces bursts of notifications into one catch-up per turn of the event loop. */
  private scheduleSync(): void {
    if (this.syncScheduled || this.closed) return;
    this.syncScheduled = true;
    setImmediate(() => {
      this.syncScheduled = false;
      if (this.closed) return;
      this.readMutex
        .run(() => this.catchUp(false))
        .catch((err: unknown) => log.warn('datastore.embedded.sync_error', { dir: this.dir, err: (err as Error).message }, 'reading the store log failed'));
    });
  }

  // ---- plumbing ------------------------------------------------------------

  private assertOpen(what: string): void {
    if (this.closed) throw new StoreClosedError(`${what} on ${this.dir}`);
  }

  private async read<R>(fn: () => R): Promise<R> {
    this.assertOpen('read');
    return this.readMutex.run(async () => {
      await this.catchUp(false);
      return fn();
    });
  }

  private async catchUp(locked: boolean): Promise<void> {
    const r = await this.tailer.catchUp(locked);
    if (r.reloaded) {
      // Some changes were skipped: the watchers cannot be exact, they must re-list.
      log.warn('datastore.embedded.reloaded', { dir: this.dir }, 'fell behind the log retention; reloaded from the snapshot');
      this.resyncAll();
    } else {
      this.dispatch(r.changes);
    }
    this.scheduleReaper();
  }

  private async appendAndDispatch(records: LogRecord[]): Promise<void> {
    this.dispatch(await this.tailer.append(records, this.opts.sync));
  }

  /**
   * Runs `fn` holding the write lock with the state caught up and expired
   * leases revoked, then rolls the segment if it grew past its size.
   */
  private async write<R>(fn: () => Promise<R>): Promise<R> {
    this.assertOpen('write');
    return this.writeMutex.run(async () => {
      this.assertOpen('write');
      const held: HeldLock = await this.lock.acquire(this.opts.lockTimeoutMs);
      try {
        return await this.readMutex.run(async () => {
          await this.catchUp(true);
          const expired = this.tailer.state.expiredLeases(Date.now());
          if (expired.length > 0) await this.appendAndDispatch([this.revokeRecord(expired)]);
          const result = await fn();
          if (this.tailer.offset > this.opts.segmentMaxBytes) {
            await this.tailer.roll(this.opts.sync);
            await this.tailer.cleanup(this.opts.retainSegments);
          }
          this.scheduleReaper();
          return result;
        });
      } finally {
        held.release();
      }
    });
  }

  /** Arms a timer for the earliest lease deadline; whoever fires first writes the revoke. */
  private scheduleReaper(): void {
    if (this.closed) return;
    const deadline = this.tailer.state.nextLeaseDeadline();
    if (deadline === this.reaperAt) return;
    if (this.reaperTimer) clearTimeout(this.reaperTimer);
    this.reaperTimer = undefined;
    this.reaperAt = deadline;
    if (deadline === undefined) return;
    // Expiry is `exp < now`: fire just after the deadline.
    this.reaperTimer = setTimeout(() => {
      this.reaperTimer = undefined;
      this.reaperAt = undefined;
      if (this.closed) return;
      this.write(async () => undefined).catch((err: unknown) =>
        log.debug('datastore.embedded.reaper_error', { dir: this.dir, err: (err as Error).message }, 'could not revoke expired leases'),
      );
    }, Math.max(0, deadline - Date.now() + 5));
    this.reaperTimer.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers) w.delivery.stop();
    this.watchers.clear();
    this.stopFsWatchIfIdle();
    if (this.reaperTimer) clearTimeout(this.reaperTimer);
    // Let in-flight operations finish before the files go away.
    await this.writeMutex.run(() => undefined);
    await this.readMutex.run(() => undefined);
    await this.lock.close();
    await this.tailer.close();
  }
}

function toEvent(ch: AppliedChange): StoreEvent {
  const key = decodeKey(ch.k)!;
  if (ch.type === 'delete') return { type: 'delete', key, revision: ch.revision };
  const ev: StoreEvent = { type: 'put', key, value: JSON.parse(ch.json!) as unknown, revision: ch.revision };
  if (ch.lease !== undefined) ev.lease = ch.lease;
  return ev;
}

/**
 * Creates the first segment and the meta file in a new store directory
 * (under the lock; the meta file is written last and marks a complete
 * initialisation), or checks the meta file of an existing one.
 */
async function initialise(dir: string, lockTimeoutMs: number): Promise<void> {
  const metaPath = join(dir, META_FILE);
  const readMeta = async (): Promise<boolean> => {
    let text: string;
    try {
      text = await readFile(metaPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    let meta: { format?: unknown; version?: unknown };
    try {
      meta = JSON.parse(text) as typeof meta;
    } catch {
      throw new StoreCorruptError(metaPath, 'not JSON');
    }
    if (meta.format !== META.format || meta.version !== META.version) {
      throw new StoreCorruptError(metaPath, `not a tabby embedded store of version ${META.version} (format ${String(meta.format)}, version ${String(meta.version)})`);
    }
    return true;
  };
  if (await readMeta()) return;
  const refuseForeign = async (): Promise<void> => {
    const foreign = (await readdir(dir)).filter((n) => n !== LOCK_FILE && !n.startsWith('log-') && !n.startsWith('snap-') && !n.startsWith('.'));
    // Another process may have finished initialising since our first look
    // (several daemons open one fresh directory at once): that is ours.
    if (foreign.length > 0 && foreign.every((n) => n === META_FILE) && (await readMeta())) return;
    if (foreign.length > 0) {
      throw new StoreCorruptError(dir, `directory is not empty and is not a tabby store (found ${foreign.slice(0, 3).join(', ')}); choose an empty or new directory`);
    }
  };
  // Before creating anything in it (the lock file included).
  await refuseForeign();
  if (await readMeta()) return;
  const lock = new FileLock(join(dir, LOCK_FILE));
  const held = await lock.acquire(lockTimeoutMs);
  try {
    if (await readMeta()) return;
    await refuseForeign();
    if (!(await readdir(dir)).some((n) => n.startsWith('log-'))) {
      const fh = await open(join(dir, segmentName(0, 0)), 'wx', 0o600);
      await fh.close();
      await fsyncDir(dir);
    }
    await writeFileAtomic(dir, META_FILE, JSON.stringify(META) + '\n');
  } finally {
    held.release();
    await lock.close();
  }
}
