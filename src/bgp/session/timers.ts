/**
 * The FSM's timers, behind a clock interface so tests drive time by hand.
 * RFC 4271 §10: ConnectRetry and the keepalive/hold intervals are jittered by
 * a factor in [0.75, 1] so that many sessions do not fire in lockstep; the
 * hold timer itself is never shortened.
 */
import type { TimerName } from './fsm.js';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

const JITTERED: ReadonlySet<TimerName> = new Set(['connectRetry', 'keepalive', 'idleHold']);

export class FsmTimers {
  private readonly handles = new Map<TimerName, unknown>();

  constructor(
    private readonly clock: Clock,
    private readonly fire: (timer: TimerName) => void,
    /** Random in [0, 1); injectable for deterministic tests. */
    private readonly random: () => number = Math.random,
  ) {}

  start(timer: TimerName, seconds: number): void {
    this.stop(timer);
    const factor = JITTERED.has(timer) ? 0.75 + 0.25 * this.random() : 1;
    const ms = Math.max(1, Math.round(seconds * 1000 * factor));
    this.handles.set(
      timer,
      this.clock.setTimeout(() => {
        this.handles.delete(timer);
        this.fire(timer);
      }, ms),
    );
  }

  stop(timer: TimerName): void {
    const h = this.handles.get(timer);
    if (h !== undefined) {
      this.clock.clearTimeout(h);
      this.handles.delete(timer);
    }
  }

  running(timer: TimerName): boolean {
    return this.handles.has(timer);
  }

  stopAll(): void {
    for (const t of [...this.handles.keys()]) this.stop(t);
  }
}

/** A manual clock for tests: `advance(ms)` fires due timers in order. */
export class ManualClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.pending) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.pending.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}
