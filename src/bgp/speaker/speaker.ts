/**
 * The BGP speaker: a listener with an allow-list, one `Session` per
 * configured peer, the RIB between them, the output pump that turns the
 * RIB's grouped Adj-RIB-Out changes into packed UPDATEs, graceful restart
 * (RFC 4724: as helper, stale routes and the restart timer; as the
 * restarting speaker, R/F bits, deferred selection and the FIB sweep), and
 * optional FIB installation. Everything runs on Node's one thread; input bursts end in
 * one `flush()` (scheduled with setImmediate), so many UPDATEs share one
 * decision pass and one export pass.
 */
import { isDeepStrictEqual } from 'node:util';
import { createServer, type Server, type Socket } from 'node:net';
import { isIPv4 } from 'node:net';
import { compileFilters } from '../policy/filter.js';
import { BgpRib, decodeIpv4Nlri, Ipv4Batch, routeViews, type Family as RibFamily, type RibPeer, type RouteView } from '../rib/index.js';
import { FAMILY_CODES, Session, type Family, type Negotiated, type SessionHandler } from '../session/session.js';
import type { DownReason, Notification } from '../session/fsm.js';
import {
  mergeAs4,
  AFI_IPV6,
  SUB_ADMINISTRATIVE_SHUTDOWN,
  SUB_MAX_PREFIXES_REACHED,
  SUB_OTHER_CONFIGURATION_CHANGE,
  SUB_PEER_DECONFIGURED,
  type ReceivedUpdate,
} from '../wire/index.js';
import { applyGtsm, fdOf, setMd5Key } from '../net/sockopt.js';
import type { BgpConfig, BgpPeerConfig } from '../config.js';
import { logger } from '../../util/log.js';
import { wireToRib } from './convert.js';
import { FibWriter } from './fib.js';
import { packOutbound } from './output.js';
import { RouteWarmUp } from './warmup.js';

const log = logger('bgp-speaker');

/** Stop taking from the RIB for a peer while this much is queued on its socket. */
const HIGH_WATER = 8 * 1024 * 1024;

/** Pause between a config-change Cease and the new session's first connect. */
const RESET_GAP_MS = 1000;

const ribFamily = (f: Family): RibFamily => (f === 'ipv4-unicast' ? 4 : 6);

interface PeerEntry {
  config: BgpPeerConfig;
  session: Session;
  rib: RibPeer;
  /** RFC 4724 §4.2: while the peer restarts, its routes are stale until this fires. */
  staleTimer?: NodeJS.Timeout;
  /** Families whose End-of-RIB we still wait for after a graceful restart. */
  awaitingEor: Set<Family>;
  /** Max-prefix teardown: reconnect after this timer. */
  restartTimer?: NodeJS.Timeout;
  blocked: boolean;
  /** Families disabled for the rest of this session by a malformed MP_REACH/MP_UNREACH (RFC 4760 §7, RFC 7606 §2). */
  disabled: Set<Family>;
}

export interface PeerStatus {
  address: string;
  asNumber: number;
  type: 'ebgp' | 'ibgp' | 'rr-client';
  description?: string;
  state: string;
  since: string;
  holdTime: number;
  prefixes: { received: number; accepted: number; advertised: number };
  lastError: string | null;
  updatesIn: number;
  updatesOut: number;
  flaps: number;
  families: string[];
}

export class Speaker {
  readonly rib: BgpRib;
  private readonly peers = new Map<string, PeerEntry>();
  private server: Server | undefined;
  private flushScheduled = false;
  private readonly fib: FibWriter | undefined;
  private readonly startedAt = Date.now();
  private stopping = false;
  private started = false;
  private readonly eorSeen = new Set<string>();
  /** After our own restart: route selection (FIB, advertisements) waits (RFC 4724 §4.1). */
  private deferring = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly warmUp = new RouteWarmUp();

