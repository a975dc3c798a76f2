/**
 * The store interface: a versioned key-value store with etcd v3 semantics,
 * implemented by the embedded (directory) backend and the etcd backend.
 *
 * The store treats every value as an opaque JSON value: validation of Calico
 * resources happens above it (src/datastore/resources). What the store
 * guarantees, identically on both backends:
 *
 * - One global, strictly increasing store revision. Every change (a put, a
 *   delete, a successful transaction) creates a new revision; every key
 *   carries the revision of its last change (its "mod revision").
 * - Compare-and-swap on mod revisions (`update`/`delete` with
 *   `expectRevision`) and multi-key all-or-nothing transactions (`txn`), on
 *   which IPAM relies to never hand out one address twice.
 * - Watches that deliver every change after a given revision exactly once,
 *   in revision order, and say `resync` when that history is gone.
 * - Leases: keys attached to a lease vanish when it expires.
 */

/**
 * Identifies one stored object. Cluster-scoped kinds have no namespace.
 *
 * Calico resources use their Calico kind (`IPPool`, `WorkloadEndpoint`, ...).
 * Internal objects use lowercase dashed kinds (`ipam-block`, `ipam-handle`,
 * `ipam-affinity`, ...) with a name of their own choosing; the store does not
 * distinguish the two, the convention keeps them apart.
 *
 * Segments must be non-empty, contain no `/` and no control characters, and
 * not be `.` or `..`; a kind is `[A-Za-z0-9][A-Za-z0-9._-]*`.
 */
export interface StoreKey {
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

/**
 * A set of keys, for `list` and `watch`:
 * - `{ kind }`: every object of that kind (all namespaces);
 * - `{ kind, namespace }`: the objects of that kind in one namespace;
 * - `{ prefix }`: every key whose encoded form (`kind/name` or
 *   `kind/namespace/name`, see keys.ts) starts with `prefix`; `''` is all.
 */
export type KeySelector = { kind: string; namespace?: string } | { prefix: string };

/** A lease id: etcd's int64 lease id in decimal, or the embedded store's own. */
export type LeaseId = string;

export interface Versioned<T = unknown> {
  value: T;
  /** The key's mod revision: the store revision of its last change. */
  revision: number;
  /** Set when the key is attached to a lease. */
  lease?: LeaseId;
}

export interface KeyValue<T = unknown> extends Versioned<T> {
  key: StoreKey;
}

export interface ListResult<T = unknown> {
  /** Sorted by encoded key. */
  items: KeyValue<T>[];
  /** The store revision at which this list is consistent: watch from it. */
  revision: number;
}

export interface WriteOptions {
  /** Attach the key to this lease (it vanishes when the lease expires). */
  lease?: LeaseId;
}

export interface UpdateOptions extends WriteOptions {
  /** Compare-and-swap: fail with ConflictError unless the key's mod revision is exactly this. */
  expectRevision?: number;
}

export interface DeleteOptions {
  /** Compare-and-swap: fail with ConflictError unless the key's mod revision is exactly this. */
  expectRevision?: number;
}

/** One condition of a transaction. All must hold for the transaction to apply. */
export type TxnCompare =
  /** The key's mod revision equals `revision`; `revision: 0` means "the key is absent". */
  | { key: StoreKey; revision: number }
  /** The key exists, whatever its revision. */
  | { key: StoreKey; exists: true };

export type TxnOp =
  | { type: 'put'; key: StoreKey; value: unknown; lease?: LeaseId }
  /** Deleting an absent key inside a transaction is a no-op, as in etcd. */
  | { type: 'delete'; key: StoreKey };

export interface TxnRequest {
  compare: TxnCompare[];
  /** Applied atomically, at one revision, when every compare holds. A key may appear once. */
  ops: TxnOp[];
}

export type TxnResult =
  | {
      succeeded: true;
      /** The revision of the transaction's changes (the current revision if it changed nothing). */
      revision: number;
    }
  | {
      succeeded: false;
      /** The store revision at which the compares were evaluated. */
      revision: number;
      /** The current mod revision (0 = absent) of every compared key, in compare order. */
      current: { key: StoreKey; revision: number }[];
    };

export type StoreEvent<T = unknown> =
  | { type: 'put'; key: StoreKey; value: T; revision: number; lease?: LeaseId }
  | { type: 'delete'; key: StoreKey; revision: number };

/**
 * The history a watch needs is gone (compacted), or the watch could not keep
 * its exactly-once guarantee. The watch has ended: re-list, then watch again
 * from the list's revision.
 */
export interface ResyncSignal {
  type: 'resync';
  reason: 'compacted' | 'gap';
  /** The revision the watch would have continued after. */
  fromRevision: number;
  /** The oldest revision whose successors are still in the history. */
  compactRevision: number;
}

export type WatchNotification<T = unknown> = StoreEvent<T> | ResyncSignal;

/**
 * Called once per notification, in order. If it returns a promise, the next
 * notification waits for it, so a consumer sees events strictly one at a time.
 * An exception is logged and does not stop the watch.
 */
export type WatchHandler<T = unknown> = (n: WatchNotification<T>) => void | Promise<void>;

export interface WatchOptions {
  /**
   * Deliver the changes made after this revision (exclusive): pass the
   * `revision` of a `list`, or the last event revision you processed.
   * Omitted: changes after the store's current revision.
   */
  fromRevision?: number;
}

export interface WatchHandle {
  /** The revision of the last notification queued for the handler. */
  readonly lastRevision: number;
  /** Stop delivering. Notifications not yet handed to the handler are dropped. */
  stop(): Promise<void>;
}

export interface LeaseGrant {
  id: LeaseId;
  /** The TTL granted, in seconds (etcd may raise a too-small TTL). */
  ttl: number;
}

export type BackendType = 'embedded' | 'etcd';

export interface Store {
  readonly backend: BackendType;

