/**
 * IPv6 end to end: workloads with an IPv4 and an IPv6 address, on one host
 * and across two, each host run by a FelixAgent (as agent.test.ts does for
 * IPv4). The workload side is what Calico's CNI plugin leaves: its /128 on
 * eth0 and a default route via fe80::ecee:eeff:feee:eeee, the link-local
 * address the host side gets from its MAC ee:ee:ee:ee:ee:ee.
 *
 *   h1: a (app=web), b (role=client)      h2: c (role=client), e (no labels)
 *   policy: ingress to app=web only from role=client (applies to both families)
 *   h1 <-> h2 over the fabric in IPv6 too; remote blocks as learned routes
 *
 * Covered: /128 routes and the IPv6 block blackhole, IPv6 sysctls as Felix
 * sets them (host forwarding, per interface forwarding and proxy_ndp,
 * accept_ra 0), ip6tables policy (same backend) with inet6 selector sets,
 * ping6 and TCP over IPv6 on one host and across hosts, the policy denying
 * and (once removed) allowing over IPv6, IPv4 still working beside it, and
 * ip6tables cleared when IPv6 goes out of use.
 */
import assert from 'node:assert/strict';
import { Lab, type LabHost, type LabWorkload } from '../../../src/lab/lab.js';
import { runOk } from '../../../src/lab/exec.js';
import { ping, tcpProbe } from '../../../src/lab/probe.js';
import { waitFor } from '../../../src/lab/wait.js';
import { FelixInput } from '../../../src/felix/calc/input.js';
import { FelixAgent } from '../../../src/felix/agent/agent.js';
import { ingressPolicy, pool, wep } from '../../unit/felix/calc/fixtures.js';

const WEB_POLICY = ingressPolicy('default', 'web-ingress', "app == 'web'", [{ action: 'Allow', source: { selector: "role == 'client'" }, destination: {} }]);
const LABELS: Record<string, Record<string, string>> = { a: { app: 'web' }, b: { role: 'client' }, c: { role: 'client' }, e: {} };
const GATEWAY6 = 'fe80::ecee:eeff:feee:eeee';
/** A dual-stack TCP server answering its name (the lab's echo server listens on IPv4 only). */
const SERVER = `const n=process.argv[1];require('net').createServer((s)=>{s.on('error',()=>{});s.end(n+'\\n')}).listen({port:8080,host:'::'},()=>console.log('ready '+n));`;

