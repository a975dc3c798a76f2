/**
 * VXLAN end to end in the netns lab: two hosts on the fabric, one workload
 * each, no static inter-host routes. The VxlanManager programs vxlan.tabby
 * and its neighbour/FDB entries in each host; the test writes the block
 * routes from the route shapes (the route driver's job). Then ping, TCP and
 * iperf3 cross the tunnel, drift is repaired, stale entries go, foreign
 * entries stay.
 */
import assert from 'node:assert/strict';
import { Lab, type LabHost, type LabWorkload } from '../../../src/lab/lab.js';
import { runOk } from '../../../src/lab/exec.js';
import { ping, tcpProbe } from '../../../src/lab/probe.js';
import { waitFor } from '../../../src/lab/wait.js';
import { vtepMacForNode } from '../../../src/ipip/mac.js';
import { VxlanManager } from '../../../src/ipip/vxlan-manager.js';
import type { PoolEncap, RemoteNode } from '../../../src/ipip/types.js';
import { CapturingLog } from '../../unit/ipip/capturing-log.js';
import { localNodeOf, RecordingRunner, remoteNodeOf, remotesOf, writeBlockRoutes } from './helpers.js';

const POOLS: PoolEncap[] = [{ cidr: '10.65.0.0/16', ipipMode: 'Never', vxlanMode: 'Always' }];
const DEV = 'vxlan.tabby';

interface Node {
  host: LabHost;
  mgr: VxlanManager;
  runner: RecordingRunner;
  log: CapturingLog;
}

