/**
 * The store contract: one suite, run against every backend
 * (embedded.test.ts, etcd.test.ts). A backend passes when it behaves the
 * same as the other on every case here.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  AlreadyExistsError,
  ConflictError,
  InvalidArgumentError,
  LeaseNotFoundError,
  NotFoundError,
  openStore,
  type Store,
  type StoreConfig,
  type StoreKey,
} from '../../../../src/datastore/store/index.js';
import { collect, summarise, waitFor } from './helpers.js';

export interface BackendHarness {
  name: string;
  /** The config of a fresh, empty store, isolated from every other test's. */
  freshConfig(): Promise<StoreConfig>;
  /** Restarts the server behind the store (etcd); absent for backends without one. */
  restartServer?(): Promise<void>;
}

const pool = (name: string): StoreKey => ({ kind: 'IPPool', name });
const wep = (ns: string, name: string): StoreKey => ({ kind: 'WorkloadEndpoint', namespace: ns, name });

export function storeContract(h: BackendHarness): void {
  describe(`store contract (${h.name})`, function () {
    this.timeout(120_000);
    let config: StoreConfig;
    let store: Store;
    const extra: Store[] = [];

    beforeEach(async () => {
      config = await h.freshConfig();
      store = await openStore(config);
    });

    afterEach(async () => {
      await store.close();
      for (const s of extra.splice(0)) await s.close();
    });

    async function another(): Promise<Store> {
      const s = await openStore(config);
      extra.push(s);
      return s;
    }

    describe('CRUD', () => {
      it('creates, reads, lists, updates, puts and deletes with increasing revisions', async () => {
        const r0 = await store.currentRevision();
        const r1 = await store.create(pool('a'), { cidr: '10.0.0.0/16' });
        assert.ok(r1 > r0);
        assert.deepEqual(await store.get(pool('a')), { value: { cidr: '10.0.0.0/16' }, revision: r1 });
        const r2 = await store.update(pool('a'), { cidr: '10.1.0.0/16' });
        assert.ok(r2 > r1);
        const r3 = await store.put(pool('b'), { cidr: '10.2.0.0/16' });
        const r4 = await store.put(pool('b'), { cidr: '10.3.0.0/16' });
        assert.ok(r3 > r2 && r4 > r3);
        const list = await store.list('IPPool');
        assert.equal(list.revision, r4);
        assert.deepEqual(
          list.items.map((i) => [i.key, i.value, i.revision]),
          [
            [pool('a'), { cidr: '10.1.0.0/16' }, r2],
            [pool('b'), { cidr: '10.3.0.0/16' }, r4],
          ],
        );
        const r5 = await store.delete(pool('a'));
        assert.ok(r5 > r4);
        assert.equal(await store.get(pool('a')), undefined);
        assert.equal(await store.currentRevision(), r5);
        assert.deepEqual((await store.list('IPPool')).items.map((i) => i.key.name), ['b']);
      });

      it('returns copies: mutating a read value does not change the store', async () => {
        await store.create(pool('a'), { tags: ['x'] });
        const got = await store.get<{ tags: string[] }>(pool('a'));
        got!.value.tags.push('mutated');
        assert.deepEqual((await store.get(pool('a')))!.value, { tags: ['x'] });
      });

      it('create of an existing key fails with AlreadyExistsError naming the key and leaves it alone', async () => {
        const rev = await store.create(pool('a'), { v: 1 });
        await assert.rejects(store.create(pool('a'), { v: 2 }), (err: unknown) => {
          assert.ok(err instanceof AlreadyExistsError);
          assert.match(err.message, /IPPool "a" already exists/);
          assert.equal(err.revision, rev);
          return true;
        });
        assert.deepEqual(await store.get(pool('a')), { value: { v: 1 }, revision: rev });
        assert.equal(await store.currentRevision(), rev);
      });

      it('update and delete are compare-and-swap on the mod revision', async () => {
        const r1 = await store.create(pool('a'), { v: 1 });
        const r2 = await store.update(pool('a'), { v: 2 }, { expectRevision: r1 });
        await assert.rejects(store.update(pool('a'), { v: 3 }, { expectRevision: r1 }), (err: unknown) => {
          assert.ok(err instanceof ConflictError);
          assert.equal(err.expectedRevision, r1);
          assert.equal(err.actualRevision, r2);
          assert.match(err.message, /conflict on IPPool "a": expected revision \d+, found revision \d+/);
          return true;
        });
        await assert.rejects(store.delete(pool('a'), { expectRevision: r1 }), ConflictError);
        assert.deepEqual(await store.get(pool('a')), { value: { v: 2 }, revision: r2 });
        await store.delete(pool('a'), { expectRevision: r2 });
        assert.equal(await store.get(pool('a')), undefined);
      });

      it('update and delete of an absent key fail with NotFoundError', async () => {
        await assert.rejects(store.update(pool('nope'), { v: 1 }), (err: unknown) => err instanceof NotFoundError && /IPPool "nope" not found/.test(err.message));
        await assert.rejects(store.update(pool('nope'), { v: 1 }, { expectRevision: 5 }), NotFoundError);
        await assert.rejects(store.delete(pool('nope')), NotFoundError);
        assert.equal(await store.get(pool('nope')), undefined);
      });

      it('separates kinds, namespaces and cluster scope; a kind is not a prefix of another', async () => {
        await store.create(wep('ns1', 'w1'), { n: 1 });
        await store.create(wep('ns1', 'w2'), { n: 2 });
        await store.create(wep('ns2', 'w1'), { n: 3 });
        await store.create({ kind: 'WorkloadEndpointX', name: 'x' }, { n: 4 });
        await store.create({ kind: 'ipam-block', name: '10.0.0.0-26' }, { n: 5 });
        await store.create({ kind: 'ipam-block', name: 'fd00::-122' }, { n: 6 });
        const names = (l: { items: { key: StoreKey }[] }) => l.items.map((i) => `${i.key.namespace ?? '-'}/${i.key.name}`);
        assert.deepEqual(names(await store.list('WorkloadEndpoint')), ['ns1/w1', 'ns1/w2', 'ns2/w1']);
        assert.deepEqual(names(await store.list('WorkloadEndpoint', { namespace: 'ns1' })), ['ns1/w1', 'ns1/w2']);
        assert.deepEqual(names(await store.list({ kind: 'WorkloadEndpoint', namespace: 'ns2' })), ['ns2/w1']);
        assert.deepEqual(names(await store.list('ipam-block')), ['-/10.0.0.0-26', '-/fd00::-122']);
        assert.deepEqual(names(await store.list({ prefix: 'ipam-' })), ['-/10.0.0.0-26', '-/fd00::-122']);
        assert.deepEqual(await store.get(wep('ns2', 'w1')), { value: { n: 3 }, revision: (await store.get(wep('ns2', 'w1')))!.revision });
        assert.equal(await store.get(wep('ns3', 'w1')), undefined);
        assert.deepEqual((await store.list('Nothing')).items, []);
      });

      it('rejects malformed keys and values with InvalidArgumentError', async () => {
        await assert.rejects(store.put({ kind: 'IPPool', name: 'a/b' }, {}), InvalidArgumentError);
        await assert.rejects(store.put({ kind: 'IP Pool', name: 'a' }, {}), InvalidArgumentError);
        await assert.rejects(store.put({ kind: 'IPPool', name: '' }, {}), InvalidArgumentError);
        await assert.rejects(store.put({ kind: 'IPPool', namespace: '..', name: 'x' }, {}), InvalidArgumentError);
        await assert.rejects(store.put(pool('a'), undefined), InvalidArgumentError);
        await assert.rejects(store.put(pool('a'), { n: 10n }), InvalidArgumentError);
        assert.deepEqual((await store.list({ prefix: '' })).items, []);
      });
    });

    describe('transactions', () => {
      it('apply all ops at one revision when every compare holds', async () => {
        const ra = await store.create(pool('a'), { v: 1 });
        await store.create(pool('c'), { v: 3 });
        const r = await store.txn({
          compare: [
            { key: pool('a'), revision: ra },
            { key: pool('b'), revision: 0 },
            { key: pool('c'), exists: true },
          ],
          ops: [
            { type: 'put', key: pool('a'), value: { v: 10 } },
            { type: 'put', key: pool('b'), value: { v: 20 } },
            { type: 'delete', key: pool('c') },
          ],
        });
        assert.equal(r.succeeded, true);
        assert.equal((await store.get(pool('a')))!.revision, r.revision);
        assert.equal((await store.get(pool('b')))!.revision, r.revision);
        assert.equal(await store.get(pool('c')), undefined);
        assert.equal(await store.currentRevision(), r.revision);
      });

      it('apply nothing when one compare fails, and report the current revisions', async () => {
        const ra = await store.create(pool('a'), { v: 1 });
        const rb = await store.create(pool('b'), { v: 2 });
        const before = await store.currentRevision();
        const r = await store.txn({
          compare: [
            { key: pool('a'), revision: ra },
            { key: pool('b'), revision: rb - 1 }, // stale
            { key: pool('z'), revision: 0 },
          ],
          ops: [
            { type: 'put', key: pool('a'), value: { v: 100 } },
            { type: 'delete', key: pool('b') },
            { type: 'put', key: pool('z'), value: { v: 0 } },
          ],
        });
        assert.equal(r.succeeded, false);
        assert.ok(!r.succeeded);
        assert.deepEqual(
          r.current.map((c) => [c.key.name, c.revision]),
          [
            ['a', ra],
            ['b', rb],
            ['z', 0],
          ],
        );
        assert.equal(await store.currentRevision(), before);
        assert.deepEqual((await store.get(pool('a')))!.value, { v: 1 });
        assert.deepEqual((await store.get(pool('b')))!.value, { v: 2 });
        assert.equal(await store.get(pool('z')), undefined);
      });

      it('fail an "absent" compare on a present key and an "exists" compare on an absent one', async () => {
        await store.create(pool('a'), { v: 1 });
        const r1 = await store.txn({ compare: [{ key: pool('a'), revision: 0 }], ops: [{ type: 'put', key: pool('x'), value: 1 }] });
        const r2 = await store.txn({ compare: [{ key: pool('nope'), exists: true }], ops: [{ type: 'put', key: pool('x'), value: 1 }] });
        assert.equal(r1.succeeded, false);
        assert.equal(r2.succeeded, false);
        assert.equal(await store.get(pool('x')), undefined);
      });

      it('treat a delete of an absent key as a no-op that creates no revision', async () => {
        const before = await store.currentRevision();
        const r = await store.txn({ compare: [], ops: [{ type: 'delete', key: pool('nope') }] });
        assert.deepEqual(r, { succeeded: true, revision: before });
        assert.equal(await store.currentRevision(), before);
      });

      it('refuse to modify one key twice', async () => {
        await assert.rejects(
          store.txn({
            compare: [],
            ops: [
              { type: 'put', key: pool('a'), value: 1 },
              { type: 'delete', key: pool('a') },
            ],
          }),
          InvalidArgumentError,
        );
        assert.equal(await store.get(pool('a')), undefined);
      });
    });

    describe('watch', () => {
      it('delivers puts and deletes of the selected keys in revision order, a transaction at one revision', async () => {
        const all = await collect(store, 'WorkloadEndpoint');
        const ns1 = await collect(store, { kind: 'WorkloadEndpoint', namespace: 'ns1' });
        await store.create(wep('ns1', 'a'), { v: 1 });
        await store.create(pool('p'), { v: 'ignored' });
        await store.create(wep('ns2', 'b'), { v: 2 });
        const t = await store.txn({
          compare: [],
          ops: [
            { type: 'put', key: wep('ns1', 'a'), value: { v: 3 } },
            { type: 'put', key: wep('ns1', 'c'), value: { v: 4 } },
            { type: 'delete', key: wep('ns2', 'b') },
          ],
        });
        await store.delete(wep('ns1', 'a'));
        await all.waitCount(6);
        await ns1.waitCount(4);
        assert.deepEqual(summarise(all.got), [
          'put WorkloadEndpoint/ns1/a={"v":1}',
          'put WorkloadEndpoint/ns2/b={"v":2}',
          'put WorkloadEndpoint/ns1/a={"v":3}',
          'put WorkloadEndpoint/ns1/c={"v":4}',
          'delete WorkloadEndpoint/ns2/b',
          'delete WorkloadEndpoint/ns1/a',
        ]);
        assert.deepEqual(summarise(ns1.got), [
          'put WorkloadEndpoint/ns1/a={"v":1}',
          'put WorkloadEndpoint/ns1/a={"v":3}',
          'put WorkloadEndpoint/ns1/c={"v":4}',
          'delete WorkloadEndpoint/ns1/a',
        ]);
        const revs = all.got.map((n) => (n.type === 'resync' ? -1 : n.revision));
        assert.deepEqual(revs.slice(2, 5), [t.revision, t.revision, t.revision]);
        for (let i = 1; i < revs.length; i++) assert.ok(revs[i]! >= revs[i - 1]!, 'revisions never go back');
        assert.equal(all.handle.lastRevision, revs.at(-1));
        await all.handle.stop();
        await ns1.handle.stop();
      });

      it('waits for an async handler before delivering the next event', async () => {
        const seen: number[] = [];
        let inFlight = 0;
        let maxInFlight = 0;
        const h = await store.watch('IPPool', {}, async (n) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((r) => setTimeout(r, 5));
          if (n.type === 'put') seen.push((n.value as { i: number }).i);
          inFlight--;
        });
        for (let i = 0; i < 10; i++) await store.put(pool(`p${i}`), { i });
        await waitFor('10 events', () => seen.length === 10);
        assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert.equal(maxInFlight, 1);
        await h.stop();
      });

      it('resumes from a revision after the watcher restarts: exactly the missed events, once', async () => {
        const first = await collect(store, 'IPPool');
        await store.put(pool('a'), { v: 1 });
        await store.put(pool('b'), { v: 2 });
        await first.waitCount(2);
        const resumeFrom = first.handle.lastRevision;
        await first.handle.stop();
        // Changes while nobody watches, from another client/process.
        const other = await another();
        await other.put(pool('a'), { v: 3 });
        await other.delete(pool('b'));
        await other.put({ kind: 'Other', name: 'x' }, { v: 'not selected' });
        await other.put(pool('c'), { v: 4 });
        const second = await collect(store, 'IPPool', resumeFrom);
        await other.put(pool('d'), { v: 5 });
        await second.waitCount(4);
        assert.deepEqual(summarise(second.got), ['put IPPool/a={"v":3}', 'delete IPPool/b', 'put IPPool/c={"v":4}', 'put IPPool/d={"v":5}']);
        // Nothing more arrives (no duplicates): a marker write is the next and last event.
        await other.put(pool('z'), { v: 'marker' });
        await second.waitCount(5);
        assert.equal(summarise(second.got).at(-1), 'put IPPool/z={"v":"marker"}');
        assert.equal(second.got.length, 5);
        await second.handle.stop();
      });

      it('list then watch from the list revision misses nothing and repeats nothing', async () => {
        await store.put(pool('a'), { v: 1 });
        const other = await another();
        const list = await store.list('IPPool');
        await other.put(pool('b'), { v: 2 });
        const w = await collect(store, 'IPPool', list.revision);
        await other.put(pool('c'), { v: 3 });
        await w.waitCount(2);
        assert.deepEqual(summarise(w.got), ['put IPPool/b={"v":2}', 'put IPPool/c={"v":3}']);
        await w.handle.stop();
      });

      it('sees changes made through another client', async () => {
        const other = await another();
        const w = await collect(store, { prefix: '' });
        await other.create(pool('x'), { v: 1 });
        await other.delete(pool('x'));
        await w.waitCount(2);
        assert.deepEqual(summarise(w.got), ['put IPPool/x={"v":1}', 'delete IPPool/x']);
        await w.handle.stop();
      });

      it('signals resync when the requested history was compacted', async () => {
        const r1 = await store.put(pool('a'), { v: 1 });
        await store.put(pool('a'), { v: 2 });
        await store.put(pool('a'), { v: 3 });
        const now = await store.currentRevision();
        await store.compact(now);
        const w = await collect(store, 'IPPool', r1 - 1);
        await w.waitCount(1);
        assert.equal(w.got[0]!.type, 'resync');
        const n = w.got[0]!;
        assert.ok(n.type === 'resync' && n.reason === 'compacted' && n.compactRevision >= r1);
        // The watch has ended: later changes are not delivered to it.
        const marker = await collect(store, 'IPPool');
        await store.put(pool('b'), { v: 4 });
        await marker.waitCount(1);
        assert.equal(w.got.length, 1);
        // Watching from the current revision (or the compact revision) still works.
        const ok = await collect(store, 'IPPool', now);
        await store.put(pool('c'), { v: 5 });
        await ok.waitCount(2);
        assert.deepEqual(summarise(ok.got), ['put IPPool/b={"v":4}', 'put IPPool/c={"v":5}']);
        await ok.handle.stop();
        await marker.handle.stop();
      });

      if (h.restartServer) {
        it('keeps delivering exactly once, in order, across a server restart', async () => {
          const w = await collect(store, 'IPPool');
          await store.put(pool('a'), { v: 1 });
          await store.put(pool('b'), { v: 2 });
          await w.waitCount(2);
          await h.restartServer!();
          // Written as soon as the server answers, likely before the watch has reconnected.
          await store.put(pool('a'), { v: 3 });
          await store.delete(pool('b'));
          await store.put(pool('c'), { v: 4 });
          await w.waitCount(5, 60_000);
          await store.put(pool('z'), { v: 'marker' });
          await w.waitCount(6);
          assert.deepEqual(summarise(w.got), [
            'put IPPool/a={"v":1}',
            'put IPPool/b={"v":2}',
            'put IPPool/a={"v":3}',
            'delete IPPool/b',
            'put IPPool/c={"v":4}',
            'put IPPool/z={"v":"marker"}',
          ]);
          await w.handle.stop();
        });
      }
    });

    describe('leases', () => {
      it('removes the keys of a lease that is not kept alive, with a delete event', async () => {
        const lease = await store.grantLease(2);
        assert.ok(lease.ttl >= 2);
        const w = await collect(store, 'Node');
        const rev = await store.put({ kind: 'Node', name: 'n1' }, { up: true }, { lease: lease.id });
        await store.put({ kind: 'Node', name: 'n2' }, { up: true });
        assert.equal((await store.get({ kind: 'Node', name: 'n1' }))!.lease, lease.id);
        await waitFor('the leased key to vanish', async () => (await store.get({ kind: 'Node', name: 'n1' })) === undefined, 30_000);
        await w.waitCount(3, 30_000);
        assert.deepEqual(summarise(w.got), ['put Node/n1={"up":true}', 'put Node/n2={"up":true}', 'delete Node/n1']);
        const del = w.got[2]!;
        assert.ok(del.type === 'delete' && del.revision > rev);
        assert.deepEqual((await store.list('Node')).items.map((i) => i.key.name), ['n2']);
        await assert.rejects(store.keepAliveLease(lease.id), LeaseNotFoundError);
        await w.handle.stop();
      });

      it('keeps the keys of a lease that is kept alive past its TTL', async () => {
        const lease = await store.grantLease(2);
        await store.put({ kind: 'Node', name: 'n1' }, { up: true }, { lease: lease.id });
        const until = Date.now() + lease.ttl * 1000 * 2.5;
        while (Date.now() < until) {
          assert.ok((await store.keepAliveLease(lease.id)) >= 2);
          await new Promise((r) => setTimeout(r, 300));
        }
        assert.deepEqual((await store.get({ kind: 'Node', name: 'n1' }))?.value, { up: true });
        await store.revokeLease(lease.id);
      });

      it('revoke deletes the keys at once; unknown leases are LeaseNotFoundError', async () => {
        const lease = await store.grantLease(60);
        await store.put({ kind: 'Node', name: 'n1' }, { up: true }, { lease: lease.id });
        await store.put({ kind: 'Node', name: 'n2' }, { up: true }, { lease: lease.id });
        const before = await store.currentRevision();
        await store.revokeLease(lease.id);
        assert.equal(await store.get({ kind: 'Node', name: 'n1' }), undefined);
        assert.equal(await store.get({ kind: 'Node', name: 'n2' }), undefined);
        assert.ok((await store.currentRevision()) > before);
        await assert.rejects(store.revokeLease(lease.id), LeaseNotFoundError);
        await assert.rejects(store.put({ kind: 'Node', name: 'n3' }, {}, { lease: lease.id }), LeaseNotFoundError);
        assert.equal(await store.get({ kind: 'Node', name: 'n3' }), undefined);
      });

      it('a put without the lease detaches the key from it', async () => {
        const lease = await store.grantLease(60);
        await store.put({ kind: 'Node', name: 'n1' }, { v: 1 }, { lease: lease.id });
        await store.put({ kind: 'Node', name: 'n1' }, { v: 2 });
        await store.revokeLease(lease.id);
        assert.deepEqual((await store.get({ kind: 'Node', name: 'n1' }))?.value, { v: 2 });
      });
    });

    describe('concurrency', () => {
      it('two processes doing 500 compare-and-swap increments each end at exactly 1000', async function () {
        this.timeout(300_000);
        const key = { kind: 'counter', name: 'shared' };
        const start = await store.create(key, { n: 0 });
        // This process watches the other two count: every value once, in order.
        const seen: number[] = [];
        const watch = await store.watch('counter', { fromRevision: start }, (n) => {
          if (n.type === 'put') seen.push((n.value as { n: number }).n);
        });
        const worker = fileURLToPath(new URL('./cas-worker.js', import.meta.url));
        const children = [0, 1].map(() => fork(worker, [JSON.stringify(config), '500'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
        const results: { conflicts: number }[] = [];
        try {
          await Promise.all(children.map((c) => new Promise<void>((resolve, reject) => {
            c.once('message', () => resolve());
            c.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
          })));
          for (const c of children) c.send('go');
          await Promise.all(
            children.map(
              (c) =>
                new Promise<void>((resolve, reject) => {
                  c.on('message', (m: { done?: number; conflicts: number }) => {
                    if (m.done !== undefined) results.push(m);
                  });
                  c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
                }),
            ),
          );
        } finally {
          for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
        }
        assert.equal(results.length, 2);
        const final = await store.get<{ n: number }>(key);
        assert.equal(final!.value.n, 1000);
        // Each successful increment is exactly one revision; lost CAS attempts create none.
        assert.equal(final!.revision - start, 1000);
        await waitFor('1000 watch events', () => seen.length >= 1000, 60_000);
        assert.deepEqual(seen, Array.from({ length: 1000 }, (_, i) => i + 1));
        await watch.stop();
      });
    });
  });
}
