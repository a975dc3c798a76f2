import assert from 'node:assert/strict';
import { Lab } from '../../../src/lab/lab.js';
import { waitFor } from '../../../src/lab/wait.js';
import { startGobgp, startTabbyBgp, type GobgpPeer, type TabbyPeer } from './peers.js';

/** The parts of `gobgp neighbor -j` we check. */
interface GobgpNeighbor {
  conf: { neighbor_address: string; peer_asn: number };
  state: { session_state: number | string; peer_asn: number };
}

/** The parts of `gobgp global rib -j` / `neighbor X adj-in -j`: prefix -> paths. */
type GobgpRib = Record<string, { nlri: { prefix: string }; attrs: { type: number; value?: unknown; as_paths?: { segment_type: number; asns: number[] }[]; nexthop?: string; metric?: number; communities?: number[] }[] }[]>;

// GoBGP's JSON attribute type codes (RFC 4271 §5 / RFC 1997 type numbers).
const ATTR_AS_PATH = 2;
const ATTR_NEXT_HOP = 3;
const ATTR_MED = 4;
const ATTR_COMMUNITIES = 8;

describe('BGP interop: tabby and GoBGP, eBGP over IPv4', () => {
  let lab: Lab;
  let gobgp: GobgpPeer;
  let tabby: TabbyPeer;
  const gobgpConf = `[global.config]
  as = 65002
  router-id = "172.31.0.2"
  port = 179
  local-address-list = ["172.31.0.2"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "172.31.0.1"
    peer-as = 65001
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
`;
  const rib = async (): Promise<GobgpRib> => JSON.parse(await gobgp.cli('global', 'rib', '-a', 'ipv4', '-j')) as GobgpRib;
  const attr = (rib: GobgpRib, prefix: string, type: number) => rib[prefix]?.[0]?.attrs.find((a) => a.type === type);

  before(async function () {
    this.timeout(60_000);
    lab = await Lab.create();
    const h1 = await lab.addHost('h1');
    const h2 = await lab.addHost('h2');
    gobgp = await startGobgp(lab, h2.netns, 'gobgp', gobgpConf);
    tabby = await startTabbyBgp(lab, h1.netns, 'tabby', {
      asNumber: 65001,
      routerId: '172.31.0.1',
      originate: ['10.10.0.0/24', '10.10.1.0/24'],
      filters: { 'to-gobgp': { terms: [{ match: { prefix: ['10.10.1.0/24'] }, action: 'accept', set: { med: 77, addCommunities: ['65001:9'] } }], default: 'accept' } },
      peers: [{ address: '172.31.0.2', asNumber: 65002, holdTime: 9, connectRetryTime: 1, export: 'to-gobgp' }],
    });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(lab.logsReport(30));
  });
  after(async () => {
    await lab.destroy();
  });

  it('the session comes up on both sides', async () => {
    await waitFor('tabby Established', async () => (await tabby.status()).bgp.peers[0]!.state === 'Established', { timeoutMs: 30_000 });
    assert.equal((await tabby.status()).bgp.peers[0]!.holdTime, 9);
    const n = await waitFor('GoBGP Established', async () => {
      const ns = JSON.parse(await gobgp.cli('neighbor', '-j')) as GobgpNeighbor[];
      const st = ns[0]?.state.session_state;
      return st === 6 || st === 'established' || st === 'ESTABLISHED' ? ns[0] : false;
    }, { timeoutMs: 10_000 });
    assert.equal(n.conf.neighbor_address, '172.31.0.1');
  });

  // The gobgp CLI's default ORIGIN is INCOMPLETE; the second route sets IGP.
  it('routes added with `gobgp global rib add` reach tabby with MED and community', async () => {
    await gobgp.cli('global', 'rib', 'add', '10.20.0.0/24', '-a', 'ipv4');
    await gobgp.cli('global', 'rib', 'add', '10.20.1.0/24', 'origin', 'igp', 'med', '42', 'community', '65002:7', '-a', 'ipv4');
    await waitFor('tabby has GoBGP routes', async () => (await tabby.routes()).routes.filter((r) => r.peer === '172.31.0.2').length === 2, { timeoutMs: 10_000 });
    const a = (await tabby.routes('10.20.0.0/24')).routes[0]!;
    assert.deepEqual({ nextHop: a.nextHop, asPath: a.asPath, origin: a.origin, best: a.best, communities: a.communities }, { nextHop: '172.31.0.2', asPath: [65002], origin: 'incomplete', best: true, communities: [] });
    const b = (await tabby.routes('10.20.1.0/24')).routes[0]!;
    assert.deepEqual({ nextHop: b.nextHop, asPath: b.asPath, origin: b.origin, med: b.med, communities: b.communities }, { nextHop: '172.31.0.2', asPath: [65002], origin: 'igp', med: 42, communities: ['65002:7'] });
  });

  it('tabby routes reach GoBGP with AS path, next hop, and the export filter\'s MED and community', async () => {
    const r = await waitFor('GoBGP has both tabby routes', async () => {
      const x = await rib();
      return x['10.10.0.0/24'] && x['10.10.1.0/24'] ? x : false;
    }, { timeoutMs: 10_000 });
    for (const p of ['10.10.0.0/24', '10.10.1.0/24']) {
      assert.deepEqual(attr(r, p, ATTR_AS_PATH)?.as_paths?.[0]?.asns, [65001], p);
      assert.equal(attr(r, p, ATTR_NEXT_HOP)?.nexthop, '172.31.0.1', p);
    }
    assert.equal(attr(r, '10.10.1.0/24', ATTR_MED)?.metric, 77);
    assert.deepEqual(attr(r, '10.10.1.0/24', ATTR_COMMUNITIES)?.communities, [65001 * 65536 + 9]);
    assert.equal(attr(r, '10.10.0.0/24', ATTR_MED), undefined);
    assert.equal(attr(r, '10.10.0.0/24', ATTR_COMMUNITIES), undefined);
    const st = (await tabby.status()).bgp.peers[0]!;
    assert.equal(st.prefixes.accepted, 2);
    assert.equal(st.prefixes.advertised, 2);
  });

  it('`gobgp global rib del` withdraws the route at tabby', async () => {
    await gobgp.cli('global', 'rib', 'del', '10.20.1.0/24', '-a', 'ipv4');
    await waitFor('10.20.1.0/24 gone at tabby', async () => (await tabby.routes('10.20.1.0/24')).routes.length === 0, { timeoutMs: 10_000 });
    assert.equal((await tabby.routes('10.20.0.0/24')).routes.length, 1);
  });

  it('a GoBGP neighbor reset drops and restores the session and the routes', async function () {
    this.timeout(60_000);
    await gobgp.cli('neighbor', '172.31.0.1', 'disable');
    await waitFor('tabby drops the session', async () => (await tabby.status()).bgp.peers[0]!.state !== 'Established', { timeoutMs: 15_000 });
    assert.equal((await tabby.routes('10.20.0.0/24')).routes.length, 0);
    await gobgp.cli('neighbor', '172.31.0.1', 'enable');
    await waitFor('Established again', async () => (await tabby.status()).bgp.peers[0]!.state === 'Established', { timeoutMs: 30_000 });
    await waitFor('route back at tabby', async () => (await tabby.routes('10.20.0.0/24')).routes.length === 1, { timeoutMs: 10_000 });
    await waitFor('routes back at GoBGP', async () => Object.keys(await rib()).filter((p) => p.startsWith('10.10.')).length === 2, { timeoutMs: 10_000 });
  });
});
