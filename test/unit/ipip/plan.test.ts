import assert from 'node:assert/strict';
import { flushesRoutes, planIpipDevice, planVxlan, planVxlanDevice, planVxlanL2, renderCommands } from '../../../src/ipip/plan.js';
import type { ObservedDevice, ObservedFdb, ObservedNeighbour, Vtep, VxlanDeviceSpec } from '../../../src/ipip/types.js';

const ipipWant = { name: 'tunl0', mtu: 1480, address: '10.65.1.0' };
const ipipHave = (over: Partial<ObservedDevice> = {}): ObservedDevice => ({
  name: 'tunl0',
  kind: 'ipip',
  mtu: 1480,
  up: true,
  addresses: ['10.65.1.0/32'],
  ipip: { local: 'any', remote: 'any' },
  ...over,
});

const vxWant: VxlanDeviceSpec = { name: 'vxlan.tabby', vni: 4096, port: 4789, local: '172.31.0.1', mac: '66:ac:4a:e9:72:85', mtu: 1450, address: '10.65.1.0' };
const vxHave = (over: Partial<ObservedDevice> = {}): ObservedDevice => ({
  name: 'vxlan.tabby',
  kind: 'vxlan',
  mtu: 1450,
  up: true,
  mac: '66:ac:4a:e9:72:85',
  addresses: ['10.65.1.0/32'],
  vxlan: { vni: 4096, port: 4789, local: '172.31.0.1', learning: false },
  ...over,
});

const v2: Vtep = { node: 'h2', tunnelIp: '10.65.2.0', mac: '66:bf:1c:36:57:41', hostIp: '172.31.0.2' };
const v3: Vtep = { node: 'h3', tunnelIp: '10.65.3.0', mac: '66:8d:bc:60:58:e0', hostIp: '172.31.0.3' };
const neigh = (v: Vtep, over: Partial<ObservedNeighbour> = {}): ObservedNeighbour => ({ ip: v.tunnelIp, mac: v.mac, states: ['PERMANENT'], protocol: 80, ...over });
const fdb = (v: Vtep, over: Partial<ObservedFdb> = {}): ObservedFdb => ({ mac: v.mac, dst: v.hostIp, self: true, permanent: true, ...over });
const opts = { device: 'vxlan.tabby', proto: 80 };

