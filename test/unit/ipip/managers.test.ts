import assert from 'node:assert/strict';
import { IpipManager } from '../../../src/ipip/ipip-manager.js';
import { VxlanManager } from '../../../src/ipip/vxlan-manager.js';
import { vtepMacForNode } from '../../../src/ipip/mac.js';
import { CapturingLog } from './capturing-log.js';
import { FakeKernel } from './fake-kernel.js';

const T0 = new Date('2026-11-22T10:00:00Z');
const local = { name: 'h1', address: '172.31.0.1/24', ipipTunnelAddress: '10.65.1.0', vxlanTunnelAddress: '10.65.1.0' };
const h2 = { name: 'h2', address: '172.31.0.2', vxlanTunnelAddress: '10.65.2.0', blocks: ['10.65.2.0/26'] };
const h3 = { name: 'h3', address: '172.31.0.3', vxlanTunnelAddress: '10.65.3.0', blocks: ['10.65.3.0/26'] };

function setup() {
  const k = new FakeKernel();
  const log = new CapturingLog();
  return { k, log, opts: { runner: k, log, now: () => T0 } };
}

describe('encap: managers (fake kernel)', () => {
  describe('IpipManager', () => {
    it('creates tunl0, verifies by reading back, reports ok; the next sync does nothing', async () => {
      const { k, opts } = setup();
      const m = new IpipManager(opts);
      m.setLocal(local);
      const r = await m.sync();
      assert.deepEqual(r.status, { state: 'ok', device: 'tunl0' });
      assert.equal(r.converged, true);
      assert.equal(r.routesFlushed, true);
      assert.deepEqual(r.repairs.map((c) => c.kind), ['device-created', 'address-added', 'up']);
      assert.deepEqual(k.links.get('tunl0'), { name: 'tunl0', kind: 'ipip', mtu: 1480, up: true, mac: '02:00:00:00:00:01', addresses: ['10.65.1.0/32'], ipip: { local: 'any', remote: 'any' } });
      k.calls = [];
      const again = await m.sync();
      assert.deepEqual(again.repairs, []);
      assert.deepEqual(again.commands, []);
      assert.equal(again.converged, true);
      assert.equal(k.calls.length, 1, 'steady state is one read-back command');
      assert.deepEqual(k.writes(), []);
    });

    it('repairs drift: MTU, down, a stray address', async () => {
      const { k, opts } = setup();
      const m = new IpipManager(opts);
      m.setLocal(local);
      await m.sync();
      const t = k.links.get('tunl0')!;
      t.mtu = 1300;
      t.up = false;
      t.addresses.push('192.168.5.5/24');
      const r = await m.sync();
      assert.deepEqual(r.repairs.map((c) => c.kind), ['mtu', 'address-removed', 'up']);
      assert.equal(r.converged, true);
      assert.equal(r.routesFlushed, true);
      assert.deepEqual([t.mtu, t.up, t.addresses], [1480, true, ['10.65.1.0/32']]);
    });

    it('a kernel without ipip: status unsupported, one clear error line, no further create attempts', async () => {
      const { k, log, opts } = setup();
      k.unsupportedKinds.add('ipip');
      const m = new IpipManager(opts);
      m.setLocal(local);
      const r = await m.sync();
      assert.equal(r.converged, false);
      assert.equal(r.routesFlushed, false);
      assert.deepEqual(r.status, {
        state: 'unsupported',
        device: 'tunl0',
        reason: 'the kernel cannot create tunl0 (`ip link add name tunl0 mtu 1480 type ipip`: Unknown device type.)',
        since: T0.toISOString(),
      });
      assert.deepEqual(r.errors[0], 'ip link add name tunl0 mtu 1480 type ipip: Error: Unknown device type.');
      const errors = log.lines.filter((l) => l.level === 'error' || l.level === 'warn');
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.event, 'encap.device.unsupported');
      assert.match(errors[0]!.msg!, /^IPIP is unavailable on this node: the kernel cannot create tunl0 .*Unknown device type.*not retrying/);

      k.calls = [];
      for (let i = 0; i < 5; i++) {
        const again = await m.sync();
        assert.equal(again.status.state, 'unsupported');
        assert.deepEqual(again.commands, []);
      }
      assert.deepEqual(k.writes(), [], 'no create retried');
      assert.equal(k.calls.length, 5, 'one read-back per sync');
      assert.equal(log.lines.filter((l) => l.level === 'error' || l.level === 'warn').length, 1, 'said once');
    });

    it('unsupported ends when tunl0 appears (module loaded later); IPIP off ends it too', async () => {
      const { k, log, opts } = setup();
      k.unsupportedKinds.add('ipip');
      const m = new IpipManager(opts);
      m.setLocal(local);
      await m.sync();
      k.links.set('tunl0', { name: 'tunl0', kind: 'ipip', mtu: 1480, up: false, mac: '00:00:00:00:00:00', addresses: [], ipip: { local: 'any', remote: 'any' } });
      const r = await m.sync();
      assert.equal(r.status.state, 'ok');
      assert.deepEqual(r.repairs.map((c) => c.kind), ['address-added', 'up']);
      assert.ok(log.events().includes('encap.device.available'));

      const { k: k2, opts: o2 } = setup();
      k2.unsupportedKinds.add('ipip');
      const off = new IpipManager(o2);
      off.setLocal(local);
      await off.sync();
      off.setLocal({ name: 'h1', address: '172.31.0.1/24' });
      assert.deepEqual((await off.sync()).status, { state: 'disabled', device: 'tunl0' });
    });

    it('other failures: status error with the reason, retried next sync, warned once per reason', async () => {
      const { k, log, opts } = setup();
      k.failingLines.set('addr add 10.65.1.0/32 dev tunl0', 'RTNETLINK answers: Permission denied');
      const m = new IpipManager(opts);
      m.setLocal(local);
      const r1 = await m.sync();
      assert.equal(r1.converged, false);
      assert.equal(r1.status.state, 'error');
      assert.deepEqual(r1.errors, ['ip addr add 10.65.1.0/32 dev tunl0: RTNETLINK answers: Permission denied']);
      assert.ok(r1.status.state === 'error');
      assert.equal(r1.status.reason, 'still differs after applying: tunl0 lacked 10.65.1.0/32 (first error: ip addr add 10.65.1.0/32 dev tunl0: RTNETLINK answers: Permission denied)');
      const r2 = await m.sync();
      assert.ok(r2.status.state === 'error' && r2.status.failures === 2);
      assert.deepEqual(r2.commands, ['ip addr add 10.65.1.0/32 dev tunl0'], 'only what is still missing is retried');
      assert.equal(log.lines.filter((l) => l.event === 'encap.sync.failed').length, 1);
      k.failingLines.clear();
      const r3 = await m.sync();
      assert.deepEqual(r3.status, { state: 'ok', device: 'tunl0' });
      assert.ok(log.events().includes('encap.sync.recovered'));
    });

    it('a tool that cannot run at all (spawn error) is a status error, not a thrown sync', async () => {
      const { k, opts } = setup();
      const broken = {
        run: (tool: 'ip' | 'bridge', args: readonly string[], input?: string) => (input !== undefined ? Promise.reject(new Error('spawn ip ENOENT')) : k.run(tool, args, input)),
      };
      const m = new IpipManager({ ...opts, runner: broken });
      m.setLocal(local);
      const r = await m.sync();
      assert.deepEqual([r.status.state, r.converged, r.errors], ['error', false, ['spawn ip ENOENT']]);
    });
  });

  describe('VxlanManager', () => {
    it('programs device, neighbours and FDB; the steady state writes nothing', async () => {
      const { k, opts } = setup();
      const m = new VxlanManager(opts);
      m.setLocal(local);
      m.setRemotes([h3, h2, { name: 'h1', address: '172.31.0.1', vxlanTunnelAddress: '10.65.1.0', blocks: [] }]);
      const r = await m.sync();
      assert.equal(r.converged, true);
      assert.deepEqual(r.status, { state: 'ok', device: 'vxlan.tabby' });
      assert.deepEqual(
        k.neighs.map((n) => [n.ip, n.mac, n.state, n.protocol]),
        [
          ['10.65.2.0', vtepMacForNode('h2'), 'PERMANENT', 80],
          ['10.65.3.0', vtepMacForNode('h3'), 'PERMANENT', 80],
        ],
      );
      assert.deepEqual(k.fdb.map((f) => [f.mac, f.dst]), [
        [vtepMacForNode('h2'), '172.31.0.2'],
        [vtepMacForNode('h3'), '172.31.0.3'],
      ]);
      // ip (device + neighbours), bridge (fdb): two writing processes.
      assert.deepEqual(k.calls.filter((c) => c.input !== undefined).map((c) => c.tool), ['ip', 'bridge']);
      k.calls = [];
      const again = await m.sync();
      assert.deepEqual([again.repairs, again.converged, k.writes()], [[], true, []]);
    });

    it('drift: deleted FDB entry and neighbour, device down, MTU changed -> repaired and reported', async () => {
      const { k, opts } = setup();
      const m = new VxlanManager(opts);
      m.setLocal(local);
      m.setRemotes([h2, h3]);
      await m.sync();
      k.fdb = k.fdb.filter((f) => f.mac !== vtepMacForNode('h2'));
      k.neighs = k.neighs.filter((n) => n.ip !== '10.65.3.0');
      const r1 = await m.sync();
      assert.deepEqual(r1.repairs.map((c) => c.kind), ['neigh-added', 'fdb-added']);
      assert.equal(r1.routesFlushed, false);

      const dev = k.links.get('vxlan.tabby')!;
      k.setDown(dev);
      dev.mtu = 1400;
      const r2 = await m.sync();
      assert.deepEqual(r2.repairs.map((c) => c.kind), ['mtu', 'up', 'neigh-added', 'neigh-added']);
      assert.equal(r2.routesFlushed, true);
      assert.equal(r2.converged, true);
    });

    it('a removed node loses its entries; foreign entries stay', async () => {
      const { k, opts } = setup();
      const m = new VxlanManager(opts);
      m.setLocal(local);
      m.setRemotes([h2, h3]);
      await m.sync();
      k.fdb.push({ dev: 'vxlan.tabby', mac: '00:00:00:00:00:00', dst: '172.31.0.50', state: 'permanent' });
      k.fdb.push({ dev: 'vxlan.tabby', mac: '02:00:00:00:77:01', dst: '172.31.0.51', state: 'permanent' });
      k.neighs.push({ dev: 'vxlan.tabby', ip: '10.77.0.1', mac: '02:00:00:00:77:01', state: 'PERMANENT' });
      m.setRemotes([h2]);
      const r = await m.sync();
      assert.deepEqual(r.commands, [`bridge fdb del ${vtepMacForNode('h3')} dev vxlan.tabby dst 172.31.0.3 self`, 'ip neigh del 10.65.3.0 dev vxlan.tabby']);
      assert.deepEqual(k.fdb.map((f) => f.mac).sort(), ['00:00:00:00:00:00', '02:00:00:00:77:01', vtepMacForNode('h2')].sort());
      assert.deepEqual(k.neighs.map((n) => n.ip).sort(), ['10.65.2.0', '10.77.0.1']);
    });

    it('a device with the wrong VNI is recreated and its entries reprogrammed', async () => {
      const { k, opts } = setup();
      k.links.set('vxlan.tabby', { name: 'vxlan.tabby', kind: 'vxlan', mtu: 1450, up: true, mac: vtepMacForNode('h1'), addresses: ['10.65.1.0/32'], vxlan: { id: 42, port: 4789, local: '172.31.0.1', learning: false } });
      const m = new VxlanManager(opts);
      m.setLocal(local);
      m.setRemotes([h2]);
      const r = await m.sync();
      assert.equal(r.repairs[0]!.kind, 'device-recreated');
      assert.equal(r.repairs[0]!.detail, 'vxlan.tabby: vni 42, want 4096');
      assert.equal(k.links.get('vxlan.tabby')!.vxlan!.id, 4096);
      assert.equal(k.fdb.length, 1);
      assert.equal(r.converged, true);
    });

    it('VXLAN off: the device is deleted, status disabled', async () => {
      const { k, opts } = setup();
      const m = new VxlanManager(opts);
      m.setLocal(local);
      m.setRemotes([h2]);
      await m.sync();
      m.setLocal({ name: 'h1', address: '172.31.0.1/24' });
      const r = await m.sync();
      assert.deepEqual(r.commands, ['ip link del dev vxlan.tabby']);
      assert.deepEqual(r.status, { state: 'disabled', device: 'vxlan.tabby' });
      assert.equal(k.links.has('vxlan.tabby'), false);
    });

    it('syncs are serialised: concurrent calls do not interleave', async () => {
      const { k, opts } = setup();
      const m = new VxlanManager(opts);
      m.setLocal(local);
      m.setRemotes([h2]);
      const [a, b] = await Promise.all([m.sync(), m.sync()]);
      assert.equal(a.repairs.length > 0, true);
      assert.deepEqual(b.repairs, [], 'the second sync sees the first one\'s result');
      assert.equal(k.links.size, 1);
    });
  });
});
