/**
 * BgpRib: the speaker's routing tables and the rules between them, pure
 * logic with no I/O, no timers and no clock. The session layer feeds it
 * decoded UPDATEs and session events, calls `flush()` when a batch of input
 * is done (e.g. once per socket read burst), and pulls grouped output per
 * peer with `takeOutbound()`.
 *
 *   UPDATE ─► import checks + normalisation (per attribute set)
 *          ─► import policy (attribute part per set, prefix part per prefix)
 *          ─► Adj-RIB-In (per peer: prefix id -> attribute set id)
 *          ─► decision (RFC 4271 §9.1.2; single-candidate fast path)
 *          ─► Loc-RIB + change queue
 *   flush()─► listeners (FIB installer…) get one Int32Array of changed ids
 *          ─► per established peer: export rules + export policy (cached per
 *             attribute set) ─► Adj-RIB-Out pending
 *   takeOutbound(peer) ─► withdrawals + announcements grouped by attribute set
 *
 * Memory per route is a handful of typed-array slots: ~18 bytes in the
 * prefix index, 4 per Adj-RIB-In, 9 in the Loc-RIB, 4 per Adj-RIB-Out, plus
 * the shared attribute sets (see DESIGN.md for the measured figure).
 *
 * Re-entrancy: listeners must not call back into the RIB's mutating methods
 * during `flush()`. Ids handed out (changed prefixes, outbound batches) are
 * valid until the next `flush()`.
 */
import type { CompiledPolicy } from '../policy/filter.js';
import { ACCEPT_ALL } from '../policy/filter.js';
import { prependAs } from '../policy/actions.js';
import { ipv4ToU32 } from '../wire/prefix.js';
import { AdjRibIn, ID_MASK, STALE } from './adj-rib-in.js';
import { AdjRibOut, type OutboundBatch } from './adj-rib-out.js';
import { AttrSet, AttrTable, type PathAttrs } from './attrs.js';
import { addressSortKey, decide, type BestPathReason, type Candidate, type DecisionOptions } from './decision.js';
import { exportAttrs, exportBlock, finishExport, SourceKind, type ExportDestination } from './export-rules.js';
import { checkImport, importChanges, type ImportContext, type ImportVerdict } from './import-rules.js';
import { LocRib, MP_SLOT_FACTOR, MULTI, NONE, type MultiEntry } from './loc-rib.js';
import type { Ipv4Batch } from './nlri.js';
import { PrefixIndex, type Family } from './prefix-index.js';

export interface RibOptions {
  localAs: number;
  /** Our BGP identifier (dotted quad). */
  routerId: string;
  /** Route reflection CLUSTER_ID (RFC 4456 §7); default: the router id. */
  clusterId?: string;
  /** Equal-cost paths per prefix in the multipath set (1 = none). */
  multipath?: number;
  /** Compare MED between routes from different neighbouring ASes too. */
  alwaysCompareMed?: boolean;
  /** LOCAL_PREF assumed when a route has none (and sent to iBGP peers then). */
  defaultLocalPref?: number;
  /**
   * Next-hop resolution: the IGP cost to reach `nextHop`, or undefined when
   * it is unreachable (the route is then not eligible). Default: every next
   * hop reachable at cost 0. Call `nextHopsChanged()` when answers change.
   */
  resolveNextHop?: (nextHop: string) => number | undefined;
  /** Called once when a peer's received prefixes go over its `maxPrefixes`. */
  onMaxPrefixes?: (peer: RibPeer, received: number, limit: number) => void;
  /** Expected number of prefixes (pre-sizes the tables). */
  initialCapacity?: number;
}

export interface PeerOptions {
  address: string;
  asNumber: number;
  routeReflectorClient?: boolean;
  nextHopSelf?: boolean;
  /** eBGP: keep the original next hop of learned routes (Calico keepOriginalNextHop). */
  nextHopKeep?: boolean;
  /** Families configured for this peer; default both. */
  families?: readonly Family[];
  importPolicy?: CompiledPolicy;
  exportPolicy?: CompiledPolicy;
  /** Keep every received route unfiltered, so import-policy changes need no ROUTE-REFRESH. */
  softReconfigInbound?: boolean;
  maxPrefixes?: number;
  /** eBGP: drop (treat-as-withdraw) routes whose first AS is not the peer's. Default true. */
  enforceFirstAs?: boolean;
  /** Accept our own AS in AS_PATH up to this many times (allowas-in); default 0. */
  allowOwnAs?: number;
}

/** What the session learned when it reached Established. */
export interface SessionInfo {
  /** The peer's BGP identifier from its OPEN (dotted quad). */
  routerId: string;
  /** Our next hop for IPv4 routes to this peer (usually the session's local address). */
  nextHopV4?: string;
  /** Our global IPv6 next hop for IPv6 routes to this peer. */
  nextHopV6?: string;
  /** Our IPv6 link-local address when the peer is on the same link. */
  linkLocalV6?: string;
  /** Families negotiated (default: the configured ones). */
  families?: readonly Family[];
}

