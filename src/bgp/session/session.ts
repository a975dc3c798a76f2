/**
 * One BGP session with one peer: TCP connections, framing, decoding, OPEN
 * negotiation, the FSM (pure, in fsm.ts) with its timers, and connection
 * collisions (RFC 4271 §6.8). Routes are not its business: it hands decoded
 * UPDATEs to its owner and sends the bytes its owner gives it.
 *
 * I/O sits at the edges: a `Connection` wraps a socket and a framer; the FSM
 * decides; `act()` carries out the FSM's actions.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import {
  AFI_IPV4,
  AFI_IPV6,
  BgpFramer,
  BgpMessageError,
  decodeMessage,
  describeNotification,
  encodeMessage,
  endOfRibFamily,
  ERR_CEASE,
  ERR_OPEN_MESSAGE,
  findCapability,
  KEEPALIVE,
  makeOpen,
  openAsn,
  SAFI_UNICAST,
  sessionContext,
  shutdownNotification,
  SUB_BAD_BGP_IDENTIFIER,
  SUB_BAD_PEER_AS,
  SUB_CONNECTION_COLLISION_RESOLUTION,
  SUB_CONNECTION_REJECTED,
  SUB_HARD_RESET,
  ERR_SEND_HOLD_TIMER_EXPIRED,
  SUB_MAX_PREFIXES_REACHED,
  SUB_ADMINISTRATIVE_SHUTDOWN,
  SUB_PEER_DECONFIGURED,
  SUB_ADMINISTRATIVE_RESET,
  SUB_UNSUPPORTED_CAPABILITY,
  u16Data,
  type Capability,
  type NotificationMessage,
  type OpenMessage,
  type ReceivedMessage,
  type ReceivedUpdate,
  type SessionContext,
} from '../wire/index.js';
import { connectNative, needsNativeConnect } from '../net/sockopt.js';
import { logger } from '../../util/log.js';
import { collisionWinner, newFsm, step, type DownReason, type Fsm, type FsmAction, type FsmEvent, type FsmState, type Notification, type TimerName } from './fsm.js';
import { FsmTimers, realClock, type Clock } from './timers.js';

/** RFC 8538 §5: Cease subcodes sent as a Hard Reset when the peer has the N bit. */
const HARD_RESET_CEASES: ReadonlySet<number> = new Set([SUB_MAX_PREFIXES_REACHED, SUB_ADMINISTRATIVE_SHUTDOWN, SUB_PEER_DECONFIGURED, SUB_ADMINISTRATIVE_RESET]);

export type Family = 'ipv4-unicast' | 'ipv6-unicast';

export const FAMILY_CODES: Record<Family, { afi: number; safi: number }> = {
  'ipv4-unicast': { afi: AFI_IPV4, safi: SAFI_UNICAST },
  'ipv6-unicast': { afi: AFI_IPV6, safi: SAFI_UNICAST },
};

export function familyOf(afi: number, safi: number): Family | undefined {
  if (safi !== SAFI_UNICAST) return undefined;
  return afi === AFI_IPV4 ? 'ipv4-unicast' : afi === AFI_IPV6 ? 'ipv6-unicast' : undefined;
}

export interface SessionConfig {
  localAs: number;
  routerId: string;
  peerAddress: string;
  peerAs: number;
  port: number;
  localAddress?: string;
  passive: boolean;
  holdTime: number;
  keepaliveTime: number;
  connectRetryTime: number;
  families: Family[];
  md5Key?: string;
  ttlSecurity?: number;
  gracefulRestart: boolean;
  /** RFC 4724 Restart Time we advertise. */
  restartTime: number;
  /** RFC 9687 SendHoldTime, seconds; default max(480, 2 x the negotiated hold time); 0 turns it off. */
  sendHoldTime?: number;
}

/** What both OPENs agreed on. */
export interface Negotiated {
  holdTime: number;
  keepaliveTime: number;
  families: Family[];
  fourOctetAs: boolean;
  extendedMessage: boolean;
  routeRefresh: boolean;
  peerRouterId: string;
  peerAs: number;
  /** The peer's graceful-restart capability, when it sent one. */
  peerGracefulRestart?: Extract<Capability, { kind: 'graceful-restart' }>;
  localAddress: string;
  ctx: SessionContext;
}

