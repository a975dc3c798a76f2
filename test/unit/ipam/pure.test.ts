import assert from 'node:assert/strict';
import { netText, parseAddress, parseNet, parseStrictNet, ordinalOf, addressTextAt, netsOverlap } from '../../../src/ipam/addr.js';
import { blockShapeProblems, countsByHandle, newBlock, pickFree, withAssigned, withReleased } from '../../../src/ipam/block.js';
import { IpamInvalidArgumentError, IpamNoPoolError } from '../../../src/ipam/errors.js';
import { blockName, cidrOfBlockName, checkSegment } from '../../../src/ipam/keys.js';
import { choosePools, normalizePool, normalizePools } from '../../../src/ipam/pools.js';
import { blockAt, findUnclaimedBlock, fnv1a32, startIndex } from '../../../src/ipam/search.js';

describe('ipam pure parts', () => {
  describe('addresses', () => {
    it('canonicalises networks and block names both ways', () => {
      assert.equal(netText(parseNet('10.65.1.7/26')!), '10.65.1.0/26');
      assert.equal(parseStrictNet('10.65.1.7/26'), undefined);
      assert.equal(netText(parseNet('FD00:10:0::0/122')!), 'fd00:10::/122');
      assert.equal(blockName('fd00:10::/122'), 'fd00:10::-122');
      assert.equal(cidrOfBlockName('fd00:10::-122'), 'fd00:10::/122');
      assert.equal(cidrOfBlockName(blockName('10.65.0.64/26')), '10.65.0.64/26');
    });

    it('parses host addresses with or without a host prefix, and maps ordinals', () => {
      const b = parseStrictNet('10.65.0.64/26')!;
      assert.equal(ordinalOf(b, parseAddress('10.65.0.70/32')!), 6);
      assert.equal(ordinalOf(b, parseAddress('10.65.0.128')!), undefined);
      assert.equal(parseAddress('10.65.0.70/24'), undefined);
      assert.equal(addressTextAt(parseStrictNet('fd00::/122')!, 63), 'fd00::3f');
      assert.ok(netsOverlap(parseStrictNet('10.0.0.0/26')!, parseStrictNet('10.0.0.16/28')!));
      assert.ok(!netsOverlap(parseStrictNet('10.0.0.0/26')!, parseStrictNet('10.0.0.64/28')!));
    });

    it('rejects handle ids and node names that cannot be key segments', () => {
      assert.throws(() => checkSegment('handle id', 'a/b'), IpamInvalidArgumentError);
      assert.throws(() => checkSegment('handle id', ''), IpamInvalidArgumentError);
      assert.equal(checkSegment('handle id', 'k8s-pod-network.abc123'), 'k8s-pod-network.abc123');
    });
  });

  describe('block values', () => {
    it('hands out ordinals from the cursor upwards and reuses released ones last', () => {
      let b = newBlock('10.0.0.0/29', 'host:n1');
      assert.deepEqual(pickFree(b, 8, 3), [0, 1, 2]);
      b = withAssigned(b, 8, [0, 1, 2], { handle: 'h1' });
      b = withReleased(b, [1]);
      assert.deepEqual(pickFree(b, 8, 3), [3, 4, 5], 'the released .1 waits until the rest was used');
      b = withAssigned(b, 8, [3, 4, 5, 6, 7], { handle: 'h2' });
      assert.deepEqual(pickFree(b, 8, 3), [1], 'then wraps around to it');
      assert.deepEqual(pickFree(withAssigned(b, 8, [1], { handle: 'h3' }), 8, 1), []);
    });

    it('shares one attribute entry per holder and renumbers on release', () => {
      let b = newBlock('10.0.0.0/29', null);
      b = withAssigned(b, 8, [0, 1], { handle: 'a', attrs: { pod: 'p' } });
      b = withAssigned(b, 8, [2], { handle: 'b' });
      b = withAssigned(b, 8, [3], { handle: 'a', attrs: { pod: 'p' } });
      assert.deepEqual(b.allocations, { 0: 0, 1: 0, 2: 1, 3: 0 });
      assert.equal(b.attributes.length, 2);
      const r = withReleased(b, [0, 1, 3]);
      assert.deepEqual(r.allocations, { 2: 0 });
      assert.deepEqual(r.attributes, [{ handle: 'b' }]);
      assert.deepEqual([...countsByHandle(b)], [['a', 3], ['b', 1]]);
      assert.throws(() => withAssigned(b, 8, [2], { handle: 'c' }), /already allocated/);
      assert.equal(b.allocations['0'], 0, 'inputs are not mutated');
    });

    it('finds structural problems in foreign block values', () => {
      assert.deepEqual(blockShapeProblems(newBlock('10.0.0.0/29', null), 8), []);
      assert.deepEqual(blockShapeProblems({ cidr: '10.0.0.0/29', affinity: null, attributes: [], allocations: { 9: 0 } }, 8), ['allocation ordinal "9" is outside the block']);
      assert.deepEqual(blockShapeProblems({ cidr: '10.0.0.0/29', affinity: null, attributes: [], allocations: { 1: 0 } }, 8), ['allocation 1 refers to missing attribute 0']);
      assert.deepEqual(blockShapeProblems('x', 8), ['value is not an object']);
    });
  });

  describe('pools and block search', () => {
    const pools = normalizePools([
      { name: 'b-pool', cidr: '10.66.0.0/24', blockSize: 26, nodeSelector: 'zone == "b"' },
      { name: 'a-pool', cidr: '10.65.0.0/16' },
      { name: 'off', cidr: '10.67.0.0/24', disabled: true },
      { name: 'tunnels', cidr: '10.68.0.0/24', allowedUses: ['Tunnel'] },
      { name: 'v6', cidr: 'fd00:10::/64' },
    ]);

    it('applies defaults and sorts by name', () => {
      assert.deepEqual(pools.map((p) => [p.name, p.cidr, p.blockSize, p.nodeSelector]), [
        ['a-pool', '10.65.0.0/16', 26, 'all()'],
        ['b-pool', '10.66.0.0/24', 26, 'zone == "b"'],
        ['off', '10.67.0.0/24', 26, 'all()'],
        ['tunnels', '10.68.0.0/24', 26, 'all()'],
        ['v6', 'fd00:10::/64', 122, 'all()'],
      ]);
      assert.throws(() => normalizePool({ name: 'x', cidr: '10.0.0.0/24', blockSize: 19 }), /blockSize 19/);
      assert.throws(() => normalizePool({ name: 'x', cidr: '10.0.0.0/28', blockSize: 26 }), /smaller than one/);
      assert.throws(() => normalizePool({ name: 'x', cidr: '10.0.0.0/24', nodeSelector: 'a ==' }), /bad nodeSelector/);
    });

    it('chooses enabled pools of the family that select the node and allow the use', () => {
      const names = (r: { usable: { name: string }[] }) => r.usable.map((p) => p.name);
      assert.deepEqual(names(choosePools(pools, { family: 4, nodeLabels: { zone: 'a' }, use: 'Workload' })), ['a-pool']);
      assert.deepEqual(names(choosePools(pools, { family: 4, nodeLabels: { zone: 'b' }, use: 'Workload' })), ['a-pool', 'b-pool']);
      assert.deepEqual(names(choosePools(pools, { family: 4, nodeLabels: {}, use: 'Tunnel' })), ['a-pool', 'tunnels']);
      assert.deepEqual(names(choosePools(pools, { family: 6, nodeLabels: {}, use: 'Workload' })), ['v6']);
      // An explicit list ignores selectors but not `disabled`.
      assert.deepEqual(names(choosePools(pools, { family: 4, nodeLabels: { zone: 'a' }, use: 'Workload', requested: ['10.66.0.0/24'] })), ['b-pool']);
      assert.throws(() => choosePools(pools, { family: 4, nodeLabels: {}, use: 'Workload', requested: ['off'] }), IpamNoPoolError);
      assert.throws(() => choosePools(pools, { family: 4, nodeLabels: {}, use: 'Workload', requested: ['nope'] }), /does not exist/);
    });

    it('starts each node at a hashed block and skips taken and overlapping blocks', () => {
      assert.equal(fnv1a32(''), 0x811c9dc5);
      assert.equal(fnv1a32('a'), 0xe40c292c); // the FNV-1a test vector
      const pool = pools[0]!; // 10.65.0.0/16 in /26: 1024 blocks
      const s1 = startIndex(pool, 'node-1');
      assert.equal(s1, BigInt(fnv1a32('node-1')) % 1024n);
      const first = blockAt(pool, s1);
      const none = { cidrs: new Set<string>(), nets: [] };
      assert.equal(netText(findUnclaimedBlock([pool], 'node-1', none)!), netText(first));
      const second = blockAt(pool, (s1 + 1n) % 1024n);
      assert.equal(netText(findUnclaimedBlock([pool], 'node-1', { cidrs: new Set([netText(first)]), nets: [first] })!), netText(second));
      // A stored /28 (a pool once had another block size) inside the first block makes it unusable.
      const foreign = parseStrictNet(`${netText(first).split('/')[0]}/28`)!;
      assert.equal(netText(findUnclaimedBlock([pool], 'node-1', { cidrs: new Set([netText(foreign)]), nets: [foreign] })!), netText(second));
      // A full pool yields nothing.
      const tiny = normalizePool({ name: 't', cidr: '10.70.0.0/26', blockSize: 26 });
      assert.equal(findUnclaimedBlock([tiny], 'n', { cidrs: new Set(['10.70.0.0/26']), nets: [parseStrictNet('10.70.0.0/26')!] }), undefined);
    });
  });
});
