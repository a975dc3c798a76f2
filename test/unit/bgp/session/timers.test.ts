import assert from 'node:assert/strict';
import { FsmTimers, ManualClock } from '../../../../src/bgp/session/timers.js';
import type { TimerName } from '../../../../src/bgp/session/fsm.js';

describe('FSM timers', () => {
  it('fires after the interval, hold never jittered, others jittered to [0.75, 1]', () => {
    const clock = new ManualClock();
    const fired: [TimerName, number][] = [];
    const timers = new FsmTimers(clock, (t) => fired.push([t, clock.now()]), () => 0);
    timers.start('hold', 90);
    timers.start('keepalive', 30);
    clock.advance(22_499);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired, [['keepalive', 22_500]]);
    clock.advance(90_000);
    assert.deepEqual(fired, [['keepalive', 22_500], ['hold', 90_000]]);
    assert.equal(timers.running('hold'), false);
  });

  it('restarting a timer cancels the previous one; stop cancels', () => {
    const clock = new ManualClock();
    const fired: TimerName[] = [];
    const timers = new FsmTimers(clock, (t) => fired.push(t), () => 0.999999);
    timers.start('hold', 3);
    clock.advance(2000);
    timers.start('hold', 3);
    clock.advance(2000);
    assert.deepEqual(fired, []);
    clock.advance(1000);
    assert.deepEqual(fired, ['hold']);
    timers.start('connectRetry', 5);
    timers.stop('connectRetry');
    clock.advance(10_000);
    assert.deepEqual(fired, ['hold']);
  });
});
