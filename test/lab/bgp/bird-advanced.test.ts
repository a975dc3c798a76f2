/**
 * tabby against BIRD 2 beyond plain eBGP: route reflection (RFC 4456), TCP
 * MD5 (RFC 2385) and GTSM (RFC 5082), graceful restart in both roles
 * (RFC 4724), and MP-BGP over IPv6 (RFC 4760 / RFC 2545).
 */
import assert from 'node:assert/strict';
import { Lab } from '../../../src/lab/lab.js';
import { run } from '../../../src/lab/exec.js';
import { sleep, waitFor } from '../../../src/lab/wait.js';
import { birdConfig, startBird, startTabbyBgp, type BirdPeer, type TabbyPeer } from './peers.js';

/** birdc exits non-zero for "Network not found": read its output, not its status. */
const birdRoute = async (b: BirdPeer, ...args: string[]) => (await run('birdc', ['-s', b.socket, 'show', 'route', ...args], { timeoutMs: 10_000 })).stdout;
const peerState = async (t: TabbyPeer, address: string) => (await t.status()).bgp.peers.find((p) => p.address === address);
const established = (t: TabbyPeer, address: string, timeoutMs = 30_000) =>
  waitFor(`tabby ${address} Established`, async () => (await peerState(t, address))?.state === 'Established', { timeoutMs });

/** A BIRD iBGP peer (same AS) with directly resolved next hops. */
function birdIbgp(o: { routerId: string; statics: string[] }): string {
  return `router id ${o.routerId};
log stderr all;
protocol device {}
protocol static st4 {
  ipv4;
${o.statics.map((s) => `  route ${s} blackhole;`).join('\n')}
}
protocol bgp reflector {
  local as 65001;
  neighbor 172.31.0.1 as 65001;
  direct;
  hold time 9;
  connect retry time 1;
  error wait time 1, 5;
  ipv4 { import all; export all; gateway direct; next hop self; };
}
`;
}

describe('BGP interop with BIRD 2: tabby as route reflector for two iBGP clients', () => {
  let lab: Lab;
  let a: BirdPeer;
  let b: BirdPeer;
  let tabby: TabbyPeer;

  before(async function () {
    this.timeout(60_000);
    lab = await Lab.create();
    const h1 = await lab.addHost('h1');
    const h2 = await lab.addHost('h2');
    const h3 = await lab.addHost('h3');
    a = await startBird(lab, h2.netns, 'birda', birdIbgp({ routerId: '172.31.0.2', statics: ['10.20.0.0/24'] }));
    b = await startBird(lab, h3.netns, 'birdb', birdIbgp({ routerId: '172.31.0.3', statics: ['10.30.0.0/24'] }));
    tabby = await startTabbyBgp(lab, h1.netns, 'tabby', {
      asNumber: 65001,
      routerId: '172.31.0.1',
      clusterId: '10.255.0.1',
      peers: [
        { address: '172.31.0.2', asNumber: 65001, holdTime: 9, connectRetryTime: 1, routeReflectorClient: true },
        { address: '172.31.0.3', asNumber: 65001, holdTime: 9, connectRetryTime: 1, routeReflectorClient: true },
      ],
    });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(lab.logsReport(30));
  });
  after(async () => {
    await lab.destroy();
  });

  it('both client sessions come up', async () => {
    await established(tabby, '172.31.0.2');
    await established(tabby, '172.31.0.3');
    const st = (await tabby.status()).bgp.peers as unknown as { type: string }[];
    assert.deepEqual(st.map((p) => p.type), ['rr-client', 'rr-client']);
  });

  it("client A's route reaches client B with ORIGINATOR_ID, CLUSTER_LIST and A's next hop", async () => {
    await waitFor('B has 10.20.0.0/24', async () => (await birdRoute(b, '10.20.0.0/24')).includes('10.20.0.0/24'), { timeoutMs: 15_000 });
    const all = await birdRoute(b, '10.20.0.0/24', 'all');
    assert.match(all, /BGP\.originator_id: 172\.31\.0\.2\b/);
    assert.match(all, /BGP\.cluster_list: 10\.255\.0\.1\b/);
    assert.match(all, /BGP\.next_hop: 172\.31\.0\.2\b/);
    assert.match(all, /BGP\.as_path:\s*$/m, 'iBGP reflection leaves the AS path empty');
    assert.match(all, /BGP\.local_pref: 100\b/);
    // And the other way.
    await waitFor('A has 10.30.0.0/24', async () => (await birdRoute(a, '10.30.0.0/24', 'all')).includes('BGP.originator_id: 172.31.0.3'), { timeoutMs: 15_000 });
    // A client never gets its own route back (RFC 4456 §8: tabby skips it, BIRD would drop it).
    assert.doesNotMatch(await birdRoute(a, '10.20.0.0/24', 'all'), /BGP\.originator_id/);
  });

  it("a withdrawal at A disappears at B", async () => {
    await a.reconfigure(birdIbgp({ routerId: '172.31.0.2', statics: ['10.20.1.0/24'] }));
    await waitFor('B lost 10.20.0.0/24 and got 10.20.1.0/24', async () => {
      const r = await birdRoute(b, 'protocol', 'reflector');
      return !r.includes('10.20.0.0/24') && r.includes('10.20.1.0/24');
    }, { timeoutMs: 15_000 });
  });
});

