/**
 * The BGP finite state machine of RFC 4271 §8, as a pure transition function:
 * `step(fsm, event)` returns the next FSM record and the actions the session
 * must carry out (connect, send, close, start/stop timers). No sockets, no
 * clocks: the session layer owns I/O and timers and feeds events back in.
 *
 * Deviations, chosen as BIRD, FRR and GoBGP do in practice:
 * - DelayOpen (optional, §8.1.1) is not implemented: OPEN is sent as soon as
 *   the TCP connection is up.
 * - A failed outgoing connection (Event 18 in Connect) goes to Active with the
 *   ConnectRetryTimer running, so the next attempt comes from the timer,
 *   instead of dropping to Idle and needing an automatic start.
 * - Falling to Idle after an error arms an IdleHold timer with exponential
 *   backoff (DampPeerOscillations, §8.1.1) and restarts automatically
 *   (Event 3) when it fires, unless the peer was stopped by an operator.
 * - Any message in Established restarts the hold timer (§4.4 names KEEPALIVE
 *   and UPDATE; ROUTE-REFRESH also proves the peer alive).
 * Connection collisions (§6.8) involve two connections and are resolved by the
 * session layer with `collisionWinner` below.
 */

export type FsmState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';
export type TimerName = 'connectRetry' | 'hold' | 'keepalive' | 'idleHold';

/** Why a session went down or did not come up; shown in status and logs. */
export type DownReason =
  | 'admin-stop'
  | 'hold-timer-expired'
  | 'send-hold-timer-expired'
  | 'notification-received'
  | 'notification-sent'
  | 'connection-failed'
  | 'connection-closed'
  | 'open-rejected'
  | 'update-error'
  | 'fsm-error'
  | 'collision';

export interface Notification {
  code: number;
  subcode: number;
  data?: Buffer;
}

export type FsmEvent =
  /** Events 1/3/4/5: operator start, or automatic restart after IdleHold. */
  | { type: 'Start'; automatic?: boolean }
  /** Event 2 (and 8): operator stop; `subcode` is the Cease subcode to send (RFC 4486). */
  | { type: 'Stop'; subcode: number; data?: Buffer }
  | { type: 'ConnectRetryTimerExpires' } // Event 9
  | { type: 'HoldTimerExpires' } // Event 10
  | { type: 'KeepaliveTimerExpires' } // Event 11
  | { type: 'IdleHoldTimerExpires' } // Event 13
  /** Events 16/17: our connect succeeded, or we accepted the peer's connection. */
  | { type: 'TcpConnected' }
  | { type: 'TcpConnectionFails' } // Event 18
  /** Event 19: an OPEN that the session checked and accepted; holdTime is the negotiated one (§4.2). */
  | { type: 'OpenReceived'; holdTime: number }
  /** Events 21/22/28: a message header, OPEN or UPDATE error: send this NOTIFICATION. */
  | { type: 'MessageError'; notification: Notification; reason: DownReason }
  | { type: 'NotificationReceived'; notification: Notification } // Events 24/25
  | { type: 'KeepaliveReceived' } // Event 26
  | { type: 'UpdateReceived' } // Event 27
  | { type: 'RouteRefreshReceived' };

export type FsmAction =
  | { type: 'connect' }
  | { type: 'close' }
  | { type: 'sendOpen' }
  | { type: 'sendKeepalive' }
  | { type: 'sendNotification'; notification: Notification }
  | { type: 'startTimer'; timer: TimerName; seconds: number }
  | { type: 'stopTimer'; timer: TimerName }
  | { type: 'established' }
  /** Leave Established (or an OPEN exchange): release routes (or keep them stale for graceful restart). */
  | { type: 'down'; reason: DownReason; notification?: Notification; wasEstablished: boolean };

export interface FsmConfig {
  passive: boolean;
  /** Seconds (RFC 4271 §10 suggests 120; BIRD and FRR use less). */
  connectRetryTime: number;
  /** Our proposed hold time (0 or >= 3). */
  holdTime: number;
  /** Our keepalive interval; used as negotiated hold / 3 when smaller. */
  keepaliveTime: number;
  /** Cap of the IdleHold backoff, seconds. */
  maxIdleHoldTime: number;
}

