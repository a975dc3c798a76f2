/**
 * The route driver and the interface manager doing the plumbing of lab
 * hosts (network namespaces): same-host and cross-host workload traffic,
 * proxy ARP, blackholes, ECMP and tunnel route shapes, drift repair, a
 * restarted driver adopting routes, zero loss across restarts, foreign
 * routes untouched, the pending-interface grace, IPv6 /128 routes.
 */
import assert from 'node:assert/strict';
import { Lab, LAB_ROUTE_PROTO, type LabHost } from '../../../src/lab/lab.js';
import { run, runOk } from '../../../src/lab/exec.js';
import { ping } from '../../../src/lab/probe.js';
import { waitFor } from '../../../src/lab/wait.js';
import { configureLogging } from '../../../src/util/log.js';
import { RouteTable } from '../../../src/felix/routes/route-table.js';
import type { RouteSpec } from '../../../src/felix/routes/model.js';
import { InterfaceManager } from '../../../src/felix/interfaces/interface-manager.js';
import { applyInterfacesThenRoutes } from '../../../src/felix/interfaces/plumbing.js';

/** Long back-off: a retry never happens by the clock during a test, only when a device comes up. */
const newRouteTable = (netns: string) => new RouteTable({ netns, interfaceGraceMs: 60_000, retryInitialMs: 5_000, retryMaxMs: 10_000 });

interface HostPlumbing {
  host: LabHost;
  ifaces: InterfaceManager;
  routes: RouteTable;
}

/** Routes in a namespace, as `ip -N -j` JSON, filtered by protocol. */
async function routesOf(ns: string, family: 4 | 6, proto?: number): Promise<Array<Record<string, unknown>>> {
  const out = await runOk('ip', ['-n', ns, `-${family}`, '-N', '-j', 'route', 'show', 'table', 'all']);
  const all = JSON.parse(out) as Array<Record<string, unknown>>;
  return proto === undefined ? all : all.filter((r) => r.protocol === String(proto));
}

/** The foreign routes we plant on h1 (static, boot, bird, the lab's 81); they must survive everything. */
const FOREIGN: Array<[string, string]> = [
  ['10.66.1.0/24', 'static'],
  ['10.66.2.0/24', 'boot'],
  ['10.66.3.0/24', '12'],
  ['10.66.4.0/24', String(LAB_ROUTE_PROTO)],
];