describe('BGP interop with BIRD 2: TCP MD5 and GTSM', () => {
  let lab: Lab;
  let tabby: TabbyPeer;
  let wrong: BirdPeer;
  let tabbyNs: string;
  let wrongNs: string;
  const conf = (routerId: string, extra: string) =>
    birdConfig({ routerId, as: 65002, peers: [{ name: 'tabby', address: '172.31.0.1', as: 65001, extra }], statics: ['10.20.0.0/24'] });

  before(async function () {
    this.timeout(60_000);
    lab = await Lab.create();
    const h1 = await lab.addHost('h1');
    const h2 = await lab.addHost('h2');
    const h3 = await lab.addHost('h3');
    const h4 = await lab.addHost('h4');
    tabbyNs = h1.netns;
    wrongNs = h3.netns;
    await startBird(lab, h2.netns, 'birdmd5', conf('172.31.0.2', '  password "s3cret";'));
    wrong = await startBird(lab, h3.netns, 'birdwrong', conf('172.31.0.3', '  password "not-the-key";'));
    await startBird(lab, h4.netns, 'birdgtsm', conf('172.31.0.4', '  ttl security on;'));
    tabby = await startTabbyBgp(lab, h1.netns, 'tabby', {
      asNumber: 65001,
      routerId: '172.31.0.1',
      originate: ['10.10.0.0/24'],
      peers: [
        { address: '172.31.0.2', asNumber: 65002, holdTime: 9, connectRetryTime: 1, password: 's3cret' },
        { address: '172.31.0.3', asNumber: 65002, holdTime: 9, connectRetryTime: 1, password: 's3cret' },
        { address: '172.31.0.4', asNumber: 65002, holdTime: 9, connectRetryTime: 1, ttlSecurity: 1 },
      ],
    });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(lab.logsReport(30));
  });
  after(async () => {
    await lab.destroy();
  });

  it('with the same MD5 key the session comes up and routes flow', async () => {
    await established(tabby, '172.31.0.2');
    await waitFor('route from the MD5 peer', async () => (await tabby.routes('10.20.0.0/24')).routes.some((r) => r.peer === '172.31.0.2'), { timeoutMs: 10_000 });
  });

  it('with GTSM on both sides the session comes up and routes flow', async () => {
    await established(tabby, '172.31.0.4');
    await waitFor('route from the GTSM peer', async () => (await tabby.routes('10.20.0.0/24')).routes.some((r) => r.peer === '172.31.0.4'), { timeoutMs: 10_000 });
  });

  it('with a different MD5 key the session never comes up, on either side, over several connect cycles', async function () {
    this.timeout(60_000);
    // A bounded negative check: both sides keep trying (tabby and BIRD each
    // connect every second) and the kernel of each side drops the other's
    // segments because their MD5 signature does not match (RFC 2385 §2:
    // TcpExtTCPMD5Failure rises in both namespaces). Watched until each side
    // has refused at least CYCLES of the other's segments, the session must
    // never get past TCP on either side. A cap bounds the wait; reaching it
    // without the refusals fails the test too (nobody kept trying).
    const CYCLES = 3;
    const md5Failures = async (ns: string) => {
      const text = (await run('cat', ['/proc/net/netstat'], { ns, timeoutMs: 10_000 })).stdout;
      const [names, values] = text.split('\n').filter((l) => l.startsWith('TcpExt:')).map((l) => l.trim().split(/\s+/));
      const i = names!.indexOf('TCPMD5Failure');
      assert.ok(i > 0, 'the kernel counts TCP MD5 failures');
      return Number(values![i]);
    };
    const base = { tabby: await md5Failures(tabbyNs), bird: await md5Failures(wrongNs) };
    const states = new Set<string>();
    let refused = { tabby: 0, bird: 0 };
    for (const until = Date.now() + 40_000; Date.now() < until; ) {
      const p = await peerState(tabby, '172.31.0.3');
      states.add(p?.state ?? 'missing');
      assert.ok(p && ['Idle', 'Connect', 'Active'].includes(p.state), `tabby's session got to ${p?.state}`);
      assert.equal(p.prefixes.received, 0);
      const b = await wrong.birdc('show', 'protocols', 'tabby');
      assert.doesNotMatch(b, /Established|OpenSent|OpenConfirm/, `BIRD's session got further than TCP: ${b}`);
      refused = { tabby: (await md5Failures(tabbyNs)) - base.tabby, bird: (await md5Failures(wrongNs)) - base.bird };
      if (refused.tabby >= CYCLES && refused.bird >= CYCLES) break;
      await sleep(250);
    }
    assert.ok(refused.tabby >= CYCLES, `tabby's kernel refused ${refused.tabby} of BIRD's segments for a bad MD5 signature (want >= ${CYCLES})`);
    assert.ok(refused.bird >= CYCLES, `BIRD's kernel refused ${refused.bird} of tabby's segments for a bad MD5 signature (want >= ${CYCLES})`);
    assert.ok(states.has('Connect') || states.has('Active'), `tabby kept trying to connect (${[...states].join(', ')})`);
    assert.equal((await tabby.routes()).routes.filter((r) => r.peer === '172.31.0.3').length, 0);
  });
});

