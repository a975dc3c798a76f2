import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeaseKeeper, openStore, type Store } from '../../../../src/datastore/store/index.js';
import { sleep, waitFor } from './helpers.js';

describe('LeaseKeeper', function () {
  this.timeout(60_000);
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), `tby-keeper-${process.pid}-`));
    store = await openStore({ type: 'embedded', path: join(dir, 'store') });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps a lease alive until stopped, then its keys expire', async () => {
    const lease = await store.grantLease(1);
    const key = { kind: 'Node', name: 'n1' };
    await store.put(key, { up: true }, { lease: lease.id });
    const lost: Error[] = [];
    const keeper = new LeaseKeeper(store, lease, (e) => lost.push(e)).start();
    await sleep(3_000); // three TTLs
    assert.ok(await store.get(key), 'alive while kept');
    keeper.stop();
    await waitFor('the key to expire', async () => (await store.get(key)) === undefined, 20_000);
    assert.deepEqual(lost, []);
  });

  it('reports the loss once when the lease is revoked behind its back', async () => {
    const lease = await store.grantLease(1);
    const lost: Error[] = [];
    const keeper = new LeaseKeeper(store, lease, (e) => lost.push(e)).start();
    await store.revokeLease(lease.id);
    await waitFor('the loss', () => lost.length > 0, 10_000);
    await sleep(800);
    assert.equal(lost.length, 1);
    assert.match(lost[0]!.message, new RegExp(`lease ${lease.id} not found`));
    keeper.stop();
  });
});