/** The owner of a session (the speaker) sees these. */
export interface SessionHandler {
  established(s: Session, n: Negotiated): void;
  update(s: Session, u: ReceivedUpdate): void;
  endOfRib(s: Session, family: Family): void;
  routeRefresh(s: Session, family: Family): void;
  down(s: Session, info: { reason: DownReason; wasEstablished: boolean; notification?: Notification; sent: boolean }): void;
  /** The socket has room again after `send` returned false. */
  drain?(s: Session): void;
}

export interface SessionCounters {
  messagesIn: number;
  messagesOut: number;
  updatesIn: number;
  updatesOut: number;
  flaps: number;
  establishedTransitions: number;
}

/** One TCP connection and its framer. */
class Connection {
  readonly framer = new BgpFramer();
  open?: OpenMessage;
  closed = false;

  constructor(
    readonly socket: Socket,
    readonly outgoing: boolean,
  ) {}

  write(buf: Buffer): boolean {
    if (this.closed || this.socket.destroyed) return false;
    return this.socket.write(buf);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.removeAllListeners('data');
    // end() flushes a pending NOTIFICATION before the FIN; destroy if it lingers.
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}

export class Session {
  fsm: Fsm;
  negotiated: Negotiated | undefined;
  since = Date.now();
  lastError: string | undefined;
  readonly counters: SessionCounters = { messagesIn: 0, messagesOut: 0, updatesIn: 0, updatesOut: 0, flaps: 0, establishedTransitions: 0 };
  private conn: Connection | undefined;
  /** A second connection during an OPEN exchange, until §6.8 decides. */
  private rival: Connection | undefined;
  private connecting: { cancelled: boolean } | undefined;
  private readonly timers: FsmTimers;
  private readonly log;
  /** Set before Start when we come back from our own restart (RFC 4724 R bit). */
  restarting = false;
  /** The F bit we send: whether our forwarding state survived a restart. */
  forwardingPreserved = false;
  /** The peer's graceful-restart capability of the last Established session (kept after it ends). */
  lastPeerGracefulRestart: Negotiated['peerGracefulRestart'];

  constructor(
    public config: SessionConfig,
    private readonly handler: SessionHandler,
    private readonly clock: Clock = realClock,
  ) {
    this.fsm = newFsm({
      passive: config.passive,
      connectRetryTime: config.connectRetryTime,
      holdTime: config.holdTime,
      keepaliveTime: config.keepaliveTime,
      maxIdleHoldTime: 120,
    });
    this.timers = new FsmTimers(clock, (t) => this.onTimer(t));
    this.log = logger('bgp', { peer: config.peerAddress });
  }

  get state(): FsmState {
    return this.fsm.state;
  }

  get peerAddress(): string {
    return this.config.peerAddress;
  }

  start(): void {
    this.dispatch({ type: 'Start' });
  }

  /** Operator stop: Cease with `subcode` (RFC 4486) and an optional RFC 9003 message. */
  stop(subcode: number, message?: string): void {
    const data = message ? shutdownNotification(message, subcode).data : undefined;
    // RFC 8538 §3/§5: once both sides sent the N bit, a peer keeps our routes
    // (stale) after any NOTIFICATION but a Hard Reset. The Cease subcodes
    // that mean "these routes are gone" (§5: maximum prefixes, administrative
    // shutdown, peer de-configured, administrative reset) therefore go out
    // as a Hard Reset whose data is the encapsulated code, subcode and data.
    const peerN = this.fsm.state === 'Established' && this.config.gracefulRestart && this.negotiated?.peerGracefulRestart?.notification;
    if (peerN && HARD_RESET_CEASES.has(subcode)) {
      this.dispatch({ type: 'Stop', subcode: SUB_HARD_RESET, data: Buffer.concat([Buffer.from([6, subcode]), data ?? Buffer.alloc(0)]) });
      return;
    }
    this.dispatch({ type: 'Stop', subcode, ...(data ? { data } : {}) });
  }