describe('BGP interop with BIRD 2: graceful restart (RFC 4724)', () => {
  let lab: Lab;
  let bird: BirdPeer;
  let tabby: TabbyPeer;
  let h1ns: string;
  let h2ns: string;
  const tabbyConf = {
    asNumber: 65001,
    routerId: '172.31.0.1',
    originate: ['10.10.0.0/24'],
    gracefulRestartTime: 60,
    peers: [{ address: '172.31.0.2', asNumber: 65002, holdTime: 9, connectRetryTime: 1 }],
  };
  const birdConf = (statics: string[]) =>
    birdConfig({ routerId: '172.31.0.2', as: 65002, peers: [{ name: 'tabby', address: '172.31.0.1', as: 65001, extra: '  graceful restart on;\n  graceful restart time 60;' }], statics });

  before(async function () {
    this.timeout(60_000);
    lab = await Lab.create();
    h1ns = (await lab.addHost('h1')).netns;
    h2ns = (await lab.addHost('h2')).netns;
    bird = await startBird(lab, h2ns, 'bird', birdConf(['10.20.0.0/24', '10.20.1.0/24']));
    tabby = await startTabbyBgp(lab, h1ns, 'tabby', tabbyConf);
    await established(tabby, '172.31.0.2');
    await waitFor('BIRD has the tabby route', async () => (await birdRoute(bird, '10.10.0.0/24')).includes('10.10.0.0/24'), { timeoutMs: 10_000 });
    await waitFor('tabby has both BIRD routes', async () => (await tabby.routes()).routes.filter((r) => r.peer === '172.31.0.2').length === 2, { timeoutMs: 10_000 });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(lab.logsReport(40));
  });
  after(async () => {
    await lab.destroy();
  });

  it('tabby killed (SIGKILL): BIRD keeps its route stale, and still has it after tabby is back', async function () {
    this.timeout(60_000);
    tabby.proc.signalWith('SIGKILL');
    assert.equal(await tabby.proc.waitExit(5000), true);
    await waitFor('BIRD notices the restart', async () => !/Established/.test(await bird.birdc('show', 'protocols', 'tabby')), { timeoutMs: 15_000 });
    const during = await birdRoute(bird, '10.10.0.0/24', 'all');
    // Without graceful restart BIRD would have flushed it with the session.
    assert.match(during, /10\.10\.0\.0\/24/, 'route kept while tabby restarts');
    tabby = await startTabbyBgp(lab, h1ns, 'tabby2', tabbyConf);
    await established(tabby, '172.31.0.2');
    await waitFor('BIRD Established again', async () => /Established/.test(await bird.birdc('show', 'protocols', 'tabby')), { timeoutMs: 15_000 });
    await waitFor('route still there after the restart', async () => {
      const r = await birdRoute(bird, '10.10.0.0/24', 'all');
      return r.includes('10.10.0.0/24');
    }, { timeoutMs: 15_000 });
    assert.match(await bird.birdc('show', 'protocols', 'all', 'tabby'), /Routes:\s+1 imported/);
  });

  it('BIRD killed and restarted with -R: tabby keeps its routes stale until End-of-RIB, then drops what BIRD no longer has', async function () {
    this.timeout(60_000);
    await waitFor('tabby has both BIRD routes', async () => (await tabby.routes()).routes.filter((r) => r.peer === '172.31.0.2').length === 2, { timeoutMs: 10_000 });
    bird.proc.signalWith('SIGKILL');
    assert.equal(await bird.proc.waitExit(5000), true);
    await waitFor('tabby notices', async () => (await peerState(tabby, '172.31.0.2'))?.state !== 'Established', { timeoutMs: 15_000 });
    assert.equal((await tabby.routes()).routes.filter((r) => r.peer === '172.31.0.2').length, 2, 'stale routes kept during the restart');
    // BIRD comes back in graceful-restart recovery without 10.20.1.0/24.
    const conf = lab.writeFile('bird2/bird.conf', birdConf(['10.20.0.0/24']));
    const sock = `${lab.dir}/bird2/bird.ctl`;
    const proc = lab.startProcess(h2ns, 'bird2', 'bird', ['-f', '-R', '-c', conf, '-s', sock]);
    await waitFor('BIRD up', async () => proc.alive && (await run('birdc', ['-s', sock, 'show', 'status'])).code === 0, { timeoutMs: 15_000 });
    await established(tabby, '172.31.0.2');
    await waitFor('10.20.1.0/24 swept after End-of-RIB', async () => (await tabby.routes('10.20.1.0/24')).routes.length === 0, { timeoutMs: 20_000 });
    const r = (await tabby.routes('10.20.0.0/24')).routes;
    assert.equal(r.length, 1);
    assert.equal(r[0]!.nextHop, '172.31.0.2');
  });
});

