/**
 * The daemon's view of the datastore: one consistent list of every key, then
 * one watch from that list's revision (Felix's syncer: a snapshot, "in sync",
 * then deltas). A `resync` notification (history compacted, or a gap) means
 * re-list and watch again; the cache is replaced as a whole and consumers are
 * told every kind changed, so nothing stale survives a lost event.
 *
 * While the store is unreachable nothing is removed: the cache keeps the last
 * known state (a datastore outage must not delete a route or open a hole),
 * and `health()` says how stale it may be.
 */
import type { Store, StoreEvent, StoreKey, WatchHandle } from '../datastore/store/types.js';
import { logger } from '../util/log.js';

const log = logger('node.datastore');

export interface CachedValue {
  value: unknown;
  revision: number;
}

/** kind -> encoded key (`ns/name` or `name`) -> value. */
export type KindCache = Map<string, CachedValue>;

export function cacheKey(k: StoreKey): string {
  return k.namespace !== undefined ? `${k.namespace}/${k.name}` : k.name;
}

export interface DatastoreHealth {
  backend: string;
  /** The last probe of the store answered. */
  connected: boolean;
  /** The first list has been loaded (the daemon may act on the cache). */
  inSync: boolean;
  /** The revision of the last event applied to the cache. */
  revision: number;
  /** The store's current revision at the last successful probe. */
  storeRevision: number;
  lastEventAt: string | null;
  lastProbeError: string | null;
  /** Seconds the cache has been behind the store (0 when caught up). */
  watchLagSeconds: number;
  resyncs: number;
}

export interface DatastoreChange {
  /** Kinds whose contents changed; `all` after a (re)list. */
  kinds: Set<string>;
  /** Individual keys that changed, by kind (not filled after a re-list). */
  keys: Map<string, Set<string>>;
  all: boolean;
}

export interface DatastoreSyncOptions {
  /** Called (batched per macrotask) after the cache changed. Errors are logged. */
  onChange: (change: DatastoreChange) => void;
  /** Period of the health probe (store revision), default 5 s. */
  probeIntervalMs?: number;
  /** A probe that takes longer than this counts as a failure (default 3 s). */
  probeTimeoutMs?: number;
}

export class DatastoreSync {
  private readonly kinds = new Map<string, KindCache>();
  private watch: WatchHandle | undefined;
  private stopped = false;
  private revision = 0;
  private storeRevision = 0;
  private lastEventAt: Date | undefined;
  private connected = false;
  private inSync = false;
  private lastProbeError: string | null = null;
  private behindSince: number | undefined;
  private resyncs = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private pending: DatastoreChange | undefined;
  private relisting = false;
  private flushScheduled = false;

  constructor(
    private readonly store: Store,
    private readonly opts: DatastoreSyncOptions,
  ) {}

  /** Load the first snapshot and start watching. Retries (bounded back-off) until the store answers or stop(). */
  async start(): Promise<void> {
    await this.listAndWatchRetrying();
    if (this.stopped) return;
    this.probeTimer = setInterval(() => void this.probe(), this.opts.probeIntervalMs ?? 5_000);
    this.probeTimer.unref();
  }