export interface Fsm {
  state: FsmState;
  config: FsmConfig;
  connectRetryCounter: number;
  /** Negotiated in OpenConfirm/Established; 0 means no keepalives and no hold timer. */
  holdTime: number;
  keepaliveTime: number;
  /** Set by Stop: no automatic restart. */
  stopped: boolean;
  /** Consecutive failures, for the IdleHold backoff; reset once Established. */
  failures: number;
  lastDown?: { reason: DownReason; notification?: Notification };
}

/** The hold timer's "large value" while waiting for the peer's OPEN (§8.2.2: 4 minutes suggested). */
export const OPEN_HOLD_TIME = 240;

const ERR_HOLD_TIMER_EXPIRED = 4;
const ERR_FSM = 5;
const ERR_CEASE = 6;
// RFC 6608 §3: FSM error subcodes naming the state that got the unexpected event.
const FSM_SUB: Partial<Record<FsmState, number>> = { OpenSent: 1, OpenConfirm: 2, Established: 3 };

export function newFsm(config: FsmConfig): Fsm {
  return { state: 'Idle', config, connectRetryCounter: 0, holdTime: 0, keepaliveTime: 0, stopped: true, failures: 0 };
}

/** IdleHold backoff: connectRetryTime doubling per consecutive failure, capped. */
export function idleHoldSeconds(fsm: Fsm): number {
  const n = Math.min(fsm.failures, 10);
  return Math.min(fsm.config.maxIdleHoldTime, Math.max(1, fsm.config.connectRetryTime) * 2 ** Math.max(0, n - 1));
}

/**
 * §6.8: of two connections to the same peer, keep the one initiated by the
 * speaker with the higher BGP Identifier. Identifiers compare as unsigned
 * 32-bit integers. Returns which connection survives.
 */
export function collisionWinner(localId: number, remoteId: number): 'ours' | 'theirs' {
  return localId >>> 0 > remoteId >>> 0 ? 'ours' : 'theirs';
}

const stopAll: FsmAction[] = [
  { type: 'stopTimer', timer: 'connectRetry' },
  { type: 'stopTimer', timer: 'hold' },
  { type: 'stopTimer', timer: 'keepalive' },
];

/** Go to Idle: close, release, and (unless stopped) arm the automatic restart. */
function toIdle(fsm: Fsm, reason: DownReason, pre: FsmAction[], notification?: Notification, countFailure = true): { fsm: Fsm; actions: FsmAction[] } {
  const wasSession = fsm.state === 'OpenSent' || fsm.state === 'OpenConfirm' || fsm.state === 'Established';
  const next: Fsm = {
    ...fsm,
    state: 'Idle',
    holdTime: 0,
    keepaliveTime: 0,
    connectRetryCounter: fsm.connectRetryCounter + (countFailure ? 1 : 0),
    failures: fsm.failures + (countFailure ? 1 : 0),
    lastDown: notification ? { reason, notification } : { reason },
  };
  const actions: FsmAction[] = [...pre, ...stopAll, { type: 'close' }];
  if (wasSession) actions.push({ type: 'down', reason, wasEstablished: fsm.state === 'Established', ...(notification ? { notification } : {}) });
  if (!next.stopped) actions.push({ type: 'startTimer', timer: 'idleHold', seconds: idleHoldSeconds(next) });
  return { fsm: next, actions };
}

/** §8.2.2 Event 10 in OpenSent/OpenConfirm/Established: NOTIFICATION Hold Timer Expired, then Idle. */
function holdExpired(fsm: Fsm): { fsm: Fsm; actions: FsmAction[] } {
  const n: Notification = { code: ERR_HOLD_TIMER_EXPIRED, subcode: 0 };
  return toIdle(fsm, 'hold-timer-expired', [{ type: 'sendNotification', notification: n }], n);
}

