/**
 * The interface/sysctl manager on a lab host: Calico's veth shape, host
 * forwarding, drift repair of each kind (sysctl, link down, MTU, address,
 * host sysctl) with the routes that go with it, and nothing else touched.
 */
import assert from 'node:assert/strict';
import { Lab, type LabHost, type LabWorkload } from '../../../src/lab/lab.js';
import { runOk } from '../../../src/lab/exec.js';
import { ping } from '../../../src/lab/probe.js';
import { configureLogging } from '../../../src/util/log.js';
import { RouteTable } from '../../../src/felix/routes/route-table.js';
import { InterfaceManager } from '../../../src/felix/interfaces/interface-manager.js';
import { applyInterfacesThenRoutes } from '../../../src/felix/interfaces/plumbing.js';

const SYSCTLS = ['ipv4/conf/X/proxy_arp', 'ipv4/neigh/X/proxy_delay', 'ipv4/conf/X/forwarding', 'ipv4/conf/X/rp_filter', 'ipv4/conf/X/route_localnet', 'ipv6/conf/X/accept_ra'];

async function sysctls(ns: string, iface: string): Promise<Record<string, string>> {
  const paths = SYSCTLS.map((s) => `/proc/sys/net/${s.replace('X', iface)}`);
  const out = await runOk('grep', ['-H', '', ...paths], { ns });
  return Object.fromEntries(out.split('\n').map((l) => [l.slice(0, l.indexOf(':')).replace(`/proc/sys/net/`, '').replace(iface, 'X'), l.slice(l.indexOf(':') + 1)]));
}

async function link(ns: string, iface: string): Promise<{ flags: string[]; mtu: number; address: string; addr_info: Array<{ family: string; local: string; scope: string }> }> {
  return (JSON.parse(await runOk('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', iface])) as never[])[0]!;
}

