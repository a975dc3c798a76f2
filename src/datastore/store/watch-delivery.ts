/**
 * Ordered, one-at-a-time delivery of watch notifications to a handler
 * (shared by both backends). Backends push in revision order as they learn
 * of changes; the handler sees them strictly in that order, each after the
 * previous one's promise settled, so a slow consumer never sees a reordering.
 */
import type { WatchHandler, WatchNotification } from './types.js';

export class WatchDelivery<T = unknown> {
  private readonly queue: WatchNotification<T>[] = [];
  private pumping = false;
  private stopped = false;
  private ended = false;
  private idleWaiters: (() => void)[] = [];
  /** Revision of the last event queued (the resume point). */
  lastRevision: number;

  constructor(
    private readonly handler: WatchHandler<T>,
    fromRevision: number,
    private readonly onHandlerError: (err: unknown) => void,
  ) {
    this.lastRevision = fromRevision;
  }

  /** True once stopped or once a resync ended the watch: pushes are ignored. */
  get closed(): boolean {
    return this.stopped || this.ended;
  }

  push(n: WatchNotification<T>): void {
    if (this.closed) return;
    if (n.type === 'resync') this.ended = true;
    else this.lastRevision = n.revision;
    this.queue.push(n);
    if (!this.pumping) {
      this.pumping = true;
      void this.pump();
    }
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  /** Resolves when every queued notification has been handled (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.pumping) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    // Deliver in a later microtask than push(), never synchronously inside a backend's bookkeeping.
    await Promise.resolve();
    while (this.queue.length > 0 && !this.stopped) {
      const n = this.queue.shift()!;
      try {
        await this.handler(n);
      } catch (err) {
        this.onHandlerError(err);
      }
    }
    this.pumping = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