  /** List and watch until it works or stop() (bounded back-off: 200 ms doubling to 5 s). */
  private async listAndWatchRetrying(): Promise<void> {
    let delay = 200;
    while (!this.stopped) {
      try {
        await this.listAndWatch();
        return;
      } catch (err) {
        this.connected = false;
        this.lastProbeError = (err as Error).message;
        log.warn('node.datastore.list_failed', { error: (err as Error).message, retryInMs: delay }, 'cannot read the datastore; retrying');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.probeTimer);
    await this.watch?.stop().catch(() => undefined);
  }

  kind(kind: string): KindCache {
    let m = this.kinds.get(kind);
    if (!m) {
      m = new Map();
      this.kinds.set(kind, m);
    }
    return m;
  }

  values<T>(kind: string): T[] {
    return [...this.kind(kind).values()].map((v) => v.value as T);
  }

  get<T>(kind: string, key: string): T | undefined {
    return this.kind(kind).get(key)?.value as T | undefined;
  }

  health(): DatastoreHealth {
    return {
      backend: this.store.backend,
      connected: this.connected,
      inSync: this.inSync,
      revision: this.revision,
      storeRevision: this.storeRevision,
      lastEventAt: this.lastEventAt?.toISOString() ?? null,
      lastProbeError: this.lastProbeError,
      watchLagSeconds: this.behindSince !== undefined ? (Date.now() - this.behindSince) / 1000 : 0,
      resyncs: this.resyncs,
    };
  }

  private async listAndWatch(): Promise<void> {
    const list = await this.store.list({ prefix: '' });
    const next = new Map<string, KindCache>();
    for (const item of list.items) {
      let m = next.get(item.key.kind);
      if (!m) next.set(item.key.kind, (m = new Map()));
      m.set(cacheKey(item.key), { value: item.value, revision: item.revision });
    }
    this.kinds.clear();
    for (const [k, v] of next) this.kinds.set(k, v);
    this.revision = list.revision;
    this.storeRevision = Math.max(this.storeRevision, list.revision);
    this.connected = true;
    this.inSync = true;
    this.lastProbeError = null;
    this.behindSince = undefined;
    this.emit({ kinds: new Set(next.keys()), keys: new Map(), all: true });
    log.info('node.datastore.synced', { revision: list.revision, keys: list.items.length });
    const handle = await this.store.watch({ prefix: '' }, { fromRevision: list.revision }, (n) => {
      if (this.stopped) return;
      if (n.type === 'resync') {
        this.resyncs++;
        log.warn('node.datastore.resync', { reason: n.reason, fromRevision: n.fromRevision }, 'watch history lost; re-listing');
        void this.relist();
        return;
      }
      this.apply(n);
    });
    if (this.stopped) {
      await handle.stop();
      return;
    }
    this.watch = handle;
  }

  private async relist(): Promise<void> {
    if (this.relisting) return;
    this.relisting = true;
    try {
      await this.watch?.stop().catch(() => undefined);
      this.watch = undefined;
      await this.listAndWatchRetrying();
    } finally {
      this.relisting = false;
    }
  }

  private apply(e: StoreEvent): void {
    const m = this.kind(e.key.kind);
    const k = cacheKey(e.key);
    if (e.type === 'put') m.set(k, { value: e.value, revision: e.revision });
    else m.delete(k);
    this.revision = e.revision;
    this.lastEventAt = new Date();
    if (this.revision >= this.storeRevision) this.behindSince = undefined;
    const change = (this.pending ??= { kinds: new Set<string>(), keys: new Map<string, Set<string>>(), all: false });
    change.kinds.add(e.key.kind);
    let ks = change.keys.get(e.key.kind);
    if (!ks) change.keys.set(e.key.kind, (ks = new Set()));
    ks.add(k);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private emit(change: DatastoreChange): void {
    if (this.pending) {
      // A re-list supersedes whatever was pending.
      this.pending = undefined;
    }
    try {
      this.opts.onChange(change);
    } catch (err) {
      log.error('node.datastore.consumer_failed', { error: (err as Error).message });
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const change = this.pending;
    if (!change) return;
    this.pending = undefined;
    this.emit(change);
  }

  private async probe(): Promise<void> {
    const timeoutMs = this.opts.probeTimeoutMs ?? 3_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const rev = await Promise.race([
        this.store.currentRevision(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      this.storeRevision = rev;
      if (!this.connected) log.info('node.datastore.reconnected', { revision: rev }, 'the datastore answers again');
      this.connected = true;
      this.lastProbeError = null;
      if (rev > this.revision) this.behindSince ??= Date.now();
      else this.behindSince = undefined;
    } catch (err) {
      if (this.connected) log.warn('node.datastore.unreachable', { error: (err as Error).message }, 'the datastore does not answer; keeping the last known state');
      this.connected = false;
      this.lastProbeError = (err as Error).message;
      this.behindSince ??= Date.now();
    } finally {
      clearTimeout(timer);
    }
  }
}