export interface PeerCounters {
  received: number;
  accepted: number;
  advertised: number;
}

/**
 * Entries of each peer's export cache. Direct-mapped and bounded: a table
 * with many distinct attribute sets costs no cache memory per set, and the
 * sets of one UPDATE (exported one after the other) always hit.
 */
const EXPORT_CACHE_SIZE = 1024;

/** One peer as the RIB sees it; the session keeps the handle `addPeer` returns. */
export class RibPeer {
  readonly addressKey: string;
  readonly ebgp: boolean;
  readonly sourceKind: SourceKind;
  readonly adjIn: AdjRibIn;
  readonly adjOut: AdjRibOut;
  established = false;
  /** BGP identifier (uint32) from the last OPEN; ours for the local pseudo-peer. */
  routerId = 0;
  readonly dest: ExportDestination;
  families: Family[];
  importPolicy: CompiledPolicy;
  exportPolicy: CompiledPolicy;
  readonly maxPrefixes: number | undefined;
  enforceFirstAs: boolean;
  allowOwnAs: number;
  /** Export work per attribute set, direct-mapped by id (see `BgpRib.exportPrep`); made on first use. */
  exportCache: (ExportPrep | undefined)[] | undefined = undefined;
  lastImport: ImportPrep | undefined = undefined;
  maxPrefixSignalled = false;
  /** Routes dropped by import checks since the peer was added (loops, first AS). */
  importRejects = 0;

  constructor(
    readonly slot: number,
    readonly address: string,
    readonly asNumber: number,
    localAs: number,
    readonly local: boolean,
    opts: PeerOptions,
    prefixes: PrefixIndex,
    attrs: AttrTable,
  ) {
    this.addressKey = local ? '' : addressSortKey(address);
    this.ebgp = !local && asNumber !== localAs;
    const rrc = !!opts.routeReflectorClient;
    this.sourceKind = local ? SourceKind.Local : this.ebgp ? SourceKind.Ebgp : rrc ? SourceKind.IbgpClient : SourceKind.Ibgp;
    this.adjIn = new AdjRibIn(prefixes, attrs, !!opts.softReconfigInbound);
    this.adjOut = new AdjRibOut(prefixes, attrs);
    this.dest = { ebgp: this.ebgp, routeReflectorClient: rrc, nextHopSelf: !!opts.nextHopSelf, nextHopKeep: !!opts.nextHopKeep, nextHopV4: '', nextHopV6: '', linkLocalV6: '' };
    this.families = (opts.families ?? [4, 6]).slice();
    this.importPolicy = opts.importPolicy ?? ACCEPT_ALL;
    this.exportPolicy = opts.exportPolicy ?? ACCEPT_ALL;
    this.maxPrefixes = opts.maxPrefixes;
    this.enforceFirstAs = opts.enforceFirstAs ?? true;
    this.allowOwnAs = opts.allowOwnAs ?? 0;
  }

  get routeReflectorClient(): boolean {
    return this.dest.routeReflectorClient;
  }

  clearExportCache(): void {
    this.exportCache = undefined;
  }
}

/** Import work done once per (peer, received attribute set). */
interface ImportPrep {
  raw: AttrSet;
  verdict: ImportVerdict;
  /** The normalised set policy sees. */
  base: AttrSet;
  policy: CompiledPolicy;
  flags: Uint8Array | null;
  /** Accepted attribute set per decide() result (lazily filled). */
  outs: (AttrSet | undefined)[];
  epoch: number;
}

/** Export work done once per (destination, attribute set, source kind, family). */
interface ExportPrep {
  blocked: boolean;
  attrs: AttrSet;
  kind: SourceKind;
  /** Source slot for reflected routes, -1 otherwise. */
  srcKey: number;
  sourceRouterId: number;
  v6: boolean;
  flags: Uint8Array | null;
  outs: (AttrSet | null | undefined)[];
}

export interface RouteRef {
  peer: RibPeer;
  attrs: AttrSet;
}

export interface CandidateView extends RouteRef {
  best: boolean;
  /** In the multipath set (the best route always is). */
  multipath: boolean;
  /** Why the best route won (on the best route only). */
  reason?: BestPathReason;
  stale: boolean;
}

export type ChangeListener = (pids: Int32Array) => void;


export class BgpRib {
  readonly prefixes: PrefixIndex;
  readonly attrs = new AttrTable();
  readonly loc: LocRib;
  readonly localAs: number;
  readonly routerId: number;
  readonly clusterId: number;
  readonly decision: DecisionOptions;
  /** Slot 0 is the local pseudo-peer (originated routes). */
  readonly peers: (RibPeer | undefined)[] = [];
  readonly localPeer: RibPeer;
  private readonly freeSlots: number[] = [];
  private readonly listeners: ChangeListener[] = [];
  private readonly resolve: (nextHop: string) => number | undefined;
  private readonly onMaxPrefixes: RibOptions['onMaxPrefixes'];

