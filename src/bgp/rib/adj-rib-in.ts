/**
 * Adj-RIB-In of one peer (RFC 4271 §3.2): prefix id -> attribute set id,
 * typed-array maps only.
 *
 *  - `accepted`: the routes that passed import checks and import policy,
 *    with the attributes policy produced. These are the peer's candidates in
 *    the Loc-RIB decision.
 *  - `raw` (only with soft-reconfiguration inbound): everything received, as
 *    received, so an import-policy change can be re-evaluated without asking
 *    the peer for a ROUTE-REFRESH. Costs one more map per peer.
 *  - `rejected` (only without soft-reconfiguration): the ids of received but
 *    not accepted prefixes, so "received" stays exact and a later withdraw of
 *    them is recognised. With `raw` it is not needed (raw = received).
 *
 * Graceful restart (RFC 4724 §4.2) marks entries stale by setting bit 30 of
 * the stored value; a re-announcement stores a fresh value without it, and a
 * sweep removes what is still marked.
 *
 * Every entry holds one reference on its prefix id and (accepted, raw) one on
 * its attribute set; this class does that bookkeeping.
 */
import type { AttrTable } from './attrs.js';
import { IdMap } from './id-map.js';
import type { PrefixIndex } from './prefix-index.js';

export const STALE = 0x40000000;
export const ID_MASK = 0x3fffffff;

export class AdjRibIn {
  readonly accepted: IdMap;
  raw: IdMap | null;
  rejected: IdMap | null;
  /** Families that may hold stale entries (bit 1: IPv4, bit 2: IPv6): sweeps skip the walk otherwise. */
  private staleFamilies = 0;

  constructor(
    private readonly prefixes: PrefixIndex,
    private readonly attrs: AttrTable,
    softReconfig: boolean,
  ) {
    this.accepted = new IdMap(prefixes);
    this.raw = softReconfig ? new IdMap(prefixes) : null;
    this.rejected = softReconfig ? null : new IdMap(prefixes);
  }

  get softReconfig(): boolean {
    return this.raw !== null;
  }

  /**
   * Switches soft-reconfiguration inbound on or off in place. On: `raw`
   * starts empty (what was received before is not known as received; the
   * caller asks the peer to re-send it, RFC 2918) and `rejected` goes. Off:
   * received-but-rejected prefixes move to `rejected` so counts stay exact.
   */
  setSoftReconfig(on: boolean): void {
    if (on === this.softReconfig) return;
    if (on) {
      for (const pid of this.rejected!.ids()) this.unmarkRejected(pid);
      this.rejected = null;
      this.raw = new IdMap(this.prefixes);
      return;
    }
    const raw = this.raw!;
    this.rejected = new IdMap(this.prefixes);
    for (const pid of raw.ids()) {
      if (this.accepted.get(pid) === 0) this.markRejected(pid);
      this.deleteRaw(pid);
    }
    this.raw = null;
  }

  /** Prefixes currently received from the peer (accepted or not). */
  get received(): number {
    return this.raw !== null ? this.raw.size : this.accepted.size + this.rejected!.size;
  }

  /** The accepted attribute set id of `pid` (0 when none), without the stale bit. */
  acceptedId(pid: number): number {
    return this.accepted.get(pid) & ID_MASK;
  }

  /**
   * Stores an accepted route; returns the previous stored value (0 when new,
   * possibly with the STALE bit). With `ownedRef` a new entry takes over the
   * caller's reference on `pid` instead of adding one.
   */
  setAccepted(pid: number, attrId: number, ownedRef = false): number {
    const old = this.accepted.set(pid, attrId);
    if (old === 0) {
      if (!ownedRef) this.prefixes.retain(pid);
    } else this.attrs.releaseId(old & ID_MASK);
    this.attrs.retainId(attrId);
    return old;
  }

  /** Removes an accepted route; returns its attribute set id (0 when there was none). */
  deleteAccepted(pid: number): number {
    const old = this.accepted.delete(pid);
    if (old === 0) return 0;
    this.attrs.releaseId(old & ID_MASK);
    this.prefixes.release(pid);
    return old & ID_MASK;
  }

  setRaw(pid: number, attrId: number): void {
    const raw = this.raw!;
    const old = raw.set(pid, attrId);
    if (old === 0) this.prefixes.retain(pid);
    else this.attrs.releaseId(old & ID_MASK);
    this.attrs.retainId(attrId);
  }

  deleteRaw(pid: number): boolean {
    const old = this.raw!.delete(pid);
    if (old === 0) return false;
    this.attrs.releaseId(old & ID_MASK);
    this.prefixes.release(pid);
    return true;
  }

  markRejected(pid: number): void {
    if (this.rejected!.set(pid, 1) === 0) this.prefixes.retain(pid);
  }

  unmarkRejected(pid: number): boolean {
    if (this.rejected!.delete(pid) === 0) return false;
    this.prefixes.release(pid);
    return true;
  }

  /** RFC 4724 §4.2: mark every route of the peer stale (optionally only one family). */
  markStale(family?: 4 | 6): void {
    this.staleFamilies |= family === undefined ? 3 : family === 4 ? 1 : 2;
    const p = this.prefixes;
    const mark = (m: IdMap) => {
      if (family === undefined) m.mapValues((v) => v | STALE);
      else m.forEach((pid, v) => (p.family(pid) === family ? m.set(pid, v | STALE) : 0));
    };
    mark(this.accepted);
    if (this.raw) mark(this.raw);
    if (this.rejected) mark(this.rejected);
  }

  /** Ids of accepted routes still marked stale (optionally one family). */
  staleAccepted(family?: 4 | 6): number[] {
    return this.staleIn(this.accepted, family);
  }

  /**
   * Removes stale raw/rejected entries (the accepted ones go through the RIB,
   * which updates the Loc-RIB; call `staleAccepted` first): after this the
   * family holds nothing stale.
   */
  sweepStaleUnaccepted(family?: 4 | 6): void {
    if (this.raw) for (const pid of this.staleIn(this.raw, family)) this.deleteRaw(pid);
    if (this.rejected) for (const pid of this.staleIn(this.rejected, family)) this.unmarkRejected(pid);
    this.staleFamilies &= family === undefined ? 0 : family === 4 ? ~1 : ~2;
  }

  /** Drops raw and rejected entries (the accepted ones are removed by the RIB). */
  clearUnaccepted(): void {
    if (this.raw) for (const pid of this.raw.ids()) this.deleteRaw(pid);
    if (this.rejected) for (const pid of this.rejected.ids()) this.unmarkRejected(pid);
  }

  byteSize(): number {
    return this.accepted.byteSize() + (this.raw?.byteSize() ?? 0) + (this.rejected?.byteSize() ?? 0);
  }

  private staleIn(m: IdMap, family?: 4 | 6): number[] {
    const out: number[] = [];
    // Nothing was marked (the usual End-of-RIB after a plain session start): no walk.
    if ((this.staleFamilies & (family === undefined ? 3 : family === 4 ? 1 : 2)) === 0) return out;
    m.forEach((pid, v) => {
      if ((v & STALE) !== 0 && (family === undefined || this.prefixes.family(pid) === family)) out.push(pid);
    });
    return out;
  }
}
