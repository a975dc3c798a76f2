import assert from 'node:assert/strict';
import { WatchDelivery } from '../../../../src/datastore/store/watch-delivery.js';
import type { WatchNotification } from '../../../../src/datastore/store/types.js';

const put = (revision: number): WatchNotification => ({ type: 'put', key: { kind: 'K', name: String(revision) }, value: revision, revision });

describe('watch delivery', () => {
  it('delivers in order, one at a time, and keeps going after a handler error', async () => {
    const seen: number[] = [];
    const errors: unknown[] = [];
    const d = new WatchDelivery(
      async (n) => {
        if (n.type !== 'put') return;
        await new Promise((r) => setTimeout(r, 3 - (n.revision % 3)));
        seen.push(n.revision);
        if (n.revision === 2) throw new Error('boom');
      },
      0,
      (e) => errors.push(e),
    );
    for (let r = 1; r <= 6; r++) d.push(put(r));
    assert.equal(d.lastRevision, 6);
    await d.idle();
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
    assert.equal(errors.length, 1);
  });

  it('ends after a resync and drops what is queued on stop', async () => {
    const seen: string[] = [];
    const d = new WatchDelivery((n) => void seen.push(n.type), 0, () => undefined);
    d.push(put(1));
    d.push({ type: 'resync', reason: 'compacted', fromRevision: 1, compactRevision: 5 });
    d.push(put(7));
    assert.equal(d.closed, true);
    await d.idle();
    assert.deepEqual(seen, ['put', 'resync']);

    const seen2: number[] = [];
    const d2 = new WatchDelivery((n) => void (n.type === 'put' && seen2.push(n.revision)), 0, () => undefined);
    d2.push(put(1));
    d2.push(put(2));
    d2.stop();
    await d2.idle();
    assert.deepEqual(seen2, []);
  });
});
