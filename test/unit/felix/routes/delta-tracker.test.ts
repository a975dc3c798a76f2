import assert from 'node:assert/strict';
import { DeltaTracker } from '../../../../src/felix/delta-tracker.js';

describe('felix DeltaTracker', () => {
  const sorted = (s: ReadonlySet<string>) => [...s].sort();

  it('keeps the pending sets of the desired/dataplane Venn diagram', () => {
    const t = new DeltaTracker<string, number>((d, a) => d === a);
    t.setDesired('a', 1);
    t.setDesired('b', 2);
    t.setDataplane('b', 2);
    t.setDataplane('c', 3);
    assert.deepEqual(sorted(t.pendingUpdates), ['a']);
    assert.deepEqual(sorted(t.pendingDeletions), ['c']);
    assert.equal(t.inSyncCount, 1);
    t.setDataplane('b', 9); // drift
    assert.deepEqual(sorted(t.pendingUpdates), ['a', 'b']);
    t.deleteDesired('b');
    assert.deepEqual(sorted(t.pendingUpdates), ['a']);
    assert.deepEqual(sorted(t.pendingDeletions), ['b', 'c']);
    t.setDataplane('a', 1);
    t.deleteDataplane('b');
    t.deleteDataplane('c');
    assert.equal(t.pendingUpdates.size + t.pendingDeletions.size, 0);
  });

  it('replaces the dataplane view wholesale (resync) and re-derives both sets', () => {
    const t = new DeltaTracker<string, number>((d, a) => d === a);
    t.setDesired('a', 1);
    t.setDesired('b', 2);
    t.setDataplane('a', 1);
    t.setDataplane('b', 2);
    t.replaceDataplane([['a', 1], ['x', 5]]);
    assert.deepEqual(sorted(t.pendingUpdates), ['b']);
    assert.deepEqual(sorted(t.pendingDeletions), ['x']);
    assert.deepEqual([...t.dataplane.keys()].sort(), ['a', 'x']);
  });

  it('uses the (possibly asymmetric) in-sync predicate', () => {
    const t = new DeltaTracker<string, { want: number }, { have: number; extra: string }>((d, a) => d.want === a.have);
    t.setDesired('k', { want: 1 });
    t.setDataplane('k', { have: 1, extra: 'kernel detail' });
    assert.equal(t.pendingUpdates.size, 0);
  });
});