describe('felix interface manager in a lab host', function () {
  let lab: Lab;
  let host: LabHost;
  let a: LabWorkload;
  let b: LabWorkload;
  let ifaces: InterfaceManager;
  let routes: RouteTable;
  let eth0Before = '';

  // eth0's ipv4 forwarding follows net.ipv4.ip_forward (the kernel copies the
  // host-wide value to every interface), which tabby owns; everything else of
  // eth0 must stay as it was.
  const eth0State = async () => {
    const { ['ipv4/conf/X/forwarding']: _forwarding, ...otherSysctls } = await sysctls(host.netns, 'eth0');
    const { addr_info, ...rest } = await link(host.netns, 'eth0');
    return JSON.stringify({ link: rest, addrs: addr_info.map((x) => `${x.family} ${x.local}`), sysctls: otherSysctls });
  };

  before(async () => {
    configureLogging({ level: 'silent' });
    lab = await Lab.create();
    host = await lab.addHost('h1');
    // Start from a host that forwards nothing, with a non-default rp_filter default to inherit.
    await runOk('sh', ['-c', 'echo 0 > /proc/sys/net/ipv4/ip_forward; echo 2 > /proc/sys/net/ipv4/conf/default/rp_filter'], { ns: host.netns });
    a = await lab.addWorkload('h1', { name: 'a', plumb: 'none' });
    b = await lab.addWorkload('h1', { name: 'b', plumb: 'none' });
    eth0Before = await eth0State();
    ifaces = new InterfaceManager({ netns: host.netns, mtu: 1400 });
    routes = new RouteTable({ netns: host.netns, retryInitialMs: 5_000 });
    for (const w of [a, b]) ifaces.setInterface(w.hostIface);
    routes.setRoutes('local-workload', [a, b].map((w) => ({ dst: `${w.ip}/32`, dev: w.hostIface })));
  });

  after(async () => {
    await lab.destroy();
    configureLogging({ level: 'info' });
  });

  it('brings a fresh veth into Calico\'s shape and turns on forwarding', async () => {
    const before = await link(host.netns, a.hostIface);
    assert.ok(!before.flags.includes('UP'), 'the lab leaves it down');
    const r = await applyInterfacesThenRoutes(ifaces, routes);
    assert.deepEqual(r.interfaces.configured.sort(), [a.hostIface, b.hostIface].sort());
    assert.deepEqual(r.interfaces.failed, []);
    assert.equal(r.routes.added, 2, 'routes follow the link events');
    const l = await link(host.netns, a.hostIface);
    assert.ok(l.flags.includes('UP'));
    assert.equal(l.mtu, 1400);
    assert.equal(l.address, 'ee:ee:ee:ee:ee:ee');
    assert.deepEqual(l.addr_info.filter((x) => x.scope !== 'link'), [], 'no address but the link-local');
    assert.deepEqual(await sysctls(host.netns, a.hostIface), {
      'ipv4/conf/X/proxy_arp': '1',
      'ipv4/neigh/X/proxy_delay': '0',
      'ipv4/conf/X/forwarding': '1',
      'ipv4/conf/X/rp_filter': '2',
      'ipv4/conf/X/route_localnet': '1',
      'ipv6/conf/X/accept_ra': '0',
    });
    assert.equal(await runOk('cat', ['/proc/sys/net/ipv4/ip_forward'], { ns: host.netns }), '1');
    assert.ok((await ping(a.netns, b.ip)).ok);
    const neigh = await runOk('ip', ['-n', a.netns, 'neigh', 'show', '169.254.1.1']);
    assert.match(neigh, /lladdr ee:ee:ee:ee:ee:ee/);
  });

  it('repairs a changed sysctl, a downed link, a changed MTU, a stray address and host forwarding, and reports each', async () => {
    const ns = host.netns;
    await runOk('sh', ['-c', `echo 0 > /proc/sys/net/ipv4/conf/${a.hostIface}/proxy_arp; echo 0 > /proc/sys/net/ipv4/ip_forward`], { ns });
    await runOk('ip', ['-n', ns, 'link', 'set', b.hostIface, 'down']);
    await runOk('ip', ['-n', ns, 'link', 'set', a.hostIface, 'mtu', '9000']);
    await runOk('ip', ['-n', ns, 'addr', 'add', '10.9.9.9/24', 'dev', a.hostIface]);
    await runOk('ip', ['-n', ns, '-6', 'addr', 'add', 'fd00:99::1/64', 'dev', a.hostIface, 'nodad']);
    assert.equal((await ping(a.netns, b.ip)).ok, false, 'the drift breaks traffic');
    ifaces.requestResync();
    routes.requestResync();
    const r = await applyInterfacesThenRoutes(ifaces, routes);
    const got = r.interfaces.repairs.map((c) => `${c.iface === '(host)' ? 'host' : c.iface === a.hostIface ? 'a' : 'b'} ${c.what} ${c.key ?? ''}`.trim()).sort();
    // Writing ip_forward=0 also set every interface's conf/X/forwarding to 0
    // (the kernel propagates it, devinet inet_forward_change), so those are
    // repaired too.
    assert.deepEqual(got, [
      'a address 10.9.9.9/24',
      'a address fd00:99::1/64',
      'a mtu',
      `a sysctl net/ipv4/conf/${a.hostIface}/forwarding`,
      `a sysctl net/ipv4/conf/${a.hostIface}/proxy_arp`,
      `b sysctl net/ipv4/conf/${b.hostIface}/forwarding`,
      'b up',
      'host sysctl net/ipv4/ip_forward',
    ].sort());
    assert.equal(r.interfaces.processes, 5, 'read: one batch of the local table and the links, proc, prefix lengths of the stray IPv4 address; write: link batch, sysctls');
    // The route over b went with its link, the one over a with a's last IPv4
    // address (the kernel flushes a device's IPv4 routes then); the link
    // events make the route table put both back.
    assert.deepEqual(r.interfaces.linkEvents.map((e) => `${e.name === a.hostIface ? 'a' : 'b'} ${e.up ? 'up' : 'down'}`).sort(), ['a down', 'a up', 'b down', 'b up']);
    assert.equal(r.routes.added, 2);
    assert.ok((await ping(a.netns, b.ip)).ok);
    const l = await link(ns, a.hostIface);
    assert.equal(l.mtu, 1400);
    assert.deepEqual(l.addr_info.filter((x) => x.scope !== 'link'), []);
    ifaces.requestResync();
    const clean = await ifaces.apply();
    assert.deepEqual(clean.repairs, []);
  });

  it('without a resync, a link set down is repaired when its interface is marked dirty again', async () => {
    // The periodic resync is what finds drift; an interface event (from a
    // monitor or the CNI) can also point at one interface.
    await runOk('ip', ['-n', host.netns, 'link', 'set', a.hostIface, 'down']);
    routes.onIfaceStateChanged(a.hostIface, false);
    ifaces.setInterface(a.hostIface, { ipv4: true }); // a changed spec marks it dirty
    const r = await applyInterfacesThenRoutes(ifaces, routes);
    assert.deepEqual(r.interfaces.configured, [a.hostIface]);
    assert.equal(r.routes.added, 1);
    assert.ok((await ping(b.netns, a.ip)).ok);
  });

  it('in the current namespace (as the agent runs) it writes /proc directly and runs ip without -n', async () => {
    const c = await lab.addWorkload('h1', { name: 'c', plumb: 'none' });
    const dist = new URL('../../../src/felix/', import.meta.url).pathname;
    const script = `
      import { InterfaceManager, applyInterfacesThenRoutes } from '${dist}interfaces/index.js';
      import { RouteTable } from '${dist}routes/index.js';
      import { configureLogging } from '${dist}../util/log.js';
      configureLogging({ level: 'silent' });
      const ifaces = new InterfaceManager({ mtu: 1400, rpFilter: 1 });
      const routes = new RouteTable();
      ifaces.setInterface('${c.hostIface}');
      // The one route table of protocol 80 on this host: it must want every workload's route.
      routes.setRoutes('local-workload', ${JSON.stringify([a, b, c].map((w) => ({ dst: `${w.ip}/32`, dev: w.hostIface })))});
      const r = await applyInterfacesThenRoutes(ifaces, routes);
      console.log(JSON.stringify({ i: r.interfaces, r: r.routes }));`;
    const out = await runOk(process.execPath, ['--input-type=module', '-e', script], { ns: host.netns });
    const { i, r } = JSON.parse(out) as { i: { configured: string[]; processes: number; sysctlWrites: number }; r: { added: number; adopted: number; deleted: number } };
    assert.deepEqual(i.configured, [c.hostIface]);
    assert.equal(i.processes, 2, 'ip: one batch of the local table and link reads, link writes; no sh: sysctls through /proc');
    assert.ok(i.sysctlWrites > 0);
    assert.deepEqual([r.adopted, r.added, r.deleted], [2, 1, 0]);
    assert.deepEqual(await sysctls(host.netns, c.hostIface), {
      'ipv4/conf/X/proxy_arp': '1',
      'ipv4/neigh/X/proxy_delay': '0',
      'ipv4/conf/X/forwarding': '1',
      'ipv4/conf/X/rp_filter': '1',
      'ipv4/conf/X/route_localnet': '1',
      'ipv6/conf/X/accept_ra': '0',
    });
    assert.ok((await ping(c.netns, a.ip)).ok);
  });

  it('never touched the host\'s own interface', async () => {
    assert.equal(await eth0State(), eth0Before);
    assert.equal(await runOk('cat', ['/proc/sys/net/ipv4/conf/eth0/forwarding'], { ns: host.netns }), '1', 'follows ip_forward=1');
  });
});
