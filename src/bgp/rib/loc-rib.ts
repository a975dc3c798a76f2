/**
 * Loc-RIB storage (RFC 4271 §3.2): per prefix id, which peers offer a
 * candidate and which one won, in typed arrays sized to the prefix universe;
 * plus the queue of prefixes whose result changed since the last flush.
 *
 *  - `candSlot[pid]`: the peer slot of the only candidate, NONE when there is
 *    no candidate, MULTI when there are several (then `multi.get(pid)` lists
 *    their slots). Nearly every prefix has one candidate, which costs 2
 *    bytes here and nothing else.
 *  - `bestSlot[pid]` / `bestAttr[pid]`: the selected route, a reference to
 *    the winner's Adj-RIB-In entry (peer slot + attribute set id), not a
 *    copy. NONE when no candidate is eligible.
 *  - `multi` entries also remember the multipath set last reported (as
 *    slot * 2^30 + attribute set id), so a change in the set is noticed.
 *
 * The change queue (`changed`, de-duplicated by `inChanged`) is what a flush
 * hands to listeners: one Int32Array of prefix ids, not one callback per
 * prefix. A queued id holds a reference so it cannot be recycled before the
 * flush.
 */
import type { PrefixIndex } from './prefix-index.js';

export const NONE = -1;
export const MULTI = -2;
export const MP_SLOT_FACTOR = 0x40000000;

export interface MultiEntry {
  slots: number[];
  /** Last reported multipath set (slot * MP_SLOT_FACTOR + attribute set id), best first. */
  mp: number[];
}

export class LocRib {
  candSlot: Int16Array;
  bestSlot: Int16Array;
  bestAttr: Int32Array;
  inChanged: Uint8Array;
  readonly multi = new Map<number, MultiEntry>();
  changed: Int32Array;
  changedCount = 0;
  /** Prefixes with a selected route. */
  size = 0;

  constructor(
    private readonly prefixes: PrefixIndex,
    capacity: number,
  ) {
    this.candSlot = new Int16Array(capacity).fill(NONE);
    this.bestSlot = new Int16Array(capacity).fill(NONE);
    this.bestAttr = new Int32Array(capacity);
    this.inChanged = new Uint8Array(capacity);
    this.changed = new Int32Array(1024);
  }

  /** Makes the per-prefix arrays cover `pid`. */
  ensure(pid: number): void {
    if (pid < this.candSlot.length) return;
    const cap = Math.max(this.prefixes.capacity, pid + 1, this.candSlot.length * 2);
    const c = new Int16Array(cap).fill(NONE);
    c.set(this.candSlot);
    this.candSlot = c;
    const b = new Int16Array(cap).fill(NONE);
    b.set(this.bestSlot);
    this.bestSlot = b;
    const a = new Int32Array(cap);
    a.set(this.bestAttr);
    this.bestAttr = a;
    const f = new Uint8Array(cap);
    f.set(this.inChanged);
    this.inChanged = f;
  }

  queueChange(pid: number): void {
    if (this.inChanged[pid] === 1) return;
    this.inChanged[pid] = 1;
    if (this.changedCount === this.changed.length) {
      const c = new Int32Array(this.changed.length * 2);
      c.set(this.changed);
      this.changed = c;
    }
    this.changed[this.changedCount++] = pid;
    this.prefixes.retain(pid);
  }

  /** Ends a flush: clears the queue and drops its references. */
  clearChanges(): void {
    const n = this.changedCount;
    const ch = this.changed;
    for (let i = 0; i < n; i++) {
      const pid = ch[i]!;
      this.inChanged[pid] = 0;
      this.prefixes.release(pid);
    }
    this.changedCount = 0;
    // Give back a queue that grew for a bulk load.
    if (ch.length > 65536) this.changed = new Int32Array(1024);
  }

  byteSize(): number {
    return this.candSlot.byteLength + this.bestSlot.byteLength + this.bestAttr.byteLength + this.inChanged.byteLength + this.changed.byteLength;
  }
}