describe('felix agent lab: IPv6 workloads on two hosts', function () {
  this.timeout(180_000);
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;
  const w: Record<string, LabWorkload> = {};
  const v6: Record<string, string> = {};
  const inputs = new Map<string, FelixInput>();
  const agents = new Map<string, FelixAgent>();
  const hostV6 = (h: LabHost) => `fd00:31::${h.index}`;
  const block6 = (h: LabHost) => `fd00:65:${h.index}::/122`;
  const inNs = (ns: string, cmd: string, args: string[]) => runOk(cmd, args, { ns });

  const ping6 = async (from: string, to: string) => (await ping(w[from]!.netns, v6[to]!, { timeoutMs: 1000 })).ok;
  const tcp6 = async (from: string, to: string) => {
    const r = await tcpProbe(w[from]!.netns, v6[to]!, 8080, { timeoutMs: 1500 });
    return r.ok && r.reply === to;
  };

  function fillInput(h: LabHost, input: FelixInput): void {
    const other = h === h1 ? h2 : h1;
    input.setNode({ name: h.name, address: `${h.address}/${h.prefixLength}` });
    input.setPools([pool('default-ipv4-ippool', '10.65.0.0/16'), pool('default-ipv6-ippool', 'fd00:65::/48')]);
    input.setLocalBlocks([h.block, block6(h)]);
    for (const x of Object.values(w)) input.setWorkloadEndpoint(wep({ node: x.host, pod: x.name, iface: x.hostIface, ips: [x.ip, v6[x.name]!], labels: LABELS[x.name]! }));
    input.setPolicy(WEB_POLICY);
    input.setLearnedRoutes([
      { dst: other.block, via: [other.address] },
      { dst: block6(other), via: [hostV6(other)] },
    ]);
    input.markInSync();
  }

  before(async () => {
    lab = await Lab.create();
    h1 = await lab.addHost('h1');
    h2 = await lab.addHost('h2');
    let n = 0;
    for (const [host, name] of [['h1', 'a'], ['h1', 'b'], ['h2', 'c'], ['h2', 'e']] as const) {
      const x = await lab.addWorkload(host, { name, plumb: 'none' });
      w[name] = x;
      const h = lab.host(host);
      v6[name] = `fd00:65:${h.index}::${(++n).toString(16)}`;
      // What Calico's CNI plugin writes on the workload side for IPv6.
      await runOk('ip', ['-n', x.netns, '-6', 'addr', 'add', `${v6[name]}/128`, 'dev', 'eth0', 'nodad']);
      await runOk('ip', ['-n', x.netns, '-6', 'route', 'add', 'default', 'via', GATEWAY6, 'dev', 'eth0']);
    }
    for (const h of [h1, h2]) {
      await runOk('ip', ['-n', h.netns, '-6', 'addr', 'add', `${hostV6(h)}/64`, 'dev', 'eth0', 'nodad']);
      // The lab turns IPv6 forwarding on; tabby must do it itself.
      await inNs(h.netns, 'sh', ['-c', 'echo 0 > /proc/sys/net/ipv6/conf/all/forwarding']);
    }
    for (const x of Object.values(w)) {
      const p = lab.startProcess(x.netns, `srv6-${x.name}`, process.execPath, ['-e', SERVER, x.name]);
      await waitFor(`server in ${x.name}`, () => p.logTail(3).includes(`ready ${x.name}`), { timeoutMs: 10_000 });
    }
    for (const h of [h1, h2]) {
      const input = new FelixInput();
      fillInput(h, input);
      inputs.set(h.name, input);
      agents.set(h.name, await FelixAgent.create({ input, netns: h.netns, resyncIntervalMs: 0 }));
    }
  });

  after(async () => {
    for (const a of agents.values()) await a.stop();
    await lab.destroy();
  });

  it('programs /128 routes, the IPv6 block blackhole, IPv6 sysctls, ip6tables and inet6 sets', async () => {
    for (const h of [h1, h2]) {
      const r = await agents.get(h.name)!.apply();
      assert.deepEqual(r.routes!.failed, [], h.name);
      assert.ok(r.iptables6.filter?.restoreRan, `${h.name}: ip6tables filter written`);
      assert.equal(agents.get(h.name)!.stats().ipv6.active, true);
    }
    const routes = (await runOk('ip', ['-n', h1.netns, '-6', 'route', 'show', 'proto', '80'])).split('\n').filter(Boolean);
    assert.ok(routes.some((l) => l.startsWith(`${v6.a} dev ${w.a!.hostIface}`)), routes.join('\n'));
    assert.ok(routes.some((l) => l.startsWith(`blackhole ${block6(h1)}`)), routes.join('\n'));
    assert.ok(routes.some((l) => l.startsWith(`${block6(h2)} via ${hostV6(h2)} dev eth0`)), routes.join('\n'));
    // Felix's IPv6 interface settings, and host forwarding turned on by tabby.
    const sys = (p: string) => inNs(h1.netns, 'cat', [`/proc/sys/net/ipv6/${p}`]);
    assert.equal(await sys('conf/all/forwarding'), '1');
    assert.equal(await sys(`conf/${w.a!.hostIface}/proxy_ndp`), '1');
    assert.equal(await sys(`conf/${w.a!.hostIface}/forwarding`), '1');
    assert.equal(await sys(`conf/${w.a!.hostIface}/accept_ra`), '0');
    // The host side answers at the gateway address the workload uses.
    const addrs = await runOk('ip', ['-n', h1.netns, '-6', 'addr', 'show', 'dev', w.a!.hostIface]);
    assert.match(addrs, new RegExp(`inet6 ${GATEWAY6}/64 scope link`));
    // ip6tables: tabby's chains, the neighbour-discovery accepts, the hooks.
    const f6 = await inNs(h1.netns, 'ip6tables-nft-save', ['-t', 'filter']);
    assert.match(f6, /^-A FORWARD -m comment --comment "tabby:[^"]+" -j tabby-FORWARD$/m);
    assert.match(f6, /^-A tabby-wl-to-host -p ipv6-icmp -m comment --comment "tabby:[^"]+" -m icmp6 --icmpv6-type 135 -j ACCEPT$/m);
    assert.match(f6, new RegExp(`^-A tabby-to-wl-dispatch .*-o ${w.a!.hostIface} `, 'm'));
    // The selector set of the web policy holds the IPv6 clients of both hosts.
    const sets = await inNs(h1.netns, 'ipset', ['list', '-n']);
    const set6 = sets.split('\n').find((s) => s.startsWith('tabby-6s-'));
    assert.ok(set6, sets);
    const listed = await inNs(h1.netns, 'ipset', ['list', set6!]);
    assert.match(listed, /family inet6/);
    assert.deepEqual(listed.split('Members:\n')[1]!.trim().split('\n').sort(), [v6.b!, v6.c!].sort());
  });

  it('ping6 and TCP over IPv6 between workloads on one host', async () => {
    await waitFor('b -> a over IPv6 (the host side\'s link-local passed DAD)', () => ping6('b', 'a'), { timeoutMs: 15_000 });
    assert.ok(await tcp6('b', 'a'), 'b (client) -> a TCP over IPv6');
    assert.ok(await ping6('a', 'b'));
    assert.ok(await tcp6('a', 'b'), 'a -> b: b has no policy, its profile allows');
  });

  it('across two hosts over IPv6, the policy enforced in ip6tables', async () => {
    await waitFor('c -> a over IPv6', () => ping6('c', 'a'), { timeoutMs: 15_000 });
    assert.ok(await tcp6('c', 'a'), 'c (client on h2) -> a allowed');
    assert.equal(await tcp6('e', 'a'), false, 'e (not a client) -> a denied over IPv6');
    assert.equal(await ping6('e', 'a'), false, 'e -> a ping6 denied too');
    assert.ok(await tcp6('a', 'e'), 'a -> e allowed (e has no policy)');
    assert.ok(await ping6('e', 'c'), 'e -> c on h2');
    // IPv4 beside it, same policy.
    assert.ok((await tcpProbe(w.c!.netns, w.a!.ip, 8080, { timeoutMs: 1500 })).ok, 'c -> a over IPv4');
    assert.equal((await tcpProbe(w.e!.netns, w.a!.ip, 8080, { timeoutMs: 1500 })).ok, false, 'e -> a over IPv4 denied');
  });

  it('a policy change reaches ip6tables: removed, e reaches a; back, e is denied again', async () => {
    for (const h of [h1, h2]) inputs.get(h.name)!.removePolicy('NetworkPolicy', 'web-ingress', 'default');
    for (const a of agents.values()) await a.apply();
    assert.ok(await tcp6('e', 'a'), 'no policy: the profile allows e -> a over IPv6');
    for (const h of [h1, h2]) inputs.get(h.name)!.setPolicy(WEB_POLICY);
    const r = await agents.get('h1')!.apply();
    await agents.get('h2')!.apply();
    assert.ok(r.iptables6.filter!.rewritten.length > 0, 'the IPv6 endpoint chains were rewritten');
    assert.equal(await tcp6('e', 'a'), false, 'denied again over IPv6');
    assert.ok(await tcp6('c', 'a'), 'the client still gets through');
  });

  it('IPv6 out of use: ip6tables are cleared of tabby, IPv4 keeps working', async () => {
    const input = inputs.get('h1')!;
    input.setPools([pool('default-ipv4-ippool', '10.65.0.0/16')]);
    input.setLocalBlocks([h1.block]);
    for (const x of Object.values(w)) input.setWorkloadEndpoint(wep({ node: x.host, pod: x.name, iface: x.hostIface, ips: [x.ip], labels: LABELS[x.name]! }));
    input.setLearnedRoutes([{ dst: h2.block, via: [h2.address] }]);
    const r = await agents.get('h1')!.apply();
    assert.equal(agents.get('h1')!.stats().ipv6.active, false);
    assert.ok(r.iptables6.filter?.deleted.length, 'tabby chains deleted from ip6tables');
    assert.doesNotMatch(await inNs(h1.netns, 'ip6tables-nft-save', []), /tabby/);
    assert.equal((await runOk('ip', ['-n', h1.netns, '-6', 'route', 'show', 'proto', '80'])).trim(), '');
    assert.doesNotMatch(await inNs(h1.netns, 'ipset', ['list', '-n']), /tabby-6/);
    assert.ok((await tcpProbe(w.b!.netns, w.a!.ip, 8080, { timeoutMs: 1500 })).ok, 'b -> a over IPv4');
    // A later pass leaves ip6tables alone.
    await agents.get('h1')!.apply();
    assert.deepEqual(await agents.get('h1')!.apply().then((x) => x.iptables6), {});
  });
});