  /**
   * `restart`: this speaker comes back from its own restart (RFC 4724 §4.1):
   * its first OPEN to each peer carries the Restart State (R) bit, and the
   * Forwarding State (F) bit per family when the forwarding state (the
   * kernel routes) survived, so helpers keep our routes until our End-of-RIB.
   * Route selection is then deferred: routes are learned, but nothing goes
   * to the FIB (nor to `rib.onChange` listeners) and nothing is advertised
   * until every graceful-restart peer has sent End-of-RIB for each family it
   * negotiated (peers that restart too, R bit, and peers without graceful
   * restart are not waited for), or `selectionDeferralTime` has passed.
   * Then the Loc-RIB goes out in one pass, each peer gets its full update
   * followed by End-of-RIB, and with `fibInstall` the kernel routes of our
   * protocol that nobody re-advertised are removed (they were kept until
   * then, so forwarding never had a gap).
   */
  constructor(
    public config: BgpConfig,
    private readonly restart?: { forwardingPreserved: boolean },
  ) {
    this.rib = new BgpRib({
      localAs: config.asNumber,
      routerId: config.routerId,
      ...(config.clusterId ? { clusterId: config.clusterId } : {}),
      multipath: config.multipath,
      alwaysCompareMed: config.alwaysCompareMed,
      onMaxPrefixes: (peer, received, limit) => this.onMaxPrefixes(peer, received, limit),
    });
    if (config.fibInstall) {
      this.fib = new FibWriter(config.fibProtocol);
      this.rib.onChange((pids) => this.toFib(pids));
    }
  }

  async start(): Promise<void> {
    this.deferring = this.restart !== undefined;
    const policies = compileFilters(this.config.filters);
    for (const p of this.config.peers) this.addPeer(p, policies);
    for (const prefix of this.config.originate) this.rib.originate(prefix);
    this.scheduleFlush();
    if (this.config.listen.enabled) await this.listen();
    for (const e of this.peers.values()) e.session.start();
    this.started = true;
    // While no route has arrived yet: compile the route path (see warmup.ts).
    this.warmUp.start((ms) => log.debug('bgp.speaker.warmed', { ms: Math.round(ms) }));
    if (this.deferring) {
      this.restartTimer = setTimeout(() => this.endDeferral(true), this.config.selectionDeferralTime * 1000);
      this.restartTimer.unref();
      log.info('bgp.gr.selection_deferred', { seconds: this.config.selectionDeferralTime }, 'restarting: route selection waits for End-of-RIB from the graceful-restart peers');
      this.checkRestartConverged();
    }
    log.info('bgp.speaker.started', { asNumber: this.config.asNumber, routerId: this.config.routerId, peers: this.peers.size });
  }

  private addPeer(p: BgpPeerConfig, policies: ReturnType<typeof compileFilters>): void {
    const max = typeof p.maxPrefixes === 'number' ? p.maxPrefixes : p.maxPrefixes?.limit;
    const rib = this.rib.addPeer({
      address: p.address,
      asNumber: p.asNumber,
      routeReflectorClient: p.routeReflectorClient,
      nextHopSelf: p.nextHopSelf,
      nextHopKeep: p.nextHopKeep,
      families: p.addressFamilies.map((f) => ribFamily(f)),
      importPolicy: policies(p.import),
      exportPolicy: policies(p.export),
      ...(max !== undefined ? { maxPrefixes: max } : {}),
      ...(p.allowOwnAs ? { allowOwnAs: p.allowOwnAs } : {}),
      enforceFirstAs: p.enforceFirstAs,
      softReconfigInbound: p.softReconfigInbound,
    });
    const session = new Session(
      {
        localAs: this.config.asNumber,
        routerId: this.config.routerId,
        peerAddress: p.address,
        peerAs: p.asNumber,
        port: p.port,
        ...(p.localAddress ? { localAddress: p.localAddress } : {}),
        passive: p.passive,
        holdTime: p.holdTime,
        keepaliveTime: p.keepaliveTime,
        connectRetryTime: p.connectRetryTime,
        families: p.addressFamilies,
        ...(p.password !== undefined ? { md5Key: p.password } : {}),
        ...(p.ttlSecurity !== undefined ? { ttlSecurity: p.ttlSecurity } : {}),
        gracefulRestart: p.gracefulRestart,
        restartTime: this.config.gracefulRestartTime,
        ...(p.sendHoldTime !== undefined ? { sendHoldTime: p.sendHoldTime } : {}),
      },
      this.handler,
    );
    if (this.restart && p.gracefulRestart && !this.started) {
      session.restarting = true;
      session.forwardingPreserved = this.restart.forwardingPreserved;
    }
    this.peers.set(p.address, { config: p, session, rib, awaitingEor: new Set(), blocked: false, disabled: new Set() });
  }

