import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../../src/datastore/store/index.js';
import { waitFor } from '../../../src/lab/wait.js';
import { DatastoreSync, type DatastoreChange } from '../../../src/node/datastore-sync.js';

describe('daemon: DatastoreSync (list, watch, re-list) on the embedded store', function () {
  this.timeout(20_000);
  let dir: string;
  let store: Store;
  let sync: DatastoreSync;
  const changes: DatastoreChange[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tabby-sync-'));
    store = await openStore({ type: 'embedded', path: dir, unsafeNoSync: true });
    changes.length = 0;
  });

  afterEach(async () => {
    await sync?.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads a consistent snapshot first (all kinds, `all`), then delivers each change once, batched per tick', async () => {
    await store.put({ kind: 'IPPool', name: 'p1' }, { spec: { cidr: '10.0.0.0/16' } });
    await store.put({ kind: 'WorkloadEndpoint', namespace: 'ns1', name: 'w1' }, { v: 1 });
    sync = new DatastoreSync(store, { onChange: (c) => changes.push(c), probeIntervalMs: 100 });
    await sync.start();
    assert.equal(changes.length, 1);
    assert.equal(changes[0]!.all, true);
    assert.deepEqual([...changes[0]!.kinds].sort(), ['IPPool', 'WorkloadEndpoint']);
    assert.deepEqual(sync.get('WorkloadEndpoint', 'ns1/w1'), { v: 1 });
    assert.equal(sync.health().inSync, true);

    await store.put({ kind: 'WorkloadEndpoint', namespace: 'ns1', name: 'w2' }, { v: 2 });
    await store.delete({ kind: 'IPPool', name: 'p1' });
    const deltaKeys = () => changes.slice(1).flatMap((c) => [...c.keys.entries()].flatMap(([k, ks]) => [...ks].map((x) => `${k}:${x}`)));
    await waitFor('both changes delivered', () => deltaKeys().length >= 2, { timeoutMs: 10_000 });
    assert.ok(changes.slice(1).every((c) => !c.all));
    assert.deepEqual(deltaKeys().sort(), ['IPPool:p1', 'WorkloadEndpoint:ns1/w2']);
    assert.equal(sync.get('IPPool', 'p1'), undefined);
    assert.equal(sync.health().revision, await store.currentRevision());
  });

  it('on a resync signal re-lists: the cache equals the store again and consumers get an `all` change', async () => {
    // The real store, with its watch handlers captured so the test can signal a resync
    // exactly as the store does when the watch's history was compacted away.
    const handlers: ((n: unknown) => unknown)[] = [];
    const spy = new Proxy(store, {
      get(target, prop, recv) {
        if (prop === 'watch') {
          return async (sel: unknown, opts: unknown, h: (n: unknown) => unknown) => {
            handlers.push(h);
            return (target.watch as (...a: unknown[]) => Promise<unknown>).call(target, sel, opts, () => undefined);
          };
        }
        const v = Reflect.get(target, prop, recv) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    await store.put({ kind: 'Node', name: 'a' }, { n: 1 });
    sync = new DatastoreSync(spy, { onChange: (c) => changes.push(c), probeIntervalMs: 100 });
    await sync.start();
    assert.deepEqual([...sync.kind('Node').keys()], ['a']);
    // Changes the (muted) watch never delivers: only a re-list can find them.
    await store.put({ kind: 'Node', name: 'b' }, { n: 2 });
    await store.delete({ kind: 'Node', name: 'a' });
    handlers[0]!({ type: 'resync', reason: 'compacted', fromRevision: 1, compactRevision: 3 });
    await waitFor('re-listed', () => handlers.length === 2 && changes.length === 2, { timeoutMs: 10_000 });
    assert.equal(changes[1]!.all, true);
    assert.deepEqual([...sync.kind('Node').keys()], ['b']);
    assert.equal(sync.health().resyncs, 1);
  });

  it('reports the store unreachable once it is closed, and keeps the last known state', async () => {
    await store.put({ kind: 'IPPool', name: 'p1' }, { spec: {} });
    sync = new DatastoreSync(store, { onChange: (c) => changes.push(c), probeIntervalMs: 50, probeTimeoutMs: 200 });
    await sync.start();
    await store.close();
    await waitFor('probe notices', () => sync.health().connected === false, { timeoutMs: 5_000 });
    assert.ok(sync.get('IPPool', 'p1'), 'the cache still has the pool');
    assert.ok(sync.health().lastProbeError);
    store = await openStore({ type: 'embedded', path: dir, unsafeNoSync: true });
  });
});
