import assert from 'node:assert/strict';
import type { Store } from '../../../src/datastore/store/index.js';
import { Ipam, type BlockValue, type HandleValue, type IpamPoolSpec, type Problem, type ProblemKind } from '../../../src/ipam/index.js';
import { newBlock, withAssigned } from '../../../src/ipam/block.js';
import { affinityKey, blockKey, handleKey } from '../../../src/ipam/keys.js';
import { TempStores } from './helpers.js';

const stores = new TempStores();
after(() => stores.cleanup());

const POOLS: IpamPoolSpec[] = [{ name: 'p', cidr: '10.65.0.0/24', blockSize: 26 }];

async function setup(): Promise<{ store: Store; ipam: Ipam }> {
  const store = await stores.open();
  return { store, ipam: new Ipam({ store, pools: POOLS }) };
}

function kinds(ps: Problem[]): ProblemKind[] {
  return ps.map((p) => p.kind).sort();
}

/** Applies the automatic repairs and asserts the state is clean afterwards. */
async function repairAndExpectClean(ipam: Ipam, problems: Problem[]): Promise<void> {
  const done = await ipam.repair(problems);
  assert.equal(done.length, problems.filter((p) => p.repair).length, `repairs applied: ${done.join(' | ')}`);
  assert.deepEqual((await ipam.check()).problems, []);
}

