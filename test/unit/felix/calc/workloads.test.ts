import assert from 'node:assert/strict';
import { assembleWorkloads, workloadPlumbing } from '../../../../src/felix/calc/workloads.js';
import { wep } from './fixtures.js';

describe('felix calc: local workloads', () => {
  const a = wep({ node: 'h1', pod: 'a', iface: 'cali0000000000a', ips: ['10.65.1.1'] });
  const b = wep({ node: 'h1', pod: 'b', iface: 'cali0000000000b', ips: ['10.65.1.2/32'] });

  it('one endpoint: its interface in Calico\'s shape and a /32 route per IPv4 address', () => {
    const p = workloadPlumbing(a, 'cali');
    assert.equal(p.key, 'default/h1-k8s-a-eth0');
    assert.equal(p.iface, 'cali0000000000a');
    assert.deepEqual(p.spec, { ipv4: true, ipv6: false });
    assert.deepEqual(p.ipv4, ['10.65.1.1']);
    assert.deepEqual(p.problems, []);
    assert.deepEqual(assembleWorkloads([p]).routes, [{ dst: '10.65.1.1/32', dev: 'cali0000000000a' }]);
  });

  it('IPv6 addresses are reported, not programmed (no ip6tables policy yet)', () => {
    const p = workloadPlumbing(wep({ node: 'h1', pod: 'v6', iface: 'cali000000000v6', ips: ['10.65.1.9', 'fd00:10::9/128'] }), 'cali');
    assert.deepEqual(p.ipv4, ['10.65.1.9']);
    assert.equal(p.problems.length, 1);
    assert.match(p.problems[0]!, /IPv6 address fd00:10::9\/128 not programmed/);
  });

  it('an interface without the workload prefix is never touched', () => {
    const p = workloadPlumbing(wep({ node: 'h1', pod: 'e', iface: 'eth1', ips: ['10.65.1.3'] }), 'cali');
    assert.equal(p.iface, undefined);
    const asm = assembleWorkloads([p]);
    assert.equal(asm.interfaces.size, 0);
    assert.deepEqual(asm.routes, []);
    assert.match(asm.problems[0]!, /"eth1" is not a workload interface/);
  });

  it('clashes are resolved by endpoint key whatever the order: one interface, one route per address', () => {
    const dupIface = wep({ node: 'h1', pod: 'c', iface: 'cali0000000000a', ips: ['10.65.1.3'] });
    const dupIp = wep({ node: 'h1', pod: 'd', iface: 'cali0000000000d', ips: ['10.65.1.2'] });
    const items = [a, b, dupIface, dupIp].map((w) => workloadPlumbing(w, 'cali'));
    const one = assembleWorkloads(items);
    const other = assembleWorkloads([...items].reverse());
    assert.deepEqual(one, other);
    assert.deepEqual([...one.interfaces.keys()], ['cali0000000000a', 'cali0000000000b', 'cali0000000000d']);
    assert.deepEqual(one.routes, [
      { dst: '10.65.1.1/32', dev: 'cali0000000000a' },
      { dst: '10.65.1.2/32', dev: 'cali0000000000b' },
    ]);
    assert.equal(one.problems.length, 2);
    assert.ok(one.problems.some((p) => /h1-k8s-c-eth0: interface cali0000000000a already belongs to default\/h1-k8s-a-eth0/.test(p)));
    assert.ok(one.problems.some((p) => /h1-k8s-d-eth0: address 10\.65\.1\.2 is already routed/.test(p)));
  });
});