describe('encap: planning (desired vs read-back)', () => {
  describe('tunl0', () => {
    it('in the desired state: nothing to do', () => {
      assert.deepEqual(planIpipDevice(ipipWant, ipipHave()), []);
    });
    it('fixes MTU, stray addresses, the missing /32 and the up flag in place, in that order', () => {
      const ops = planIpipDevice(ipipWant, ipipHave({ mtu: 1400, up: false, addresses: ['10.9.9.9/24'] }));
      assert.deepEqual(renderCommands(ops), [
        'ip link set dev tunl0 mtu 1480',
        'ip addr del 10.9.9.9/24 dev tunl0',
        'ip addr add 10.65.1.0/32 dev tunl0',
        'ip link set dev tunl0 up',
      ]);
      assert.deepEqual(ops.map((o) => o.change.kind), ['mtu', 'address-removed', 'address-added', 'up']);
      assert.equal(ops[0]!.change.detail, 'tunl0 mtu 1400 -> 1480');
    });
    it('a tunl0 of another kind (a stand-in veth) is recreated as ipip', () => {
      const ops = planIpipDevice(ipipWant, ipipHave({ kind: 'veth', ipip: undefined }));
      assert.deepEqual(renderCommands(ops), ['ip link del dev tunl0', 'ip link add name tunl0 mtu 1480 type ipip', 'ip addr add 10.65.1.0/32 dev tunl0', 'ip link set dev tunl0 up']);
      assert.equal(ops[0]!.change.kind, 'device-recreated');
      assert.equal(ops[0]!.change.detail, 'tunl0: kind veth, want ipip');
    });
    it('an ipip tunl0 pinned to one remote is recreated', () => {
      const ops = planIpipDevice(ipipWant, ipipHave({ ipip: { local: 'any', remote: '192.168.7.7' } }));
      assert.equal(ops[0]!.change.detail, 'tunl0: remote 192.168.7.7, want any');
    });
    it('IPIP off: an ipip tunl0 loses its addresses; a foreign tunl0 and a missing one are left alone', () => {
      assert.deepEqual(renderCommands(planIpipDevice({ name: 'tunl0', mtu: 0 }, ipipHave())), ['ip addr del 10.65.1.0/32 dev tunl0']);
      assert.deepEqual(planIpipDevice({ name: 'tunl0', mtu: 0 }, ipipHave({ kind: 'veth' })), []);
      assert.deepEqual(planIpipDevice({ name: 'tunl0', mtu: 0 }, undefined), []);
    });
  });

  describe('vxlan.tabby device', () => {
    it('in the desired state: nothing to do', () => {
      assert.deepEqual(planVxlanDevice(vxWant, vxHave(), 'vxlan.tabby'), { ops: [], fresh: false });
    });
    for (const [what, over, detail] of [
      ['kind', { kind: 'veth', vxlan: undefined }, 'kind veth, want vxlan'],
      ['VNI', { vxlan: { vni: 42, port: 4789, local: '172.31.0.1', learning: false } }, 'vni 42, want 4096'],
      ['port', { vxlan: { vni: 4096, port: 8472, local: '172.31.0.1', learning: false } }, 'dstport 8472, want 4789'],
      ['local address', { vxlan: { vni: 4096, port: 4789, local: '172.31.0.9', learning: false } }, 'local 172.31.0.9, want 172.31.0.1'],
      ['learning', { vxlan: { vni: 4096, port: 4789, local: '172.31.0.1', learning: true } }, 'learning on, want nolearning'],
    ] as const) {
      it(`a different ${what}: delete and create again (fresh L2 state)`, () => {
        const p = planVxlanDevice(vxWant, vxHave(over as Partial<ObservedDevice>), 'vxlan.tabby');
        assert.equal(p.fresh, true);
        assert.deepEqual(renderCommands(p.ops), [
          'ip link del dev vxlan.tabby',
          'ip link add name vxlan.tabby mtu 1450 address 66:ac:4a:e9:72:85 type vxlan id 4096 dstport 4789 local 172.31.0.1 nolearning',
          'ip addr add 10.65.1.0/32 dev vxlan.tabby',
          'ip link set dev vxlan.tabby up',
        ]);
        assert.equal(p.ops[0]!.change.detail, `vxlan.tabby: ${detail}`);
      });
    }
    it('MTU, MAC, addresses and up are fixed in place', () => {
      const p = planVxlanDevice(vxWant, vxHave({ mtu: 1500, mac: '02:00:00:00:00:01', up: false, addresses: [] }), 'vxlan.tabby');
      assert.equal(p.fresh, false);
      assert.deepEqual(renderCommands(p.ops), [
        'ip link set dev vxlan.tabby mtu 1450',
        'ip link set dev vxlan.tabby address 66:ac:4a:e9:72:85',
        'ip addr add 10.65.1.0/32 dev vxlan.tabby',
        'ip link set dev vxlan.tabby up',
      ]);
    });
    it('VXLAN off: a vxlan device of that name is deleted, anything else left alone', () => {
      assert.deepEqual(renderCommands(planVxlanDevice(undefined, vxHave(), 'vxlan.tabby').ops), ['ip link del dev vxlan.tabby']);
      assert.deepEqual(planVxlanDevice(undefined, vxHave({ kind: 'veth' }), 'vxlan.tabby').ops, []);
      assert.deepEqual(planVxlanDevice(undefined, undefined, 'vxlan.tabby').ops, []);
    });
  });

  describe('VXLAN neighbours and FDB', () => {
    it('in the desired state: nothing to do', () => {
      const p = planVxlanL2([v2, v3], [neigh(v2), neigh(v3)], [fdb(v2), fdb(v3)], opts);
      assert.deepEqual(p, { neighUpdates: [], fdb: [], neighDeletes: [] });
    });
    it('missing entries are added', () => {
      const p = planVxlanL2([v2], [], [], opts);
      assert.deepEqual(renderCommands([...p.neighUpdates, ...p.fdb]), [
        'ip neigh replace 10.65.2.0 lladdr 66:bf:1c:36:57:41 dev vxlan.tabby nud permanent protocol 80',
        'bridge fdb replace 66:bf:1c:36:57:41 dev vxlan.tabby dst 172.31.0.2 self permanent',
      ]);
      assert.deepEqual([...p.neighUpdates, ...p.fdb].map((o) => o.change.kind), ['neigh-added', 'fdb-added']);
    });
    it('wrong lladdr, not permanent, untagged, wrong FDB dst: each is fixed', () => {
      for (const [n, detail] of [
        [neigh(v2, { mac: '02:00:00:00:00:99' }), 'lladdr 02:00:00:00:00:99'],
        [neigh(v2, { states: ['STALE'] }), 'state STALE'],
        [neigh(v2, { protocol: undefined }), 'protocol none'],
      ] as const) {
        const p = planVxlanL2([v2], [n], [fdb(v2)], opts);
        assert.equal(p.neighUpdates.length, 1);
        assert.equal(p.neighUpdates[0]!.change.kind, 'neigh-fixed');
        assert.match(p.neighUpdates[0]!.change.detail, new RegExp(detail));
      }
      const p = planVxlanL2([v2], [neigh(v2)], [fdb(v2, { dst: '172.31.0.99' })], opts);
      assert.deepEqual(renderCommands(p.fdb), ['bridge fdb replace 66:bf:1c:36:57:41 dev vxlan.tabby dst 172.31.0.2 self permanent']);
      assert.equal(p.fdb[0]!.change.kind, 'fdb-fixed');
    });
    it('a node that went away: its FDB entry goes first, then its (tagged) neighbour entry', () => {
      const p = planVxlanL2([v2], [neigh(v2), neigh(v3)], [fdb(v2), fdb(v3)], opts);
      assert.deepEqual(renderCommands(p.fdb), ['bridge fdb del 66:8d:bc:60:58:e0 dev vxlan.tabby dst 172.31.0.3 self']);
      assert.deepEqual(renderCommands(p.neighDeletes), ['ip neigh del 10.65.3.0 dev vxlan.tabby']);
      const all = planVxlan(vxWant, [v2], { device: vxHave(), neighbours: [neigh(v2), neigh(v3)], fdb: [fdb(v2), fdb(v3)] }, opts);
      assert.deepEqual(all.map((o) => o.change.kind), ['fdb-removed', 'neigh-removed']);
    });
    it('foreign entries survive: untagged neighbours, the all-zeros flood entry, unknown MACs', () => {
      const foreignNeigh: ObservedNeighbour = { ip: '10.77.0.1', mac: '02:00:00:00:77:01', states: ['PERMANENT'] };
      const otherProto: ObservedNeighbour = { ip: '10.77.0.2', mac: '02:00:00:00:77:02', states: ['PERMANENT'], protocol: 12 };
      const learnt: ObservedNeighbour = { ip: '10.77.0.3', states: ['FAILED'] };
      const flood: ObservedFdb = { mac: '00:00:00:00:00:00', dst: '172.31.0.50', self: true, permanent: true };
      const unknown: ObservedFdb = { mac: '02:00:00:00:77:01', dst: '172.31.0.51', self: true, permanent: true };
      const p = planVxlanL2([v2], [neigh(v2), foreignNeigh, otherProto, learnt], [fdb(v2), flood, unknown], opts);
      assert.deepEqual(p, { neighUpdates: [], fdb: [], neighDeletes: [] });
    });
    it('after a restart, the tagged neighbour proves the FDB entry is ours; this process\'s own MACs count too', () => {
      // Neighbour of h3 still tagged: its FDB entry is ours and goes.
      assert.equal(planVxlanL2([], [neigh(v3)], [fdb(v3)], opts).fdb.length, 1);
      // Neighbour already gone (e.g. flushed by a link down): only ownedMacs proves it.
      assert.equal(planVxlanL2([], [], [fdb(v3)], opts).fdb.length, 0);
      assert.equal(planVxlanL2([], [], [fdb(v3)], { ...opts, ownedMacs: new Set([v3.mac]) }).fdb.length, 1);
    });
    it('a VTEP whose MAC changed: the neighbour is rewritten and the old MAC\'s FDB entry removed', () => {
      const moved = { ...v2, mac: '02:00:00:00:00:22' };
      const p = planVxlanL2([moved], [neigh(v2)], [fdb(v2)], opts);
      assert.deepEqual(renderCommands([...p.neighUpdates, ...p.fdb, ...p.neighDeletes]), [
        'ip neigh replace 10.65.2.0 lladdr 02:00:00:00:00:22 dev vxlan.tabby nud permanent protocol 80',
        'bridge fdb del 66:bf:1c:36:57:41 dev vxlan.tabby dst 172.31.0.2 self',
        'bridge fdb replace 02:00:00:00:00:22 dev vxlan.tabby dst 172.31.0.2 self permanent',
      ]);
    });
    it('a recreated device starts with no entries, whatever was read back', () => {
      const ops = planVxlan(vxWant, [v2], { device: vxHave({ vxlan: { vni: 1, port: 4789, local: '172.31.0.1', learning: false } }), neighbours: [neigh(v2)], fdb: [fdb(v2)] }, opts);
      assert.deepEqual(ops.map((o) => o.change.kind), ['device-recreated', 'device-recreated', 'address-added', 'up', 'neigh-added', 'fdb-added']);
      assert.equal(flushesRoutes(ops), true);
    });
  });

  it('flushesRoutes: only device creation/removal and bringing it up drop its routes', () => {
    assert.equal(flushesRoutes(planIpipDevice(ipipWant, ipipHave({ mtu: 1 }))), false);
    assert.equal(flushesRoutes(planIpipDevice(ipipWant, ipipHave({ up: false }))), true);
  });
});