describe('BGP interop with BIRD 2: MP-BGP over IPv6', () => {
  let lab: Lab;
  let bird: BirdPeer;
  let tabby: TabbyPeer;
  const birdConf = (statics: string[]) => `router id 172.31.0.2;
log stderr all;
protocol device {}
protocol static st6 {
  ipv6;
${statics.map((s) => `  route ${s} blackhole;`).join('\n')}
}
protocol bgp tabby {
  local fd00:31::2 as 65002;
  neighbor fd00:31::1 as 65001;
  hold time 9;
  connect retry time 1;
  error wait time 1, 5;
  ipv6 { import all; export all; };
}
`;

  before(async function () {
    this.timeout(60_000);
    lab = await Lab.create();
    const h1 = await lab.addHost('h1');
    const h2 = await lab.addHost('h2');
    await lab.exec(h1.netns, 'ip', ['addr', 'add', 'fd00:31::1/64', 'dev', 'eth0', 'nodad']);
    await lab.exec(h2.netns, 'ip', ['addr', 'add', 'fd00:31::2/64', 'dev', 'eth0', 'nodad']);
    bird = await startBird(lab, h2.netns, 'bird', birdConf(['fd00:20::/64', 'fd00:20:1::/64']));
    tabby = await startTabbyBgp(lab, h1.netns, 'tabby', {
      asNumber: 65001,
      routerId: '172.31.0.1',
      originate: ['fd00:10::/64'],
      peers: [{ address: 'fd00:31::2', asNumber: 65002, holdTime: 9, connectRetryTime: 1, addressFamilies: ['ipv6-unicast'] }],
    });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(lab.logsReport(30));
  });
  after(async () => {
    await lab.destroy();
  });

  it('the session comes up with the IPv6 unicast family', async () => {
    await established(tabby, 'fd00:31::2');
    const p = (await tabby.status()).bgp.peers[0] as unknown as { families: string[] };
    assert.deepEqual(p.families, ['ipv6-unicast']);
  });

  it('IPv6 routes go both ways with IPv6 next hops', async () => {
    await waitFor('tabby has BIRD routes', async () => (await tabby.routes()).routes.filter((r) => r.peer === 'fd00:31::2').length === 2, { timeoutMs: 10_000 });
    const r = (await tabby.routes('fd00:20::/64')).routes[0]!;
    assert.deepEqual({ nextHop: r.nextHop, asPath: r.asPath, origin: r.origin, best: r.best }, { nextHop: 'fd00:31::2', asPath: [65002], origin: 'igp', best: true });
    await waitFor('BIRD has the tabby route', async () => (await birdRoute(bird, 'fd00:10::/64')).includes('fd00:10::/64'), { timeoutMs: 10_000 });
    const all = await birdRoute(bird, 'fd00:10::/64', 'all');
    assert.match(all, /BGP\.as_path: 65001\b/);
    assert.match(all, /BGP\.next_hop: fd00:31::1\b/);
  });

  it('an IPv6 withdrawal at BIRD removes the route at tabby', async () => {
    await bird.reconfigure(birdConf(['fd00:20::/64']));
    await waitFor('fd00:20:1::/64 withdrawn', async () => (await tabby.routes('fd00:20:1::/64')).routes.length === 0, { timeoutMs: 10_000 });
    assert.equal((await tabby.routes('fd00:20::/64')).routes.length, 1);
  });
});