  /** The object under `key`, or undefined if absent (or its lease expired). */
  get<T = unknown>(key: StoreKey): Promise<Versioned<T> | undefined>;

  /** Every object of a kind (optionally in one namespace), or under a selector. */
  list<T = unknown>(kind: string, options?: { namespace?: string }): Promise<ListResult<T>>;
  list<T = unknown>(selector: KeySelector): Promise<ListResult<T>>;

  /** Create; AlreadyExistsError if present. Returns the new mod revision. */
  create(key: StoreKey, value: unknown, options?: WriteOptions): Promise<number>;

  /** Replace; NotFoundError if absent, ConflictError if `expectRevision` does not match. */
  update(key: StoreKey, value: unknown, options?: UpdateOptions): Promise<number>;

  /** Create or replace, unconditionally. Returns the new mod revision. */
  put(key: StoreKey, value: unknown, options?: WriteOptions): Promise<number>;

  /** Delete; NotFoundError if absent, ConflictError if `expectRevision` does not match. Returns the deletion's revision. */
  delete(key: StoreKey, options?: DeleteOptions): Promise<number>;

  /** Atomic multi-key compare-and-swap: all ops apply at one revision, or none. */
  txn(request: TxnRequest): Promise<TxnResult>;

  /** Watch a kind, a namespace of a kind, or a key prefix. Resolves once the watch is established. */
  watch<T = unknown>(selector: KeySelector | string, options: WatchOptions, handler: WatchHandler<T>): Promise<WatchHandle>;

  /** The current store revision. */
  currentRevision(): Promise<number>;

  /** Discard history at or before `revision` (watches from older revisions then get `resync`). */
  compact(revision: number): Promise<void>;

  grantLease(ttlSeconds: number): Promise<LeaseGrant>;
  /** Renew; returns the TTL in seconds. LeaseNotFoundError if it already expired or was revoked. */
  keepAliveLease(id: LeaseId): Promise<number>;
  /** Revoke now: its keys are deleted. LeaseNotFoundError if unknown. */
  revokeLease(id: LeaseId): Promise<void>;

  /** Stop watches and timers, release files and connections. Idempotent. */
  close(): Promise<void>;
}

export interface EmbeddedStoreConfig {
  type: 'embedded';
  /** The store directory (created if missing, mode 0700). */
  path: string;
  /** Start a new log segment (with a snapshot) past this size. Default 4 MiB (bounds what a new process must read at open). */
  segmentMaxBytes?: number;
  /** How many log segments to keep for watch history. Default 3. */
  retainSegments?: number;
  /** Give up waiting for the cross-process write lock after this long. Default 30 s. */
  lockTimeoutMs?: number;
  /** Safety re-read of the log while watches are open, in case a change notification is lost. Default 5 s. */
  recheckIntervalMs?: number;
  /** Skip fdatasync (benchmarks and throwaway test stores only: no crash safety). */
  unsafeNoSync?: boolean;
}

export interface EtcdStoreConfig {
  type: 'etcd';
  /** e.g. `["http://127.0.0.1:2379"]`; `https://` with `tls`. */
  endpoints: string[];
  /** Key prefix. Default `/tabby/v1/`. Must start and end with `/`. */
  prefix?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  username?: string;
  password?: string;
  /** How long to wait for etcd to answer at open, and for a connection before a request fails. Default 5 s. */
  dialTimeoutMs?: number;
  /** Deadline of one request. Default 10 s. */
  requestTimeoutMs?: number;
}

export type StoreConfig = EmbeddedStoreConfig | EtcdStoreConfig;