  constructor(opts: RibOptions) {
    this.prefixes = new PrefixIndex(opts.initialCapacity ?? 1024);
    this.loc = new LocRib(this.prefixes, this.prefixes.capacity);
    this.localAs = opts.localAs;
    this.routerId = ipv4ToU32(opts.routerId);
    this.clusterId = ipv4ToU32(opts.clusterId ?? opts.routerId);
    this.decision = {
      localAs: opts.localAs,
      defaultLocalPref: opts.defaultLocalPref ?? 100,
      alwaysCompareMed: !!opts.alwaysCompareMed,
      multipath: Math.max(1, opts.multipath ?? 1),
    };
    this.resolve = opts.resolveNextHop ?? (() => 0);
    this.onMaxPrefixes = opts.onMaxPrefixes;
    this.localPeer = new RibPeer(0, 'local', opts.localAs, opts.localAs, true, { address: 'local', asNumber: opts.localAs }, this.prefixes, this.attrs);
    this.localPeer.routerId = this.routerId;
    this.peers.push(this.localPeer);
  }

  // ---------------------------------------------------------------------------
  // Peers and sessions

  addPeer(opts: PeerOptions): RibPeer {
    const slot = this.freeSlots.pop() ?? this.peers.length;
    if (slot > 0x7fff) throw new RangeError('BgpRib: more than 32767 peers');
    const p = new RibPeer(slot, opts.address, opts.asNumber, this.localAs, false, opts, this.prefixes, this.attrs);
    this.peers[slot] = p;
    return p;
  }

  /** Withdraws everything the peer contributed and forgets it (call `flush()` after). */
  removePeer(peer: RibPeer): void {
    this.peerDown(peer);
    this.peers[peer.slot] = undefined;
    this.freeSlots.push(peer.slot);
  }

  /**
   * The session reached Established: record what it negotiated and replay the
   * whole Loc-RIB into the peer's (empty) Adj-RIB-Out; End-of-RIB follows the
   * replay (RFC 4724 §2). Routes still stale from a graceful restart stay
   * until the peer's End-of-RIB (`endOfRib`) or `staleTimerExpired`.
   */
  peerUp(peer: RibPeer, s: SessionInfo): void {
    peer.routerId = ipv4ToU32(s.routerId);
    peer.dest.nextHopV4 = s.nextHopV4 ?? '';
    peer.dest.nextHopV6 = s.nextHopV6 ?? '';
    peer.dest.linkLocalV6 = s.linkLocalV6 ?? '';
    if (s.families) peer.families = s.families.slice();
    peer.established = true;
    peer.clearExportCache();
    peer.adjOut.startReplay(peer.families);
    this.exportChanges(peer, this.bestPids());
  }

  /** Ids of every prefix with a selected route. */
  private bestPids(): Int32Array {
    const loc = this.loc;
    const n = Math.min(this.prefixes.universe, loc.bestSlot.length);
    const out = new Int32Array(loc.size);
    let k = 0;
    for (let pid = 0; pid < n; pid++) if (loc.bestSlot[pid] !== NONE) out[k++] = pid;
    return out.subarray(0, k);
  }

  /**
   * The session left Established. With `gracefulRestart` (the peer
   * negotiated RFC 4724 and this was not a NOTIFICATION-less hard reset) its
   * routes are kept and marked stale (§4.2); otherwise they are withdrawn.
   * Call `flush()` afterwards.
   */
  peerDown(peer: RibPeer, opts: { gracefulRestart?: boolean } = {}): void {
    peer.established = false;
    peer.adjOut.clear();
    peer.clearExportCache();
    peer.lastImport = undefined;
    if (opts.gracefulRestart) {
      peer.adjIn.markStale();
      return;
    }
    for (const pid of peer.adjIn.accepted.ids()) {
      peer.adjIn.deleteAccepted(pid);
      this.candidateChanged(peer.slot, pid, 0);
    }
    peer.adjIn.clearUnaccepted();
    peer.maxPrefixSignalled = false;
  }

  /** End-of-RIB received from the peer for `family`: its stale routes of that family go (RFC 4724 §4.2). */
  endOfRib(peer: RibPeer, family: Family): void {
    this.sweepStale(peer, family);
  }

  /** The restart timer ran out (RFC 4724 §4.2): every stale route of the peer goes. */
  staleTimerExpired(peer: RibPeer): void {
    this.sweepStale(peer);
  }

  /** Marks the peer's routes stale, e.g. at an enhanced ROUTE-REFRESH BoRR (RFC 7313 §4). */
  markStale(peer: RibPeer, family?: Family): void {
    peer.adjIn.markStale(family);
  }

  sweepStale(peer: RibPeer, family?: Family): void {
    for (const pid of peer.adjIn.staleAccepted(family)) {
      peer.adjIn.deleteAccepted(pid);
      this.candidateChanged(peer.slot, pid, 0);
    }
    peer.adjIn.sweepStaleUnaccepted(family);
  }

