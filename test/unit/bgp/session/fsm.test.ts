import assert from 'node:assert/strict';
import { collisionWinner, idleHoldSeconds, newFsm, OPEN_HOLD_TIME, step, type Fsm, type FsmAction, type FsmConfig, type FsmEvent, type FsmState } from '../../../../src/bgp/session/fsm.js';

const cfg: FsmConfig = { passive: false, connectRetryTime: 5, holdTime: 90, keepaliveTime: 30, maxIdleHoldTime: 120 };

/** Run events from a fresh FSM; returns the final FSM and the actions of the last event. */
function run(events: FsmEvent[], config: FsmConfig = cfg): { fsm: Fsm; actions: FsmAction[]; all: FsmAction[][] } {
  let fsm = newFsm(config);
  let actions: FsmAction[] = [];
  const all: FsmAction[][] = [];
  for (const e of events) {
    ({ fsm, actions } = step(fsm, e));
    all.push(actions);
  }
  return { fsm, actions, all };
}

const has = (actions: FsmAction[], a: Partial<FsmAction> & { type: FsmAction['type'] }) =>
  actions.some((x) => Object.entries(a).every(([k, v]) => JSON.stringify((x as Record<string, unknown>)[k]) === JSON.stringify(v)));

const toEstablished: FsmEvent[] = [{ type: 'Start' }, { type: 'TcpConnected' }, { type: 'OpenReceived', holdTime: 90 }, { type: 'KeepaliveReceived' }];

