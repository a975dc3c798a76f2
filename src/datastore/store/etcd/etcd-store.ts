/**
 * The etcd v3 backend, through the `etcd3` client's raw KV/Lease/Watch RPCs.
 *
 * Layout: `<prefix><kind>/<name>` or `<prefix><kind>/<namespace>/<name>`,
 * prefix `/tabby/v1/` by default; values are JSON text; a key's revision is
 * etcd's mod_revision and the store revision is etcd's header revision.
 * Every conditional write is one etcd Txn comparing mod_revision (0 means
 * absent); its failure branch reads the compared keys back so the caller
 * learns their current revisions in the same round trip.
 *
 * Retries: reads are retried on "unavailable" until `dialTimeoutMs`; writes
 * only when the request provably never left (no connection established),
 * because retrying a compare-and-swap whose reply was lost could report a
 * conflict for a write that in fact applied. A write that fails otherwise
 * throws StoreUnavailableError and the caller re-reads before trying again.
 */
import { readFile } from 'node:fs/promises';
import {
  ClientClosedError,
  Etcd3,
  EtcdLeaseInvalidError,
  GRPCDeadlineExceededError,
  GRPCUnavailableError,
  type ICompare,
  type IKeyValue,
  type IOptions,
  type IRequestOp,
} from 'etcd3';
import { logger } from '../../../util/log.js';
import { createViaTxn, deleteViaTxn, updateViaTxn } from '../crud.js';
import { InvalidArgumentError, LeaseNotFoundError, StoreClosedError, StoreError, StoreUnavailableError } from '../errors.js';
import { checkRevision, checkTtl, checkTxn, decodeKey, encodeKey, encodeValue, selectorPrefix, toSelector } from '../keys.js';
import type {
  DeleteOptions,
  EtcdStoreConfig,
  KeySelector,
  KeyValue,
  LeaseGrant,
  LeaseId,
  ListResult,
  Store,
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
import { EtcdWatch } from './etcd-watch.js';

const log = logger('datastore');

export const DEFAULT_ETCD_PREFIX = '/tabby/v1/';
const LIST_PAGE = 500;
const MAX_LIST_PAGES = 100_000;

type Policy = ReturnType<NonNullable<NonNullable<IOptions['faultHandling']>['host']>>;

/**
 * The etcd3 client wraps calls in a retry policy and a per-host circuit
 * breaker by default. Both hide what happened to a write (and the breaker
 * keeps failing calls for seconds after etcd is back), so we run calls
 * straight through and decide about retries here.
 */
const passThrough = {
  execute: (fn: (ctx: { signal: AbortSignal }) => unknown) => Promise.resolve().then(() => fn({ signal: new AbortController().signal })),
  onSuccess: () => ({ dispose: () => undefined }),
  onFailure: () => ({ dispose: () => undefined }),
} as unknown as Policy;

/** etcd's prefix range end: the prefix with its last byte incremented (carrying over 0xff). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // all 0xff: to the end of the keyspace
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class EtcdStore implements Store {
  readonly backend = 'etcd' as const;
  private closed = false;
  private readonly watches = new Set<EtcdWatch>();

  private constructor(
    private readonly client: Etcd3,
    readonly prefix: string,
    private readonly endpoints: string[],
    private readonly dialTimeoutMs: number,
  ) {}

  static async open(config: EtcdStoreConfig): Promise<EtcdStore> {
    const prefix = config.prefix ?? DEFAULT_ETCD_PREFIX;
    if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new InvalidArgumentError(`etcd prefix ${JSON.stringify(prefix)} must start and end with '/'`);
    if (!Array.isArray(config.endpoints) || config.endpoints.length === 0) throw new InvalidArgumentError('etcd datastore needs at least one endpoint');
    const dialTimeoutMs = config.dialTimeoutMs ?? 5_000;
    const requestTimeoutMs = config.requestTimeoutMs ?? 10_000;
    const options: IOptions = {
      hosts: config.endpoints,
      dialTimeout: dialTimeoutMs,
      faultHandling: { host: () => passThrough, global: passThrough },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + requestTimeoutMs }),
      grpcOptions: {
        // grpc-js waits up to 120 s between reconnects by default; etcd restarts should be noticed in seconds.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 2_000,
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
      },
    };
    if (config.tls) {
      const { caFile, certFile, keyFile } = config.tls;
      if ((certFile === undefined) !== (keyFile === undefined)) throw new InvalidArgumentError('etcd TLS needs both certFile and keyFile, or neither');
      const read = async (f: string, what: string): Promise<Buffer> => {
        try {
          return await readFile(f);
        } catch (err) {
          throw new InvalidArgumentError(`cannot read etcd TLS ${what} ${f}: ${errText(err)}`);
        }
      };
      options.credentials = {
        // null lets gRPC use the system's root certificates.
        rootCertificate: caFile === undefined ? (null as unknown as Buffer) : await read(caFile, 'CA file'),
        ...(keyFile === undefined ? {} : { privateKey: await read(keyFile, 'key file') }),
        ...(certFile === undefined ? {} : { certChain: await read(certFile, 'certificate file') }),
      };
    }
    if (config.username !== undefined) options.auth = { username: config.username, password: config.password ?? '' };
    const store = new EtcdStore(new Etcd3(options), prefix, config.endpoints, dialTimeoutMs);
    try {
      await store.currentRevision();
    } catch (err) {
      store.client.close();
      throw new StoreUnavailableError(`cannot reach etcd at ${config.endpoints.join(', ')}: ${errText(err)}`, err);
    }
    return store;
  }

  private path(key: StoreKey): Buffer {
    return Buffer.from(this.prefix + encodeKey(key), 'utf8');
  }

  private decode = (etcdKey: Buffer): StoreKey | undefined => {
    const s = etcdKey.toString('utf8');
    return s.startsWith(this.prefix) ? decodeKey(s.slice(this.prefix.length)) : undefined;
  };

  // ---- reads ---------------------------------------------------------------

  async get<T = unknown>(key: StoreKey): Promise<Versioned<T> | undefined> {
    const path = this.path(key);
    const res = await this.call('get', () => this.client.kv.range({ key: path }), true);
    const kv = res.kvs[0];
    if (!kv) return undefined;
    const out: Versioned<T> = { value: parseValue<T>(kv), revision: Number(kv.mod_revision) };
    if (kv.lease && kv.lease !== '0') out.lease = String(kv.lease);
    return out;
  }

  list<T = unknown>(kind: string, options?: { namespace?: string }): Promise<ListResult<T>>;
  list<T = unknown>(selector: KeySelector): Promise<ListResult<T>>;
  async list<T = unknown>(selector: string | KeySelector, options?: { namespace?: string }): Promise<ListResult<T>> {
    const start = Buffer.from(this.prefix + selectorPrefix(toSelector(selector, options?.namespace)), 'utf8');
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.listOnce<T>(start);
      } catch (err) {
        // A compaction between two pages invalidates the first page's revision: start over.
        if (attempt >= 3 || !errText(err).includes('required revision has been compacted')) throw err;
      }
    }
  }

  private async listOnce<T>(start: Buffer): Promise<ListResult<T>> {
    const end = prefixRangeEnd(start);
    const items: KeyValue<T>[] = [];
    let from = start;
    // Later pages are read at the first page's revision, so the whole list is one consistent cut.
    let revision: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const req = { key: from, range_end: end, limit: LIST_PAGE, sort_order: 'Ascend' as const, sort_target: 'Key' as const, ...(revision ? { revision } : {}) };
      const res = await this.call('list', () => this.client.kv.range(req), true);
      revision ??= res.header.revision;
      for (const kv of res.kvs) {
        const key = this.decode(kv.key);
        if (!key) continue;
        const item: KeyValue<T> = { key, value: parseValue<T>(kv), revision: Number(kv.mod_revision) };
        if (kv.lease && kv.lease !== '0') item.lease = String(kv.lease);
        items.push(item);
      }
      if (!res.more || res.kvs.length === 0) return { items, revision: Number(revision) };
      from = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
    }
    throw new StoreUnavailableError(`list of ${start.toString()} exceeded ${MAX_LIST_PAGES} pages`);
  }

  async currentRevision(): Promise<number> {
    const res = await this.call('revision', () => this.client.kv.range({ key: Buffer.from(this.prefix), count_only: true }), true);
    return Number(res.header.revision);
  }

  // ---- writes --------------------------------------------------------------

  create(key: StoreKey, value: unknown, options?: WriteOptions): Promise<number> {
    return createViaTxn((r) => this.txn(r), key, value, options);
  }

  update(key: StoreKey, value: unknown, options?: UpdateOptions): Promise<number> {
    return updateViaTxn((r) => this.txn(r), key, value, options);
  }

  delete(key: StoreKey, options?: DeleteOptions): Promise<number> {
    return deleteViaTxn((r) => this.txn(r), key, options);
  }

  async put(key: StoreKey, value: unknown, options: WriteOptions = {}): Promise<number> {
    const path = this.path(key);
    const json = encodeValue(key, value);
    const res = await this.call(
      'put',
      () => this.client.kv.put({ key: path, value: Buffer.from(json, 'utf8'), ...(options.lease === undefined ? {} : { lease: options.lease }) }),
      false,
      options.lease,
    );
    return Number(res.header.revision);
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    const checked = checkTxn(request);
    const paths = checked.compare.map((c) => Buffer.from(this.prefix + c.k, 'utf8'));
    const compare: ICompare[] = checked.compare.map((c, i) =>
      'exists' in c
        ? { key: paths[i]!, target: 'Mod', result: 'Greater', mod_revision: 0 }
        : { key: paths[i]!, target: 'Mod', result: 'Equal', mod_revision: c.revision },
    );
    let lease: string | undefined;
    const success: IRequestOp[] = checked.ops.map((op) => {
      const key = Buffer.from(this.prefix + op.k, 'utf8');
      if (op.type === 'delete') return { request_delete_range: { key } };
      if (op.lease !== undefined) lease = op.lease;
      return { request_put: { key, value: Buffer.from(op.json, 'utf8'), ...(op.lease === undefined ? {} : { lease: op.lease }) } };
    });
    // On failure, read the compared keys back: the caller learns what changed without another round trip.
    const failure: IRequestOp[] = paths.map((key) => ({ request_range: { key, keys_only: true } }));
    const res = await this.call('txn', () => this.client.kv.txn({ compare, success, failure }), false, lease);
    const revision = Number(res.header.revision);
    if (res.succeeded) return { succeeded: true, revision };
    return {
      succeeded: false,
      revision,
      current: checked.compare.map((c, i) => ({ key: c.key, revision: Number(res.responses[i]?.response_range?.kvs[0]?.mod_revision ?? 0) })),
    };
  }

  async compact(revision: number): Promise<void> {
    checkRevision('compact revision', revision);
    try {
      await this.call('compact', () => this.client.kv.compact({ revision, physical: true }), true);
    } catch (err) {
      const msg = errText(err);
      if (msg.includes('required revision has been compacted')) return; // already done
      if (msg.includes('future revision')) throw new InvalidArgumentError(`cannot compact at revision ${revision}: it is in the future`);
      throw err;
    }
  }

  // ---- leases --------------------------------------------------------------

  async grantLease(ttlSeconds: number): Promise<LeaseGrant> {
    checkTtl(ttlSeconds);
    const res = await this.call('lease grant', () => this.client.leaseClient.leaseGrant({ TTL: ttlSeconds }), false);
    if (res.error) throw new StoreError('Unavailable', `etcd refused a lease: ${res.error}`);
    return { id: String(res.ID), ttl: Number(res.TTL) };
  }

  async keepAliveLease(id: LeaseId): Promise<number> {
    const ttl = await this.call('lease keepalive', () => this.keepAliveOnce(id), true, id);
    if (ttl <= 0) throw new LeaseNotFoundError(id);
    return ttl;
  }

  private async keepAliveOnce(id: LeaseId): Promise<number> {
    const stream = await this.client.leaseClient.leaseKeepAlive();
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => finish(new GRPCDeadlineExceededError('lease keepalive timed out')), this.dialTimeoutMs);
      const finish = (err: Error | undefined, ttl = 0): void => {
        clearTimeout(timer);
        stream.on('error', () => undefined);
        try {
          stream.cancel();
        } catch {
          // already closed
        }
        if (err) reject(err);
        else resolve(ttl);
      };
      stream.on('data', (res) => finish(undefined, Number(res.TTL)));
      stream.on('error', (err) => finish(err));
      stream.on('end', () => finish(new GRPCUnavailableError('lease keepalive stream ended')));
      stream.write({ ID: id });
    });
  }

  async revokeLease(id: LeaseId): Promise<void> {
    await this.call('lease revoke', () => this.client.leaseClient.leaseRevoke({ ID: id }), false, id);
  }

  // ---- watch ---------------------------------------------------------------

  async watch<T = unknown>(selector: KeySelector | string, options: WatchOptions, handler: WatchHandler<T>): Promise<WatchHandle> {
    this.assertOpen('watch');
    const prefix = selectorPrefix(toSelector(selector));
    if (options.fromRevision !== undefined) checkRevision('fromRevision', options.fromRevision);
    const from = options.fromRevision ?? (await this.currentRevision());
    const delivery = new WatchDelivery<T>(handler, from, (err) =>
      log.error('datastore.watch.handler_error', { prefix, err: errText(err) }, 'watch handler threw'),
    );
    const key = Buffer.from(this.prefix + prefix, 'utf8');
    const w = new EtcdWatch(this.client, { key, rangeEnd: prefixRangeEnd(key), decode: this.decode }, delivery as WatchDelivery, from);
    this.watches.add(w);
    try {
      await w.start(this.dialTimeoutMs);
    } catch (err) {
      this.watches.delete(w);
      throw err;
    }
    return {
      get lastRevision() {
        return w.lastQueued;
      },
      stop: async () => {
        delivery.stop();
        w.stop();
        this.watches.delete(w);
      },
    };
  }

  // ---- plumbing ------------------------------------------------------------

  private assertOpen(what: string): void {
    if (this.closed) throw new StoreClosedError(`${what} on etcd ${this.endpoints.join(',')}`);
  }

  /**
   * Runs one RPC, mapping etcd3's errors onto ours. `idempotent` calls are
   * retried while etcd is unavailable (up to the dial timeout); others only
   * when the request never reached a server.
   */
  private async call<R>(what: string, fn: () => Promise<R>, idempotent: boolean, leaseId?: string): Promise<R> {
    this.assertOpen(what);
    const giveUpAt = Date.now() + this.dialTimeoutMs;
    let delay = 50;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof EtcdLeaseInvalidError || errText(err).includes('requested lease not found')) {
          throw new LeaseNotFoundError(leaseId ?? '?');
        }
        if (err instanceof ClientClosedError || this.closed) throw new StoreClosedError(`${what} on etcd ${this.endpoints.join(',')}`);
        const unavailable = err instanceof GRPCUnavailableError || err instanceof GRPCDeadlineExceededError;
        if (!unavailable) throw err;
        const neverSent = /No connection established|ECONNREFUSED|failed to connect/i.test(errText(err));
        if (!(idempotent || neverSent) || Date.now() + delay > giveUpAt) {
          const outcome = idempotent || neverSent ? '' : ' (the write may or may not have been applied: re-read before retrying)';
          throw new StoreUnavailableError(`etcd ${what} at ${this.endpoints.join(', ')} failed: ${errText(err)}${outcome}`, err);
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 1_000);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watches) w.stop();
    this.watches.clear();
    this.client.close();
  }
}

function parseValue<T>(kv: IKeyValue): T {
  try {
    return JSON.parse(kv.value.toString('utf8')) as T;
  } catch (err) {
    throw new StoreError('Corrupt', `value of etcd key ${kv.key.toString('utf8')} is not JSON: ${errText(err)}`);
  }
}
