import assert from 'node:assert/strict';
import { StoreUnavailableError, type Store, type TxnRequest, type TxnResult } from '../../../src/datastore/store/index.js';
import {
  Ipam,
  IpamAddressInUseError,
  IpamContentionError,
  IpamExhaustedError,
  IpamInvalidArgumentError,
  IpamNoPoolError,
  IpamNotAffineError,
  IpamUnavailableError,
  storePoolSource,
  type IpamPoolSpec,
} from '../../../src/ipam/index.js';
import { affinityKey, blockKey, handleKey } from '../../../src/ipam/keys.js';
import { normalizePool } from '../../../src/ipam/pools.js';
import { blockAt, startIndex } from '../../../src/ipam/search.js';
import { addressTextAt, netText, parseStrictNet } from '../../../src/ipam/addr.js';
import { rejectsWith, TempStores } from './helpers.js';

const stores = new TempStores();
after(() => stores.cleanup());

async function setup(pools: IpamPoolSpec[], extra: Partial<ConstructorParameters<typeof Ipam>[0]> = {}): Promise<{ store: Store; ipam: Ipam }> {
  const store = await stores.open();
  return { store, ipam: new Ipam({ store, pools, ...extra }) };
}

/** The block a node claims first in a pool (the hashed start). */
function firstBlock(pool: IpamPoolSpec, node: string): string {
  const p = normalizePool(pool);
  return netText(blockAt(p, startIndex(p, node)));
}