describe('encap lab: VXLAN between two hosts', function () {
  this.timeout(120_000);
  let lab: Lab;
  let n1: Node;
  let n2: Node;
  let a: LabWorkload;
  let c: LabWorkload;

  const ip = (h: LabHost, args: string[]) => runOk('ip', ['-n', h.netns, ...args]);
  const bridge = (h: LabHost, args: string[]) => runOk('bridge', ['-n', h.netns, ...args]);
  const makeNode = (host: LabHost): Node => {
    const runner = new RecordingRunner(host.netns);
    const log = new CapturingLog();
    const mgr = new VxlanManager({ runner, log });
    mgr.setLocal(localNodeOf(host));
    mgr.setRemotes(remotesOf(lab, host));
    return { host, mgr, runner, log };
  };
  const routes = (n: Node, remotes: RemoteNode[] = remotesOf(lab, n.host)) => writeBlockRoutes(n.host, remotes, POOLS);
  const deviceJson = async (h: LabHost) => JSON.parse(await ip(h, ['-d', '-j', 'addr', 'show', 'dev', DEV]))[0] as Record<string, unknown> & { linkinfo: { info_data: Record<string, unknown> } };
  const txPackets = async (h: LabHost) => (JSON.parse(await ip(h, ['-s', '-j', 'link', 'show', 'dev', DEV]))[0] as { stats64: { tx: { packets: number } } }).stats64.tx.packets;
  const pingOk = async (from: LabWorkload, to: LabWorkload) => (await ping(from.netns, to.ip, { timeoutMs: 1000 })).ok;

  before(async () => {
    lab = await Lab.create();
    const h1 = await lab.addHost('h1');
    const h2 = await lab.addHost('h2');
    a = await lab.addWorkload('h1', { name: 'a', plumb: 'static' });
    c = await lab.addWorkload('h2', { name: 'c', plumb: 'static' });
    n1 = makeNode(h1);
    n2 = makeNode(h2);
  });

  after(async () => {
    await lab.destroy();
  });

  it('without tunnel or block routes, cross-host traffic fails (the fabric has no route to the blocks)', async () => {
    assert.equal(await pingOk(a, c), false);
  });

  it('first sync creates vxlan.tabby with Calico\'s attributes and one neighbour + FDB entry per remote', async () => {
    for (const n of [n1, n2]) {
      const r = await n.mgr.sync();
      assert.equal(r.converged, true, r.errors.join('; '));
      assert.deepEqual(r.status, { state: 'ok', device: DEV });
      assert.equal(r.repairs[0]!.kind, 'device-created');
      assert.equal(r.routesFlushed, true);
    }
    const d = await deviceJson(n1.host);
    assert.equal(d.mtu, 1450);
    assert.equal(d.address, vtepMacForNode('h1'));
    assert.ok((d.flags as string[]).includes('UP'));
    assert.deepEqual(
      { id: d.linkinfo.info_data.id, port: d.linkinfo.info_data.port, local: d.linkinfo.info_data.local, learning: d.linkinfo.info_data.learning },
      { id: 4096, port: 4789, local: '172.31.0.1', learning: false },
    );
    assert.deepEqual((d.addr_info as { family: string; local: string; prefixlen: number }[]).filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`), ['10.65.1.0/32']);
    assert.match(await ip(n1.host, ['neigh', 'show', 'dev', DEV]), new RegExp(`^10\\.65\\.2\\.0 lladdr ${vtepMacForNode('h2')} PERMANENT proto 80`, 'm'));
    assert.match(await bridge(n1.host, ['fdb', 'show', 'dev', DEV]), new RegExp(`^${vtepMacForNode('h2')} dst 172\\.31\\.0\\.2 self permanent$`, 'm'));
  });

  it('with the block routes via the VTEP, ping and TCP cross the tunnel both ways', async () => {
    assert.deepEqual(await routes(n1), ['route replace 10.65.2.0/26 via 10.65.2.0 dev vxlan.tabby onlink proto 80']);
    await routes(n2);
    const tx0 = await txPackets(n1.host);
    await lab.waitReachable('a', 'c');
    await lab.waitReachable('c', 'a');
    assert.ok((await txPackets(n1.host)) > tx0, 'packets left through vxlan.tabby');
    await lab.startEcho('c', { tcp: [8080], udp: [8081] });
    const t = await tcpProbe(a.netns, c.ip, 8080, { timeoutMs: 3000 });
    assert.equal(t.ok, true, t.detail);
    assert.equal(t.reply, 'c');
  });

  it('iperf3 moves data across the tunnel', async () => {
    const server = lab.startProcess(c.netns, 'iperf3-server', 'iperf3', ['-s', '-1', '-p', '5201', '--forceflush']);
    await waitFor('iperf3 server listening', () => {
      if (!server.alive) throw new Error(`iperf3 exited: ${server.logTail(5)}`);
      return /Server listening/.test(server.logTail(10));
    }, { timeoutMs: 10_000 });
    const out = JSON.parse(await runOk('iperf3', ['-c', c.ip, '-p', '5201', '-t', '2', '-J'], { ns: a.netns, timeoutMs: 30_000 })) as {
      end: { sum_received: { bytes: number; bits_per_second: number } };
    };
    const { bytes, bits_per_second: bps } = out.end.sum_received;
    console.log(`      iperf3 over vxlan.tabby: ${(bytes / 1e6).toFixed(0)} MB in 2 s, ${(bps / 1e9).toFixed(2)} Gbit/s`);
    assert.ok(bytes > 1_000_000, `received only ${bytes} bytes`);
    await server.waitExit(5000);
  });

  it('steady state: a resync reads back and writes nothing', async () => {
    n1.runner.calls.length = 0;
    const r = await n1.mgr.sync();
    assert.deepEqual([r.repairs, r.commands, r.converged], [[], [], true]);
    assert.deepEqual(n1.runner.writes(), []);
  });

  it('drift: a deleted FDB entry breaks traffic; resync puts it back and reports it', async () => {
    await bridge(n1.host, ['fdb', 'del', vtepMacForNode('h2'), 'dev', DEV, 'self']);
    assert.equal(await pingOk(a, c), false, 'no FDB entry: nowhere to send the frame');
    const r = await n1.mgr.sync();
    assert.deepEqual(r.repairs.map((x) => x.kind), ['fdb-added']);
    assert.equal(r.converged, true);
    await lab.waitReachable('a', 'c');
  });

  it('drift: a deleted neighbour entry is put back', async () => {
    await ip(n1.host, ['neigh', 'del', '10.65.2.0', 'dev', DEV]);
    const r = await n1.mgr.sync();
    assert.deepEqual(r.repairs.map((x) => x.kind), ['neigh-added']);
    await lab.waitReachable('a', 'c');
  });

  it('drift: device down (kernel flushes its neighbours and routes) -> up, neighbours back, routes flagged for the driver', async () => {
    await ip(n1.host, ['link', 'set', 'dev', DEV, 'down']);
    const r = await n1.mgr.sync();
    assert.deepEqual(r.repairs.map((x) => x.kind), ['up', 'neigh-added']);
    assert.equal(r.routesFlushed, true);
    assert.equal(await ip(n1.host, ['route', 'show', '10.65.2.0/26']), '', 'the kernel dropped the route with the link');
    await routes(n1);
    await lab.waitReachable('a', 'c');
  });

  it('drift: a changed MTU is set back in place', async () => {
    await ip(n1.host, ['link', 'set', 'dev', DEV, 'mtu', '1400']);
    const r = await n1.mgr.sync();
    assert.deepEqual(r.repairs, [{ kind: 'mtu', detail: 'vxlan.tabby mtu 1400 -> 1450' }]);
    assert.equal((await deviceJson(n1.host)).mtu, 1450);
    await lab.waitReachable('a', 'c');
  });

  it('a device with the wrong VNI is recreated, entries reprogrammed', async () => {
    await ip(n1.host, ['link', 'del', 'dev', DEV]);
    await ip(n1.host, ['link', 'add', 'name', DEV, 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local', '172.31.0.1', 'nolearning']);
    const r = await n1.mgr.sync();
    assert.deepEqual(r.repairs[0], { kind: 'device-recreated', detail: 'vxlan.tabby: vni 42, want 4096' });
    assert.deepEqual(r.repairs.slice(-2).map((x) => x.kind), ['neigh-added', 'fdb-added']);
    assert.equal(r.converged, true);
    assert.equal((await deviceJson(n1.host)).linkinfo.info_data.id, 4096);
    await routes(n1);
    await lab.waitReachable('a', 'c');
  });

  it('foreign FDB and neighbour entries survive a resync', async () => {
    await bridge(n1.host, ['fdb', 'append', '00:00:00:00:00:00', 'dev', DEV, 'dst', '172.31.0.99', 'self', 'permanent']);
    await bridge(n1.host, ['fdb', 'add', '02:00:00:00:77:01', 'dev', DEV, 'dst', '172.31.0.98', 'self', 'permanent']);
    await ip(n1.host, ['neigh', 'replace', '10.77.0.1', 'lladdr', '02:00:00:00:77:01', 'dev', DEV, 'nud', 'permanent']);
    const r = await n1.mgr.sync();
    assert.deepEqual(r.repairs, []);
    const fdb = await bridge(n1.host, ['fdb', 'show', 'dev', DEV]);
    assert.match(fdb, /^00:00:00:00:00:00 dst 172\.31\.0\.99 self permanent$/m);
    assert.match(fdb, /^02:00:00:00:77:01 dst 172\.31\.0\.98 self permanent$/m);
    assert.match(await ip(n1.host, ['neigh', 'show', 'dev', DEV]), /^10\.77\.0\.1 lladdr 02:00:00:00:77:01 PERMANENT/m);
  });

  it('a node that joins gets entries; when it goes away they go, the others and foreign ones stay', async () => {
    const h3: RemoteNode = { name: 'h3', address: '172.31.0.3', vxlanTunnelAddress: '10.65.3.0', blocks: ['10.65.3.0/26'] };
    n1.mgr.setRemotes([remoteNodeOf(n2.host), h3]);
    const joined = await n1.mgr.sync();
    assert.deepEqual(joined.repairs.map((x) => x.kind), ['neigh-added', 'fdb-added']);
    assert.match(await bridge(n1.host, ['fdb', 'show', 'dev', DEV]), new RegExp(`^${vtepMacForNode('h3')} dst 172\\.31\\.0\\.3`, 'm'));

    n1.mgr.setRemotes([remoteNodeOf(n2.host)]);
    const left = await n1.mgr.sync();
    assert.deepEqual(left.commands, [`bridge fdb del ${vtepMacForNode('h3')} dev ${DEV} dst 172.31.0.3 self`, `ip neigh del 10.65.3.0 dev ${DEV}`]);
    const fdb = await bridge(n1.host, ['fdb', 'show', 'dev', DEV]);
    assert.doesNotMatch(fdb, new RegExp(vtepMacForNode('h3')));
    assert.match(fdb, new RegExp(vtepMacForNode('h2')));
    assert.match(fdb, /02:00:00:00:77:01/);
    assert.match(fdb, /00:00:00:00:00:00/);
    await lab.waitReachable('a', 'c');
  });

  it('after a restart, a fresh manager still recognises its stale entries (tagged neighbour) and removes only those', async () => {
    const h4: RemoteNode = { name: 'h4', address: '172.31.0.4', vxlanTunnelAddress: '10.65.4.0', blocks: ['10.65.4.0/26'] };
    n1.mgr.setRemotes([remoteNodeOf(n2.host), h4]);
    await n1.mgr.sync();
    // "Restart": a new process that never saw h4.
    const fresh = makeNode(n1.host);
    const r = await fresh.mgr.sync();
    assert.deepEqual(r.repairs.map((x) => x.kind), ['fdb-removed', 'neigh-removed']);
    assert.doesNotMatch(await bridge(n1.host, ['fdb', 'show', 'dev', DEV]), new RegExp(vtepMacForNode('h4')));
    assert.match(await bridge(n1.host, ['fdb', 'show', 'dev', DEV]), /02:00:00:00:77:01/);
    n1 = fresh;
    await lab.waitReachable('a', 'c');
    await lab.waitReachable('c', 'a');
  });
});