  /** Queue encoded bytes (UPDATEs built by the owner). Returns false when the socket is full. */
  send(bytes: Buffer, updates = 0): boolean {
    if (this.fsm.state !== 'Established' || !this.conn) return false;
    this.counters.messagesOut += updates;
    this.counters.updatesOut += updates;
    return this.conn.write(bytes);
  }

  /** Hold writes in the socket until `uncork()`: a burst of UPDATEs leaves in one writev. */
  cork(): void {
    this.conn?.socket.cork();
  }

  uncork(): void {
    this.conn?.socket.uncork();
  }

  /** Bytes queued in the socket but not yet written. */
  get writeBacklog(): number {
    return this.conn?.socket.writableLength ?? 0;
  }

  sendRouteRefresh(family: Family): void {
    if (this.fsm.state !== 'Established' || !this.negotiated?.routeRefresh) return;
    const f = FAMILY_CODES[family];
    this.writeMessage({ type: 'ROUTE-REFRESH', afi: f.afi, safi: f.safi, subtype: 0 });
  }

  /** An incoming connection the speaker matched to this peer. */
  accept(socket: Socket): void {
    // Idle only because of the IdleHold back-off (not stopped): the peer is
    // back, so start now and take its connection (RFC 4271 §8.1.1, Event 5
    // AutomaticStart_with_PassiveTcpEstablishment). Refusing it would leave
    // both sides backing off out of phase after one side restarts.
    if (this.fsm.state === 'Idle' && !this.fsm.stopped && !this.rival) this.dispatch({ type: 'Start', automatic: true });
    const s = this.fsm.state;
    if (s === 'Idle' || s === 'Established' || this.rival) {
      this.rejectSocket(socket, SUB_CONNECTION_REJECTED);
      return;
    }
    if (s === 'Connect' || s === 'Active') {
      // Nothing established yet: take the peer's connection, abandon our attempt.
      if (this.connecting) this.connecting.cancelled = true;
      this.connecting = undefined;
      this.attach(new Connection(socket, false));
      this.dispatch({ type: 'TcpConnected' });
      return;
    }
    // OpenSent / OpenConfirm: a collision (§6.8). Run an OPEN exchange on the
    // new connection too; decide when its OPEN (and the first one's) is known.
    const rival = new Connection(socket, false);
    this.rival = rival;
    this.wire(rival);
    rival.write(this.encodeOpen());
    this.resolveCollision();
  }