function fsmError(fsm: Fsm): { fsm: Fsm; actions: FsmAction[] } {
  const notification: Notification = { code: ERR_FSM, subcode: FSM_SUB[fsm.state] ?? 0 };
  return toIdle(fsm, 'fsm-error', [{ type: 'sendNotification', notification }], notification);
}

/** Start connecting (or listening, when passive). */
function begin(fsm: Fsm): { fsm: Fsm; actions: FsmAction[] } {
  const passive = fsm.config.passive;
  return {
    fsm: { ...fsm, state: passive ? 'Active' : 'Connect', stopped: false },
    actions: [
      { type: 'stopTimer', timer: 'idleHold' },
      { type: 'startTimer', timer: 'connectRetry', seconds: fsm.config.connectRetryTime },
      ...(passive ? [] : [{ type: 'connect' } as FsmAction]),
    ],
  };
}

/** RFC 4271 §8.2.2, one event. */
export function step(fsm: Fsm, ev: FsmEvent): { fsm: Fsm; actions: FsmAction[] } {
  const s = fsm.state;

  // Events handled the same way in every state.
  if (ev.type === 'Stop') {
    const notification: Notification = { code: ERR_CEASE, subcode: ev.subcode, ...(ev.data ? { data: ev.data } : {}) };
    const pre: FsmAction[] = s === 'OpenSent' || s === 'OpenConfirm' || s === 'Established' ? [{ type: 'sendNotification', notification }] : [];
    const r = toIdle({ ...fsm, stopped: true }, 'admin-stop', pre, pre.length ? notification : undefined, false);
    r.fsm.connectRetryCounter = 0;
    r.actions.push({ type: 'stopTimer', timer: 'idleHold' });
    return r;
  }
  if (ev.type === 'NotificationReceived') {
    if (s === 'Idle') return { fsm, actions: [] };
    return toIdle(fsm, 'notification-received', [], ev.notification);
  }

  switch (s) {
    case 'Idle':
      if (ev.type === 'Start') {
        if (ev.automatic && fsm.stopped) return { fsm, actions: [] };
        return begin({ ...fsm, ...(ev.automatic ? {} : { connectRetryCounter: 0, failures: 0 }) });
      }
      if (ev.type === 'IdleHoldTimerExpires') return fsm.stopped ? { fsm, actions: [] } : begin(fsm);
      // A connection arriving in Idle is refused by the session layer; nothing else applies.
      return { fsm, actions: ev.type === 'TcpConnected' ? [{ type: 'close' }] : [] };

    case 'Connect':
    case 'Active':
      switch (ev.type) {
        case 'Start':
          return { fsm, actions: [] };
        case 'ConnectRetryTimerExpires':
          // Connect: give up this attempt and try again. Active: try (again) ourselves,
          // unless passive, where we only keep listening.
          if (fsm.config.passive) return { fsm, actions: [{ type: 'startTimer', timer: 'connectRetry', seconds: fsm.config.connectRetryTime }] };
          return {
            fsm: { ...fsm, state: 'Connect' },
            actions: [
              ...(s === 'Connect' ? [{ type: 'close' } as FsmAction] : []),
              { type: 'startTimer', timer: 'connectRetry', seconds: fsm.config.connectRetryTime },
              { type: 'connect' },
            ],
          };
        case 'TcpConnected':
          return {
            fsm: { ...fsm, state: 'OpenSent' },
            actions: [
              { type: 'stopTimer', timer: 'connectRetry' },
              { type: 'sendOpen' },
              { type: 'startTimer', timer: 'hold', seconds: OPEN_HOLD_TIME },
            ],
          };
        case 'TcpConnectionFails':
          return {
            fsm: { ...fsm, state: 'Active', connectRetryCounter: fsm.connectRetryCounter + 1 },
            actions: [{ type: 'startTimer', timer: 'connectRetry', seconds: fsm.config.connectRetryTime }],
          };
        case 'HoldTimerExpires':
        case 'KeepaliveTimerExpires':
        case 'IdleHoldTimerExpires':
          return { fsm, actions: [] };
        default:
          // A BGP message without a connection in OpenSent: FSM error (§8.2.2 Connect/Active, "any other event").
          return toIdle(fsm, 'fsm-error', []);
      }

    case 'OpenSent':
      switch (ev.type) {
        case 'Start':
        case 'IdleHoldTimerExpires':
          return { fsm, actions: [] };
        case 'HoldTimerExpires':
          return holdExpired(fsm);
        case 'TcpConnectionFails':
          // §8.2.2 OpenSent, Event 18: close, restart ConnectRetryTimer, go to Active.
          return {
            fsm: { ...fsm, state: 'Active', connectRetryCounter: fsm.connectRetryCounter + 1 },
            actions: [{ type: 'close' }, { type: 'stopTimer', timer: 'hold' }, { type: 'startTimer', timer: 'connectRetry', seconds: fsm.config.connectRetryTime }],
          };
        case 'OpenReceived': {
          // §4.2: negotiated hold time is the smaller; keepalive a third of it (or ours if smaller).
          const hold = ev.holdTime;
          const keep = hold === 0 ? 0 : Math.max(1, Math.min(fsm.config.keepaliveTime || Math.floor(hold / 3), Math.floor(hold / 3)));
          return {
            fsm: { ...fsm, state: 'OpenConfirm', holdTime: hold, keepaliveTime: keep },
            actions: [
              { type: 'stopTimer', timer: 'connectRetry' },
              { type: 'sendKeepalive' },
              ...(hold === 0
                ? [{ type: 'stopTimer', timer: 'hold' } as FsmAction]
                : [{ type: 'startTimer', timer: 'keepalive', seconds: keep } as FsmAction, { type: 'startTimer', timer: 'hold', seconds: hold } as FsmAction]),
            ],
          };
        }
        case 'MessageError':
          return toIdle(fsm, ev.reason, [{ type: 'sendNotification', notification: ev.notification }], ev.notification);
        default:
          return fsmError(fsm);
      }

    case 'OpenConfirm':
      switch (ev.type) {
        case 'Start':
        case 'IdleHoldTimerExpires':
          return { fsm, actions: [] };
        case 'HoldTimerExpires':
          return holdExpired(fsm);
        case 'KeepaliveTimerExpires':
          return { fsm, actions: [{ type: 'sendKeepalive' }, { type: 'startTimer', timer: 'keepalive', seconds: fsm.keepaliveTime }] };
        case 'TcpConnectionFails':
          return toIdle(fsm, 'connection-closed', []);
        case 'KeepaliveReceived':
          return {
            fsm: { ...fsm, state: 'Established', failures: 0 },
            actions: [...(fsm.holdTime ? [{ type: 'startTimer', timer: 'hold', seconds: fsm.holdTime } as FsmAction] : []), { type: 'established' }],
          };
        case 'MessageError':
          return toIdle(fsm, ev.reason, [{ type: 'sendNotification', notification: ev.notification }], ev.notification);
        default:
          return fsmError(fsm);
      }

    case 'Established':
      switch (ev.type) {
        case 'Start':
        case 'IdleHoldTimerExpires':
          return { fsm, actions: [] };
        case 'HoldTimerExpires':
          return holdExpired(fsm);
        case 'KeepaliveTimerExpires':
          return { fsm, actions: [{ type: 'sendKeepalive' }, { type: 'startTimer', timer: 'keepalive', seconds: fsm.keepaliveTime }] };
        case 'KeepaliveReceived':
        case 'UpdateReceived':
        case 'RouteRefreshReceived':
          return { fsm, actions: fsm.holdTime ? [{ type: 'startTimer', timer: 'hold', seconds: fsm.holdTime }] : [] };
        case 'TcpConnectionFails':
          return toIdle(fsm, 'connection-closed', []);
        case 'MessageError':
          return toIdle(fsm, ev.reason, [{ type: 'sendNotification', notification: ev.notification }], ev.notification);
        default:
          return fsmError(fsm);
      }
  }
}