  private async listen(): Promise<void> {
    const server = createServer({ pauseOnConnect: true }, (sock) => this.onConnection(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.config.listen.address, port: this.config.listen.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => log.error('bgp.listen.error', { error: err.message }));
    this.server = server;
    // TCP MD5 keys go on the listening socket, one per peer (RFC 2385); failing
    // to install one is fatal: that peer must not be reachable without it.
    const fd = fdOf(server);
    for (const e of this.peers.values()) {
      if (e.config.password !== undefined) setMd5Key(fd, e.config.address, e.config.password);
    }
    // GTSM on the listener only when every peer wants it (IP_MINTTL is per socket).
    const gtsm = [...this.peers.values()].map((e) => e.config.ttlSecurity);
    if (gtsm.length && gtsm.every((h) => h !== undefined)) applyGtsm(fd, isIPv4(this.config.listen.address) || this.config.listen.address === '0.0.0.0' ? 4 : 6, Math.max(...(gtsm as number[])));
  }

  /** The allow-list: only configured peers get a session; the rest are closed at once. */
  private onConnection(sock: Socket): void {
    const remote = (sock.remoteAddress ?? '').replace(/^::ffff:/, '');
    const e = this.peers.get(remote);
    if (!e || this.stopping) {
      log.warn('bgp.connection.refused', { remote, reason: e ? 'stopping' : 'not a configured peer' });
      sock.destroy();
      return;
    }
    if (e.config.ttlSecurity !== undefined) {
      try {
        applyGtsm(fdOf(sock), isIPv4(remote) ? 4 : 6, e.config.ttlSecurity);
      } catch (err) {
        log.error('bgp.gtsm.error', { peer: remote, error: (err as Error).message });
        sock.destroy();
        return;
      }
    }
    sock.resume();
    e.session.accept(sock);
  }

  private readonly handler: SessionHandler = {
    established: (s, n) => this.onEstablished(s, n),
    update: (s, u) => this.onUpdate(s, u),
    endOfRib: (s, f) => this.onEndOfRib(s, f),
    routeRefresh: (s) => {
      const e = this.peers.get(s.peerAddress);
      if (!e) return;
      // RFC 2918: re-advertise the Adj-RIB-Out; replaying the Loc-RIB does it.
      this.rib.peerDown(e.rib, { gracefulRestart: true });
      this.rib.peerUp(e.rib, { routerId: s.negotiated!.peerRouterId, ...this.nextHops(e, s.negotiated!), families: s.negotiated!.families.map(ribFamily) });
      this.scheduleFlush();
    },
    down: (s, info) => this.onDown(s, info),
    drain: (s) => {
      const e = this.peers.get(s.peerAddress);
      if (e?.blocked) {
        e.blocked = false;
        this.pump(e);
      }
    },
  };

  private nextHops(e: PeerEntry, n: Negotiated): { nextHopV4?: string; nextHopV6?: string } {
    const local = (e.config.localAddress ?? n.localAddress).replace(/^::ffff:/, '');
    if (isIPv4(local)) return { nextHopV4: local };
    return { nextHopV6: local, nextHopV4: this.config.routerId };
  }

  private onEstablished(s: Session, n: Negotiated): void {
    const e = this.peers.get(s.peerAddress)!;
    e.disabled.clear();
    if (e.staleTimer) {
      // The peer came back within its restart time: wait for its End-of-RIB.
      clearTimeout(e.staleTimer);
      e.staleTimer = undefined;
      e.awaitingEor = new Set(n.families);
    }
    this.rib.peerUp(e.rib, { routerId: n.peerRouterId, ...this.nextHops(e, n), families: n.families.map(ribFamily) });
    this.scheduleFlush();
    // A peer without graceful restart, or restarting itself, is not waited for.
    this.checkRestartConverged();
  }

  /** Reused for every UPDATE: IPv4 NLRI decoded straight into numbers. */
  private readonly v4 = new Ipv4Batch(4096);

  /** The IPv4 prefixes of a raw field into the reusable batch (the codec checked the field). */
  private v4Batch(field: Buffer | undefined): Ipv4Batch {
    this.v4.clear();
    if (field && field.length) decodeIpv4Nlri(field, 0, field.length, this.v4);
    return this.v4;
  }

  private onUpdate(s: Session, u: ReceivedUpdate): void {
    this.warmUp.stop();
    const e = this.peers.get(s.peerAddress);
    const n = s.negotiated;
    if (!e || !n) return;
    const v = u.verdict;
    const raw = u.ipv4Raw;
    if (v.action === 'af-disable') this.disableFamilies(e, v.families);
    const withdrawn: string[] = [...u.withdrawn];
    if (u.attributes.mpUnreach) withdrawn.push(...u.attributes.mpUnreach.withdrawn);
    if (raw?.withdrawn.length) this.rib.withdrawV4(e.rib, this.v4Batch(raw.withdrawn));
    if (v.action === 'treat-as-withdraw' || (v.action === 'af-disable' && v.withdraw.length > 0)) {
      // RFC 7606 §2: the reachable NLRI are handled as withdrawn.
      for (const f of v.withdraw) withdrawn.push(...f.prefixes);
      withdrawn.push(...u.nlri);
      if (raw?.nlri.length) this.rib.withdrawV4(e.rib, this.v4Batch(raw.nlri));
      if (u.attributes.mpReach) withdrawn.push(...u.attributes.mpReach.nlri);
      if (withdrawn.length) this.rib.withdraw(e.rib, withdrawn);
      log.warn('bgp.update.treat_as_withdraw', { peer: s.peerAddress, problems: v.problems.map((p) => p.reason) });
      this.scheduleFlush();
      return;
    }
    if (withdrawn.length) this.rib.withdraw(e.rib, withdrawn);
    // A 2-octet peer's path is rebuilt from AS_PATH and AS4_PATH (RFC 6793 §4.2.3).
    const attrs = n.fourOctetAs ? u.attributes : mergeAs4(u.attributes);
    if (n.families.includes('ipv4-unicast') && !e.disabled.has('ipv4-unicast') && attrs.nextHop) {
      if (raw?.nlri.length) this.rib.announceV4(e.rib, wireToRib(attrs, attrs.nextHop), this.v4Batch(raw.nlri));
      if (u.nlri.length) this.rib.announce(e.rib, wireToRib(attrs, attrs.nextHop), u.nlri);
    }
    const mp = attrs.mpReach;
    if (mp && mp.nlri.length && n.families.includes('ipv6-unicast') && !e.disabled.has('ipv6-unicast') && mp.afi === AFI_IPV6 && v.action !== 'af-disable') {
      this.rib.announce(e.rib, wireToRib(attrs, mp.nextHop, mp.linkLocalNextHop), mp.nlri);
    }
    this.scheduleFlush();
  }

  /**
   * AFI/SAFI disable (RFC 4760 §7, RFC 7606 §2): a malformed MP_REACH_NLRI or
   * MP_UNREACH_NLRI of a family this session carries removes every route of
   * that family the peer sent, and the family's routes are ignored until the
   * session restarts; the session and the other families go on. A family the
   * session does not carry has nothing to remove and is ignored anyway.
   */
  private disableFamilies(e: PeerEntry, families: readonly { afi: number; safi: number }[]): void {
    const negotiated = e.session.negotiated?.families ?? [];
    for (const f of negotiated) {
      const c = FAMILY_CODES[f];
      if (e.disabled.has(f) || !families.some((x) => x.afi === c.afi && x.safi === c.safi)) continue;
      e.disabled.add(f);
      this.rib.markStale(e.rib, ribFamily(f));
      this.rib.sweepStale(e.rib, ribFamily(f));
      log.warn('bgp.update.family_disabled', { peer: e.config.address, family: f }, 'malformed MP_REACH/MP_UNREACH: family disabled for this session, its routes removed');
    }
  }

  private onEndOfRib(s: Session, f: Family): void {
    const e = this.peers.get(s.peerAddress);
    if (!e) return;
    this.rib.endOfRib(e.rib, ribFamily(f));
    e.awaitingEor.delete(f);
    this.eorSeen.add(`${s.peerAddress}|${f}`);
    this.scheduleFlush();
    this.checkRestartConverged();
  }

  /**
   * The peers route selection still waits for after our restart (RFC 4724
   * §4.1 (a)): graceful-restart peers that have not sent End-of-RIB for
   * every family they negotiated. A peer that is not up yet is waited for
   * (until the Selection_Deferral_Timer); one that came up without the
   * capability, or with the Restart State bit (it restarts too: waiting for
   * each other would deadlock), is not.
   */
  private awaitedPeers(): string[] {
    const out: string[] = [];
    for (const e of this.peers.values()) {
      if (!e.config.gracefulRestart) continue;
      const n = e.session.negotiated;
      if (n === undefined) {
        out.push(e.config.address);
        continue;
      }
      const gr = e.session.lastPeerGracefulRestart;
      if (!gr || gr.restarting) continue;
      if (!n.families.every((f) => this.eorSeen.has(`${e.config.address}|${f}`))) out.push(e.config.address);
    }
    return out;
  }

  private checkRestartConverged(): void {
    if (this.deferring && this.started && this.awaitedPeers().length === 0) this.endDeferral(false);
  }

  /**
   * Route selection after our restart is done (every End-of-RIB in, or the
   * timer): the Loc-RIB goes to the listeners, the FIB and every peer (each
   * gets End-of-RIB after its update, RFC 4724 §4.1); then the kernel routes
   * the previous run left that nobody re-advertised are removed.
   */
  private endDeferral(byTimer: boolean): void {
    if (!this.deferring) return;
    this.deferring = false;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    log.info('bgp.gr.selection_done', { byTimer, notHeardFrom: byTimer ? this.awaitedPeers() : [] }, 'restart: route selection runs, updates and End-of-RIB go out');
    this.flushNow();
    const fib = this.fib;
    if (!fib || !this.restart) return;
    void fib.idle().then(async () => {
      if (this.stopping) return;
      const removed = await fib.sweepStale();
      log.info('bgp.gr.restart_complete', { removedStale: removed, byTimer }, 'graceful restart done: stale kernel routes of the previous run removed');
    });
  }

  /** True while route selection waits after our own restart (RFC 4724 §4.1). */
  get selectionDeferred(): boolean {
    return this.deferring;
  }

  private onDown(s: Session, info: { reason: DownReason; wasEstablished: boolean; notification?: Notification; sent: boolean }): void {
    const e = this.peers.get(s.peerAddress);
    if (!e || !info.wasEstablished) return;
    // RFC 4724 §4.2 (helper): keep the routes as stale when the peer can
    // restart gracefully and the session ended without a NOTIFICATION, or
    // with one when both sent the N bit (RFC 8538 §3) and it was not a Hard Reset.
    const gr = s.config.gracefulRestart ? e.session.lastPeerGracefulRestart : undefined;
    const byNotification = info.notification !== undefined;
    const hardReset = info.notification?.code === 6 && info.notification.subcode === 9;
    const adminStop = info.reason === 'admin-stop';
    const keep = !!gr && !adminStop && !hardReset && (!byNotification || gr.notification) && gr.restartTime > 0;
    this.rib.peerDown(e.rib, { gracefulRestart: keep });
    if (keep) {
      clearTimeout(e.staleTimer);
      e.staleTimer = setTimeout(() => {
        e.staleTimer = undefined;
        log.info('bgp.gr.stale_expired', { peer: s.peerAddress });
        this.rib.staleTimerExpired(e.rib);
        this.scheduleFlush();
      }, gr!.restartTime * 1000);
      e.staleTimer.unref();
      log.info('bgp.gr.helper', { peer: s.peerAddress, restartTime: gr!.restartTime });
    }
    this.scheduleFlush();
  }

  private onMaxPrefixes(peer: RibPeer, received: number, limit: number): void {
    const e = this.peers.get(peer.address);
    if (!e) return;
    const mp = e.config.maxPrefixes;
    const action = typeof mp === 'object' ? mp.action : 'teardown';
    log.warn('bgp.max_prefixes', { peer: peer.address, received, limit, action });
    if (action !== 'teardown') return;
    // RFC 4486 §4: Cease / Maximum Number of Prefixes Reached.
    setImmediate(() => {
      e.session.stop(SUB_MAX_PREFIXES_REACHED);
      const after = typeof mp === 'object' ? mp.restartAfter : 60;
      if (after > 0) {
        e.restartTimer = setTimeout(() => e.session.start(), after * 1000);
        e.restartTimer.unref();
      }
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushNow();
    });
  }

  private flushNow(): void {
    // Deferred selection after our restart: routes accumulate in the RIB,
    // nothing reaches listeners, the FIB or the peers yet.
    if (this.deferring) return;
    this.rib.flush();
    for (const e of this.peers.values()) this.pump(e);
  }

  /** Move the peer's pending Adj-RIB-Out changes onto its socket, as packed UPDATEs. */
  private pump(e: PeerEntry): void {
    const s = e.session;
    const n = s.negotiated;
    if (s.state !== 'Established' || !n || !e.rib.established || this.deferring) return;
    for (let guard = 0; guard < 1_000_000; guard++) {
      if (s.writeBacklog > HIGH_WATER) {
        e.blocked = true;
        return;
      }
      const batch = this.rib.takeOutbound(e.rib, 50_000);
      // One batch's UPDATEs leave in one writev, not one write per UPDATE.
      s.cork();
      let sent: boolean;
      try {
        sent = packOutbound(this.rib, batch, n.ctx, (bytes, messages) => s.send(bytes, messages));
      } finally {
        s.uncork();
      }
      if (!sent) return;
    }
  }

  private toFib(pids: Int32Array): void {
    const fib = this.fib!;
    for (const pid of pids) {
      const prefix = this.rib.prefixes.text(pid);
      const paths = this.rib.multipath(pid);
      const hops = [...new Set(paths.filter((r) => !r.peer.local && r.attrs.nextHop).map((r) => r.attrs.nextHop))];
      fib.set(prefix, hops.length ? { prefix, nextHops: hops } : null);
    }
  }

  /** Resolves when the FIB has caught up (tests and benchmarks). */
  async fibIdle(): Promise<void> {
    await this.fib?.idle();
  }

  peerStatus(): PeerStatus[] {
    return [...this.peers.values()].map((e) => {
      const st = e.session.status();
      const c = this.rib.counters(e.rib);
      const type = e.config.asNumber !== this.config.asNumber ? 'ebgp' : e.config.routeReflectorClient ? 'rr-client' : 'ibgp';
      return {
        address: e.config.address,
        asNumber: e.config.asNumber,
        type,
        ...(e.config.description ? { description: e.config.description } : {}),
        state: st.state,
        since: st.since,
        holdTime: st.holdTime,
        prefixes: { received: c.received, accepted: c.accepted, advertised: c.advertised },
        lastError: st.lastError,
        updatesIn: st.counters.updatesIn,
        updatesOut: st.counters.updatesOut,
        flaps: st.counters.flaps,
        families: e.session.negotiated?.families ?? [],
      };
    });
  }

  status(): object {
    return {
      bgp: {
        asNumber: this.config.asNumber,
        routerId: this.config.routerId,
        uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
        peers: this.peerStatus(),
        ...(this.fib ? { fib: { installed: this.fib.installed, errors: this.fib.errors } } : {}),
      },
    };
  }

  routes(prefix?: string): { routes: RouteView[] } {
    return { routes: routeViews(this.rib, prefix !== undefined ? { prefix } : {}) };
  }

  /** Stop every session with Cease / Administrative Shutdown and close the listener. */
  async stop(message = 'tabby is shutting down'): Promise<void> {
    this.stopping = true;
    this.warmUp.stop();
    clearTimeout(this.restartTimer);
    for (const e of this.peers.values()) {
      clearTimeout(e.staleTimer);
      clearTimeout(e.restartTimer);
      e.session.stop(SUB_ADMINISTRATIVE_SHUTDOWN, message);
    }
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await new Promise((r) => setTimeout(r, 50)); // let the NOTIFICATIONs go out
    for (const e of this.peers.values()) e.session.destroy();
    await this.fib?.idle();
  }

  /**
   * Apply a new config with the least disruption (style.md lesson 9; the
   * BIRD/Calico flap of user-pains §4 is what this avoids): unchanged peers
   * are untouched; an export-filter change re-advertises; an import-filter
   * change re-evaluates kept routes or sends ROUTE-REFRESH (RFC 2918); only a
   * change that needs a new OPEN resets the session, with Cease / Other
   * Configuration Change; removed peers get Cease / Peer De-configured
   * (RFC 4486). Import checks (`enforceFirstAs`, `allowOwnAs`) and
   * `softReconfigInbound` are applied like an import-filter change; turning
   * soft reconfiguration on asks the peer to re-send (ROUTE-REFRESH) so the
   * unfiltered table fills. When a re-evaluation needs a ROUTE-REFRESH the
   * peer did not negotiate (RFC 2918), that session is reset instead, as the
   * change could not be applied otherwise. `alwaysCompareMed` re-runs the
   * decision in place. Other speaker-wide settings (AS, router id, listener,
   * FIB) need a restart: the reload is refused and the old config stays.
   */
  reload(next: BgpConfig): { added: string[]; removed: string[]; reset: string[]; refreshed: string[]; unchanged: string[] } {
    const cur = this.config;
    for (const k of ['asNumber', 'routerId', 'listen', 'fibInstall', 'fibProtocol', 'clusterId', 'multipath', 'controlSocket'] as const) {
      if (!isDeepStrictEqual(cur[k], next[k])) throw new Error(`changing ${k} needs a restart of tabby bgp; the running config is unchanged`);
    }
    const policies = compileFilters(next.filters);
    const filtersChanged = !isDeepStrictEqual(cur.filters, next.filters);
    const out = { added: [] as string[], removed: [] as string[], reset: [] as string[], refreshed: [] as string[], unchanged: [] as string[] };
    const wanted = new Map(next.peers.map((p) => [p.address, p]));
    for (const addr of [...this.peers.keys()]) {
      if (!wanted.has(addr)) {
        this.removePeer(addr);
        out.removed.push(addr);
      }
    }
    // Fields that are part of the OPEN or of the TCP connection.
    const sessionFields = (p: BgpPeerConfig) => {
      const { import: _i, export: _e, description: _d, enforceFirstAs: _f, allowOwnAs: _a, softReconfigInbound: _s, ...rest } = p;
      return rest;
    };
    for (const p of next.peers) {
      const e = this.peers.get(p.address);
      if (!e) {
        this.addPeer(p, policies);
        this.installListenerKey(p);
        this.peers.get(p.address)!.session.start();
        out.added.push(p.address);
        continue;
      }
      if (!isDeepStrictEqual(sessionFields(e.config), sessionFields(p))) {
        this.resetPeer(p, policies);
        out.reset.push(p.address);
        continue;
      }
      let touched = false;
      let refresh = false;
      if (p.export !== e.config.export || (filtersChanged && p.export !== 'all' && p.export !== 'none')) {
        this.rib.setExportPolicy(e.rib, policies(p.export));
        touched = true;
      }
      if (p.softReconfigInbound !== e.config.softReconfigInbound) {
        if (!this.rib.setSoftReconfigInbound(e.rib, p.softReconfigInbound)) refresh = true;
        touched = true;
      }
      const rulesChanged = p.enforceFirstAs !== e.config.enforceFirstAs || p.allowOwnAs !== e.config.allowOwnAs;
      const importChanged = p.import !== e.config.import || (filtersChanged && p.import !== 'all' && p.import !== 'none');
      if (importChanged || rulesChanged) {
        if (importChanged) e.rib.importPolicy = policies(p.import);
        if (!this.rib.setImportRules(e.rib, { enforceFirstAs: p.enforceFirstAs, allowOwnAs: p.allowOwnAs })) refresh = true;
        touched = true;
      }
      e.config = p;
      if (refresh && e.session.state === 'Established') {
        if (e.session.negotiated?.routeRefresh) {
          for (const f of e.session.negotiated.families) e.session.sendRouteRefresh(f);
        } else {
          // RFC 2918 not negotiated: the peer cannot re-send; only a new session applies the change.
          this.resetPeer(p, policies);
          out.reset.push(p.address);
          continue;
        }
      }
      (touched ? out.refreshed : out.unchanged).push(p.address);
    }
    if (cur.alwaysCompareMed !== next.alwaysCompareMed) this.rib.setAlwaysCompareMed(next.alwaysCompareMed);
    const before = new Set(cur.originate);
    const after = new Set(next.originate);
    for (const px of before) if (!after.has(px)) this.rib.withdrawOriginated(px);
    for (const px of after) if (!before.has(px)) this.rib.originate(px);
    this.config = next;
    this.scheduleFlush();
    this.checkRestartConverged(); // a removed peer is no longer waited for
    log.info('bgp.config.reloaded', out);
    return out;
  }

  /** Replace a peer's session and routes with a new one under `p` (Cease / Other Configuration Change, RFC 4486). */
  private resetPeer(p: BgpPeerConfig, policies: ReturnType<typeof compileFilters>): void {
    const e = this.peers.get(p.address)!;
    e.session.stop(SUB_OTHER_CONFIGURATION_CHANGE);
    e.session.destroy();
    clearTimeout(e.staleTimer);
    clearTimeout(e.restartTimer);
    this.rib.peerDown(e.rib);
    this.rib.removePeer(e.rib);
    this.peers.delete(p.address);
    this.addPeer(p, policies);
    this.installListenerKey(p);
    // Let the Cease reach the peer before the new connection does: a peer
    // that sees a new OPEN while its session is up may take it for our
    // graceful restart (RFC 4724 §4.2) and never process the Cease.
    const fresh = this.peers.get(p.address)!;
    const t = setTimeout(() => {
      if (this.peers.get(p.address) === fresh && !this.stopping) fresh.session.start();
    }, RESET_GAP_MS);
    t.unref();
  }

  private installListenerKey(p: BgpPeerConfig): void {
    if (this.server && p.password !== undefined) setMd5Key(fdOf(this.server), p.address, p.password);
  }

  /** Remove a peer at runtime (Cease / Peer De-configured, RFC 4486). */
  removePeer(address: string): void {
    const e = this.peers.get(address);
    if (!e) return;
    e.session.stop(SUB_PEER_DECONFIGURED);
    e.session.destroy();
    clearTimeout(e.staleTimer);
    this.rib.peerDown(e.rib);
    this.rib.removePeer(e.rib);
    this.peers.delete(address);
    this.scheduleFlush();
  }
}
