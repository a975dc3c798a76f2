import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { Lab } from '../../../src/lab/lab.js';
import { waitFor } from '../../../src/lab/wait.js';
import { startFrr, startTabbyBgp, type FrrPeer, type TabbyPeer } from './peers.js';

/** The parts of `show bgp ipv4 unicast PREFIX json` we check. */
interface FrrPrefix {
  prefix?: string;
  paths?: {
    aspath?: { string: string };
    metric?: number;
    community?: { string: string };
    nexthops?: { ip: string }[];
    bestpath?: { overall: boolean };
    valid?: boolean;
  }[];
}

describe('BGP interop: tabby and FRR bgpd, eBGP over IPv4', () => {
  let lab: Lab;
  let frr: FrrPeer;
  let tabby: TabbyPeer;
  const frrPrefix = (p: string) => frr.json<FrrPrefix>(`show bgp ipv4 unicast ${p} json`);
  // FRR 8 refuses eBGP routes without a policy unless told otherwise (RFC 8212).
  const frrConf = `frr defaults traditional
hostname frr
log stdout informational
route-map TO-TABBY permit 10
 set metric 42
 set community 65002:7
exit
router bgp 65002
 bgp router-id 172.31.0.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 172.31.0.1 remote-as 65001
 neighbor 172.31.0.1 timers 3 9
 neighbor 172.31.0.1 timers connect 1
 address-family ipv4 unicast
  network 10.20.0.0/24
  network 10.20.1.0/24
  neighbor 172.31.0.1 route-map TO-TABBY out
 exit-address-family
exit
`;

  before(async function () {
    this.timeout(60_000);
    lab = await Lab.create();
    const h1 = await lab.addHost('h1');
    const h2 = await lab.addHost('h2');
    frr = await startFrr(lab, h2.netns, 'frr', frrConf);
    tabby = await startTabbyBgp(lab, h1.netns, 'tabby', {
      asNumber: 65001,
      routerId: '172.31.0.1',
      originate: ['10.10.0.0/24', '10.10.1.0/24'],
      filters: { 'to-frr': { terms: [{ match: {}, action: 'accept', set: { med: 77, addCommunities: ['65001:9'] } }], default: 'reject' } },
      peers: [{ address: '172.31.0.2', asNumber: 65002, holdTime: 9, connectRetryTime: 1, export: 'to-frr' }],
    });
  });
  after(async () => {
    await lab.destroy();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(lab.logsReport(30));
  });

  it('the session comes up on both sides', async () => {
    await waitFor('tabby Established', async () => (await tabby.status()).bgp.peers[0]!.state === 'Established', { timeoutMs: 30_000 });
    assert.equal((await tabby.status()).bgp.peers[0]!.holdTime, 9);
    const sum = await frr.json<{ ipv4Unicast: { peers: Record<string, { state: string; remoteAs: number }> } }>('show bgp summary json');
    await waitFor('FRR Established', async () => {
      const s = await frr.json<typeof sum>('show bgp summary json');
      return s.ipv4Unicast.peers['172.31.0.1']?.state === 'Established';
    }, { timeoutMs: 10_000 });
    assert.equal(sum.ipv4Unicast.peers['172.31.0.1']?.remoteAs, 65001);
  });

  it('FRR routes reach tabby with AS path, next hop, MED and community', async () => {
    await waitFor('tabby has FRR routes', async () => (await tabby.routes()).routes.filter((r) => r.peer === '172.31.0.2').length === 2, { timeoutMs: 10_000 });
    const r = (await tabby.routes('10.20.0.0/24')).routes[0]!;
    assert.deepEqual(
      { nextHop: r.nextHop, asPath: r.asPath, origin: r.origin, med: r.med, communities: r.communities, best: r.best },
      { nextHop: '172.31.0.2', asPath: [65002], origin: 'igp', med: 42, communities: ['65002:7'], best: true },
    );
  });

  it('tabby routes reach FRR with AS path, next hop, MED and community', async () => {
    await waitFor('FRR has 10.10.0.0/24', async () => ((await frrPrefix('10.10.0.0/24')).paths?.length ?? 0) > 0, { timeoutMs: 10_000 });
    const p = (await frrPrefix('10.10.0.0/24')).paths![0]!;
    assert.equal(p.aspath?.string, '65001');
    assert.equal(p.nexthops?.[0]?.ip, '172.31.0.1');
    assert.equal(p.metric, 77);
    assert.equal(p.community?.string, '65001:9');
    assert.equal(p.valid, true);
    assert.equal(p.bestpath?.overall, true);
    const st = (await tabby.status()).bgp.peers[0]!;
    assert.equal(st.prefixes.accepted, 2);
    assert.equal(st.prefixes.advertised, 2);
  });

  it('routes FRR reflects back to AS 65001 are counted as received but dropped by AS-path loop detection', async () => {
    // Unlike BIRD, FRR advertises tabby's own routes back to it (AS path
    // 65002 65001); RFC 4271 §9.1.2 makes tabby ignore them.
    const adv = await frr.json<{ totalPrefixCounter: number; advertisedRoutes: Record<string, unknown> }>('show bgp ipv4 unicast neighbors 172.31.0.1 advertised-routes json');
    assert.ok(Object.keys(adv.advertisedRoutes).includes('10.10.0.0/24'), 'FRR advertises 10.10.0.0/24 back');
    await waitFor('tabby counts what FRR sent', async () => (await tabby.status()).bgp.peers[0]!.prefixes.received === adv.totalPrefixCounter, { timeoutMs: 10_000 });
    const st = (await tabby.status()).bgp.peers[0]!;
    assert.equal(st.prefixes.accepted, 2);
    const looped = (await tabby.routes()).routes.filter((r) => r.peer === '172.31.0.2' && r.prefix.startsWith('10.10.'));
    assert.deepEqual(looped, []);
  });

  it('a withdrawal at FRR removes the route at tabby', async () => {
    await frr.vtysh('configure terminal', 'router bgp 65002', 'address-family ipv4 unicast', 'no network 10.20.1.0/24');
    await waitFor('10.20.1.0/24 gone at tabby', async () => (await tabby.routes('10.20.1.0/24')).routes.length === 0, { timeoutMs: 10_000 });
    assert.equal((await tabby.routes('10.20.0.0/24')).routes.length, 1);
  });

  it('a withdrawal at tabby (reload without the prefix) removes the route at FRR', async () => {
    const c = parse(readFileSync(tabby.config, 'utf8')) as Record<string, unknown>;
    c.originate = ['10.10.0.0/24'];
    writeFileSync(tabby.config, stringify(c));
    tabby.proc.signalWith('SIGHUP');
    await waitFor('10.10.1.0/24 gone at FRR', async () => ((await frrPrefix('10.10.1.0/24')).paths?.length ?? 0) === 0, { timeoutMs: 10_000 });
    assert.equal((await frrPrefix('10.10.0.0/24')).paths?.length, 1);
    assert.equal((await tabby.status()).bgp.peers[0]!.state, 'Established');
  });

  it('an administrative shutdown at FRR sends a Cease that tabby records, then the session recovers', async function () {
    this.timeout(60_000);
    await frr.vtysh('configure terminal', 'router bgp 65002', 'neighbor 172.31.0.1 shutdown');
    // Later reconnect attempts (refused while FRR keeps the neighbour shut)
    // overwrite lastError, so read the Cease from tabby's log of the session going down.
    await waitFor('tabby sees the Cease', async () => {
      const p = (await tabby.status()).bgp.peers[0]!;
      const downs = tabby.proc.logTail(400).split('\n').filter((l) => l.includes('"bgp.session.down"'));
      return p.state !== 'Established' && downs.some((l) => l.includes('received Cease'));
    }, { timeoutMs: 15_000 });
    assert.equal((await tabby.routes('10.20.0.0/24')).routes.length, 0);
    await frr.vtysh('configure terminal', 'router bgp 65002', 'no neighbor 172.31.0.1 shutdown');
    await waitFor('Established again', async () => (await tabby.status()).bgp.peers[0]!.state === 'Established', { timeoutMs: 30_000 });
    await waitFor('routes back', async () => (await tabby.routes('10.20.0.0/24')).routes.length === 1, { timeoutMs: 10_000 });
  });
});
