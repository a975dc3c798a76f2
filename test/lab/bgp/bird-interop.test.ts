import assert from 'node:assert/strict';
import { Lab } from '../../../src/lab/lab.js';
import { waitFor } from '../../../src/lab/wait.js';
import { birdConfig, startBird, startTabbyBgp, type BirdPeer, type TabbyPeer } from './peers.js';

describe('BGP interop: tabby and BIRD 2, eBGP over IPv4', () => {
  let lab: Lab;
  let bird: BirdPeer;
  let tabby: TabbyPeer;
  const birdConf = (statics: string[]) =>
    birdConfig({ routerId: '172.31.0.2', as: 65002, peers: [{ name: 'tabby', address: '172.31.0.1', as: 65001 }], statics });

  before(async function () {
    this.timeout(60_000);
    lab = await Lab.create();
    const h1 = await lab.addHost('h1');
    const h2 = await lab.addHost('h2');
    bird = await startBird(lab, h2.netns, 'bird', birdConf(['10.20.0.0/24', '10.20.1.0/24']));
    tabby = await startTabbyBgp(lab, h1.netns, 'tabby', {
      asNumber: 65001,
      routerId: '172.31.0.1',
      originate: ['10.10.0.0/24'],
      peers: [{ address: '172.31.0.2', asNumber: 65002, holdTime: 9 }],
    });
  });
  after(async () => {
    await lab.destroy();
  });

  it('the session comes up on both sides with the negotiated hold time', async () => {
    await waitFor('tabby Established', async () => (await tabby.status()).bgp.peers[0]!.state === 'Established', { timeoutMs: 30_000 });
    const p = (await tabby.status()).bgp.peers[0]!;
    assert.equal(p.holdTime, 9);
    await waitFor('BIRD Established', async () => /Established/.test(await bird.birdc('show', 'protocols', 'tabby')), { timeoutMs: 10_000 });
  });

  it('routes go both ways with the right attributes', async () => {
    await waitFor('tabby has BIRD routes', async () => (await tabby.routes()).routes.filter((r) => r.peer === '172.31.0.2').length === 2, { timeoutMs: 10_000 });
    const r = (await tabby.routes('10.20.0.0/24')).routes[0]!;
    assert.deepEqual({ nextHop: r.nextHop, asPath: r.asPath, origin: r.origin, best: r.best }, { nextHop: '172.31.0.2', asPath: [65002], origin: 'igp', best: true });
    await waitFor('BIRD has the tabby route', async () => /10\.10\.0\.0\/24/.test(await bird.birdc('show', 'route', '10.10.0.0/24', 'all')), { timeoutMs: 10_000 });
    const all = await bird.birdc('show', 'route', '10.10.0.0/24', 'all');
    assert.match(all, /BGP\.as_path: 65001\b/);
    assert.match(all, /BGP\.next_hop: 172\.31\.0\.1/);
    assert.match(all, /BGP\.origin: IGP/);
    const st = (await tabby.status()).bgp.peers[0]!;
    assert.equal(st.prefixes.received, 2);
    assert.equal(st.prefixes.accepted, 2);
    assert.equal(st.prefixes.advertised, 1);
  });

  it('a withdrawal at BIRD removes the route at tabby', async () => {
    await bird.reconfigure(birdConf(['10.20.0.0/24']));
    await waitFor('10.20.1.0/24 withdrawn', async () => (await tabby.routes('10.20.1.0/24')).routes.length === 0, { timeoutMs: 10_000 });
    assert.equal((await tabby.routes('10.20.0.0/24')).routes.length, 1);
  });

  it('hold timer expiry when BIRD is frozen (SIGSTOP), then recovery', async function () {
    this.timeout(60_000);
    bird.proc.signalWith('SIGSTOP');
    try {
      await waitFor('tabby drops the session', async () => /Hold Timer Expired/.test((await tabby.status()).bgp.peers[0]!.lastError ?? ''), { timeoutMs: 20_000 });
    } finally {
      bird.proc.signalWith('SIGCONT');
    }
    await waitFor('Established again', async () => (await tabby.status()).bgp.peers[0]!.state === 'Established', { timeoutMs: 30_000 });
    await waitFor('routes back', async () => (await tabby.routes('10.20.0.0/24')).routes.length === 1, { timeoutMs: 10_000 });
  });
});
