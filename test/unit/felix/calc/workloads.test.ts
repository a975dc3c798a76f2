import assert from 'node:assert/strict';
import { assembleWorkloads, LocalWorkloads, workloadPlumbing, type WorkloadPlumbing } from '../../../../src/felix/calc/workloads.js';
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

  it('with IPv6 off, IPv6 addresses are reported, not programmed', () => {
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

describe('felix calc: local workloads, IPv6 and deltas', () => {
  it('with IPv6 on: a /128 route per IPv6 address and the IPv6 interface shape', () => {
    const p = workloadPlumbing(wep({ node: 'h1', pod: 'v6', iface: 'cali000000000v6', ips: ['10.65.1.9', 'fd00:10:0::9/128'] }), 'cali', { ipv6: true });
    assert.deepEqual([p.ipv4, p.ipv6, p.problems], [['10.65.1.9'], ['fd00:10::9'], []]);
    assert.deepEqual(p.spec, { ipv4: true, ipv6: true });
    assert.deepEqual(assembleWorkloads([p]).routes, [
      { dst: '10.65.1.9/32', dev: 'cali000000000v6' },
      { dst: 'fd00:10::9/128', dev: 'cali000000000v6' },
    ]);
  });

  it('LocalWorkloads: any sequence of changes, applied as deltas, ends where a full merge does', () => {
    let seed = 5;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const lw = new LocalWorkloads();
    const current = new Map<string, WorkloadPlumbing>();
    // What the managers were handed: interfaces and routes as the deltas left them.
    let ifaces = new Map<string, unknown>();
    let routes = new Map<string, string>();
    const takeFull = (a: { interfaces: Map<string, unknown>; routes: { dst: string; dev?: string }[] }) => {
      ifaces = new Map(a.interfaces);
      routes = new Map(a.routes.map((r) => [r.dst, r.dev!]));
    };
    takeFull(lw.reset([]));
    let deltas = 0;
    for (let step = 0; step < 400; step++) {
      const changes = new Map<string, WorkloadPlumbing | undefined>();
      for (let k = 0, n = 1 + rnd(3); k < n; k++) {
        const i = rnd(30);
        // Interfaces and addresses collide now and then (two endpoints claiming one).
        const iface = `cali${String(rnd(4) === 0 ? rnd(30) : i).padStart(11, '0')}`;
        const ips = [`10.65.1.${rnd(5) === 0 ? rnd(30) : i}`, ...(rnd(2) ? [`fd00::${(rnd(5) === 0 ? rnd(30) : i).toString(16)}`] : [])];
        const w = wep({ node: 'h1', pod: `w${i}`, iface: rnd(15) === 0 ? 'eth9' : iface, ips });
        const p = rnd(4) === 0 ? undefined : workloadPlumbing(w, 'cali', { ipv6: true });
        changes.set(`default/h1-k8s-w${i}-eth0`, p);
      }
      for (const [k, p] of changes) {
        if (p) current.set(k, p);
        else current.delete(k);
      }
      const r = lw.update(changes);
      if ('full' in r) takeFull(r.full);
      else {
        deltas++;
        for (const n of r.delta.interfacesRemoved) ifaces.delete(n);
        for (const [n, s] of r.delta.interfacesSet) ifaces.set(n, s);
        for (const d of r.delta.routesRemoved) routes.delete(d);
        for (const x of r.delta.routesSet) routes.set(x.dst, x.dev!);
      }
      const want = assembleWorkloads(current.values());
      assert.deepEqual(ifaces, want.interfaces, `interfaces after step ${step}`);
      assert.deepEqual([...routes].sort(), want.routes.map((x) => [x.dst, x.dev]).sort(), `routes after step ${step}`);
      assert.deepEqual(lw.problems(), want.problems, `problems after step ${step}`);
      assert.equal(lw.plumbed, want.interfaces.size);
      assert.equal(lw.withIpv6, [...current.values()].filter((p) => p.ipv6.length > 0).length);
    }
    // Both paths ran: deltas, and full merges where a claim was contested.
    assert.ok(deltas > 80 && deltas < 390, `deltas: ${deltas} of 400`);
  });
});

describe('felix calc: released workload addresses (for conntrack cleanup)', () => {
  const p = (pod: string, iface: string, ips: string[]) => workloadPlumbing(wep({ node: 'h1', pod, iface, ips }), 'cali', { ipv6: true });
  const key = (pod: string) => `default/h1-k8s-${pod}-eth0`;

  it('removed, moved to another endpoint or interface: released; unchanged or relabelled: not', () => {
    const lw = new LocalWorkloads();
    lw.reset([p('a', 'cali0000000000a', ['10.65.1.1', 'fd00::1']), p('b', 'cali0000000000b', ['10.65.1.2'])]);
    assert.deepEqual(lw.takeReleased(), [], 'nothing was routed before');
    lw.update(new Map([[key('a'), undefined]]));
    assert.deepEqual(lw.takeReleased().sort(), ['10.65.1.1', 'fd00::1']);
    // b's address moves to a new endpoint c (b goes away in the same batch).
    lw.update(new Map([[key('b'), undefined], [key('c'), p('c', 'cali0000000000c', ['10.65.1.2'])]]));
    assert.deepEqual(lw.takeReleased(), ['10.65.1.2']);
    // c gets a new veth (same address, another interface).
    lw.update(new Map([[key('c'), p('c', 'cali000000000c2', ['10.65.1.2'])]]));
    assert.deepEqual(lw.takeReleased(), ['10.65.1.2']);
    // The same plumbing again, and an address added: nothing released.
    lw.update(new Map([[key('c'), p('c', 'cali000000000c2', ['10.65.1.2', '10.65.1.3'])]]));
    assert.deepEqual(lw.takeReleased(), []);
  });

  it('through a full merge (a contested interface) the same rules hold', () => {
    const lw = new LocalWorkloads();
    lw.reset([p('a', 'cali0000000000a', ['10.65.1.1']), p('b', 'cali0000000000b', ['10.65.1.2'])]);
    // z claims a's interface: z sorts after a, so a keeps it; nothing moves.
    const r = lw.update(new Map([[key('z'), p('z', 'cali0000000000a', ['10.65.1.9'])]]));
    assert.ok('full' in r);
    assert.deepEqual(lw.takeReleased(), []);
    // a goes: z wins the interface, a's address is released.
    lw.update(new Map([[key('a'), undefined]]));
    assert.deepEqual(lw.takeReleased(), ['10.65.1.1']);
  });
});
