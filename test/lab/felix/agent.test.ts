/**
 * The Felix agent end to end, in network namespaces with real traffic: two
 * hosts, each with an agent running in-process against its namespace, no
 * static plumbing (the lab only creates the veths). Remote blocks come as
 * BGP-learned routes given directly (until the BGP wiring lands).
 *
 *   h1: a (app=web), b (role=client), x (a cali veth nobody described)
 *   h2: c (role=client), e (no labels)
 *   policy: ingress to app=web only from role=client
 *
 * Covered: nothing before in-sync; workload traffic on one host and across
 * hosts (ICMP, TCP), proxy ARP for 169.254.1.1, policy with a cross-node
 * ipset, fail-closed for an unknown cali interface, incremental updates,
 * drift repair in every manager, restart with a continuous ping and zero
 * loss, cleanup of what is no longer desired at restart, and foreign routes,
 * chains, rules and ipsets surviving every operation.
 */
import assert from 'node:assert/strict';
import { Lab, type LabHost, type LabWorkload } from '../../../src/lab/lab.js';
import { run, runOk } from '../../../src/lab/exec.js';
import { ping, tcpProbe } from '../../../src/lab/probe.js';
import { FelixInput } from '../../../src/felix/calc/input.js';
import { FelixAgent } from '../../../src/felix/agent/agent.js';
import type { AgentPassReport } from '../../../src/felix/agent/report.js';
import { ingressPolicy, pool, wep } from '../../unit/felix/calc/fixtures.js';

const PROTO = 80;
const WEB_POLICY = ingressPolicy('default', 'web-ingress', "app == 'web'", [{ action: 'Allow', source: { selector: "role == 'client'" }, destination: {} }]);

