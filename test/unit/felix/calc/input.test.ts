import assert from 'node:assert/strict';
import { FelixInput, isDirty, parsePolicyKey, policyKey } from '../../../../src/felix/calc/input.js';
import { globalDenyAll, ingressPolicy, pool, wep } from './fixtures.js';

describe('felix calc: FelixInput', () => {
  it('records what changed by key, and setting an equal value changes nothing', () => {
    const input = new FelixInput();
    let calls = 0;
    const off = input.onChange(() => calls++);
    const a = wep({ node: 'h1', pod: 'a', iface: 'cali0000000000a', ips: ['10.65.1.1'] });
    input.setNode({ name: 'h1', address: '172.31.0.1/24' });
    input.setWorkloadEndpoint(a);
    input.setPools([pool('p', '10.65.0.0/16')]);
    input.setLocalBlocks(['10.65.1.0/26']);
    input.setPolicy(ingressPolicy('default', 'web', 'all()', []));
    input.setPolicy(globalDenyAll('deny', "app == 'x'"));
    assert.equal(calls, 6);
    const d = input.takeDirty();
    assert.ok(d.node && d.pools && d.localBlocks && !d.remotes && !d.learned);
    assert.deepEqual([...d.workloads], ['default/h1-k8s-a-eth0']);
    assert.deepEqual([...d.policies].sort(), ['GlobalNetworkPolicy||deny', 'NetworkPolicy|default|web']);
    assert.equal(isDirty(input.takeDirty()), false);

    input.setWorkloadEndpoint(structuredClone(a));
    input.setPools([pool('p', '10.65.0.0/16')]);
    input.setLocalBlocks(['10.65.1.0/26', '10.65.1.0/26']);
    input.setNode({ name: 'h1', address: '172.31.0.1/24' });
    assert.equal(calls, 6, 'equal values: no change');
    assert.equal(input.hasChanges, false);

    input.removeWorkloadEndpoint('default', a.metadata.name);
    input.removeWorkloadEndpoint('default', a.metadata.name);
    input.removePolicy('NetworkPolicy', 'web', 'default');
    assert.equal(calls, 8);
    const d2 = input.takeDirty();
    assert.deepEqual([...d2.workloads], ['default/h1-k8s-a-eth0']);
    assert.equal(input.workloadEndpoint('default/h1-k8s-a-eth0'), undefined);
    assert.deepEqual([...d2.policies], ['NetworkPolicy|default|web']);
    off();
    input.setLocalBlocks([]);
    assert.equal(calls, 8, 'unsubscribed');
  });

  it('remote nodes and learned routes are compared as wholes; in-sync is one-way', () => {
    const input = new FelixInput();
    input.setRemoteNodes([{ name: 'h2', address: '172.31.0.2', blocks: ['10.65.2.0/26'] }]);
    input.setLearnedRoutes([{ dst: '10.65.2.0/26', via: ['172.31.0.3', '172.31.0.2'] }]);
    input.takeDirty();
    input.setRemoteNodes([{ name: 'h2', address: '172.31.0.2', blocks: ['10.65.2.0/26'] }]);
    input.setLearnedRoutes([{ dst: '10.65.2.0/26', via: ['172.31.0.2', '172.31.0.3'] }]);
    assert.equal(input.hasChanges, false);
    input.setRemoteNode({ name: 'h2', address: '172.31.0.2', blocks: ['10.65.2.0/26', '10.65.2.64/26'] });
    assert.equal(input.takeDirty().remotes, true);
    assert.deepEqual(input.remoteNodes[0]!.blocks, ['10.65.2.0/26', '10.65.2.64/26']);
    assert.equal(input.inSync, false);
    input.markInSync();
    assert.equal(input.inSync, true);
  });

  it('policy keys round-trip', () => {
    assert.deepEqual(parsePolicyKey(policyKey('NetworkPolicy', 'p', 'ns')), { kind: 'NetworkPolicy', namespace: 'ns', name: 'p' });
    assert.deepEqual(parsePolicyKey(policyKey('GlobalNetworkPolicy', 'g')), { kind: 'GlobalNetworkPolicy', namespace: undefined, name: 'g' });
  });
});
