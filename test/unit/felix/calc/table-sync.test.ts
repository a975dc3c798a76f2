import assert from 'node:assert/strict';
import { ChainSync, SetSync, samePlain } from '../../../../src/felix/agent/table-sync.js';
import { fakeKernel } from './fake-kernel.js';

describe('felix agent: handing chains and sets to the drivers', () => {
  const chain = (name: string, target: string) => ({ name, rules: [{ match: { inInterface: 'cali+' }, action: { type: 'jump' as const, target } }] });

  it('passes on only new or changed chains; an equal copy is not handed over again', () => {
    const k = fakeKernel();
    const sync = new ChainSync(k.drivers.tables.filter);
    const a = chain('tabby-a', 'tabby-b');
    const b = { name: 'tabby-b', rules: [] };
    assert.deepEqual(sync.set([a, b], { FORWARD: [{ action: { type: 'jump', target: 'tabby-a' } }] }), { set: ['tabby-a', 'tabby-b'], removed: [], created: ['tabby-a', 'tabby-b'] });
    assert.deepEqual(sync.set([structuredClone(a), b], { FORWARD: [{ action: { type: 'jump', target: 'tabby-a' } }] }), { set: [], removed: [], created: [] });
    const a2 = { name: 'tabby-a', rules: [...a.rules, { action: { type: 'drop' as const } }] };
    assert.deepEqual(sync.set([a2, b], {}), { set: ['tabby-a'], removed: [], created: [] });
    assert.deepEqual(k.drivers.tables.filter.desiredChainNames(), ['tabby-a', 'tabby-b']);
    assert.deepEqual(sync.set([b], {}), { set: [], removed: ['tabby-a'], created: [] });
    assert.deepEqual(k.drivers.tables.filter.desiredChainNames(), ['tabby-b']);
  });

  it('two producers on one ipset driver never remove each other\'s sets', () => {
    const k = fakeKernel();
    const policy = new SetSync(k.drivers.ipsets);
    const nat = new SetSync(k.drivers.ipsets);
    policy.set([{ name: 'tabby-s-x', type: 'hash:ip', family: 'inet', members: ['10.0.0.1'] }]);
    nat.set([{ name: 'tabby-all-ipam-pools', type: 'hash:net', family: 'inet', members: ['10.65.0.0/16'] }]);
    assert.deepEqual(policy.set([]), { set: [], removed: ['tabby-s-x'], created: [] });
    assert.deepEqual(k.drivers.ipsets.desiredNames(), ['tabby-all-ipam-pools']);
    assert.deepEqual(nat.set([{ name: 'tabby-all-ipam-pools', type: 'hash:net', family: 'inet', members: ['10.65.0.0/16'] }]), { set: [], removed: [], created: [] });
    const grown = nat.set([{ name: 'tabby-all-ipam-pools', type: 'hash:net', family: 'inet', members: ['10.65.0.0/16', '10.66.0.0/16'] }]);
    assert.deepEqual([grown.set, grown.created], [['tabby-all-ipam-pools'], []]);
  });

  it('structural equality of plain data', () => {
    assert.ok(samePlain({ a: [1, { b: 'x' }] }, { a: [1, { b: 'x' }] }));
    assert.ok(!samePlain({ a: [1, { b: 'x' }] }, { a: [1, { b: 'y' }] }));
    assert.ok(!samePlain({ a: 1 }, { a: 1, b: undefined }));
    assert.ok(!samePlain([1], { 0: 1 }));
    assert.ok(!samePlain({ a: undefined }, { b: undefined }));
  });
});
