/**
 * One etcd watch with exactly-once, in-order delivery across disconnects.
 *
 * We drive the gRPC Watch stream ourselves instead of using the etcd3
 * client's Watcher because that one moves its resume point to the stream's
 * header revision on "created" (before the catch-up events have arrived), so
 * a disconnect during catch-up would silently skip events.
 *
 * Here the resume point (`lastQueued`) only advances when (a) a response's
 * events have all been queued for the handler (etcd never splits one
 * revision over two responses unless asked to fragment, which we do not),
 * or (b) a progress notification says that everything up to its header
 * revision has been sent (etcd sends those only to watchers that are caught
 * up). After a disconnect the stream is re-created with
 * `start_revision = lastQueued + 1`, retrying with capped exponential
 * backoff; any event at or below `lastQueued` is dropped as a duplicate.
 * If etcd answers that the revision was compacted, the handler gets a
 * `resync` and the watch ends.
 */
import type { Etcd3, IDuplexStream, IWatchRequest, IWatchResponse } from 'etcd3';
import { logger } from '../../../util/log.js';
import { StoreUnavailableError } from '../errors.js';
import type { StoreEvent, StoreKey } from '../types.js';
import type { WatchDelivery } from '../watch-delivery.js';

const log = logger('datastore');

const BACKOFF_START_MS = 100;
const BACKOFF_MAX_MS = 5_000;

export interface EtcdWatchSpec {
  key: Buffer;
  rangeEnd: Buffer;
  /** Maps an etcd key back to a store key (undefined: not one of ours, skip). */
  decode: (key: Buffer) => StoreKey | undefined;
}

export class EtcdWatch {
  private stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
  private stopped = false;
  private established = false;
  private backoffMs = BACKOFF_START_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private onEstablished: (() => void) | undefined;
  /** Every event at or below this revision has been queued for the handler. */
  lastQueued: number;

  constructor(
    private readonly client: Etcd3,
    private readonly spec: EtcdWatchSpec,
    private readonly delivery: WatchDelivery,
    fromRevision: number,
  ) {
    this.lastQueued = fromRevision;
  }

  /** Resolves once etcd has created the watch; rejects if that takes longer than `timeoutMs`. */
  start(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.stop();
        reject(new StoreUnavailableError(`could not establish an etcd watch within ${timeoutMs} ms`));
      }, timeoutMs);
      this.onEstablished = () => {
        clearTimeout(timer);
        resolve();
      };
      this.connect();
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const s = this.stream;
    this.stream = undefined;
    if (s) cancelQuietly(s);
  }

  private connect(): void {
    if (this.stopped) return;
    this.client.watchClient.watch().then(
      (stream) => {
        if (this.stopped) {
          cancelQuietly(stream);
          return;
        }
        this.stream = stream;
        stream.on('data', (res) => this.onResponse(stream, res));
        stream.on('error', (err) => this.onBroken(stream, err));
        stream.on('end', () => this.onBroken(stream, new Error('watch stream ended')));
        stream.write({
          create_request: {
            key: this.spec.key,
            range_end: this.spec.rangeEnd,
            start_revision: this.lastQueued + 1,
            progress_notify: true,
          },
        });
      },
      (err: unknown) => this.onBroken(undefined, err),
    );
  }

  private onResponse(stream: IDuplexStream<IWatchRequest, IWatchResponse>, res: IWatchResponse): void {
    if (stream !== this.stream || this.stopped) return;
    if (res.canceled) {
      this.onCanceled(stream, res);
      return;
    }
    if (res.created) {
      this.backoffMs = BACKOFF_START_MS;
      if (!this.established) {
        this.established = true;
        this.onEstablished?.();
      } else {
        log.info('datastore.etcd.watch_resumed', { fromRevision: this.lastQueued + 1 }, 'etcd watch re-established');
      }
      return;
    }
    const events = res.events ?? [];
    if (events.length === 0) {
      // Progress notification: everything up to the header revision has been sent to us.
      const rev = Number(res.header.revision);
      if (rev > this.lastQueued) this.lastQueued = rev;
      return;
    }
    let maxRev = this.lastQueued;
    for (const ev of events) {
      const rev = Number(ev.kv.mod_revision);
      if (rev <= this.lastQueued) continue; // replayed after a reconnect
      if (rev > maxRev) maxRev = rev;
      const key = this.spec.decode(ev.kv.key);
      if (!key) continue;
      let e: StoreEvent;
      if (ev.type === 'Delete') {
        e = { type: 'delete', key, revision: rev };
      } else {
        let value: unknown;
        try {
          value = JSON.parse(ev.kv.value.toString('utf8'));
        } catch {
          log.warn('datastore.etcd.bad_value', { key: ev.kv.key.toString() }, 'skipping a value that is not JSON');
          continue;
        }
        e = { type: 'put', key, value, revision: rev };
        if (ev.kv.lease && ev.kv.lease !== '0') e.lease = String(ev.kv.lease);
      }
      this.delivery.push(e);
    }
    this.lastQueued = maxRev;
  }

  private onCanceled(stream: IDuplexStream<IWatchRequest, IWatchResponse>, res: IWatchResponse): void {
    const compactRevision = Number(res.compact_revision ?? 0);
    if (compactRevision > 0) {
      this.delivery.push({ type: 'resync', reason: 'compacted', fromRevision: this.lastQueued, compactRevision });
      // A compacted watch still counts as established: the caller gets its answer.
      if (!this.established) {
        this.established = true;
        this.onEstablished?.();
      }
      this.stop();
      return;
    }
    log.warn('datastore.etcd.watch_canceled', { reason: res.cancel_reason }, 'etcd canceled the watch; retrying');
    this.onBroken(stream, new Error(`watch canceled: ${res.cancel_reason}`));
  }

  private onBroken(stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined, err: unknown): void {
    if (this.stopped || stream !== this.stream) return;
    if (stream) cancelQuietly(stream);
    this.stream = undefined;
    if (this.retryTimer) return;
    const delay = this.backoffMs * (0.5 + Math.random() / 2);
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    log.debug('datastore.etcd.watch_disconnected', { err: (err as Error)?.message ?? String(err), retryInMs: Math.round(delay) }, 'etcd watch disconnected');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
  }
}

function cancelQuietly(stream: IDuplexStream<IWatchRequest, IWatchResponse>): void {
  // Cancelling makes the stream emit a CANCELLED error: keep it from becoming an uncaught one.
  stream.on('error', () => undefined);
  try {
    stream.cancel();
  } catch {
    // already closed
  }
}
