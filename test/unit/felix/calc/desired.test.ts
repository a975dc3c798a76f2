import assert from 'node:assert/strict';
import { computeDesiredState } from '../../../../src/felix/calc/desired.js';
import { FelixInput } from '../../../../src/felix/calc/input.js';
import type { PolicyCompiler, PolicyResource } from '../../../../src/felix/calc/policy.js';
import { hostEndpoint, ingressPolicy, pool, wep } from './fixtures.js';

function cluster(): FelixInput {
  const input = new FelixInput();
  input.setNode({ name: 'h1', address: '172.31.0.1/24', vxlanTunnelAddress: '10.65.1.0' });
  input.setPools([pool('p', '10.65.0.0/16', { vxlanMode: 'Always', natOutgoing: true })]);
  input.setLocalBlocks(['10.65.1.0/26']);
  input.setRemoteNodes([{ name: 'h2', address: '172.31.0.2', vxlanTunnelAddress: '10.65.2.0', blocks: ['10.65.2.0/26'] }]);
  input.setWorkloadEndpoint(wep({ node: 'h1', pod: 'a', iface: 'cali0000000000a', ips: ['10.65.1.1'], labels: { app: 'web' } }));
  input.setWorkloadEndpoint(wep({ node: 'h2', pod: 'c', iface: 'cali0000000000c', ips: ['10.65.2.1'], labels: { role: 'client' } }));
  input.setPolicy(ingressPolicy('default', 'web', "app == 'web'", [{ action: 'Allow', source: { selector: "role == 'client'" }, destination: {} }]));
  return input;
}

describe('felix calc: the whole desired host state', () => {
  it('local plumbing, block routes by class, VXLAN, NAT and the compiled filter table', () => {
    const s = computeDesiredState(cluster());
    assert.deepEqual([...s.interfaces.keys()], ['cali0000000000a'], 'only this node\'s workloads are plumbed');
    assert.deepEqual(s.routes['local-workload'], [{ dst: '10.65.1.1/32', dev: 'cali0000000000a' }]);
    assert.deepEqual(s.routes['local-block'], [{ dst: '10.65.1.0/26', type: 'blackhole' }]);
    assert.deepEqual(s.routes['remote-block'], [{ dst: '10.65.2.0/26', via: '10.65.2.0', dev: 'vxlan.tabby', onlink: true }]);
    assert.deepEqual(s.routes['bgp-learned'], []);
    assert.equal(s.encap.vxlan?.vxlanTunnelAddress, '10.65.1.0');
    assert.deepEqual(s.encap.vxlanRemotes.map((r) => r.name), ['h2']);

    // The filter frame comes from the policy compiler: conntrack accept first, dispatch by interface, fail closed.
    const chain = (n: string) => s.tables.filter.chains.find((c) => c.name === n);
    const fwd = chain('tabby-FORWARD')!;
    assert.deepEqual(fwd.rules[0], { match: { ctState: ['RELATED', 'ESTABLISHED'] }, action: { type: 'accept' } });
    for (const d of ['tabby-from-wl-dispatch', 'tabby-to-wl-dispatch']) {
      const rules = chain(d)!.rules;
      assert.deepEqual(rules[rules.length - 1], { action: { type: 'drop' } }, `${d} ends in DROP`);
      assert.ok(rules.some((r) => r.action.type === 'goto' && (r.match?.inInterface ?? r.match?.outInterface) === 'cali0000000000a'));
    }
    assert.deepEqual(Object.keys(s.tables.filter.hooks).sort(), ['FORWARD', 'INPUT', 'OUTPUT']);
    assert.deepEqual(s.tables.nat.chains.map((c) => c.name), ['tabby-nat-outgoing']);
    // ipsets: the policy's selector set (with the remote client) and NAT's, one list, sorted.
    const names = s.ipsets.map((x) => x.name);
    assert.deepEqual(names, [...names].sort());
    const sel = s.ipsets.find((x) => x.name.startsWith('tabby-s-'))!;
    assert.deepEqual(sel.members, ['10.65.2.1']);
    assert.ok(names.includes('tabby-masq-ipam-pools') && names.includes('tabby-all-ipam-pools'));
    assert.deepEqual(s.problems, []);
  });

  it('the policy seam: the compiler gets this node\'s name, the prefix and every endpoint and policy resource', () => {
    const got: { node?: string; prefix?: string; upserts: string[] } = { upserts: [] };
    const fake = (nodeName: string, prefix: string): PolicyCompiler => {
      got.node = nodeName;
      got.prefix = prefix;
      return {
        upsert: (r: PolicyResource) => got.upserts.push(`${r.kind}/${r.metadata.name}`),
        remove: () => undefined,
        ruleset: () => ({ chains: [{ name: 'tabby-FORWARD', rules: [] }], hooks: { FORWARD: [{ action: { type: 'jump', target: 'tabby-FORWARD' } }] }, ipsets: [], warnings: ['w1'] }),
      };
    };
    const input = cluster();
    input.setHostEndpoint(hostEndpoint('h1-eth0', 'h1', 'eth0'));
    const s = computeDesiredState(input, { policyCompiler: fake, interfacePrefix: 'cali' });
    assert.equal(got.node, 'h1');
    assert.equal(got.prefix, 'cali');
    assert.deepEqual(got.upserts.sort(), ['HostEndpoint/h1-eth0', 'NetworkPolicy/web', 'WorkloadEndpoint/h1-k8s-a-eth0', 'WorkloadEndpoint/h2-k8s-c-eth0']);
    assert.deepEqual(s.tables.filter.chains.map((c) => c.name), ['tabby-FORWARD']);
    assert.deepEqual(s.problems, ['w1']);
  });
});