describe('Ipam on the embedded store', function () {
  this.timeout(60_000);

  describe('allocation and block claims', () => {
    const pool: IpamPoolSpec = { name: 'default', cidr: '10.65.0.0/24', blockSize: 26 };

    it('claims the hashed block for a node and hands out its addresses in order', async () => {
      const { store, ipam } = await setup([pool]);
      const b = firstBlock(pool, 'node-1');
      const base = b.split('/')[0]!.split('.').map(Number);
      const addr = (i: number) => `${base[0]}.${base[1]}.${base[2]}.${base[3]! + i}`;
      const r1 = await ipam.autoAssign({ handleId: 'h1', node: 'node-1', num4: 2, attrs: { namespace: 'prod', pod: 'web-1' } });
      assert.deepEqual(r1, { ipv4: [addr(0), addr(1)], ipv6: [] });
      const r2 = await ipam.autoAssign({ handleId: 'h2', node: 'node-1', num4: 1 });
      assert.deepEqual(r2.ipv4, [addr(2)]);
      // The stored shapes documented in README.md.
      const blk = await store.get(blockKey(b));
      assert.deepEqual(blk!.value, {
        cidr: b,
        affinity: 'host:node-1',
        affinityClaimTime: (blk!.value as { affinityClaimTime: string }).affinityClaimTime,
        allocations: { 0: 0, 1: 0, 2: 1 },
        attributes: [{ handle: 'h1', attrs: { node: 'node-1', namespace: 'prod', pod: 'web-1' } }, { handle: 'h2', attrs: { node: 'node-1' } }],
        next: 3,
        sequence: 2,
      });
      assert.deepEqual((await store.get(affinityKey('node-1', b)))!.value, { node: 'node-1', cidr: b, state: 'confirmed' });
      const h = (await store.get<{ handle: string; blocks: Record<string, number>; op: string }>(handleKey('h1')))!.value;
      assert.deepEqual({ ...h, op: typeof h.op }, { handle: 'h1', blocks: { [b]: 2 }, op: 'string' });
      assert.deepEqual(await ipam.blocksOfNode('node-1'), [b]);
      assert.deepEqual(await ipam.ipsByHandle('h1'), [addr(0), addr(1)]);
    });

    it('gives two nodes different blocks and claims a second block when the first is full', async () => {
      const { ipam } = await setup([pool]);
      const a = await ipam.autoAssign({ handleId: 'a1', node: 'node-a', num4: 64 });
      assert.equal(new Set(a.ipv4).size, 64);
      const b = await ipam.autoAssign({ handleId: 'b1', node: 'node-b', num4: 1 });
      const [blockA] = await ipam.blocksOfNode('node-a');
      const [blockB] = await ipam.blocksOfNode('node-b');
      assert.notEqual(blockA, blockB);
      assert.ok(!a.ipv4.includes(b.ipv4[0]!));
      const more = await ipam.autoAssign({ handleId: 'a2', node: 'node-a', num4: 3 });
      const blocks = await ipam.blocksOfNode('node-a');
      assert.equal(blocks.length, 2, 'node-a claimed a second block');
      assert.ok(more.ipv4.every((ip) => !a.ipv4.includes(ip)));
    });

    it('borrows from other nodes\' blocks when the pool has no free block, then reports exhaustion without leaking', async () => {
      const small: IpamPoolSpec = { name: 'small', cidr: '10.66.0.0/25', blockSize: 26 }; // two blocks
      const { ipam } = await setup([small]);
      await ipam.autoAssign({ handleId: 'a-0', node: 'a', num4: 60 });
      await ipam.autoAssign({ handleId: 'b-0', node: 'b', num4: 10 });
      const [blockB] = await ipam.blocksOfNode('b');
      // a fills its block (4 left), then has to borrow 6 from b's block.
      const r = await ipam.autoAssign({ handleId: 'a-1', node: 'a', num4: 10 });
      assert.equal(r.ipv4.length, 10);
      const borrowed = await ipam.borrowedAddresses('a');
      assert.equal(borrowed.length, 6);
      assert.ok(borrowed.every((ip) => ip.startsWith(blockB!.split('.').slice(0, 3).join('.'))));
      assert.deepEqual(await ipam.blocksOfNode('a'), [(await ipam.blocksOfNode('a'))[0]], 'borrowing claims no affinity');
      // 128 - 80 = 48 left; asking for 49 fails and takes nothing.
      const err = await rejectsWith(ipam.autoAssign({ handleId: 'big', node: 'c', num4: 49 }), IpamExhaustedError, /cannot assign 49 IPv4 addresses to handle big on node c \(found 48\)/);
      assert.ok(err.reasons.some((x) => /no free block left in pool small/.test(x)));
      assert.deepEqual(await ipam.ipsByHandle('big'), []);
      assert.equal((await ipam.show()).pools[0]!.allocated, 80);
      const last = await ipam.autoAssign({ handleId: 'c-0', node: 'c', num4: 48 });
      assert.equal(last.ipv4.length, 48);
      assert.deepEqual((await ipam.check()).problems, []);
    });

    it('never borrows under strict affinity', async () => {
      const small: IpamPoolSpec = { name: 'small', cidr: '10.66.0.0/26', blockSize: 26 }; // one block
      const { ipam } = await setup([small]);
      await ipam.autoAssign({ handleId: 'a-0', node: 'a', num4: 1 });
      await ipam.setConfig({ strictAffinity: true });
      assert.equal((await ipam.getConfig()).strictAffinity, true);
      await rejectsWith(ipam.autoAssign({ handleId: 'b-0', node: 'b', num4: 1 }), IpamExhaustedError, /strictAffinity forbids borrowing/);
      await ipam.setConfig({ strictAffinity: false });
      assert.equal((await ipam.autoAssign({ handleId: 'b-0', node: 'b', num4: 1 })).ipv4.length, 1);
    });

    it('stops claiming blocks at maxBlocksPerHost (config or request) and then borrows', async () => {
      const { ipam } = await setup([pool]);
      await ipam.setConfig({ maxBlocksPerHost: 1 });
      await ipam.autoAssign({ handleId: 'b-0', node: 'b', num4: 1 });
      await ipam.autoAssign({ handleId: 'a-0', node: 'a', num4: 64 });
      await ipam.autoAssign({ handleId: 'a-1', node: 'a', num4: 1 });
      assert.equal((await ipam.blocksOfNode('a')).length, 1);
      assert.equal((await ipam.borrowedAddresses('a')).length, 1, 'the 65th address was borrowed from b');
      await ipam.setConfig({ maxBlocksPerHost: 0, strictAffinity: true });
      await rejectsWith(ipam.autoAssign({ handleId: 'a-2', node: 'a', num4: 70, maxBlocksPerHost: 1 }), IpamExhaustedError, /maxBlocksPerHost/);
      await ipam.autoAssign({ handleId: 'a-2', node: 'a', num4: 70 });
      assert.equal((await ipam.blocksOfNode('a')).length, 3, '70 more addresses take two new blocks');
    });

    it('assigns IPv4 and IPv6 together, and IPv6 alone', async () => {
      const v6: IpamPoolSpec = { name: 'v6', cidr: 'fd00:10::/120' }; // four /122 blocks
      const { ipam } = await setup([pool, v6]);
      const r = await ipam.autoAssign({ handleId: 'dual', node: 'n1', num4: 1, num6: 2 });
      assert.equal(r.ipv4.length, 1);
      const b6 = firstBlock(v6, 'n1');
      const net6 = parseStrictNet(b6)!;
      assert.deepEqual(r.ipv6, [addressTextAt(net6, 0), addressTextAt(net6, 1)]);
      assert.match(r.ipv6[1]!, /^fd00:10::[0-9a-f]*1$/);
      assert.deepEqual(await ipam.blocksOfNode('n1', 6), [b6]);
      assert.equal((await ipam.blocksOfNode('n1')).length, 2);
      const only6 = await ipam.autoAssign({ handleId: 'v6only', node: 'n1', num6: 1 });
      assert.deepEqual(only6.ipv4, []);
      assert.equal(only6.ipv6.length, 1);
      const { released } = await ipam.releaseByHandle('dual');
      assert.equal(released.length, 3);
    });

    it('respects disabled pools, nodeSelector, allowedUses and requested pools', async () => {
      const pools: IpamPoolSpec[] = [
        { name: 'zone-a', cidr: '10.70.0.0/24', nodeSelector: 'zone == "a"' },
        { name: 'zone-b', cidr: '10.71.0.0/24', nodeSelector: 'zone == "b"' },
        { name: 'old', cidr: '10.72.0.0/24', disabled: true },
        { name: 'tunnels', cidr: '10.73.0.0/24', allowedUses: ['Tunnel'] },
      ];
      const { ipam } = await setup(pools);
      const a = await ipam.autoAssign({ handleId: 'w1', node: 'n1', nodeLabels: { zone: 'a' }, num4: 1 });
      assert.match(a.ipv4[0]!, /^10\.70\.0\./);
      const b = await ipam.autoAssign({ handleId: 'w2', node: 'n2', nodeLabels: { zone: 'b' }, num4: 1 });
      assert.match(b.ipv4[0]!, /^10\.71\.0\./);
      await rejectsWith(ipam.autoAssign({ handleId: 'w3', node: 'n3', nodeLabels: { zone: 'c' }, num4: 1 }), IpamNoPoolError, /no enabled IPv4 pool selects node n3/);
      const t = await ipam.autoAssign({ handleId: 'tun', node: 'n3', nodeLabels: {}, num4: 1, use: 'Tunnel' });
      assert.match(t.ipv4[0]!, /^10\.73\.0\./);
      const r = await ipam.autoAssign({ handleId: 'w4', node: 'n1', nodeLabels: { zone: 'a' }, num4: 1, pools: ['zone-b'] });
      assert.match(r.ipv4[0]!, /^10\.71\.0\./, 'an explicit pool ignores the selector');
      await rejectsWith(ipam.autoAssign({ handleId: 'w5', node: 'n1', num4: 1, pools: ['old'] }), IpamNoPoolError, /disabled/);
      await rejectsWith(ipam.autoAssign({ handleId: 'w6', node: 'n1', num6: 1 }), IpamNoPoolError, /IPv6/);
    });

    it('lets go of an empty affine block once no pool selecting the node contains it', async () => {
      const store = await stores.open();
      let pools: IpamPoolSpec[] = [{ name: 'p1', cidr: '10.80.0.0/24', nodeSelector: 'all()' }, { name: 'p2', cidr: '10.81.0.0/24' }];
      const ipam = new Ipam({ store, pools: () => pools });
      await ipam.autoAssign({ handleId: 'x', node: 'n', num4: 1, pools: ['p1'] });
      await ipam.releaseByHandle('x');
      assert.equal((await ipam.blocksOfNode('n')).length, 1, 'an empty affine block stays');
      // An explicit pool list leaves the node's blocks in other pools alone.
      await ipam.autoAssign({ handleId: 'z', node: 'n', num4: 1, pools: ['p2'] });
      await ipam.releaseByHandle('z');
      assert.equal((await ipam.blocksOfNode('n')).length, 2);
      pools = [{ name: 'p1', cidr: '10.80.0.0/24', nodeSelector: 'zone == "z"' }, { name: 'p2', cidr: '10.81.0.0/24' }];
      const r = await ipam.autoAssign({ handleId: 'y', node: 'n', num4: 1 });
      assert.match(r.ipv4[0]!, /^10\.81\.0\./);
      assert.deepEqual((await ipam.blocksOfNode('n')).map((c) => c.slice(0, 6)), ['10.81.'], 'the p1 block was released');
    });

    it('reclaims an empty block of another node only after the reclaim age', async () => {
      let now = Date.parse('2026-01-01T00:00:00Z');
      const one: IpamPoolSpec = { name: 'one', cidr: '10.90.0.0/26' };
      const { ipam, store } = await setup([one], { now: () => now });
      await ipam.autoAssign({ handleId: 'a', node: 'a', num4: 1 });
      await ipam.releaseByHandle('a');
      await ipam.setConfig({ strictAffinity: true });
      now += 30_000;
      await rejectsWith(ipam.autoAssign({ handleId: 'b', node: 'b', num4: 1 }), IpamExhaustedError);
      now += 31_000;
      const r = await ipam.autoAssign({ handleId: 'b', node: 'b', num4: 1 });
      assert.deepEqual(await ipam.blocksOfNode('b'), ['10.90.0.0/26']);
      assert.deepEqual(await ipam.blocksOfNode('a'), []);
      assert.equal(await store.get(affinityKey('a', '10.90.0.0/26')), undefined);
      assert.equal(r.ipv4[0], '10.90.0.1', 'the block keeps its cursor, so .0 is not reused at once');
    });
  });

  describe('release', () => {
    const pool: IpamPoolSpec = { name: 'p', cidr: '10.65.0.0/26' };

    it('releases by handle idempotently (a second DEL and an unknown handle are no-ops)', async () => {
      const { ipam, store } = await setup([pool]);
      const r = await ipam.autoAssign({ handleId: 'c1', node: 'n', num4: 2 });
      await ipam.autoAssign({ handleId: 'c2', node: 'n', num4: 1 });
      assert.deepEqual((await ipam.releaseByHandle('c1')).released, r.ipv4);
      assert.equal(await store.get(handleKey('c1')), undefined);
      assert.deepEqual((await ipam.releaseByHandle('c1')).released, []);
      assert.deepEqual((await ipam.releaseByHandle('never-seen')).released, []);
      assert.deepEqual(await ipam.ipsByHandle('c2'), ['10.65.0.2']);
      // Released addresses are reused last.
      assert.deepEqual((await ipam.autoAssign({ handleId: 'c3', node: 'n', num4: 1 })).ipv4, ['10.65.0.3']);
      assert.deepEqual((await ipam.check()).problems, []);
    });

    it('releases specific addresses, decrementing handles, and reports those not allocated', async () => {
      const { ipam, store } = await setup([pool]);
      await ipam.autoAssign({ handleId: 'h', node: 'n', num4: 3 });
      const res = await ipam.releaseIps(['10.65.0.1/32', '10.65.0.9', '10.99.0.1']);
      assert.deepEqual(res, { released: ['10.65.0.1'], notAllocated: ['10.65.0.9', '10.99.0.1'] });
      assert.deepEqual((await store.get<{ blocks: Record<string, number> }>(handleKey('h')))!.value.blocks, { '10.65.0.0/26': 2 });
      await ipam.releaseIps(['10.65.0.0', '10.65.0.2']);
      assert.equal(await store.get(handleKey('h')), undefined, 'a handle with nothing left is deleted');
      await rejectsWith(ipam.releaseIps(['nonsense']), IpamInvalidArgumentError);
      assert.deepEqual((await ipam.check()).problems, []);
    });

    it('deletes empty blocks with releaseEmptyBlocks, and orphans busy ones when a node goes away', async () => {
      const two: IpamPoolSpec = { name: 'two', cidr: '10.65.0.0/25' };
      const { ipam, store } = await setup([two]);
      await ipam.autoAssign({ handleId: 'a', node: 'n1', num4: 1 });
      await ipam.releaseByHandle('a');
      const [empty] = await ipam.blocksOfNode('n1');
      assert.deepEqual(await ipam.releaseEmptyBlocks('n1'), [empty]);
      assert.equal(await store.get(blockKey(empty!)), undefined);
      assert.equal(await store.get(affinityKey('n1', empty!)), undefined);

      const kept = await ipam.autoAssign({ handleId: 'k', node: 'n2', num4: 1 });
      await ipam.autoAssign({ handleId: 'e', node: 'n2', num4: 64 }); // fills one block, claims a second
      await ipam.releaseByHandle('e');
      const before = await ipam.blocksOfNode('n2');
      assert.equal(before.length, 2);
      const res = await ipam.releaseNodeAffinities('n2');
      assert.equal(res.orphaned.length, 1);
      assert.equal(res.deleted.length, 1);
      assert.deepEqual(await ipam.blocksOfNode('n2'), []);
      const orphan = (await store.get<{ affinity: unknown }>(blockKey(res.orphaned[0]!)))!.value;
      assert.equal(orphan.affinity, null);
      assert.deepEqual((await ipam.check()).problems, []);
      // The orphan's address stays valid; releasing it deletes the block.
      assert.deepEqual((await ipam.releaseByHandle('k')).released, kept.ipv4);
      assert.equal(await store.get(blockKey(res.orphaned[0]!)), undefined);
    });
  });

  describe('specific addresses', () => {
    const pool: IpamPoolSpec = { name: 'p', cidr: '10.65.0.0/24' };

    it('assigns a free address, claiming its block for the node, and refuses a taken one', async () => {
      const { ipam } = await setup([pool]);
      await ipam.assignIp('10.65.0.200', 'gw', { node: 'n1', attrs: { type: 'tunnel' } });
      assert.deepEqual(await ipam.blocksOfNode('n1'), ['10.65.0.192/26']);
      const err = await rejectsWith(ipam.assignIp('10.65.0.200', 'other', { node: 'n1' }), IpamAddressInUseError, /10\.65\.0\.200 is already allocated to handle "gw"/);
      assert.equal(err.holder, 'gw');
      // The block's cursor is untouched: autoAssign still starts at .192.
      assert.deepEqual((await ipam.autoAssign({ handleId: 'w', node: 'n1', num4: 1, pools: ['p'] })).ipv4.length, 1);
      await rejectsWith(ipam.assignIp('10.99.0.1', 'x', { node: 'n1' }), IpamInvalidArgumentError, /not in any enabled IP pool/);
      await rejectsWith(ipam.assignIp('10.65.0.5', 'x'), IpamInvalidArgumentError, /name the node/);
      const show = await ipam.show({ ip: '10.65.0.200' });
      assert.deepEqual(show.address, { ip: '10.65.0.200', pool: 'p', block: '10.65.0.192/26', blockNode: 'n1', allocated: true, handle: 'gw', attrs: { node: 'n1', type: 'tunnel' } });
    });

    it('refuses an address in another node\'s block under strict affinity', async () => {
      const { ipam } = await setup([pool]);
      await ipam.assignIp('10.65.0.10', 'a', { node: 'n1' });
      await ipam.assignIp('10.65.0.11', 'b', { node: 'n2' }); // allowed: not strict
      await ipam.setConfig({ strictAffinity: true });
      await rejectsWith(ipam.assignIp('10.65.0.12', 'c', { node: 'n2' }), IpamNotAffineError, /affine to n1/);
      await ipam.assignIp('10.65.0.12', 'c', { node: 'n1' });
    });
  });

  describe('failures of the store', () => {
    const pool: IpamPoolSpec = { name: 'p', cidr: '10.65.0.0/26' };

    /** A store whose txn misbehaves as `mode` says, a given number of times. */
    function flaky(inner: Store, mode: 'lose-reply' | 'fail-before' | 'always-conflict' | 'lose-reply-then-down', times: number): Store & { down: boolean } {
      let left = times;
      const s = Object.create(inner) as Store & { down: boolean };
      s.down = false;
      s.txn = async (req: TxnRequest): Promise<TxnResult> => {
        if (s.down) throw new StoreUnavailableError('etcd is down (test)');
        if (left <= 0 || !req.ops.some((o) => o.key.kind === 'ipam-handle')) return inner.txn(req);
        left--;
        if (mode === 'always-conflict') return { succeeded: false, revision: await inner.currentRevision(), current: [] };
        if (mode === 'fail-before') throw new StoreUnavailableError('connection reset (test)');
        const r = await inner.txn(req);
        if (mode === 'lose-reply-then-down') s.down = true;
        if (!r.succeeded) return r;
        throw new StoreUnavailableError('reply lost (test)');
      };
      s.get = async (key) => {
        if (s.down) throw new StoreUnavailableError('etcd is down (test)');
        return inner.get(key);
      };
      return s;
    }

    it('detects that a write whose reply was lost had applied, and does not allocate twice', async () => {
      const inner = await stores.open();
      const ipam = new Ipam({ store: flaky(inner, 'lose-reply', 2), pools: [pool] });
      const r = await ipam.autoAssign({ handleId: 'h1', node: 'n', num4: 1 });
      const r2 = await ipam.autoAssign({ handleId: 'h2', node: 'n', num4: 1 });
      assert.deepEqual([...r.ipv4, ...r2.ipv4], ['10.65.0.0', '10.65.0.1']);
      const check = await new Ipam({ store: inner, pools: [pool] }).check();
      assert.deepEqual(check.problems, []);
      assert.equal(check.counts.allocations, 2);
    });

    it('retries a write that never reached the store', async () => {
      const inner = await stores.open();
      const ipam = new Ipam({ store: flaky(inner, 'fail-before', 2), pools: [pool] });
      assert.deepEqual((await ipam.autoAssign({ handleId: 'h1', node: 'n', num4: 1 })).ipv4, ['10.65.0.0']);
    });

    it('reports an in-doubt allocation as an error when the store stays down, and DEL cleans it up', async () => {
      const inner = await stores.open();
      const store = flaky(inner, 'lose-reply-then-down', 1);
      const ipam = new Ipam({ store, pools: [pool] });
      const err = await rejectsWith(ipam.autoAssign({ handleId: 'h1', node: 'n', num4: 1 }), IpamUnavailableError, /outcome is unknown.*release it by handle/);
      assert.equal(err.inDoubt, true);
      store.down = false;
      assert.deepEqual(await ipam.ipsByHandle('h1'), ['10.65.0.0'], 'the write had in fact applied');
      assert.deepEqual((await ipam.releaseByHandle('h1')).released, ['10.65.0.0']);
      assert.deepEqual((await ipam.check()).problems, []);
    });

    it('gives up with a clear error after the retry bound', async () => {
      const inner = await stores.open();
      const ipam = new Ipam({ store: flaky(inner, 'always-conflict', 1000), pools: [pool], maxRetries: 4 });
      await rejectsWith(ipam.autoAssign({ handleId: 'h1', node: 'n', num4: 1 }), IpamContentionError, /gave up after 4 attempts/);
      assert.deepEqual((await new Ipam({ store: inner, pools: [pool] }).check()).counts.allocations, 0);
    });

    it('rolls back the IPv4 part when the IPv6 part cannot be had', async () => {
      const { ipam } = await setup([pool, { name: 'v6', cidr: 'fd00::/122', nodeSelector: 'nope == "x"' }]);
      await rejectsWith(ipam.autoAssign({ handleId: 'h', node: 'n', num4: 1, num6: 1 }), IpamNoPoolError);
      assert.deepEqual(await ipam.ipsByHandle('h'), []);
      assert.equal((await ipam.check()).counts.allocations, 0);
    });
  });

  describe('pools from the store', () => {
    it('reads IPPool resources at each operation and skips unreadable ones', async () => {
      const store = await stores.open();
      const ipam = new Ipam({ store, pools: storePoolSource(store) });
      await rejectsWith(ipam.autoAssign({ handleId: 'h', node: 'n', num4: 1 }), IpamNoPoolError);
      const resource = {
        apiVersion: 'projectcalico.org/v3',
        kind: 'IPPool',
        metadata: { name: 'default' },
        spec: { cidr: '10.65.0.0/26', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false, disabled: false, disableBGPExport: false, nodeSelector: 'all()', allowedUses: ['Workload', 'Tunnel'], assignmentMode: 'Automatic' },
      };
      await store.put({ kind: 'IPPool', name: 'default' }, resource);
      await store.put({ kind: 'IPPool', name: 'junk' }, { hello: 1 });
      assert.deepEqual((await ipam.autoAssign({ handleId: 'h', node: 'n', num4: 1 })).ipv4, ['10.65.0.0']);
      await store.put({ kind: 'IPPool', name: 'default' }, { ...resource, spec: { ...resource.spec, disabled: true } });
      await rejectsWith(ipam.autoAssign({ handleId: 'h2', node: 'n', num4: 1 }), IpamNoPoolError);
    });
  });

  describe('show', () => {
    it('lists pools, blocks with affinity and use, and borrowed counts', async () => {
      const { ipam } = await setup([{ name: 'p', cidr: '10.65.0.0/26' }, { name: 'q', cidr: '10.66.0.0/24', disabled: true }]);
      await ipam.autoAssign({ handleId: 'a', node: 'n1', num4: 3 });
      await ipam.autoAssign({ handleId: 'b', node: 'n2', num4: 1 });
      const d = await ipam.show();
      assert.deepEqual(
        d.pools.map((p) => [p.name, p.size, p.blocks, p.allocated, p.disabled]),
        [
          ['p', '64', 1, 4, false],
          ['q', '256', 0, 0, true],
        ],
      );
      assert.deepEqual(d.blocks, [{ cidr: '10.65.0.0/26', pool: 'p', node: 'n1', affinityState: 'confirmed', size: 64, allocated: 4, free: 60, borrowed: 1 }]);
      assert.equal((await ipam.show({ ip: '10.65.0.9' })).address!.allocated, false);
    });
  });
});