describe('BGP interop with BIRD 2: tabby as route reflector CLIENT of a BIRD reflector', () => {
  let lab: Lab;
  let rr: BirdPeer;
  let ta: TabbyPeer;
  let tb: TabbyPeer;
  const client = (routerId: string, originate: string[]) => ({
    asNumber: 65001,
    routerId,
    originate,
    peers: [{ address: '172.31.0.1', asNumber: 65001, holdTime: 9, connectRetryTime: 1 }],
  });

  before(async function () {
    this.timeout(60_000);
    lab = await Lab.create();
    const h1 = await lab.addHost('h1');
    const h2 = await lab.addHost('h2');
    const h3 = await lab.addHost('h3');
    const reflectTo = (name: string, address: string) => `protocol bgp ${name} {
  local as 65001;
  neighbor ${address} as 65001;
  direct;
  rr client;
  rr cluster id 10.255.0.9;
  hold time 9;
  connect retry time 1;
  error wait time 1, 5;
  ipv4 { import all; export all; };
}`;
    rr = await startBird(lab, h1.netns, 'birdrr', `router id 172.31.0.1;\nlog stderr all;\nprotocol device {}\n${reflectTo('ta', '172.31.0.2')}\n${reflectTo('tb', '172.31.0.3')}\n`);
    ta = await startTabbyBgp(lab, h2.netns, 'tabbya', client('172.31.0.2', ['10.40.0.0/24']));
    tb = await startTabbyBgp(lab, h3.netns, 'tabbyb', client('172.31.0.3', ['10.50.0.0/24']));
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(lab.logsReport(30));
  });
  after(async () => {
    await lab.destroy();
  });

  it('both tabby clients come up as iBGP sessions with the BIRD reflector', async () => {
    await established(ta, '172.31.0.1');
    await established(tb, '172.31.0.1');
    assert.equal(((await ta.status()).bgp.peers[0] as unknown as { type: string }).type, 'ibgp');
  });

  it("A's route reaches B through the reflector with A's next hop and an empty AS path, and B accepts it (ORIGINATOR_ID/CLUSTER_LIST are not ours)", async () => {
    await waitFor('B has 10.40.0.0/24', async () => (await tb.routes('10.40.0.0/24')).routes.length > 0, { timeoutMs: 15_000 });
    const r = (await tb.routes('10.40.0.0/24')).routes[0]!;
    assert.equal(r.nextHop, '172.31.0.2');
    assert.equal(r.peer, '172.31.0.1');
    assert.deepEqual(r.asPath, []);
    assert.equal(r.best, true);
    const back = await waitFor('A has 10.50.0.0/24', async () => (await ta.routes('10.50.0.0/24')).routes[0], { timeoutMs: 15_000 });
    assert.equal(back.nextHop, '172.31.0.3');
  });

  it("A never takes its own route back from the reflector (RFC 4456 §8: BIRD does not send it, and ORIGINATOR_ID would make tabby drop it)", async () => {
    const own = (await ta.routes('10.40.0.0/24')).routes;
    assert.deepEqual(own.map((r) => r.peer), ['local'], 'only the locally originated path');
  });

  it('when A stops, its route disappears at B', async () => {
    await ta.proc.stop();
    await waitFor('B lost 10.40.0.0/24', async () => (await tb.routes('10.40.0.0/24')).routes.length === 0, { timeoutMs: 20_000 });
    assert.match(await birdRoute(rr, '10.50.0.0/24'), /10\.50\.0\.0\/24/);
  });
});