describe('BGP FSM (RFC 4271 §8)', () => {
  it('starts in Idle, stopped', () => {
    const f = newFsm(cfg);
    assert.equal(f.state, 'Idle');
    assert.equal(f.stopped, true);
  });

  it('Start: Idle -> Connect, connects and arms ConnectRetry', () => {
    const { fsm, actions } = run([{ type: 'Start' }]);
    assert.equal(fsm.state, 'Connect');
    assert.ok(has(actions, { type: 'connect' }));
    assert.ok(has(actions, { type: 'startTimer', timer: 'connectRetry', seconds: 5 }));
  });

  it('passive Start: Idle -> Active, no connect', () => {
    const { fsm, actions } = run([{ type: 'Start' }], { ...cfg, passive: true });
    assert.equal(fsm.state, 'Active');
    assert.ok(!has(actions, { type: 'connect' }));
  });

  it('TCP up: -> OpenSent, sends OPEN, hold timer at the large value', () => {
    const { fsm, actions } = run([{ type: 'Start' }, { type: 'TcpConnected' }]);
    assert.equal(fsm.state, 'OpenSent');
    assert.ok(has(actions, { type: 'sendOpen' }));
    assert.ok(has(actions, { type: 'startTimer', timer: 'hold', seconds: OPEN_HOLD_TIME }));
    assert.ok(has(actions, { type: 'stopTimer', timer: 'connectRetry' }));
  });

  it('connect failure: Connect -> Active with ConnectRetry armed; its expiry connects again', () => {
    const r = run([{ type: 'Start' }, { type: 'TcpConnectionFails' }]);
    assert.equal(r.fsm.state, 'Active');
    assert.equal(r.fsm.connectRetryCounter, 1);
    const r2 = step(r.fsm, { type: 'ConnectRetryTimerExpires' });
    assert.equal(r2.fsm.state, 'Connect');
    assert.ok(has(r2.actions, { type: 'connect' }));
  });

  it('ConnectRetry expiry in Connect drops the attempt and retries', () => {
    const { fsm, actions } = run([{ type: 'Start' }, { type: 'ConnectRetryTimerExpires' }]);
    assert.equal(fsm.state, 'Connect');
    assert.deepEqual(actions.map((a) => a.type), ['close', 'startTimer', 'connect']);
  });

  it('passive peers never connect, even on ConnectRetry expiry', () => {
    const { fsm, actions } = run([{ type: 'Start' }, { type: 'ConnectRetryTimerExpires' }], { ...cfg, passive: true });
    assert.equal(fsm.state, 'Active');
    assert.ok(!has(actions, { type: 'connect' }));
  });

  it('OPEN accepted: -> OpenConfirm, KEEPALIVE sent, negotiated timers', () => {
    const { fsm, actions } = run([{ type: 'Start' }, { type: 'TcpConnected' }, { type: 'OpenReceived', holdTime: 9 }]);
    assert.equal(fsm.state, 'OpenConfirm');
    assert.equal(fsm.holdTime, 9);
    assert.equal(fsm.keepaliveTime, 3);
    assert.ok(has(actions, { type: 'sendKeepalive' }));
    assert.ok(has(actions, { type: 'startTimer', timer: 'hold', seconds: 9 }));
    assert.ok(has(actions, { type: 'startTimer', timer: 'keepalive', seconds: 3 }));
  });

  it('negotiated hold time 0: no keepalives and no hold timer (§4.4)', () => {
    const { fsm, actions } = run([{ type: 'Start' }, { type: 'TcpConnected' }, { type: 'OpenReceived', holdTime: 0 }]);
    assert.equal(fsm.keepaliveTime, 0);
    assert.ok(has(actions, { type: 'stopTimer', timer: 'hold' }));
    assert.ok(!actions.some((a) => a.type === 'startTimer'));
    const est = step(fsm, { type: 'KeepaliveReceived' });
    assert.equal(est.fsm.state, 'Established');
    assert.ok(!est.actions.some((a) => a.type === 'startTimer'));
  });

  it('KEEPALIVE in OpenConfirm: -> Established', () => {
    const { fsm, actions } = run(toEstablished);
    assert.equal(fsm.state, 'Established');
    assert.ok(has(actions, { type: 'established' }));
    assert.ok(has(actions, { type: 'startTimer', timer: 'hold', seconds: 90 }));
    assert.equal(fsm.failures, 0);
  });

  it('UPDATE, KEEPALIVE and ROUTE-REFRESH restart the hold timer in Established', () => {
    for (const type of ['UpdateReceived', 'KeepaliveReceived', 'RouteRefreshReceived'] as const) {
      const { actions } = run([...toEstablished, { type }]);
      assert.deepEqual(actions, [{ type: 'startTimer', timer: 'hold', seconds: 90 }], type);
    }
  });

  it('keepalive timer sends KEEPALIVE and re-arms', () => {
    const { actions } = run([...toEstablished, { type: 'KeepaliveTimerExpires' }]);
    assert.deepEqual(actions, [{ type: 'sendKeepalive' }, { type: 'startTimer', timer: 'keepalive', seconds: 30 }]);
  });

  for (const state of ['OpenSent', 'OpenConfirm', 'Established'] as FsmState[]) {
    it(`hold timer expiry in ${state}: NOTIFICATION 4/0, Idle, automatic restart armed`, () => {
      const prefix = toEstablished.slice(0, state === 'OpenSent' ? 2 : state === 'OpenConfirm' ? 3 : 4);
      const { fsm, actions } = run([...prefix, { type: 'HoldTimerExpires' }]);
      assert.equal(fsm.state, 'Idle');
      assert.ok(has(actions, { type: 'sendNotification', notification: { code: 4, subcode: 0 } }));
      assert.ok(has(actions, { type: 'close' }));
      assert.ok(has(actions, { type: 'down', reason: 'hold-timer-expired', wasEstablished: state === 'Established' }));
      assert.ok(has(actions, { type: 'startTimer', timer: 'idleHold' }));
      assert.equal(fsm.lastDown?.reason, 'hold-timer-expired');
    });
  }

  it('unexpected messages are FSM errors with the RFC 6608 subcode of the state', () => {
    const a = run([{ type: 'Start' }, { type: 'TcpConnected' }, { type: 'UpdateReceived' }]);
    assert.ok(has(a.actions, { type: 'sendNotification', notification: { code: 5, subcode: 1 } }));
    const b = run([{ type: 'Start' }, { type: 'TcpConnected' }, { type: 'OpenReceived', holdTime: 90 }, { type: 'UpdateReceived' }]);
    assert.ok(has(b.actions, { type: 'sendNotification', notification: { code: 5, subcode: 2 } }));
    const c = run([...toEstablished, { type: 'OpenReceived', holdTime: 90 }]);
    assert.ok(has(c.actions, { type: 'sendNotification', notification: { code: 5, subcode: 3 } }));
    assert.equal(c.fsm.state, 'Idle');
  });

  it('a message error sends the given NOTIFICATION and goes Idle', () => {
    const n = { code: 3, subcode: 1 };
    const { fsm, actions } = run([...toEstablished, { type: 'MessageError', notification: n, reason: 'update-error' }]);
    assert.equal(fsm.state, 'Idle');
    assert.ok(has(actions, { type: 'sendNotification', notification: n }));
    assert.ok(has(actions, { type: 'down', reason: 'update-error', wasEstablished: true }));
  });

  it('a received NOTIFICATION closes without answering', () => {
    const { fsm, actions } = run([...toEstablished, { type: 'NotificationReceived', notification: { code: 6, subcode: 2 } }]);
    assert.equal(fsm.state, 'Idle');
    assert.ok(!actions.some((a) => a.type === 'sendNotification'));
    assert.ok(has(actions, { type: 'down', reason: 'notification-received' }));
  });

  it('Stop sends Cease with the given subcode (RFC 4486), stays down, no automatic restart', () => {
    const { fsm, actions } = run([...toEstablished, { type: 'Stop', subcode: 2 }]);
    assert.equal(fsm.state, 'Idle');
    assert.equal(fsm.stopped, true);
    assert.ok(has(actions, { type: 'sendNotification', notification: { code: 6, subcode: 2 } }));
    assert.ok(!has(actions, { type: 'startTimer', timer: 'idleHold' }));
    const again = step(fsm, { type: 'IdleHoldTimerExpires' });
    assert.equal(again.fsm.state, 'Idle');
    assert.deepEqual(again.actions, []);
  });

  it('Stop before a session exists sends nothing', () => {
    const { actions } = run([{ type: 'Start' }, { type: 'Stop', subcode: 2 }]);
    assert.ok(!actions.some((a) => a.type === 'sendNotification'));
  });

  it('after an error, IdleHold expiry restarts automatically; backoff doubles and is capped', () => {
    let r = run([...toEstablished, { type: 'HoldTimerExpires' }]);
    assert.equal(r.fsm.failures, 1);
    assert.equal(idleHoldSeconds(r.fsm), 5);
    const restarted = step(r.fsm, { type: 'IdleHoldTimerExpires' });
    assert.equal(restarted.fsm.state, 'Connect');
    let f = r.fsm;
    for (let i = 0; i < 12; i++) f = step(step(f, { type: 'IdleHoldTimerExpires' }).fsm, { type: 'TcpConnected' }).fsm, (f = step(f, { type: 'HoldTimerExpires' }).fsm);
    assert.equal(idleHoldSeconds(f), 120);
    r = run([...toEstablished, { type: 'HoldTimerExpires' }, { type: 'IdleHoldTimerExpires' }, { type: 'TcpConnected' }, { type: 'OpenReceived', holdTime: 90 }, { type: 'KeepaliveReceived' }]);
    assert.equal(r.fsm.failures, 0, 'reaching Established resets the backoff');
  });

  it('OpenSent connection loss goes to Active with ConnectRetry (§8.2.2)', () => {
    const { fsm, actions } = run([{ type: 'Start' }, { type: 'TcpConnected' }, { type: 'TcpConnectionFails' }]);
    assert.equal(fsm.state, 'Active');
    assert.ok(has(actions, { type: 'startTimer', timer: 'connectRetry', seconds: 5 }));
  });

  it('connection loss in Established: down, Idle', () => {
    const { fsm, actions } = run([...toEstablished, { type: 'TcpConnectionFails' }]);
    assert.equal(fsm.state, 'Idle');
    assert.ok(has(actions, { type: 'down', reason: 'connection-closed', wasEstablished: true }));
  });

  it('collision: the higher BGP Identifier keeps the connection it initiated (§6.8)', () => {
    assert.equal(collisionWinner(0x0a000002, 0x0a000001), 'ours');
    assert.equal(collisionWinner(0x0a000001, 0x0a000002), 'theirs');
    assert.equal(collisionWinner(0xc0000001, 0x0a000001), 'ours', 'compared unsigned');
  });
});
