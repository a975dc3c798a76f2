/**
 * Keeps one lease alive by renewing it at a third of its TTL (as etcd's
 * clients do), for liveness keys such as a node's heartbeat. Reports the
 * loss once if the lease is gone (expired while we could not reach the
 * store, or revoked): the owner then grants a new lease and re-creates its
 * keys.
 */
import { logger } from '../../util/log.js';
import { LeaseNotFoundError } from './errors.js';
import type { LeaseGrant, Store } from './types.js';

const log = logger('datastore');

export class LeaseKeeper {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    readonly lease: LeaseGrant,
    private readonly onLost: (err: Error) => void,
  ) {}

  start(): this {
    this.schedule();
    return this;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.renew(), Math.max(100, (this.lease.ttl * 1000) / 3));
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.store.keepAliveLease(this.lease.id);
    } catch (err) {
      if (err instanceof LeaseNotFoundError) {
        this.stopped = true;
        this.onLost(err);
        return;
      }
      // Transient (store unreachable): keep trying; the lease may still be alive.
      log.warn('datastore.lease.keepalive_failed', { lease: this.lease.id, err: (err as Error).message }, 'lease keepalive failed; retrying');
    }
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