describe('felix agent lab: routed workloads on two hosts', function () {
  this.timeout(180_000);
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;
  const w: Record<string, LabWorkload> = {};
  const inputs = new Map<string, FelixInput>();
  const agents = new Map<string, FelixAgent>();

  const ipIn = (h: LabHost, args: string[]) => runOk('ip', ['-n', h.netns, ...args]);
  const inNs = (h: LabHost, cmd: string, args: string[]) => runOk(cmd, args, { ns: h.netns });
  const ourRoutes = async (h: LabHost) => (await ipIn(h, ['route', 'show', 'proto', String(PROTO)])).split('\n').filter(Boolean);
  const pingOk = async (from: LabWorkload, to: LabWorkload) => (await ping(from.netns, to.ip, { timeoutMs: 1000 })).ok;
  const tcpOk = async (from: LabWorkload, to: LabWorkload) => (await tcpProbe(from.netns, to.ip, 8080, { timeoutMs: 1500 })).ok;
  const sysctl = (h: LabHost, path: string) => inNs(h, 'cat', [`/proc/sys/${path}`]);
  const agent = (h: LabHost) => agents.get(h.name)!;
  const wepOf = (x: LabWorkload, labels: Record<string, string> = {}) => wep({ node: x.host, pod: x.name, iface: x.hostIface, ips: [x.ip], labels });
  const LABELS: Record<string, Record<string, string>> = { a: { app: 'web' }, b: { role: 'client' }, c: { role: 'client' }, e: {}, d: { role: 'client' } };

  /** The whole view of one host: every endpoint of the cluster, pools, blocks, the other host's block as a learned route. */
  function fillInput(h: LabHost, input: FelixInput, workloads: LabWorkload[]): void {
    input.setNode({ name: h.name, address: `${h.address}/${h.prefixLength}` });
    input.setPools([pool('default-ipv4-ippool', '10.65.0.0/16')]);
    input.setLocalBlocks([h.block]);
    for (const x of workloads) input.setWorkloadEndpoint(wepOf(x, LABELS[x.name]));
    input.setPolicy(WEB_POLICY);
    const other = h === h1 ? h2 : h1;
    input.setLearnedRoutes([{ dst: other.block, via: [other.address] }]);
  }

  async function newAgent(h: LabHost, input: FelixInput): Promise<FelixAgent> {
    const a = await FelixAgent.create({ input, netns: h.netns, resyncIntervalMs: 0 });
    agents.set(h.name, a);
    return a;
  }

  before(async () => {
    lab = await Lab.create();
    h1 = await lab.addHost('h1');
    h2 = await lab.addHost('h2');
    for (const [host, name] of [['h1', 'a'], ['h1', 'b'], ['h1', 'x'], ['h2', 'c'], ['h2', 'e']] as const) {
      w[name] = await lab.addWorkload(host, { name, plumb: 'none' });
    }
    await Promise.all(['a', 'b', 'c', 'e', 'x'].map((n) => lab.startEcho(n, { tcp: [8080], udp: [8081] })));

    // Foreign state on h1 that tabby must never touch: a route of another
    // protocol, a filter chain with its hook rule, a nat chain, an ipset.
    await ipIn(h1, ['route', 'add', '10.99.0.0/24', 'via', lab.gateway, 'proto', 'static']);
    await runOk('iptables-nft-restore', ['--noflush'], {
      ns: h1.netns,
      input: ['*filter', ':FOREIGN-FWD - [0:0]', '-A FOREIGN-FWD -s 10.99.0.0/24 -j DROP', '-A FORWARD -s 10.99.0.0/24 -j FOREIGN-FWD', 'COMMIT', '*nat', ':FOREIGN-NAT - [0:0]', '-A FOREIGN-NAT -d 10.99.0.0/24 -j RETURN', '-A POSTROUTING -j FOREIGN-NAT', 'COMMIT', ''].join('\n'),
    });
    await inNs(h1, 'ipset', ['create', 'foreign-set', 'hash:ip']);
    await inNs(h1, 'ipset', ['add', 'foreign-set', '10.99.0.1']);
    // x: a cali veth with a route and proxy ARP (as a stray CNI would leave it) but no endpoint.
    await ipIn(h1, ['link', 'set', w.x!.hostIface, 'up']);
    await ipIn(h1, ['route', 'add', `${w.x!.ip}/32`, 'dev', w.x!.hostIface, 'proto', 'static']);
    await inNs(h1, 'sh', ['-c', `echo 1 > /proc/sys/net/ipv4/conf/${w.x!.hostIface}/proxy_arp`]);

    for (const h of [h1, h2]) inputs.set(h.name, new FelixInput());
  });

  after(async () => {
    for (const a of agents.values()) await a.stop();
    await lab.destroy();
  });

  async function foreignIntact(): Promise<void> {
    assert.match(await ipIn(h1, ['route', 'show', '10.99.0.0/24']), /10\.99\.0\.0\/24 via 172\.31\.0\.254 dev eth0 proto static/);
    assert.match(await ipIn(h1, ['route', 'show', `${w.x!.ip}/32`]), /proto static/);
    const filter = await inNs(h1, 'iptables-nft-save', ['-t', 'filter']);
    assert.match(filter, /^-A FOREIGN-FWD -s 10\.99\.0\.0\/24 -j DROP$/m);
    assert.match(filter, /^-A FORWARD -s 10\.99\.0\.0\/24 -j FOREIGN-FWD$/m);
    const nat = await inNs(h1, 'iptables-nft-save', ['-t', 'nat']);
    assert.match(nat, /^-A FOREIGN-NAT -d 10\.99\.0\.0\/24 -j RETURN$/m);
    assert.match(nat, /^-A POSTROUTING -j FOREIGN-NAT$/m);
    assert.match(await inNs(h1, 'ipset', ['list', 'foreign-set']), /^10\.99\.0\.1$/m);
  }

  it('writes nothing before the input is in sync', async () => {
    const input = inputs.get('h1')!;
    fillInput(h1, input, [w.a!, w.b!, w.c!, w.e!]);
    const a1 = await newAgent(h1, input);
    const r = await a1.apply();
    assert.equal(r.skipped, 'not-in-sync');
    assert.deepEqual(await ourRoutes(h1), []);
    assert.doesNotMatch(await inNs(h1, 'iptables-nft-save', []), /tabby/);
    assert.equal(await pingOk(w.a!, w.b!), false, 'no route to b yet');
  });

  it('once in sync: one pass plumbs every workload, its routes, the chains and sets', async () => {
    const i1 = inputs.get('h1')!;
    i1.markInSync();
    const r = await agent(h1).apply();
    assert.equal(r.skipped, undefined);
    assert.deepEqual(r.interfaces!.configured.sort(), [w.a!.hostIface, w.b!.hostIface].sort());
    assert.deepEqual(r.routes!.failed, []);
    const routes = await ourRoutes(h1);
    assert.ok(routes.some((l) => l.startsWith(`${w.a!.ip} dev ${w.a!.hostIface} scope link`)), routes.join('\n'));
    assert.ok(routes.some((l) => l.startsWith(`blackhole ${h1.block}`)), routes.join('\n'));
    assert.ok(routes.some((l) => l.startsWith(`${h2.block} via ${h2.address} dev eth0`)), routes.join('\n'));
    assert.equal(routes.length, 4, routes.join('\n'));
    // Calico's interface shape.
    const link = JSON.parse(await ipIn(h1, ['-j', 'link', 'show', 'dev', w.a!.hostIface]))[0] as { address: string; mtu: number; flags: string[] };
    assert.equal(link.address, 'ee:ee:ee:ee:ee:ee');
    assert.equal(link.mtu, 1440);
    assert.ok(link.flags.includes('UP'));
    assert.equal(await sysctl(h1, `net/ipv4/conf/${w.a!.hostIface}/proxy_arp`), '1');
    assert.equal(await sysctl(h1, `net/ipv4/neigh/${w.a!.hostIface}/proxy_delay`), '0');
    // The filter frame: conntrack first, hooks at the top of the built-in chains.
    const filter = await inNs(h1, 'iptables-nft-save', ['-t', 'filter']);
    assert.match(filter, /^-A FORWARD -m comment --comment "tabby:[^"]+" -j tabby-FORWARD\n-A FORWARD -s 10\.99/m);
    assert.match(filter, /^-A tabby-FORWARD -m comment --comment "tabby:[^"]+" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT$/m);
    const nat = await inNs(h1, 'iptables-nft-save', ['-t', 'nat']);
    assert.match(nat, /^-A POSTROUTING -m comment --comment "tabby:[^"]+" -j tabby-nat-outgoing\n-A POSTROUTING -j FOREIGN-NAT/m);
    // The policy's selector set holds the clients of both hosts.
    const sel = agent(h1).desired().ipsets.find((s) => s.name.startsWith('tabby-s-'))!;
    assert.deepEqual([...sel.members].sort(), [w.b!.ip, w.c!.ip].sort());
    assert.match(await inNs(h1, 'ipset', ['list', sel.name]), new RegExp(`^${w.c!.ip.replace(/\./g, '\\.')}$`, 'm'));
    await foreignIntact();
  });

  it('workloads on one host reach each other (ICMP, TCP) and proxy ARP answers for 169.254.1.1', async () => {
    assert.ok(await pingOk(w.b!, w.a!));
    const t = await tcpProbe(w.b!.netns, w.a!.ip, 8080, { timeoutMs: 2000 });
    assert.equal(t.ok, true, t.detail);
    assert.equal(t.reply, 'a');
    assert.ok(await pingOk(w.a!, w.b!));
    assert.match(await runOk('ip', ['-n', w.a!.netns, 'neigh', 'show', '169.254.1.1']), /lladdr ee:ee:ee:ee:ee:ee/);
  });

  it('across two hosts: routed without encapsulation, policy enforced with the remote client in the set', async () => {
    const i2 = inputs.get('h2')!;
    fillInput(h2, i2, [w.a!, w.b!, w.c!, w.e!]);
    i2.markInSync();
    const a2 = await newAgent(h2, i2);
    const r = await a2.apply();
    assert.deepEqual(r.routes!.failed, []);
    assert.ok(await pingOk(w.c!, w.a!), 'c -> a (client) allowed');
    const t = await tcpProbe(w.c!.netns, w.a!.ip, 8080, { timeoutMs: 2000 });
    assert.equal(t.ok, true, t.detail);
    assert.equal(t.reply, 'a');
    assert.equal(await tcpOk(w.e!, w.a!), false, 'e -> a (not a client) denied by the web policy');
    assert.ok(await tcpOk(w.a!, w.e!), 'a -> e allowed (e has no policy, its profile allows)');
    assert.ok(await pingOk(w.e!, w.c!), 'e -> c on one host');
  });

  it('fails closed: a cali interface tabby has no endpoint for carries no traffic', async () => {
    assert.equal(await pingOk(w.a!, w.x!), false);
    assert.equal(await pingOk(w.x!, w.a!), false);
    const fwd = await inNs(h1, 'iptables-nft-save', ['-t', 'filter']);
    assert.match(fwd, /^-A tabby-to-wl-dispatch -m comment --comment "tabby:[^"]+" -j DROP$/m);
  });

  it('adding and removing one workload touches only its route, its chains and its set member', async () => {
    const i1 = inputs.get('h1')!;
    const d = await lab.addWorkload('h1', { name: 'd', plumb: 'none' });
    w.d = d;
    i1.setWorkloadEndpoint(wepOf(d, LABELS.d));
    const r = await agent(h1).apply();
    assert.equal(r.routes!.added, 1);
    assert.equal(r.routes!.deleted + r.routes!.replaced, 0);
    assert.deepEqual(r.interfaces!.configured, [d.hostIface]);
    assert.deepEqual(r.iptables.filter!.rewritten, ['tabby-from-wl-dispatch', `tabby-fw-${d.hostIface}`, 'tabby-to-wl-dispatch', `tabby-tw-${d.hostIface}`].sort());
    assert.deepEqual(r.iptables.nat!.rewritten, []);
    const sel = r.ipsets!.changes.filter((c) => c.name.startsWith('tabby-s-'));
    assert.deepEqual(sel.map((c) => ({ kind: c.kind, added: c.added, removed: c.removed })), [{ kind: 'incremental', added: 1, removed: 0 }]);
    assert.equal(r.ipsets!.changes.length, 1);
    assert.ok(await tcpOk(d, w.a!), 'the new client reaches a');

    i1.removeWorkloadEndpoint('default', wepOf(d).metadata.name);
    const r2 = await agent(h1).apply();
    assert.equal(r2.routes!.deleted, 1);
    assert.equal(r2.routes!.added, 0);
    assert.deepEqual(r2.iptables.filter!.rewritten, ['tabby-from-wl-dispatch', 'tabby-to-wl-dispatch']);
    assert.deepEqual(r2.iptables.filter!.deleted, [`tabby-fw-${d.hostIface}`, `tabby-tw-${d.hostIface}`].sort());
    assert.deepEqual(r2.ipsets!.changes.map((c) => ({ kind: c.kind, added: c.added, removed: c.removed })), [{ kind: 'incremental', added: 0, removed: 1 }]);
    assert.equal(await pingOk(d, w.a!), false, 'd is unknown again: dropped');
  });

  it('a resync with nothing drifted reads back and writes nothing', async () => {
    const r = await agent(h1).resync();
    assert.deepEqual(r.repairs, []);
    assert.equal(r.routes!.lines, 0);
    for (const t of Object.values(r.iptables)) assert.equal(t!.restoreRan, false);
    assert.deepEqual(r.interfaces!.repairs, []);
  });

  it('drift in every manager is repaired by the resync, logged and counted', async () => {
    const a1 = agent(h1);
    const sel = a1.desired().ipsets.find((s) => s.name.startsWith('tabby-s-'))!.name;
    // routes: one deleted; interfaces: a sysctl changed, a link taken down (the kernel drops its route);
    // host: forwarding off; iptables: a chain flushed and a foreign rule put into another; ipsets: members removed.
    await ipIn(h1, ['route', 'del', `${w.b!.ip}/32`]);
    await inNs(h1, 'sh', ['-c', `echo 0 > /proc/sys/net/ipv4/conf/${w.a!.hostIface}/proxy_arp; echo 0 > /proc/sys/net/ipv4/ip_forward`]);
    await inNs(h1, 'iptables-nft', ['-F', 'tabby-FORWARD']);
    await inNs(h1, 'iptables-nft', ['-I', `tabby-tw-${w.a!.hostIface}`, '1', '-j', 'ACCEPT']);
    await inNs(h1, 'ipset', ['del', sel, w.c!.ip]);
    await inNs(h1, 'ipset', ['del', 'tabby-all-ipam-pools', '10.65.0.0/16']);
    assert.equal(await pingOk(w.a!, w.b!), false, 'drift breaks traffic');
    const before = a1.stats().repairsTotal;

    const r = await a1.resync();
    const kinds = new Set(r.repairs.map((x) => `${x.manager}.${x.kind}`));
    for (const k of ['routes.restored', 'interfaces.sysctl', 'iptables.chain-flushed', 'iptables.chain-foreign-rule', 'ipsets.set-members']) assert.ok(kinds.has(k), `${k} in ${[...kinds].join(', ')}`);
    const st = a1.stats();
    assert.equal(st.repairsTotal - before, r.repairs.length);
    assert.ok(st.repairs['routes.restored']! >= 1 && st.repairs['iptables.chain-flushed']! >= 1 && st.repairs['ipsets.set-members']! >= 2);

    assert.equal(await sysctl(h1, 'net/ipv4/ip_forward'), '1');
    assert.equal(await sysctl(h1, `net/ipv4/conf/${w.a!.hostIface}/proxy_arp`), '1');
    assert.match(await inNs(h1, 'ipset', ['list', sel]), new RegExp(`^${w.c!.ip.replace(/\./g, '\\.')}$`, 'm'));
    assert.ok(await pingOk(w.a!, w.b!), 'a -> b restored');
    assert.ok(await tcpOk(w.c!, w.a!), 'c -> a restored (set member back)');
    assert.equal(await tcpOk(w.e!, w.a!), false, 'the foreign ACCEPT is gone: e denied again');

    // A link taken down: the kernel drops its route; both come back.
    await ipIn(h1, ['link', 'set', w.b!.hostIface, 'down']);
    const r2 = await a1.resync();
    const k2 = new Set(r2.repairs.map((x) => `${x.manager}.${x.kind}`));
    assert.ok(k2.has('interfaces.up'), [...k2].join(', '));
    assert.ok(await pingOk(w.a!, w.b!), 'b reachable after the link repair');
    await foreignIntact();
  });

  it('a restarted agent adopts everything without a write, and a continuous ping loses nothing', async () => {
    const pinger = lab.startProcess(w.a!.netns, 'ping-restart', 'ping', ['-n', '-i', '0.02', '-c', '200', '-W', '1', w.c!.ip]);
    await new Promise((r) => setTimeout(r, 500));
    await agent(h1).stop();
    // A new process: a fresh input filled from the "datastore", a fresh agent.
    const fresh = new FelixInput();
    fillInput(h1, fresh, [w.a!, w.b!, w.c!, w.e!]);
    fresh.markInSync();
    inputs.set('h1', fresh);
    const a1 = await newAgent(h1, fresh);
    const r: AgentPassReport = await a1.apply();
    assert.equal(r.routes!.added + r.routes!.replaced + r.routes!.deleted, 0, JSON.stringify(r.routes));
    assert.equal(r.routes!.adopted, 4);
    assert.equal(a1.stats().startup.adoptedRoutes, 4);
    for (const [t, res] of Object.entries(r.iptables)) assert.equal(res!.restoreRan, false, `${t} restored: ${res!.input ?? ''}`);
    assert.deepEqual(r.ipsets!.changes, []);
    assert.deepEqual(r.interfaces!.changes, []);
    assert.equal(r.interfaces!.linkLines + r.interfaces!.sysctlWrites, 0);
    assert.ok(await pinger.waitExit(15_000), 'ping finished');
    const out = pinger.logTail(5);
    assert.match(out, /200 packets transmitted, 200 received, 0% packet loss/, out);
  });

  it('a restarted agent removes what is no longer desired: routes, chains, set members', async () => {
    await agent(h1).stop();
    const fresh = new FelixInput();
    fillInput(h1, fresh, [w.a!, w.c!, w.e!]); // b is gone from the datastore
    fresh.markInSync();
    const a1 = await newAgent(h1, fresh);
    const r = await a1.apply();
    assert.equal(r.routes!.deleted, 1);
    assert.equal(a1.stats().startup.removedRoutes, 1);
    assert.ok(!(await ourRoutes(h1)).some((l) => l.startsWith(`${w.b!.ip} `)));
    const filter = await inNs(h1, 'iptables-nft-save', ['-t', 'filter']);
    assert.doesNotMatch(filter, new RegExp(`tabby-[tf]w-${w.b!.hostIface}`));
    const sel = a1.desired().ipsets.find((s) => s.name.startsWith('tabby-s-'))!.name;
    assert.doesNotMatch(await inNs(h1, 'ipset', ['list', sel]), new RegExp(`^${w.b!.ip.replace(/\./g, '\\.')}$`, 'm'));
    assert.equal(await pingOk(w.b!, w.a!), false, 'b is unknown now: dropped');
    assert.ok(await tcpOk(w.c!, w.a!), 'the others are unaffected');
  });

  it('started, the agent follows the input by itself and its resync timer repairs drift', async () => {
    await agent(h2).stop();
    const i2 = new FelixInput();
    fillInput(h2, i2, [w.a!, w.c!, w.e!]);
    i2.markInSync();
    const a2 = await FelixAgent.create({ input: i2, netns: h2.netns, resyncIntervalMs: 300 });
    agents.set('h2', a2);
    a2.start();
    const f = await lab.addWorkload('h2', { name: 'f', plumb: 'none' });
    await lab.startEcho('f', { tcp: [8080], udp: [8081] });
    // A burst of changes: f appears, e's labels change twice; no explicit apply.
    i2.setWorkloadEndpoint(wepOf(f, { role: 'client' }));
    i2.setWorkloadEndpoint(wepOf(w.e!, { tier: 'x' }));
    i2.setWorkloadEndpoint(wepOf(w.e!, {}));
    await lab.waitReachable('f', 'e', 10_000);
    await lab.waitReachable('e', 'f', 10_000);
    // Drift with nobody calling resync: the timer finds it.
    await ipIn(h2, ['route', 'del', `${f.ip}/32`]);
    await lab.waitReachable('e', 'f', 10_000);
    const st = a2.stats();
    assert.ok(st.resyncs >= 1, JSON.stringify(st));
    assert.ok((st.repairs['routes.restored'] ?? 0) >= 1, JSON.stringify(st.repairs));
    assert.equal(st.applyFailures, 0, st.lastPass?.error);
    await a2.stop();
  });

  it('foreign routes, chains, rules and ipsets survived every operation', async () => {
    await foreignIntact();
    // Also the route table state: tabby removed only routes of its protocol.
    const r = await run('ip', ['-n', h1.netns, 'route', 'show', 'default']);
    assert.match(r.stdout, /default via 172\.31\.0\.254 dev eth0/);
  });
});