  counters(peer: RibPeer): PeerCounters {
    return { received: peer.adjIn.received, accepted: peer.adjIn.accepted.size, advertised: peer.adjOut.advertised.size };
  }

  // ---------------------------------------------------------------------------
  // Routes in

  /** Announcements of one UPDATE (prefixes in text form, any family). */
  announce(peer: RibPeer, attrs: PathAttrs, prefixes: readonly string[]): void {
    const prep = this.importPrep(peer, attrs);
    for (const p of prefixes) this.announcePid(peer, prep, this.prefixes.acquireText(p));
    this.checkMaxPrefixes(peer);
  }

  /** Announcements of one UPDATE, IPv4 fast path (see `nlri.ts`). */
  announceV4(peer: RibPeer, attrs: PathAttrs, batch: Ipv4Batch): void {
    const prep = this.importPrep(peer, attrs);
    const addrs = batch.addrs;
    const lens = batch.lens;
    const index = this.prefixes;
    for (let i = 0; i < batch.count; i++) this.announcePid(peer, prep, index.acquireV4(addrs[i]!, lens[i]!));
    this.checkMaxPrefixes(peer);
  }

  /** Withdrawals (text form, any family). Unknown prefixes are ignored. */
  withdraw(peer: RibPeer, prefixes: readonly string[]): void {
    for (const p of prefixes) {
      const pid = this.prefixes.findText(p);
      if (pid >= 0) this.withdrawPid(peer, pid);
    }
    this.checkMaxPrefixes(peer);
  }

  withdrawV4(peer: RibPeer, batch: Ipv4Batch): void {
    for (let i = 0; i < batch.count; i++) {
      const pid = this.prefixes.findV4(batch.addrs[i]!, batch.lens[i]!);
      if (pid >= 0) this.withdrawPid(peer, pid);
    }
    this.checkMaxPrefixes(peer);
  }

  /**
   * Originates `prefix` from this speaker (ORIGIN IGP, empty AS_PATH, next
   * hop = ourselves unless given), or replaces the attributes it has.
   */
  originate(prefix: string, attrs: Partial<PathAttrs> = {}): void {
    this.announce(this.localPeer, { origin: 0, asPath: [], nextHop: '', ...attrs }, [prefix]);
  }

  withdrawOriginated(prefix: string): void {
    this.withdraw(this.localPeer, [prefix]);
  }

  /**
   * Installs a new import policy. With soft-reconfiguration inbound the
   * stored unfiltered routes are re-evaluated now and true is returned;
   * otherwise false: the session should send a ROUTE-REFRESH (RFC 2918) so
   * the peer re-sends its routes through the new policy.
   */
  setImportPolicy(peer: RibPeer, policy: CompiledPolicy): boolean {
    peer.importPolicy = policy;
    peer.lastImport = undefined;
    const raw = peer.adjIn.raw;
    if (raw === null) return peer.adjIn.received === 0; // nothing received: nothing to re-evaluate
    const preps = new Map<number, ImportPrep>();
    const entries: number[] = [];
    raw.forEach((pid, v) => {
      entries.push(pid, v & ID_MASK);
    });
    for (let i = 0; i < entries.length; i += 2) {
      const pid = entries[i]!;
      const rawId = entries[i + 1]!;
      let prep = preps.get(rawId);
      if (!prep) {
        prep = this.importPrep(peer, this.attrs.get(rawId));
        preps.set(rawId, prep);
      }
      this.applyImport(peer, prep, pid);
    }
    return true;
  }

  /**
   * Changes the import checks of a peer (enforce-first-AS, allowas-in) and
   * re-evaluates like `setImportPolicy`: in place with
   * soft-reconfiguration inbound (true), else false: send a ROUTE-REFRESH.
   */
  setImportRules(peer: RibPeer, rules: { enforceFirstAs?: boolean; allowOwnAs?: number }): boolean {
    if (rules.enforceFirstAs !== undefined) peer.enforceFirstAs = rules.enforceFirstAs;
    if (rules.allowOwnAs !== undefined) peer.allowOwnAs = rules.allowOwnAs;
    return this.setImportPolicy(peer, peer.importPolicy);
  }

  /**
   * Switches soft-reconfiguration inbound for a peer. Turning it on returns
   * false while the peer has routes: what it sent before was not kept, so
   * the caller asks for it again (ROUTE-REFRESH, RFC 2918); the
   * re-announcements fill the unfiltered table. Turning it off frees that
   * table and returns true.
   */
  setSoftReconfigInbound(peer: RibPeer, on: boolean): boolean {
    const adj = peer.adjIn;
    if (adj.softReconfig === on) return true;
    const had = adj.received > 0;
    adj.setSoftReconfig(on);
    return !on || !had;
  }

  /**
   * Compare MED between routes from different neighbouring ASes too
   * (`alwaysCompareMed`), or not: re-runs the decision where it can matter
   * (prefixes with several candidates). Call `flush()` after.
   */
  setAlwaysCompareMed(on: boolean): void {
    if (this.decision.alwaysCompareMed === on) return;
    this.decision.alwaysCompareMed = on;
    for (const pid of [...this.loc.multi.keys()]) this.recompute(pid, false);
  }