  private rejectSocket(socket: Socket, subcode: number): void {
    socket.on('error', () => undefined);
    const n = encodeMessage({ type: 'NOTIFICATION', code: ERR_CEASE, subcode, data: Buffer.alloc(0) }, sessionContext());
    socket.end(n);
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  private attach(conn: Connection): void {
    this.conn = conn;
    this.wire(conn);
  }

  private wire(conn: Connection): void {
    const sock = conn.socket;
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    sock.on('error', (err) => {
      this.lastError = err.message;
    });
    sock.on('close', () => this.onClose(conn));
    sock.on('drain', () => {
      if (conn === this.conn && this.fsm.state === 'Established') this.handler.drain?.(this);
    });
  }

  private onData(conn: Connection, chunk: Buffer): void {
    if (conn.closed) return;
    try {
      conn.framer.push(chunk, (frame) => {
        if (conn.closed) return;
        this.onFrame(conn, frame);
      });
    } catch (err) {
      if (err instanceof BgpMessageError) this.protocolError(conn, err);
      else throw err;
    }
  }

  private onFrame(conn: Connection, frame: Buffer): void {
    const ctx = this.negotiated && conn === this.conn ? this.negotiated.ctx : sessionContext({ ibgp: this.isIbgp() });
    let msg: ReceivedMessage;
    try {
      // IPv4 NLRI stay bytes: the RIB reads them straight into numbers.
      msg = decodeMessage(frame, ctx, { ipv4: 'raw' });
    } catch (err) {
      if (err instanceof BgpMessageError) {
        this.protocolError(conn, err);
        return;
      }
      throw err;
    }
    if (conn === this.rival) {
      this.onRivalMessage(conn, msg);
      return;
    }
    this.counters.messagesIn++;
    switch (msg.type) {
      case 'OPEN':
        this.onOpen(conn, msg);
        return;
      case 'KEEPALIVE':
        this.dispatch({ type: 'KeepaliveReceived' });
        return;
      case 'NOTIFICATION':
        this.onNotification(msg);
        return;
      case 'ROUTE-REFRESH': {
        this.dispatch({ type: 'RouteRefreshReceived' });
        const fam = familyOf(msg.afi, msg.safi);
        // RFC 2918 §4: ignore a ROUTE-REFRESH for a family not negotiated.
        if (fam && this.fsm.state === 'Established' && this.negotiated?.families.includes(fam)) this.handler.routeRefresh(this, fam);
        return;
      }
      case 'UPDATE': {
        this.counters.updatesIn++;
        const wasEstablished = this.fsm.state === 'Established';
        this.dispatch({ type: 'UpdateReceived' });
        if (!wasEstablished) return;
        const eor = endOfRibFamily(msg);
        if (eor) {
          const fam = familyOf(eor.afi, eor.safi);
          if (fam) this.handler.endOfRib(this, fam);
          return;
        }
        this.handler.update(this, msg);
        return;
      }
    }
  }

  private onNotification(msg: NotificationMessage): void {
    this.lastError = `received ${describeNotification(msg)}`;
    this.log.warn('bgp.notification.received', { code: msg.code, subcode: msg.subcode, text: describeNotification(msg) });
    this.dispatch({ type: 'NotificationReceived', notification: { code: msg.code, subcode: msg.subcode, data: msg.data } });
  }

  private protocolError(conn: Connection, err: BgpMessageError): void {
    if (conn === this.rival) {
      conn.write(encodeMessage(err.toNotification(), sessionContext()));
      this.dropRival();
      return;
    }
    this.lastError = `sent ${err.message}`;
    this.log.warn('bgp.protocol.error', { code: err.code, subcode: err.subcode, error: err.message });
    const reason: DownReason = err.code === ERR_OPEN_MESSAGE ? 'open-rejected' : err.code === 3 ? 'update-error' : 'notification-sent';
    this.dispatch({ type: 'MessageError', notification: { code: err.code, subcode: err.subcode, data: err.data }, reason });
  }

  private isIbgp(): boolean {
    return this.config.peerAs === this.config.localAs;
  }

  /** RFC 4271 §6.2 checks that depend on configuration, then negotiation. */
  private checkOpen(open: OpenMessage): BgpMessageError | undefined {
    const asn = openAsn(open);
    if (asn !== this.config.peerAs) {
      return new BgpMessageError(ERR_OPEN_MESSAGE, SUB_BAD_PEER_AS, u16Data(open.myAs), `peer AS ${asn}, expected ${this.config.peerAs}`);
    }
    // RFC 6286 §2.2: within an AS, identifiers must differ (and never be 0).
    if (open.bgpId === '0.0.0.0' || (this.isIbgp() && open.bgpId === this.config.routerId)) {
      return new BgpMessageError(ERR_OPEN_MESSAGE, SUB_BAD_BGP_IDENTIFIER, undefined, `BGP identifier ${open.bgpId}`);
    }
    if (this.negotiate(open, '0.0.0.0').families.length === 0) {
      // RFC 5492 §5: no address family in common.
      return new BgpMessageError(ERR_OPEN_MESSAGE, SUB_UNSUPPORTED_CAPABILITY, undefined, 'no address family in common');
    }
    return undefined;
  }

  private negotiate(open: OpenMessage, localAddress: string): Negotiated {
    const caps = open.capabilities;
    const mp = caps.filter((c): c is Extract<Capability, { kind: 'multiprotocol' }> => c.kind === 'multiprotocol');
    // RFC 4760 §8: a peer without multiprotocol capabilities speaks IPv4 unicast only.
    const theirs = mp.length ? mp.map((c) => familyOf(c.afi, c.safi)).filter((f): f is Family => !!f) : (['ipv4-unicast'] as Family[]);
    const families = this.config.families.filter((f) => theirs.includes(f));
    const holdTime = Math.min(this.config.holdTime, open.holdTime);
    const fourOctetAs = !!findCapability(caps, 'four-octet-as');
    const extendedMessage = !!findCapability(caps, 'extended-message');
    const routeRefresh = !!findCapability(caps, 'route-refresh') || !!findCapability(caps, 'enhanced-route-refresh');
    const gr = findCapability(caps, 'graceful-restart');
    return {
      holdTime,
      keepaliveTime: holdTime === 0 ? 0 : Math.max(1, Math.min(this.config.keepaliveTime || Math.floor(holdTime / 3), Math.floor(holdTime / 3))),
      families,
      fourOctetAs,
      extendedMessage,
      routeRefresh,
      peerRouterId: open.bgpId,
      peerAs: openAsn(open),
      ...(gr ? { peerGracefulRestart: gr } : {}),
      localAddress,
      ctx: sessionContext({ fourOctetAs, extendedMessage, ibgp: this.isIbgp() }),
    };
  }

  private onOpen(conn: Connection, open: OpenMessage): void {
    if (this.fsm.state !== 'OpenSent') {
      // An OPEN anywhere else is an FSM error; the FSM picks the subcode.
      this.dispatch({ type: 'OpenReceived', holdTime: 0 });
      return;
    }
    const bad = this.checkOpen(open);
    if (bad) {
      this.protocolError(conn, bad);
      return;
    }
    conn.open = open;
    this.negotiated = this.negotiate(open, conn.socket.localAddress ?? '');
    conn.framer.setExtendedMessages(this.negotiated.extendedMessage);
    this.dispatch({ type: 'OpenReceived', holdTime: this.negotiated.holdTime });
    if (this.rival) this.resolveCollision();
  }

  private onRivalMessage(conn: Connection, msg: ReceivedMessage): void {
    if (msg.type === 'OPEN') {
      const bad = this.checkOpen(msg);
      if (bad) {
        this.protocolError(conn, bad);
        return;
      }
      conn.open = msg;
      this.resolveCollision();
    } else if (msg.type === 'NOTIFICATION') {
      this.dropRival(false);
    }
    // KEEPALIVEs on the rival before the decision are simply absorbed.
  }

  /**
   * §6.8: once the peer's BGP Identifier is known, keep the connection
   * initiated by the speaker with the higher identifier; the other is closed
   * with Cease / Connection Collision Resolution (RFC 4486).
   */
  private resolveCollision(): void {
    const rival = this.rival;
    const conn = this.conn;
    if (!rival || !conn) return;
    const peerId = conn.open?.bgpId ?? rival.open?.bgpId;
    if (!peerId) return; // not known yet: wait for an OPEN
    if (this.fsm.state === 'Established') {
      this.dropRival();
      return;
    }
    const keep = collisionWinner(ipToU32(this.config.routerId), ipToU32(peerId)) === 'ours' ? 'outgoing' : 'incoming';
    const currentIs = conn.outgoing ? 'outgoing' : 'incoming';
    const rivalIs = rival.outgoing ? 'outgoing' : 'incoming';
    if (currentIs === keep || rivalIs !== keep) {
      this.dropRival();
      return;
    }
    // The rival wins: close the current connection and carry on with the rival.
    this.log.info('bgp.collision.resolved', { kept: rivalIs });
    conn.write(encodeMessage({ type: 'NOTIFICATION', code: ERR_CEASE, subcode: SUB_CONNECTION_COLLISION_RESOLUTION, data: Buffer.alloc(0) }, sessionContext()));
    conn.close();
    this.rival = undefined;
    this.conn = rival;
    this.negotiated = undefined;
    this.fsm = { ...this.fsm, state: 'OpenSent' };
    if (rival.open) this.onOpen(rival, rival.open);
  }

  private dropRival(notify = true): void {
    const r = this.rival;
    if (!r) return;
    this.rival = undefined;
    if (notify) r.write(encodeMessage({ type: 'NOTIFICATION', code: ERR_CEASE, subcode: SUB_CONNECTION_COLLISION_RESOLUTION, data: Buffer.alloc(0) }, sessionContext()));
    r.close();
  }

  private onClose(conn: Connection): void {
    if (conn === this.rival) {
      this.rival = undefined;
      return;
    }
    if (conn !== this.conn || conn.closed) return;
    conn.closed = true;
    this.dispatch({ type: 'TcpConnectionFails' });
  }

  private onTimer(t: TimerName): void {
    const ev: Record<TimerName, FsmEvent> = {
      connectRetry: { type: 'ConnectRetryTimerExpires' },
      hold: { type: 'HoldTimerExpires' },
      keepalive: { type: 'KeepaliveTimerExpires' },
      idleHold: { type: 'IdleHoldTimerExpires' },
    };
    this.dispatch(ev[t]);
  }

  private dispatch(ev: FsmEvent): void {
    const before = this.fsm.state;
    const { fsm, actions } = step(this.fsm, ev);
    this.fsm = fsm;
    if (fsm.state !== before) {
      this.since = this.clock.now();
      this.log.info('bgp.session.state', { from: before, to: fsm.state, trigger: ev.type });
    }
    for (const a of actions) this.act(a);
  }

  private encodeOpen(): Buffer {
    const caps: Capability[] = this.config.families.map((f) => ({ kind: 'multiprotocol', ...FAMILY_CODES[f] }));
    caps.push({ kind: 'route-refresh' }, { kind: 'four-octet-as', asn: this.config.localAs }, { kind: 'extended-message' });
    if (this.config.gracefulRestart) {
      // RFC 4724 §3; RFC 8538 N bit so a hold-timer expiry also keeps routes.
      caps.push({
        kind: 'graceful-restart',
        restarting: this.restarting,
        notification: true,
        restartTime: this.config.restartTime,
        families: this.config.families.map((f) => ({ ...FAMILY_CODES[f], forwarding: this.forwardingPreserved })),
      });
    }
    return encodeMessage(makeOpen({ asn: this.config.localAs, holdTime: this.config.holdTime, bgpId: this.config.routerId, capabilities: caps }), sessionContext());
  }

  private writeMessage(msg: Parameters<typeof encodeMessage>[0]): void {
    if (!this.conn) return;
    const ctx = this.negotiated?.ctx ?? sessionContext();
    this.conn.write(encodeMessage(msg, ctx));
    this.counters.messagesOut++;
  }

  private act(a: FsmAction): void {
    switch (a.type) {
      case 'connect':
        this.connectOut();
        return;
      case 'close':
        if (this.connecting) this.connecting.cancelled = true;
        this.connecting = undefined;
        this.conn?.close();
        this.conn = undefined;
        this.dropRival();
        return;
      case 'sendOpen':
        this.conn?.write(this.encodeOpen());
        this.counters.messagesOut++;
        return;
      case 'sendKeepalive':
        this.writeMessage(KEEPALIVE);
        return;
      case 'sendNotification': {
        const n = a.notification;
        this.lastError = `sent ${describeNotification({ type: 'NOTIFICATION', code: n.code, subcode: n.subcode, data: n.data ?? Buffer.alloc(0) })}`;
        this.writeMessage({ type: 'NOTIFICATION', code: n.code, subcode: n.subcode, data: n.data ?? Buffer.alloc(0) });
        return;
      }
      case 'startTimer':
        this.timers.start(a.timer, a.seconds);
        return;
      case 'stopTimer':
        this.timers.stop(a.timer);
        return;
      case 'established':
        this.armSendHold();
        this.counters.establishedTransitions++;
        this.restarting = false;
        this.lastPeerGracefulRestart = this.negotiated?.peerGracefulRestart;
        this.log.info('bgp.session.up', { holdTime: this.negotiated?.holdTime, families: this.negotiated?.families });
        if (this.negotiated) this.handler.established(this, this.negotiated);
        return;
      case 'down': {
        if (a.wasEstablished) this.counters.flaps++;
        const sent = this.lastError?.startsWith('sent') ?? false;
        this.log.info('bgp.session.down', { reason: a.reason, wasEstablished: a.wasEstablished, lastError: this.lastError });
        this.negotiated = undefined;
        this.handler.down(this, { reason: a.reason, wasEstablished: a.wasEstablished, sent, ...(a.notification ? { notification: a.notification } : {}) });
        return;
      }
    }
  }

  private connectOut(): void {
    const token = { cancelled: false };
    this.connecting = token;
    const c = this.config;
    const onSocket = (sock: Socket) => {
      if (token.cancelled || this.connecting !== token) {
        sock.destroy();
        return;
      }
      this.connecting = undefined;
      this.attach(new Connection(sock, true));
      this.dispatch({ type: 'TcpConnected' });
    };
    const onFail = (err: Error) => {
      if (token.cancelled || this.connecting !== token) return;
      this.connecting = undefined;
      this.lastError = `connect: ${err.message}`;
      this.dispatch({ type: 'TcpConnectionFails' });
    };
    const opts = {
      address: c.peerAddress,
      port: c.port,
      timeoutMs: c.connectRetryTime * 1000,
      ...(c.localAddress ? { localAddress: c.localAddress } : {}),
      ...(c.md5Key !== undefined ? { md5Key: c.md5Key } : {}),
      ...(c.ttlSecurity !== undefined ? { ttlSecurity: c.ttlSecurity } : {}),
    };
    if (needsNativeConnect(opts)) {
      connectNative(opts).then(onSocket, onFail);
      return;
    }
    const sock = tcpConnect({ host: c.peerAddress, port: c.port, ...(c.localAddress ? { localAddress: c.localAddress } : {}) });
    const fail = (err: Error) => {
      sock.destroy();
      onFail(err);
    };
    sock.once('error', fail);
    sock.setTimeout(c.connectRetryTime * 1000, () => fail(new Error('timed out')));
    sock.once('connect', () => {
      sock.off('error', fail);
      sock.setTimeout(0);
      onSocket(sock);
    });
  }

  /**
   * RFC 9687: a peer that stops reading (its TCP window stays shut) would
   * otherwise hold the session, and our memory, forever, since its
   * KEEPALIVEs may still arrive. While we have bytes queued and none are
   * written for SendHoldTime, the session ends with NOTIFICATION 8 (Send
   * Hold Timer Expired), sent as far as it can go, and the connection closes.
   */
  private armSendHold(): void {
    const conn = this.conn;
    const holdTime = this.negotiated?.holdTime ?? 0;
    const limitMs = (this.config.sendHoldTime ?? (holdTime === 0 ? 0 : Math.max(480, 2 * holdTime))) * 1000;
    if (!conn || limitMs === 0) return;
    // Progress is what the kernel took: `bytesWritten` also counts bytes still
    // queued in Node, so our own KEEPALIVEs would look like progress.
    const handedOver = (sock: Socket) => sock.bytesWritten - sock.writableLength;
    let lastWritten = handedOver(conn.socket);
    let stalledSince: number | undefined;
    const tick = () => {
      if (this.conn !== conn || this.fsm.state !== 'Established') return;
      const sock = conn.socket;
      if (sock.writableLength > 0 && handedOver(sock) === lastWritten) {
        stalledSince ??= this.clock.now();
        if (this.clock.now() - stalledSince >= limitMs) {
          this.log.warn('bgp.session.send_hold_expired', { queuedBytes: sock.writableLength, seconds: limitMs / 1000 }, 'the peer has not read from the connection for the send hold time');
          this.dispatch({ type: 'MessageError', notification: { code: ERR_SEND_HOLD_TIMER_EXPIRED, subcode: 0 }, reason: 'send-hold-timer-expired' });
          return;
        }
      } else {
        stalledSince = undefined;
        lastWritten = handedOver(sock);
      }
      this.clock.setTimeout(tick, Math.min(1000, limitMs));
    };
    this.clock.setTimeout(tick, Math.min(1000, limitMs));
  }

  destroy(): void {
    this.timers.stopAll();
    if (this.connecting) this.connecting.cancelled = true;
    this.conn?.socket.destroy();
    this.rival?.socket.destroy();
    this.conn = undefined;
    this.rival = undefined;
  }

  status(): {
    address: string;
    asNumber: number;
    state: FsmState;
    since: string;
    holdTime: number;
    lastError: string | null;
    counters: SessionCounters;
  } {
    return {
      address: this.config.peerAddress,
      asNumber: this.config.peerAs,
      state: this.fsm.state,
      since: new Date(this.since).toISOString(),
      holdTime: this.negotiated?.holdTime ?? 0,
      lastError: this.lastError ?? null,
      counters: { ...this.counters },
    };
  }
}

export function ipToU32(ip: string): number {
  const p = ip.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

export { describeNotification };