describe('BGP interop with BIRD 2: tabby bgp restarting gracefully with its FIB (RFC 4724 §4.1)', () => {
  let lab: Lab;
  let bird: BirdPeer;
  let tabby: TabbyPeer;
  let h1ns: string;
  const conf = { asNumber: 65001, routerId: '172.31.0.1', originate: ['10.10.0.0/24'], fibInstall: true, gracefulRestartTime: 60, peers: [{ address: '172.31.0.2', asNumber: 65002, holdTime: 9, connectRetryTime: 1 }] };
  const birdConf = (statics: string[]) =>
    birdConfig({ routerId: '172.31.0.2', as: 65002, peers: [{ name: 'tabby', address: '172.31.0.1', as: 65001, extra: '  graceful restart on;\n  graceful restart time 60;\n  debug { states, routes, events };' }], statics });
  const kernel = async (prefix: string) => (await run('ip', ['-j', 'route', 'show', prefix, 'proto', '80'], { ns: h1ns })).stdout.includes(prefix.split('/')[0]!);

  before(async function () {
    this.timeout(60_000);
    lab = await Lab.create();
    const h1 = await lab.addHost('h1');
    const h2 = await lab.addHost('h2');
    h1ns = h1.netns;
    bird = await startBird(lab, h2.netns, 'bird', birdConf(['10.60.0.0/24', '10.61.0.0/24']));
    tabby = await startTabbyBgp(lab, h1.netns, 'tabby', conf);
    await established(tabby, '172.31.0.2');
    await waitFor('both routes in the kernel', async () => (await kernel('10.60.0.0/24')) && (await kernel('10.61.0.0/24')), { timeoutMs: 20_000 });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(lab.logsReport(40));
  });
  after(async () => {
    await lab.destroy();
  });

  it('killed and restarted: kept routes never leave the kernel, BIRD keeps ours, and what BIRD no longer has is swept after End-of-RIB', async function () {
    this.timeout(90_000);
    // Every kernel route change in tabby's namespace, from before the kill
    // to the end: a gap of any length would show as a Deleted line.
    const monitor = lab.startProcess(h1ns, 'route-monitor', 'ip', ['monitor', 'route']);
    await sleep(300);
    tabby.proc.signalWith('SIGKILL');
    await tabby.proc.waitExit(5000);
    await waitFor('BIRD sees the session go', async () => !/Established/.test(await bird.birdc('show', 'protocols', 'tabby')), { timeoutMs: 20_000 });
    await bird.reconfigure(birdConf(['10.60.0.0/24'])); // 10.61.0.0/24 is gone while tabby is down
    assert.equal(await kernel('10.61.0.0/24'), true, 'the forwarding state survived the kill');
    tabby = await startTabbyBgp(lab, h1ns, 'tabby2', conf);
    await established(tabby, '172.31.0.2');
    await waitFor('the stale 10.61.0.0/24 swept from the kernel', async () => !(await kernel('10.61.0.0/24')), { timeoutMs: 20_000 });
    await sleep(500);
    monitor.signalWith('SIGTERM');
    const changes = monitor.logTail(10_000);
    assert.doesNotMatch(changes, /^Deleted 10\.60\.0\.0\/24/m, `10.60.0.0/24 left the kernel during the restart:\n${changes}`);
    assert.match(changes, /^Deleted 10\.61\.0\.0\/24 .*proto 80/m, 'the route BIRD no longer has was removed');
    assert.equal(await kernel('10.60.0.0/24'), true);
    // tabby restarted with the R and F bits, deferred selection until BIRD's End-of-RIB, then swept.
    const events = tabby.proc.logTail(400).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; byTimer?: boolean; removedStale?: number });
    const ev = (name: string) => events.find((e) => e.event === name);
    assert.ok(ev('bgp.speaker.restarting'));
    assert.equal(ev('bgp.gr.selection_done')?.byTimer, false, 'selection ran on BIRD\'s End-of-RIB');
    assert.equal(ev('bgp.gr.restart_complete')?.removedStale, 1);
    // BIRD (helper, RFC 4724 §4.2) kept our route through the restart and never withdrew it.
    const birdLog = bird.proc.logTail(10_000);
    assert.match(birdLog, /tabby: Neighbor graceful restart detected/);
    assert.doesNotMatch(birdLog, /tabby[^\n]*removed[^\n]*10\.10\.0\.0\/24/, 'BIRD withdrew our route');
    // Our re-advertisement after End-of-RIB found the kept (stale) route unchanged.
    assert.match(birdLog, /tabby\.ipv4 > ignored 10\.10\.0\.0\/24/);
    assert.match(birdLog, /tabby: Neighbor graceful restart done/);
    assert.match(await birdRoute(bird, '10.10.0.0/24'), /10\.10\.0\.0\/24/, 'BIRD has our route');
  });
});
