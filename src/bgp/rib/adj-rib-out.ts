/**
 * Adj-RIB-Out of one peer (RFC 4271 §3.2), kept as desired-vs-advertised in
 * the manner of MetalLB's session (`advertised` / `new`):
 *
 *  - `advertised`: prefix id -> attribute set id the peer has been sent;
 *  - `pending`: the changes not yet handed to the packer, prefix id -> the
 *    attribute set to announce, or WITHDRAW. The desired state is
 *    `advertised` overlaid by `pending`. Setting a prefix back to what is
 *    advertised cancels its pending change, so flapping between two flushes
 *    sends nothing, and a newer route for a prefix replaces the queued one
 *    (BIRD's buckets behave the same).
 *
 * `take()` moves pending changes into `advertised` and returns them grouped
 * the way UPDATEs are built: withdrawals per family, and announcements in one
 * group per (attribute set, family), so the packer writes the attributes once
 * and then as many NLRI as fit. Grouping is a counting sort over attribute
 * set ids (typed arrays, linear time).
 *
 * After a session comes up the RIB replays the whole Loc-RIB into an empty
 * Adj-RIB-Out (`startReplay`), and the first `take()` that leaves nothing
 * pending also reports End-of-RIB (RFC 4724 §2) for the session's families.
 *
 * References: each `advertised` and each `pending` entry holds one on its
 * prefix id and (announcements) one on its attribute set.
 */
import type { AttrSet, AttrTable } from './attrs.js';
import { IdMap } from './id-map.js';
import type { Family, PrefixIndex } from './prefix-index.js';

const WITHDRAW = -1;

export interface OutboundGroup {
  attrs: AttrSet;
  family: Family;
  /** Prefix ids (valid until the RIB's next `flush()`). */
  pids: Int32Array;
}

export interface OutboundBatch {
  withdrawnV4: Int32Array;
  withdrawnV6: Int32Array;
  groups: OutboundGroup[];
  /** Families to send End-of-RIB for after this batch (the initial table is complete). */
  endOfRib: Family[];
}

export class AdjRibOut {
  readonly advertised: IdMap;
  readonly pending: IdMap;
  private eorDue: Family[] = [];

  constructor(
    private readonly prefixes: PrefixIndex,
    private readonly attrs: AttrTable,
  ) {
    this.advertised = new IdMap(prefixes);
    this.pending = new IdMap(prefixes);
  }

  /** What the peer should end up with for `pid`: an attribute set id, or 0 for nothing. */
  desired(pid: number): number {
    const p = this.pending.get(pid);
    if (p === 0) return this.advertised.get(pid);
    return p === WITHDRAW ? 0 : p;
  }

  /** Sets the desired state of `pid` (attribute set id, or 0 to have it withdrawn). */
  setDesired(pid: number, attrId: number): void {
    const pending = this.pending;
    if (attrId === this.advertised.get(pid)) {
      // Back to what the peer has (or never had): nothing to send.
      const p = pending.delete(pid);
      if (p !== 0) {
        if (p > 0) this.attrs.releaseId(p);
        this.prefixes.release(pid);
      }
      return;
    }
    const nv = attrId === 0 ? WITHDRAW : attrId;
    const p = pending.set(pid, nv);
    if (p === nv) return;
    if (p > 0) this.attrs.releaseId(p);
    else if (p === 0) this.prefixes.retain(pid);
    if (attrId !== 0) this.attrs.retainId(attrId);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Nothing pending and no End-of-RIB owed. */
  get idle(): boolean {
    return this.pending.size === 0 && this.eorDue.length === 0;
  }

  /** Session (re)established: forget what was sent; End-of-RIB is owed once the replay drains. */
  startReplay(families: readonly Family[]): void {
    this.clear();
    this.eorDue = families.slice();
  }

  /**
   * Hands up to `max` pending changes to the packer and records them as
   * advertised.
   */
  take(max = Infinity): OutboundBatch {
    const pending = this.pending;
    const n = Math.min(pending.size, max);
    const all = n === pending.size;
    const pids = new Int32Array(n);
    const vals = new Int32Array(n);
    if (n > 0) pending.copyTo(pids, vals);
    const adv = this.advertised;
    const prefixes = this.prefixes;
    const attrs = this.attrs;
    const v6 = new Uint8Array(n);
    let nW4 = 0;
    let nW6 = 0;
    let nA = 0;
    let maxId = 0;
    for (let i = 0; i < n; i++) {
      const pid = pids[i]!;
      const v = vals[i]!;
      const isV6 = prefixes.isV6(pid);
      v6[i] = isV6 ? 1 : 0;
      if (!all) pending.delete(pid);
      if (v === WITHDRAW) {
        attrs.releaseId(adv.delete(pid));
        // Both the advertised and the pending entry held the prefix. Its id
        // stays valid until the RIB's next collect(): the packer reads it.
        prefixes.release(pid);
        prefixes.release(pid);
        if (isV6) nW6++;
        else nW4++;
        vals[i] = 0;
      } else {
        const old = adv.set(pid, v);
        if (old !== 0) {
          attrs.releaseId(old);
          prefixes.release(pid);
        }
        // else: the pending entry's references move to `advertised`.
        nA++;
        if (v > maxId) maxId = v;
      }
    }
    if (all) pending.clear();
    const withdrawnV4 = new Int32Array(nW4);
    const withdrawnV6 = new Int32Array(nW6);
    // Counting sort of announcements by (attribute set id, family).
    const counts = new Int32Array(maxId * 2 + 3);
    let w4 = 0;
    let w6 = 0;
    for (let i = 0; i < n; i++) {
      const v = vals[i]!;
      if (v === 0) {
        if (v6[i] === 1) withdrawnV6[w6++] = pids[i]!;
        else withdrawnV4[w4++] = pids[i]!;
      } else {
        counts[v * 2 + v6[i]! + 1]!++;
      }
    }
    for (let i = 1; i < counts.length; i++) counts[i]! += counts[i - 1]!;
    const sorted = new Int32Array(nA);
    const pos = counts.slice();
    for (let i = 0; i < n; i++) {
      const v = vals[i]!;
      if (v !== 0) sorted[pos[v * 2 + v6[i]!]!++] = pids[i]!;
    }
    const groups: OutboundGroup[] = [];
    for (let key = 0; key < counts.length - 1; key++) {
      const start = counts[key]!;
      const end = counts[key + 1]!;
      if (end > start) groups.push({ attrs: attrs.get(key >> 1), family: (key & 1) === 1 ? 6 : 4, pids: sorted.subarray(start, end) });
    }
    let endOfRib: Family[] = [];
    if (pending.size === 0 && this.eorDue.length > 0) {
      endOfRib = this.eorDue;
      this.eorDue = [];
    }
    return { withdrawnV4, withdrawnV6, groups, endOfRib };
  }

  /** Session down: drops everything (a new session starts from a replay). */
  clear(): void {
    this.pending.forEach((pid, v) => {
      if (v > 0) this.attrs.releaseId(v);
      this.prefixes.release(pid);
    });
    this.pending.clear();
    this.advertised.forEach((pid, v) => {
      this.attrs.releaseId(v);
      this.prefixes.release(pid);
    });
    this.advertised.clear();
    this.eorDue = [];
  }

  byteSize(): number {
    return this.advertised.byteSize() + this.pending.byteSize();
  }
}