describe('Ipam.check on corrupted stores', function () {
  this.timeout(60_000);

  it('is clean after normal operations', async () => {
    const { ipam } = await setup();
    await ipam.autoAssign({ handleId: 'a', node: 'n1', num4: 5 });
    await ipam.autoAssign({ handleId: 'b', node: 'n2', num4: 2 });
    await ipam.assignIp('10.65.0.250', 'c', { node: 'n3' });
    await ipam.releaseIps(['10.65.0.250']);
    const r = await ipam.check();
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.counts, { pools: 1, blocks: 3, affinities: 3, handles: 2, allocations: 7 });
  });

  it('finds addresses leaked by a missing handle, and releases them', async () => {
    const { store, ipam } = await setup();
    const r = await ipam.autoAssign({ handleId: 'gone', node: 'n1', num4: 2 });
    await ipam.autoAssign({ handleId: 'kept', node: 'n1', num4: 1 });
    await store.delete(handleKey('gone'));
    const { problems } = await ipam.check();
    assert.deepEqual(kinds(problems), ['leaked-address']);
    assert.equal(problems[0]!.subject, 'gone');
    assert.match(problems[0]!.message, new RegExp(`${r.ipv4.join(', ').replace(/\./g, '\\.')} in block .* allocated to handle "gone", which does not exist`));
    assert.match(problems[0]!.fix, /^release /);
    await repairAndExpectClean(ipam, problems);
    assert.deepEqual(await ipam.ipsByHandle('kept'), [(await ipam.ipsByHandle('kept'))[0]]);
    assert.equal((await ipam.check()).counts.allocations, 1);
  });

  it('finds handles that claim addresses they do not hold (or a block that does not exist), and rewrites them', async () => {
    const { store, ipam } = await setup();
    await ipam.autoAssign({ handleId: 'h', node: 'n1', num4: 2 });
    const [block] = await ipam.blocksOfNode('n1');
    await store.put(handleKey('h'), { handle: 'h', blocks: { [block!]: 5, '10.65.0.192/26': 1 } } satisfies HandleValue);
    await store.put(handleKey('empty'), { handle: 'empty', blocks: {} } satisfies HandleValue);
    const { problems } = await ipam.check();
    assert.deepEqual(kinds(problems), ['handle-mismatch', 'handle-mismatch']);
    const h = problems.find((p) => p.subject === 'h')!;
    assert.match(h.message, /says 5 addresses in .*, the block holds 2; says 1 address in 10\.65\.0\.192\/26, the block does not exist/);
    assert.match(problems.find((p) => p.subject === 'empty')!.message, /holds nothing/);
    await repairAndExpectClean(ipam, problems);
    assert.deepEqual((await store.get<HandleValue>(handleKey('h')))!.value.blocks, { [block!]: 2 });
    assert.equal((await ipam.releaseByHandle('h')).released.length, 2);
  });

  it('finds one address allocated twice in overlapping blocks of different sizes', async () => {
    const { store, ipam } = await setup();
    await ipam.assignIp('10.65.0.5', 'old-workload', { node: 'n1' }); // a /26 block
    // A stale /28 block from a pool that once had blockSize 28, holding the same address for another handle.
    const stale = withAssigned(newBlock('10.65.0.0/28', 'host:n2'), 16, [5], { handle: 'new-workload' });
    await store.put(blockKey('10.65.0.0/28'), stale);
    await store.put(affinityKey('n2', '10.65.0.0/28'), { node: 'n2', cidr: '10.65.0.0/28', state: 'confirmed' });
    await store.put(handleKey('new-workload'), { handle: 'new-workload', blocks: { '10.65.0.0/28': 1 } } satisfies HandleValue);
    const { problems } = await ipam.check();
    assert.deepEqual(kinds(problems), ['duplicate-address', 'overlapping-blocks']);
    const dup = problems.find((p) => p.kind === 'duplicate-address')!;
    assert.equal(dup.subject, '10.65.0.5');
    assert.match(dup.message, /10\.65\.0\.5 is allocated twice: in block 10\.65\.0\.0\/26 to handle "old-workload" and in block 10\.65\.0\.0\/28 to handle "new-workload"/);
    assert.match(dup.fix, /recreate the workload of handle "new-workload" \(in 10\.65\.0\.0\/28\)/, 'the block of the wrong size is the stale one');
    assert.equal(dup.repair, undefined, 'no automatic fix: a person picks the workload');
    // Once that workload is gone (its DEL), the empty stale block remains, and its removal is automatic.
    await ipam.releaseByHandle('new-workload');
    const after = (await ipam.check()).problems;
    assert.deepEqual(kinds(after), ['overlapping-blocks']);
    assert.match(after[0]!.fix, /delete the empty block 10\.65\.0\.0\/28/);
    await repairAndExpectClean(ipam, after);
  });

  it('does not claim a new block overlapping a stored block of another size', async () => {
    const { store, ipam } = await setup();
    const pool: IpamPoolSpec = { name: 'one', cidr: '10.66.0.0/26' };
    await store.put(blockKey('10.66.0.16/28'), withAssigned(newBlock('10.66.0.16/28', null), 16, [0], { handle: 'legacy' }));
    await store.put(handleKey('legacy'), { handle: 'legacy', blocks: { '10.66.0.16/28': 1 } } satisfies HandleValue);
    const ipam2 = new Ipam({ store, pools: [pool] });
    await ipam2.setConfig({ strictAffinity: true });
    await assert.rejects(ipam2.autoAssign({ handleId: 'x', node: 'n', num4: 1 }), /no free block left/);
    assert.deepEqual((await ipam.check()).problems.map((p) => p.kind), ['block-outside-pools'], 'under pool p, 10.66/28 is outside');
  });

  it('finds affinities without blocks and blocks without affinity objects, and repairs both', async () => {
    const { store, ipam } = await setup();
    await ipam.autoAssign({ handleId: 'a', node: 'n1', num4: 1 });
    await ipam.autoAssign({ handleId: 'b', node: 'n2', num4: 1 });
    const [b1] = await ipam.blocksOfNode('n1');
    const [b2] = await ipam.blocksOfNode('n2');
    await store.put(affinityKey('n3', '10.65.0.128/26'), { node: 'n3', cidr: '10.65.0.128/26', state: 'confirmed' }); // no such block
    await store.put(affinityKey('n3', b1!), { node: 'n3', cidr: b1!, state: 'confirmed' }); // n1's block
    await store.delete(affinityKey('n2', b2!));
    assert.deepEqual(await ipam.blocksOfNode('n2'), [], 'routing no longer sees the block');
    const { problems } = await ipam.check();
    assert.deepEqual(kinds(problems), ['affinity-without-block', 'affinity-without-block', 'block-affinity-missing']);
    assert.match(problems.find((p) => p.subject === `n3/${b1}`)!.message, /the block is affine to n1/);
    assert.match(problems.find((p) => p.subject === 'n3/10.65.0.128/26')!.message, /the block does not exist/);
    assert.match(problems.find((p) => p.kind === 'block-affinity-missing')!.message, new RegExp(`block ${b2!.replace(/\./g, '\\.')} is affine to node n2, which has no affinity object`));
    await repairAndExpectClean(ipam, problems);
    assert.deepEqual(await ipam.blocksOfNode('n2'), [b2]);
    assert.deepEqual(await ipam.blocksOfNode('n1'), [b1]);
  });

  it('finds pending affinities, blocks outside every pool, and malformed blocks', async () => {
    const { store, ipam } = await setup();
    await ipam.autoAssign({ handleId: 'a', node: 'n1', num4: 1 });
    const [b1] = await ipam.blocksOfNode('n1');
    await store.put(affinityKey('n1', b1!), { node: 'n1', cidr: b1!, state: 'pending' });
    await store.put(blockKey('10.99.0.0/26'), newBlock('10.99.0.0/26', null)); // pool deleted, empty
    await store.put(blockKey('10.98.0.0/26'), withAssigned(newBlock('10.98.0.0/26', null), 64, [1], { handle: 'x' }));
    await store.put(handleKey('x'), { handle: 'x', blocks: { '10.98.0.0/26': 1 } } satisfies HandleValue);
    await store.put(blockKey('10.65.0.192/26'), { cidr: '10.65.0.192/26', allocations: 'oops' });
    const { problems } = await ipam.check();
    assert.deepEqual(kinds(problems), ['block-outside-pools', 'block-outside-pools', 'malformed-block', 'unconfirmed-affinity']);
    const outside = problems.filter((p) => p.kind === 'block-outside-pools');
    assert.ok(outside.find((p) => p.subject === '10.99.0.0/26')!.repair, 'an empty one is deleted automatically');
    assert.equal(outside.find((p) => p.subject === '10.98.0.0/26')!.repair, undefined, 'a busy one needs its workloads moved');
    const done = await ipam.repair(problems);
    assert.equal(done.length, 2);
    assert.deepEqual(kinds((await ipam.check()).problems), ['block-outside-pools', 'malformed-block']);
    // Allocation skips the malformed block rather than failing.
    assert.equal((await ipam.autoAssign({ handleId: 'z', node: 'n1', num4: 1 })).ipv4.length, 1);
  });

  it('with the live workload handles, finds allocations whose workload is gone (a lost CNI DEL)', async () => {
    const { ipam } = await setup();
    await ipam.autoAssign({ handleId: 'alive', node: 'n1', num4: 1 });
    await ipam.autoAssign({ handleId: 'crashed', node: 'n1', num4: 2 });
    assert.deepEqual((await ipam.check()).problems, [], 'without the workload list nothing is wrong');
    const { problems } = await ipam.check({ workloadHandles: ['alive'] });
    assert.deepEqual(kinds(problems), ['orphan-allocation']);
    assert.match(problems[0]!.message, /handle "crashed" holds 2 addresses but no workload has it/);
    await ipam.repair(problems);
    assert.deepEqual((await ipam.check({ workloadHandles: ['alive'] })).problems, []);
    assert.equal((await ipam.check()).counts.allocations, 1);
  });

  it('applies no repair whose subject changed since the check', async () => {
    const { store, ipam } = await setup();
    await ipam.autoAssign({ handleId: 'gone', node: 'n1', num4: 1 });
    await store.delete(handleKey('gone'));
    const { problems } = await ipam.check();
    // Meanwhile the block changes (another allocation).
    await ipam.autoAssign({ handleId: 'new', node: 'n1', num4: 1 });
    assert.deepEqual(await ipam.repair(problems), []);
    const again = await ipam.check();
    assert.deepEqual(kinds(again.problems), ['leaked-address']);
    await repairAndExpectClean(ipam, again.problems);
    const blk = (await store.get<BlockValue>(blockKey((await ipam.blocksOfNode('n1'))[0]!)))!.value;
    assert.deepEqual(blk.attributes.map((a) => a.handle), ['new']);
  });
});