describe('felix routes + interfaces in lab hosts', function () {
  let lab: Lab;
  let h1: HostPlumbing;
  let h2: HostPlumbing;
  let foreignSnapshot = '';

  const localRoutes = (hostName: string): RouteSpec[] =>
    [...lab.workloads.values()].filter((w) => w.host === hostName && h(hostName).ifaces.interfaces().includes(w.hostIface)).map((w) => ({ dst: `${w.ip}/32`, dev: w.hostIface }));
  const h = (name: string) => (name === 'h1' ? h1 : h2);

  async function foreignState(): Promise<string> {
    const all = await routesOf(h1.host.netns, 4);
    return JSON.stringify(all.filter((r) => String(r.dst).startsWith('10.66.') || r.protocol === String(LAB_ROUTE_PROTO)));
  }

  /** Manage a workload on its host: interface + /32 route; then apply both managers. */
  async function plumb(hostName: string) {
    const p = h(hostName);
    const r = await applyInterfacesThenRoutes(p.ifaces, p.routes);
    return r;
  }

  before(async function () {
    configureLogging({ level: 'silent' });
    lab = await Lab.create();
    const mk = async (name: string): Promise<HostPlumbing> => {
      const host = await lab.addHost(name);
      return {
        host,
        ifaces: new InterfaceManager({ netns: host.netns, mtu: lab.mtu }),
        routes: newRouteTable(host.netns),
      };
    };
    h1 = await mk('h1');
    h2 = await mk('h2');
    for (const [dst, proto] of FOREIGN) {
      await runOk('ip', ['-n', h1.host.netns, 'route', 'add', dst, 'via', lab.gateway, 'proto', proto, ...(proto === '12' ? ['metric', '32'] : [])]);
    }
    for (const [host, names] of [['h1', ['a', 'b']], ['h2', ['c']]] as const) {
      for (const name of names) {
        const w = await lab.addWorkload(host, { name, plumb: 'none' });
        h(host).ifaces.setInterface(w.hostIface);
      }
    }
    for (const p of [h1, h2]) {
      p.routes.setRoutes('local-workload', localRoutes(p.host.name));
      p.routes.setRoutes('local-block', [{ dst: p.host.block, type: 'blackhole' }]);
      const other = p === h1 ? h2 : h1;
      p.routes.setRoutes('remote-block', [{ dst: other.host.block, via: other.host.address }]);
    }
    foreignSnapshot = await foreignState();
  });

  afterEach(async function () {
    // Foreign routes survive every operation of every test.
    assert.equal(await foreignState(), foreignSnapshot, 'a foreign route was touched');
  });

  after(async () => {
    await lab.destroy();
    configureLogging({ level: 'info' });
  });

  it('plumbs workloads: ping on one host and across two hosts, with Calico\'s route shapes', async () => {
    const r1 = await plumb('h1');
    const r2 = await plumb('h2');
    assert.equal(r1.routes.failed.length + r1.routes.pending.length + r1.routes.conflicts.length, 0, JSON.stringify(r1.routes));
    assert.equal(r2.routes.failed.length + r2.routes.pending.length, 0);
    assert.deepEqual(r1.interfaces.configured.sort(), [lab.workload('a').hostIface, lab.workload('b').hostIface].sort());
    assert.equal(r1.routes.added, 4, 'two /32, the blackhole, the remote block');
    const cells = await lab.matrix();
    assert.equal(cells.length, 6);
    for (const c of cells) assert.ok(c.result.ok, `${c.from} -> ${c.to}: ${c.result.error} ${c.result.detail ?? ''}`);
    // Shapes, as `ip -N -j` reports them.
    const ours = await routesOf(h1.host.netns, 4, 80);
    const a = lab.workload('a');
    assert.deepEqual(ours.find((r) => r.dst === a.ip), { dst: a.ip, dev: a.hostIface, protocol: '80', scope: '253', flags: [] });
    assert.deepEqual(ours.find((r) => r.dst === h1.host.block), { type: '6', dst: h1.host.block, protocol: '80', flags: [] });
    assert.deepEqual(ours.find((r) => r.dst === h2.host.block), { dst: h2.host.block, gateway: h2.host.address, dev: 'eth0', protocol: '80', flags: [] });
  });

  it('proxy ARP answers the workload for 169.254.1.1 with ee:ee:ee:ee:ee:ee', async () => {
    const a = lab.workload('a');
    await runOk('ip', ['-n', a.netns, 'neigh', 'flush', 'dev', 'eth0']);
    assert.ok((await ping(a.netns, lab.workload('b').ip)).ok);
    const neigh = await runOk('ip', ['-n', a.netns, 'neigh', 'show', '169.254.1.1', 'dev', 'eth0']);
    assert.match(neigh, /lladdr ee:ee:ee:ee:ee:ee/);
  });

  it('the local block is a blackhole: an unallocated address of it is dropped on its host', async () => {
    const free = h2.host.block.replace(/\.0\/26$/, '.50');
    // The kernel answers a lookup that ends in a blackhole with EINVAL.
    const get = await run('ip', ['-n', h2.host.netns, 'route', 'get', free]);
    assert.equal(get.code, 2);
    assert.match(get.stderr, /Invalid argument/);
    const other = await runOk('ip', ['-n', h1.host.netns, 'route', 'get', free]);
    assert.match(other, new RegExp(`via ${h2.host.address.replace(/\./g, '\\.')} dev eth0`), 'elsewhere it routes to its host');
    assert.equal((await ping(lab.workload('a').netns, free)).ok, false);
  });

  it('ECMP: several next hops become one multipath route; IPIP and VXLAN shapes go over their devices onlink', async () => {
    // Stand-ins: this kernel has no IPIP (platform.md), so tunl0 is a veth here; vxlan.tabby is real.
    await runOk('ip', ['-n', h1.host.netns, 'link', 'add', 'tunl0', 'type', 'veth', 'peer', 'name', 'tunl0p']);
    await runOk('ip', ['-n', h1.host.netns, 'link', 'set', 'tunl0', 'up']);
    await runOk('ip', ['-n', h1.host.netns, 'link', 'set', 'tunl0p', 'up']);
    await runOk('ip', ['-n', h1.host.netns, 'link', 'add', 'vxlan.tabby', 'type', 'vxlan', 'id', '4096', 'dstport', '4789', 'local', h1.host.address, 'nolearning']);
    await runOk('ip', ['-n', h1.host.netns, 'link', 'set', 'vxlan.tabby', 'up']);
    const rejected = h1.routes.setRoutes('bgp-learned', [
      { dst: '10.70.0.0/24', via: '172.31.0.2' },
      { dst: '10.70.0.0/24', via: '172.31.0.3' },
      { dst: '10.71.0.0/26', via: '10.71.0.192', dev: 'tunl0', onlink: true },
      { dst: '10.72.0.0/26', via: '10.72.0.192', dev: 'vxlan.tabby', onlink: true },
      { dst: 'fd00:70::/64', nextHops: [{ via: 'fd00:9::2', dev: 'eth0', onlink: true }, { via: 'fd00:9::3', dev: 'eth0', onlink: true }] },
    ]);
    assert.deepEqual(rejected, []);
    const r = await h1.routes.apply();
    assert.equal(r.added, 4, JSON.stringify(r));
    assert.equal(r.processes, 1, 'one batch, no read-back needed');
    const v4 = await routesOf(h1.host.netns, 4, 80);
    const ecmp = v4.find((x) => x.dst === '10.70.0.0/24')!;
    assert.deepEqual(ecmp.nexthops, [
      { gateway: '172.31.0.2', dev: 'eth0', weight: 1, flags: [] },
      { gateway: '172.31.0.3', dev: 'eth0', weight: 1, flags: [] },
    ]);
    assert.deepEqual(v4.find((x) => x.dst === '10.71.0.0/26'), { dst: '10.71.0.0/26', gateway: '10.71.0.192', dev: 'tunl0', protocol: '80', flags: ['onlink'] });
    assert.deepEqual(v4.find((x) => x.dst === '10.72.0.0/26'), { dst: '10.72.0.0/26', gateway: '10.72.0.192', dev: 'vxlan.tabby', protocol: '80', flags: ['onlink'] });
    const v6 = await routesOf(h1.host.netns, 6, 80);
    assert.equal((v6.find((x) => x.dst === 'fd00:70::/64')!.nexthops as unknown[]).length, 2);
    // Without tunl0 (as on this kernel), the IPIP route waits and says why.
    await runOk('ip', ['-n', h1.host.netns, 'link', 'del', 'tunl0']);
    h1.routes.onIfaceStateChanged('tunl0', false);
    const gone = await h1.routes.apply();
    assert.deepEqual(gone.pending.map((p) => [p.device, p.message]), [['tunl0', 'Cannot find device "tunl0"']]);
    h1.routes.setRoutes('bgp-learned', []);
    const cleared = await h1.routes.apply();
    assert.equal(cleared.deleted, 3);
    assert.equal(cleared.pending.length, 0);
  });

  it('repairs each kind of route drift on resync and reports it', async () => {
    const ns = h1.host.netns;
    const a = lab.workload('a');
    const b = lab.workload('b');
    await runOk('ip', ['-n', ns, 'route', 'del', `${a.ip}/32`, 'proto', '80']); // deleted
    await runOk('ip', ['-n', ns, 'route', 'replace', `${b.ip}/32`, 'dev', a.hostIface, 'proto', '80', 'scope', 'link']); // edited
    await runOk('ip', ['-n', ns, 'route', 'add', '10.77.0.0/24', 'via', lab.gateway, 'proto', '80']); // stray, ours by protocol
    assert.equal((await ping(b.netns, a.ip)).ok, false, 'the drift breaks traffic');
    h1.routes.requestResync();
    const r = await h1.routes.apply();
    assert.deepEqual(r.repairs.map((x) => `${x.kind} ${x.route.split(' ')[0]}`).sort(), [`corrected ${b.ip}/32`, 'removed 10.77.0.0/24', `restored ${a.ip}/32`].sort());
    assert.equal(r.processes, 2, 'one read (both families) and one batch');
    assert.ok((await ping(b.netns, a.ip)).ok);
    assert.ok((await ping(a.netns, b.ip)).ok);
    h1.routes.requestResync();
    assert.equal((await h1.routes.apply()).repairs.length, 0);
  });

  it('a restarted driver adopts the routes without rewriting them and removes what is no longer desired', async () => {
    const fresh = newRouteTable(h1.host.netns);
    fresh.setRoutes('local-workload', localRoutes('h1'));
    fresh.setRoutes('local-block', [{ dst: h1.host.block, type: 'blackhole' }]);
    fresh.setRoutes('remote-block', [{ dst: h2.host.block, via: h2.host.address }]);
    const r = await fresh.apply();
    assert.equal(r.adopted, 4);
    assert.equal(r.lines, 0, 'nothing rewritten');
    assert.equal(r.processes, 1, 'just the read-back');
    // Another restart that no longer wants the remote block.
    const fresh2 = newRouteTable(h1.host.netns);
    fresh2.setRoutes('local-workload', localRoutes('h1'));
    fresh2.setRoutes('local-block', [{ dst: h1.host.block, type: 'blackhole' }]);
    const r2 = await fresh2.apply();
    assert.equal(r2.adopted, 3);
    assert.equal(r2.deleted, 1);
    assert.deepEqual(r2.repairs.map((x) => x.kind), ['removed']);
    assert.equal((await ping(lab.workload('a').netns, lab.workload('c').ip)).ok, false);
    h1.routes = fresh2;
    h1.routes.setRoutes('remote-block', [{ dst: h2.host.block, via: h2.host.address }]);
    assert.equal((await h1.routes.apply()).added, 1);
    await lab.waitReachable('a', 'c');
  });

  it('a continuous ping across hosts loses nothing while both drivers restart', async () => {
    const a = lab.workload('a');
    const c = lab.workload('c');
    const count = 200;
    const pinger = run('ping', ['-n', '-q', '-i', '0.01', '-c', String(count), '-W', '1', c.ip], { ns: a.netns, timeoutMs: 30_000 });
    let restarts = 0;
    for (let i = 0; i < 4; i++) {
      for (const p of [h1, h2]) {
        const other = p === h1 ? h2 : h1;
        const fresh = newRouteTable(p.host.netns);
        fresh.setRoutes('local-workload', localRoutes(p.host.name));
        fresh.setRoutes('local-block', [{ dst: p.host.block, type: 'blackhole' }]);
        fresh.setRoutes('remote-block', [{ dst: other.host.block, via: other.host.address }]);
        const ifaces = new InterfaceManager({ netns: p.host.netns, mtu: lab.mtu });
        for (const n of p.ifaces.interfaces()) ifaces.setInterface(n);
        const r = await applyInterfacesThenRoutes(ifaces, fresh);
        assert.equal(r.routes.lines, 0);
        assert.equal(r.interfaces.linkLines + r.interfaces.sysctlWrites, 0);
        p.routes = fresh;
        p.ifaces = ifaces;
        restarts++;
      }
    }
    const res = await pinger;
    assert.equal(restarts, 8);
    assert.match(res.stdout, new RegExp(`${count} packets transmitted, ${count} received, 0% packet loss`), res.stdout);
  });

  it('a /32 to a cali interface that does not exist yet is pending, then programmed when the interface appears', async () => {
    const ip = h1.host.block.replace(/\.0\/26$/, '.40');
    // The CNI race: the datastore says the workload exists before its veth does.
    const futureIface = 'cali' + 'f'.repeat(11);
    h1.ifaces.setInterface(futureIface);
    h1.routes.setRoutes('local-workload', [...localRoutes('h1'), { dst: `${ip}/32`, dev: futureIface }]);
    const early = await plumb('h1');
    assert.deepEqual(early.interfaces.missing, [futureIface]);
    assert.equal(early.routes.pending.length, 1);
    assert.equal(early.routes.pending[0]!.device, futureIface);
    assert.equal(early.routes.failed.length, 0, 'no error within the grace period');
    const quiet = await plumb('h1');
    assert.equal(quiet.routes.lines, 0, 'not retried before its back-off, no error storm');
    // The veth appears (named as the CNI plugin would, here by hand).
    const w = await lab.addWorkload('h1', { name: 'late', ip, plumb: 'none' });
    await runOk('ip', ['-n', h1.host.netns, 'link', 'set', w.hostIface, 'name', futureIface]);
    const later = await plumb('h1');
    assert.deepEqual(later.interfaces.configured, [futureIface]);
    assert.equal(later.routes.added, 1, JSON.stringify(later.routes));
    assert.equal(later.routes.pending.length, 0);
    assert.ok((await ping(lab.workload('a').netns, ip)).ok);
    h1.ifaces.removeInterface(futureIface);
    h1.routes.setRoutes('local-workload', localRoutes('h1'));
    assert.equal((await plumb('h1')).routes.deleted, 1);
  });

  it('a tabby route whose key a foreign route holds is reported as a conflict, never overwritten', async () => {
    const ns = h1.host.netns;
    await runOk('ip', ['-n', ns, 'route', 'add', '10.68.0.0/26', 'via', lab.gateway, 'proto', String(LAB_ROUTE_PROTO)]);
    h1.routes.setRoutes('bgp-learned', [{ dst: '10.68.0.0/26', via: h2.host.address }]);
    const r = await h1.routes.apply();
    assert.equal(r.conflicts.length, 1);
    assert.match(r.conflicts[0]!.message, /File exists/);
    const held = (await routesOf(ns, 4)).find((x) => x.dst === '10.68.0.0/26')!;
    assert.equal(held.protocol, String(LAB_ROUTE_PROTO));
    assert.equal(held.gateway, lab.gateway);
    h1.routes.setRoutes('bgp-learned', []);
    const r2 = await h1.routes.apply();
    assert.equal(r2.conflicts.length, 0);
    assert.equal(r2.deleted, 0);
    await runOk('ip', ['-n', ns, 'route', 'del', '10.68.0.0/26', 'proto', String(LAB_ROUTE_PROTO)]);
  });

  it('IPv6: /128 routes to workloads, reached through the fe80::ecee:eeff:feee:eeee gateway', async () => {
    const ns = h1.host.netns;
    const v6: Record<string, string> = { v6a: 'fd00:65:1::a', v6b: 'fd00:65:1::b' };
    for (const [name, addr] of Object.entries(v6)) {
      const w = await lab.addWorkload('h1', { name, plumb: 'none' });
      await runOk('ip', ['-n', w.netns, 'addr', 'add', `${addr}/128`, 'dev', 'eth0', 'nodad']);
      await runOk('ip', ['-n', w.netns, '-6', 'route', 'add', 'default', 'via', 'fe80::ecee:eeff:feee:eeee', 'dev', 'eth0']);
      h1.ifaces.setInterface(w.hostIface, { ipv6: true });
    }
    const v6Routes = Object.entries(v6).map(([name, addr]) => ({ dst: `${addr}/128`, dev: lab.workload(name).hostIface }));
    h1.routes.setRoutes('local-workload', [...localRoutes('h1'), ...v6Routes]);
    h1.routes.setRoutes('local-block', [{ dst: h1.host.block, type: 'blackhole' }, { dst: 'fd00:65:1::/122', type: 'blackhole' }]);
    const r = await plumb('h1');
    assert.equal(r.routes.failed.length + r.routes.pending.length, 0, JSON.stringify(r.routes));
    const ours = await routesOf(ns, 6, 80);
    const wa = lab.workload('v6a');
    assert.deepEqual(ours.find((x) => x.dst === v6.v6a), { dst: v6.v6a, dev: wa.hostIface, protocol: '80', metric: 1024, flags: [], pref: 'medium' });
    assert.equal(ours.find((x) => x.dst === 'fd00:65:1::/122')!.type, '6');
    const ll = await runOk('ip', ['-n', ns, '-6', '-o', 'addr', 'show', 'dev', wa.hostIface, 'scope', 'link']);
    assert.match(ll, /fe80::ecee:eeff:feee:eeee\/64/, 'the MAC was set before the link came up');
    const fwd = await runOk('cat', ['/proc/sys/net/ipv6/conf/all/forwarding'], { ns });
    assert.equal(fwd, '1');
    // DAD of the host side's link-local takes a moment.
    await waitFor('v6a -> v6b', async () => (await ping(lab.workload('v6a').netns, v6.v6b!)).ok || { notYet: 'no reply' }, { timeoutMs: 15_000 });
    assert.ok((await ping(lab.workload('v6b').netns, v6.v6a!)).ok);
  });
});