  /** Installs a new export policy and recomputes what the peer should have. */
  setExportPolicy(peer: RibPeer, policy: CompiledPolicy): void {
    peer.exportPolicy = policy;
    peer.clearExportCache();
    if (!peer.established) return;
    const loc = this.loc;
    const n = Math.min(this.prefixes.universe, loc.bestSlot.length);
    for (let pid = 0; pid < n; pid++) {
      const s = loc.bestSlot[pid]!;
      const want = s === NONE ? 0 : this.exportId(peer, pid, s, loc.bestAttr[pid]!);
      if (want !== peer.adjOut.desired(pid)) peer.adjOut.setDesired(pid, want);
    }
  }

  /** The resolver's answers changed: re-run the decision for every prefix. */
  nextHopsChanged(): void {
    this.attrs.forEach((a) => (a.nh = undefined));
    const loc = this.loc;
    const n = Math.min(this.prefixes.universe, loc.candSlot.length);
    for (let pid = 0; pid < n; pid++) if (loc.candSlot[pid] !== NONE) this.recompute(pid, false);
  }

  // ---------------------------------------------------------------------------
  // Flushing and output

  onChange(listener: ChangeListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Prefixes changed since the last flush. */
  get pendingChanges(): number {
    return this.loc.changedCount;
  }

  /**
   * Delivers the queued Loc-RIB changes: to listeners (one call each, with
   * every changed prefix id) and into the Adj-RIB-Out of every established
   * peer; then frees unreferenced attribute sets and prefix ids. Returns the
   * number of changed prefixes. If a listener throws, the flush still
   * completes and the first error is rethrown at the end.
   */
  flush(): number {
    const loc = this.loc;
    const n = loc.changedCount;
    let failure: unknown;
    if (n > 0) {
      const pids = loc.changed.subarray(0, n);
      for (const l of this.listeners) {
        // A failing listener must not stop the others or the export.
        try {
          l(pids);
        } catch (err) {
          failure ??= err;
        }
      }
      for (let s = 1; s < this.peers.length; s++) {
        const peer = this.peers[s];
        if (peer !== undefined && peer.established) this.exportChanges(peer, pids);
      }
      loc.clearChanges();
    }
    this.attrs.collect();
    this.prefixes.collect();
    if (failure !== undefined) throw failure;
    return n;
  }

  /** Pending output for the peer, grouped for packing (see `AdjRibOut.take`). */
  takeOutbound(peer: RibPeer, max?: number): OutboundBatch {
    return peer.adjOut.take(max);
  }

  // ---------------------------------------------------------------------------
  // Queries

  /** The selected route of a prefix id. */
  best(pid: number): RouteRef | undefined {
    if (pid < 0 || pid >= this.loc.bestSlot.length) return undefined;
    const s = this.loc.bestSlot[pid]!;
    if (s === NONE) return undefined;
    return { peer: this.peers[s]!, attrs: this.attrs.get(this.loc.bestAttr[pid]!) };
  }

  /** The multipath set of a prefix id, best first (what the FIB installs). */
  multipath(pid: number): RouteRef[] {
    const b = this.best(pid);
    if (!b) return [];
    const e = this.loc.candSlot[pid] === MULTI ? this.loc.multi.get(pid) : undefined;
    if (!e || this.decision.multipath <= 1) return [b];
    return e.mp.map((x) => ({ peer: this.peers[Math.floor(x / MP_SLOT_FACTOR)]!, attrs: this.attrs.get(x % MP_SLOT_FACTOR) }));
  }

  /** Every candidate of a prefix id (eligible or not), the best first, with the reason it won. */
  candidates(pid: number): CandidateView[] {
    if (pid < 0 || pid >= this.loc.candSlot.length) return [];
    const c = this.loc.candSlot[pid]!;
    if (c === NONE) return [];
    const slots = c === MULTI ? this.loc.multi.get(pid)!.slots : [c];
    const bestSlot = this.loc.bestSlot[pid]!;
    const mpSlots = new Set(this.multipath(pid).map((r) => r.peer.slot));
    let reason: BestPathReason | undefined;
    if (bestSlot !== NONE) {
      const elig = this.eligibleCandidates(pid, slots);
      reason = decide(elig.cands, this.decision)?.reason;
    }
    const views = slots.map((s) => {
      const peer = this.peers[s]!;
      const v = peer.adjIn.accepted.get(pid);
      const best = s === bestSlot;
      return { peer, attrs: this.attrs.get(v & ID_MASK), best, multipath: mpSlots.has(s), reason: best ? reason : undefined, stale: (v & STALE) !== 0 };
    });
    views.sort((a, b) => Number(b.best) - Number(a.best) || Number(b.multipath) - Number(a.multipath));
    return views;
  }

  /** Prefix ids that have at least one candidate. */
  forEachPrefix(fn: (pid: number) => void): void {
    const loc = this.loc;
    const n = Math.min(this.prefixes.universe, loc.candSlot.length);
    for (let pid = 0; pid < n; pid++) if (loc.candSlot[pid] !== NONE) fn(pid);
  }

  /** Typed-array bytes held by the tables (not the attribute sets), for memory accounting. */
  tableBytes(): number {
    let n = this.prefixes.byteSize() + this.loc.byteSize();
    for (const p of this.peers) if (p) n += p.adjIn.byteSize() + p.adjOut.byteSize();
    return n;
  }

  // ---------------------------------------------------------------------------
  // Import internals

  private importContext(peer: RibPeer): ImportContext {
    return { localAs: this.localAs, routerId: this.routerId, clusterId: this.clusterId, peerAs: peer.asNumber, ebgp: peer.ebgp, enforceFirstAs: peer.enforceFirstAs, allowOwnAs: peer.allowOwnAs };
  }

  private importPrep(peer: RibPeer, attrs: PathAttrs): ImportPrep {
    const raw = this.attrs.intern(attrs);
    const last = peer.lastImport;
    if (last !== undefined && last.raw === raw && last.epoch === this.attrs.epoch && last.policy === peer.importPolicy) return last;
    let verdict: ImportVerdict = 'ok';
    let base = raw;
    if (!peer.local) {
      verdict = checkImport(raw, this.importContext(peer));
      const ch = importChanges(raw, peer.ebgp);
      if (ch) base = this.attrs.intern(raw.with(ch), true);
    }
    const policy = peer.local ? ACCEPT_ALL : peer.importPolicy;
    const prep: ImportPrep = {
      raw,
      verdict,
      base,
      policy,
      flags: policy.kind === 'filter' && verdict === 'ok' ? policy.attrFlags(base) : null,
      outs: [],
      epoch: this.attrs.epoch,
    };
    peer.lastImport = prep;
    return prep;
  }

  /** The accepted attribute set for decide() result `t`. */
  private importOut(peer: RibPeer, prep: ImportPrep, t: number): AttrSet {
    let out = prep.outs[t];
    if (out !== undefined) return out;
    const actions = prep.policy.actions(t);
    if (actions === undefined) out = prep.base;
    else {
      let a = actions.apply(prep.base);
      // Import `prepend` repeats the peer's AS (on eBGP; see policy/actions.ts).
      if (actions.prepend > 0 && peer.ebgp) a = { ...a, asPath: prependAs(a.asPath, peer.asNumber, actions.prepend) };
      out = this.attrs.intern(a, true);
    }
    prep.outs[t] = out;
    return out;
  }

  /** One announced prefix; consumes the caller's reference on `pid`. */
  private announcePid(peer: RibPeer, prep: ImportPrep, pid: number): void {
    if (peer.adjIn.raw !== null) peer.adjIn.setRaw(pid, prep.raw.id);
    if (!this.applyImport(peer, prep, pid, true)) this.prefixes.release(pid);
  }

  /**
   * Runs import policy for one received prefix and updates the Adj-RIB-In
   * and Loc-RIB. With `owned`, the caller's reference on `pid` may be handed
   * to a new Adj-RIB-In entry: returns true when it was.
   */
  private applyImport(peer: RibPeer, prep: ImportPrep, pid: number, owned = false): boolean {
    const adj = peer.adjIn;
    let acc = 0;
    if (prep.verdict === 'ok') {
      const pol = prep.policy;
      const t = pol.kind === 'all' ? 0 : pol.kind === 'none' ? -1 : pol.decide(prep.flags!, this.prefixes, pid);
      if (t >= 0) acc = pol.kind === 'all' ? prep.base.id : this.importOut(peer, prep, t).id;
    } else {
      peer.importRejects++;
    }
    if (acc !== 0) {
      const old = adj.setAccepted(pid, acc, owned);
      if (adj.rejected !== null && adj.rejected.size !== 0) adj.unmarkRejected(pid);
      if ((old & ID_MASK) !== acc) this.candidateChanged(peer.slot, pid, acc);
      return owned && old === 0;
    }
    if (adj.rejected !== null) adj.markRejected(pid);
    if (adj.deleteAccepted(pid) !== 0) this.candidateChanged(peer.slot, pid, 0);
    return false;
  }

  private withdrawPid(peer: RibPeer, pid: number): void {
    const adj = peer.adjIn;
    if (adj.raw !== null) adj.deleteRaw(pid);
    else if (adj.rejected!.size !== 0) adj.unmarkRejected(pid);
    if (adj.deleteAccepted(pid) !== 0) this.candidateChanged(peer.slot, pid, 0);
  }

  private checkMaxPrefixes(peer: RibPeer): void {
    const limit = peer.maxPrefixes;
    if (limit === undefined) return;
    const n = peer.adjIn.received;
    if (n > limit) {
      if (!peer.maxPrefixSignalled) {
        peer.maxPrefixSignalled = true;
        this.onMaxPrefixes?.(peer, n, limit);
      }
    } else {
      peer.maxPrefixSignalled = false;
    }
  }

  // ---------------------------------------------------------------------------
  // Decision internals

  /** The candidate from `slot` for `pid` now has attribute set `attrId` (0: it was removed). */
  private candidateChanged(slot: number, pid: number, attrId: number): void {
    const loc = this.loc;
    loc.ensure(pid);
    const c = loc.candSlot[pid]!;
    const present = attrId !== 0;
    if (present && (c === NONE || c === slot)) {
      // The common case: the only candidate. No decision process to run.
      loc.candSlot[pid] = slot;
      this.setBest(pid, this.eligible(this.attrs.get(attrId)) ? slot : NONE, attrId, false);
      return;
    }
    let force = false;
    if (present) {
      if (c === NONE) loc.candSlot[pid] = slot;
      else if (c === MULTI) {
        const e = loc.multi.get(pid)!;
        if (!e.slots.includes(slot)) e.slots.push(slot);
      } else if (c !== slot) {
        const bs = loc.bestSlot[pid]!;
        loc.multi.set(pid, { slots: [c, slot], mp: bs === NONE ? [] : [bs * MP_SLOT_FACTOR + loc.bestAttr[pid]!] });
        loc.candSlot[pid] = MULTI;
      }
    } else {
      if (c === slot) loc.candSlot[pid] = NONE;
      else if (c === MULTI) {
        const e = loc.multi.get(pid)!;
        const i = e.slots.indexOf(slot);
        if (i < 0) return;
        e.slots.splice(i, 1);
        if (e.slots.length === 1) {
          loc.candSlot[pid] = e.slots[0]!;
          loc.multi.delete(pid);
          force = e.mp.length > 1;
        }
      } else return;
    }
    this.recompute(pid, force);
  }

  /** Next hop resolvable (cost cached on the set until `nextHopsChanged`). */
  private eligible(a: AttrSet): boolean {
    let nh = a.nh;
    if (nh === undefined) {
      nh = a.nextHop === '' ? 0 : this.resolve(a.nextHop) ?? -1;
      a.nh = nh;
    }
    return nh >= 0;
  }

  private eligibleCandidates(pid: number, slots: readonly number[]): { cands: Candidate[]; slots: number[] } {
    const cands: Candidate[] = [];
    const out: number[] = [];
    for (const s of slots) {
      const peer = this.peers[s]!;
      const a = this.attrs.get(peer.adjIn.accepted.get(pid) & ID_MASK);
      if (!this.eligible(a)) continue;
      cands.push({ attrs: a, local: peer.local, ebgp: peer.ebgp, peerRouterId: peer.routerId, peerAddressKey: peer.addressKey, igpCost: a.nh! });
      out.push(s);
    }
    return { cands, slots: out };
  }

  /** Re-runs the decision for `pid` and queues a change when the result differs. */
  private recompute(pid: number, force: boolean): void {
    const loc = this.loc;
    const c = loc.candSlot[pid]!;
    let ns = NONE;
    let na = 0;
    let mpChanged = false;
    if (c >= 0) {
      const id = this.peers[c]!.adjIn.accepted.get(pid) & ID_MASK;
      if (this.eligible(this.attrs.get(id))) {
        ns = c;
        na = id;
      }
    } else if (c === MULTI) {
      const e = loc.multi.get(pid)!;
      const r = this.decideMulti(pid, e);
      ns = r[0];
      na = r[1];
      mpChanged = r[2];
    }
    this.setBest(pid, ns, na, mpChanged || force);
  }

  private setBest(pid: number, slot: number, attrId: number, force: boolean): void {
    const loc = this.loc;
    if (slot === NONE) attrId = 0;
    const os = loc.bestSlot[pid]!;
    if (slot !== os || attrId !== loc.bestAttr[pid] || force) {
      if (os === NONE && slot !== NONE) loc.size++;
      else if (os !== NONE && slot === NONE) loc.size--;
      loc.bestSlot[pid] = slot;
      loc.bestAttr[pid] = attrId;
      loc.queueChange(pid);
    }
  }

  private decideMulti(pid: number, e: MultiEntry): [number, number, boolean] {
    const { cands, slots } = this.eligibleCandidates(pid, e.slots);
    const d = decide(cands, this.decision);
    const mp: number[] = [];
    let ns = NONE;
    let na = 0;
    if (d !== undefined) {
      ns = slots[d.best]!;
      na = cands[d.best]!.attrs.id;
      for (const i of d.multipath) mp.push(slots[i]! * MP_SLOT_FACTOR + cands[i]!.attrs.id);
    }
    let changed = false;
    if (this.decision.multipath > 1) {
      changed = mp.length !== e.mp.length || mp.some((x, i) => x !== e.mp[i]);
    }
    e.mp = mp;
    return [ns, na, changed];
  }

  // ---------------------------------------------------------------------------
  // Export internals

  /** The attribute set id to advertise to `dest` for `pid` whose best route is (slot, attrId); 0 = nothing. */
  private exportId(dest: RibPeer, pid: number, slot: number, attrId: number): number {
    if (slot === dest.slot) return 0; // never back to where it came from
    return this.exportFromPrep(dest, this.exportPrep(dest, slot, attrId, this.prefixes.isV6(pid)), pid);
  }

  /**
   * The cached per-(attribute set, source kind, family) part of exporting to
   * `dest`. Entries are checked against the set object itself, so an id that
   * collect() recycled for another set never matches a stale entry.
   */
  private exportPrep(dest: RibPeer, slot: number, attrId: number, v6: boolean): ExportPrep {
    const src = this.peers[slot]!;
    const kind = src.sourceKind;
    // Only reflected routes depend on the source peer itself (ORIGINATOR_ID).
    const srcKey = !dest.ebgp && (kind === SourceKind.Ibgp || kind === SourceKind.IbgpClient) ? slot : -1;
    const a = this.attrs.get(attrId);
    const cache = (dest.exportCache ??= new Array<ExportPrep | undefined>(EXPORT_CACHE_SIZE).fill(undefined));
    const k = (attrId * 4 + kind + (v6 ? EXPORT_CACHE_SIZE >> 1 : 0)) & (EXPORT_CACHE_SIZE - 1);
    const hit = cache[k];
    if (hit !== undefined && hit.attrs === a && hit.kind === kind && hit.srcKey === srcKey && hit.v6 === v6) return hit;
    const pol = dest.exportPolicy;
    const blocked = pol.kind === 'none' || !dest.families.includes(v6 ? 6 : 4) || exportBlock(kind, a, dest.dest) !== undefined;
    const prep: ExportPrep = {
      blocked,
      attrs: a,
      kind,
      srcKey,
      sourceRouterId: src.routerId,
      v6,
      flags: !blocked && pol.kind === 'filter' ? pol.attrFlags(a) : null,
      outs: [],
    };
    cache[k] = prep;
    return prep;
  }

  private exportFromPrep(dest: RibPeer, prep: ExportPrep, pid: number): number {
    if (prep.blocked) return 0;
    const pol = dest.exportPolicy;
    let t = 0;
    if (pol.kind === 'filter') {
      t = pol.decide(prep.flags!, this.prefixes, pid);
      if (t < 0) return 0;
    }
    let out = prep.outs[t];
    // A cached result may have been freed by collect() since (id 0): redo it.
    if (out === undefined || (out !== null && out.id === 0)) {
      out = this.exportOut(dest, prep, t);
      prep.outs[t] = out;
    }
    return out === null ? 0 : out.id;
  }

  /** Exports the changed prefixes into one established peer's Adj-RIB-Out. */
  private exportChanges(dest: RibPeer, pids: Int32Array): void {
    const loc = this.loc;
    const out = dest.adjOut;
    const index = this.prefixes;
    const bestSlot = loc.bestSlot;
    const bestAttr = loc.bestAttr;
    const perPrefixPolicy = dest.exportPolicy.kind === 'filter';
    // Consecutive prefixes mostly share their best route's attribute set
    // (they arrived in one UPDATE): remember the last answer.
    let lastSlot = NONE;
    let lastAttr = 0;
    let lastV6 = false;
    let lastPrep: ExportPrep | undefined;
    let lastOut = 0;
    for (let i = 0; i < pids.length; i++) {
      const pid = pids[i]!;
      const bs = bestSlot[pid]!;
      if (bs === NONE || bs === dest.slot) {
        out.setDesired(pid, 0);
        continue;
      }
      const ba = bestAttr[pid]!;
      const v6 = index.isV6(pid);
      if (lastPrep === undefined || ba !== lastAttr || bs !== lastSlot || v6 !== lastV6) {
        lastPrep = this.exportPrep(dest, bs, ba, v6);
        lastSlot = bs;
        lastAttr = ba;
        lastV6 = v6;
        lastOut = perPrefixPolicy ? 0 : this.exportFromPrep(dest, lastPrep, pid);
      }
      out.setDesired(pid, perPrefixPolicy ? this.exportFromPrep(dest, lastPrep, pid) : lastOut);
    }
  }

  private exportOut(dest: RibPeer, prep: ExportPrep, t: number): AttrSet | null {
    const actions = dest.exportPolicy.actions(t);
    const base = exportAttrs(prep.kind, prep.attrs, dest.dest, prep.v6, {
      localAs: this.localAs,
      clusterId: this.clusterId,
      defaultLocalPref: this.decision.defaultLocalPref,
      sourceRouterId: prep.sourceRouterId,
      prepend: dest.ebgp && actions ? actions.prepend : 0,
    });
    if (base === undefined) return null;
    const withPolicy = actions && !actions.onlyPrepend ? actions.apply(base) : base;
    return this.attrs.intern(finishExport(withPolicy, dest.ebgp), true);
  }
}
