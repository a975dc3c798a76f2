import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { Lab } from '../../../src/lab/lab.js';
import { waitFor } from '../../../src/lab/wait.js';
import { run } from '../../../src/lab/exec.js';
import { birdConfig, startBird, startTabbyBgp, type BirdPeer, type TabbyPeer } from './peers.js';

describe('tabby bgp: live reconfiguration on SIGHUP (least disruption)', () => {
  let lab: Lab;
  let bird: BirdPeer;
  let tabby: TabbyPeer;
  // birdc exits 1 for "Network not found": read its output, not its status.
  const birdHas = async (prefix: string) => (await run('birdc', ['-s', bird.socket, 'show', 'route', prefix])).stdout.includes(prefix);
  const peer = async () => (await tabby.status()).bgp.peers[0] as unknown as { state: string; flaps: number; lastError: string | null } | undefined;
  const rewrite = (change: (c: Record<string, unknown>) => void) => {
    const c = parse(readFileSync(tabby.config, 'utf8')) as Record<string, unknown>;
    change(c);
    writeFileSync(tabby.config, stringify(c));
    tabby.proc.signalWith('SIGHUP');
  };

  before(async function () {
    this.timeout(60_000);
    lab = await Lab.create();
    const h1 = await lab.addHost('h1');
    const h2 = await lab.addHost('h2');
    bird = await startBird(lab, h2.netns, 'bird', birdConfig({ routerId: '172.31.0.2', as: 65002, peers: [{ name: 'tabby', address: '172.31.0.1', as: 65001 }], statics: ['10.20.0.0/24'] }));
    tabby = await startTabbyBgp(lab, h1.netns, 'tabby', {
      asNumber: 65001,
      routerId: '172.31.0.1',
      originate: ['10.10.0.0/24', '10.10.1.0/24'],
      peers: [{ address: '172.31.0.2', asNumber: 65002, holdTime: 9 }],
    });
    await waitFor('Established', async () => (await peer())?.state === 'Established', { timeoutMs: 30_000 });
    await waitFor('BIRD has both routes', async () => (await birdHas('10.10.0.0/24')) && (await birdHas('10.10.1.0/24')), { timeoutMs: 10_000 });
  });
  after(async () => {
    await lab.destroy();
  });

  it('an export filter change re-advertises without resetting the session', async () => {
    rewrite((c) => {
      c.filters = { 'only-first': { terms: [{ match: { prefix: ['10.10.0.0/24'] }, action: 'accept' }], default: 'reject' } };
      (c.peers as Record<string, unknown>[])[0]!.export = 'only-first';
    });
    await waitFor('10.10.1.0/24 withdrawn at BIRD', async () => !(await birdHas('10.10.1.0/24')), { timeoutMs: 10_000 });
    assert.equal(await birdHas('10.10.0.0/24'), true);
    const p = (await peer())!;
    assert.equal(p.state, 'Established');
    assert.equal(p.flaps, 0, 'the session was not reset');
  });

  it('a new originated prefix is announced live', async () => {
    rewrite((c) => {
      c.originate = ['10.10.0.0/24', '10.10.1.0/24', '10.10.2.0/24'];
      (c.filters as Record<string, { terms: { match: { prefix: string[] } }[] }>)['only-first']!.terms[0]!.match.prefix = ['10.10.0.0/16 le 24'];
    });
    await waitFor('new prefixes at BIRD', async () => (await birdHas('10.10.2.0/24')) && (await birdHas('10.10.1.0/24')), { timeoutMs: 10_000 });
    assert.equal((await peer())!.flaps, 0);
  });

  it('a bad file changes nothing and the speaker keeps running', async () => {
    const good = readFileSync(tabby.config, 'utf8');
    writeFileSync(tabby.config, `${good}\nbogusKey: 1\n`);
    tabby.proc.signalWith('SIGHUP');
    await waitFor('reload failure logged', () => /bgp\.reload\.failed/.test(tabby.proc.logTail(50)), { timeoutMs: 5000 });
    writeFileSync(tabby.config, good);
    assert.equal(tabby.proc.alive, true);
    assert.equal((await peer())!.state, 'Established');
    assert.equal(await birdHas('10.10.2.0/24'), true);
  });

  it('a change that needs a new OPEN resets just that session with Cease / Other Configuration Change', async function () {
    this.timeout(60_000);
    rewrite((c) => {
      (c.peers as Record<string, unknown>[])[0]!.holdTime = 12;
    });
    // BIRD logs the NOTIFICATION it received (its `show protocols` forgets it once up again).
    await waitFor('BIRD received Cease 6/6', () => /Received: Other configuration change/i.test(bird.proc.logTail(200)), { timeoutMs: 10_000 });
    await waitFor('Established again', async () => (await peer())?.state === 'Established', { timeoutMs: 30_000 });
    assert.equal((await tabby.status()).bgp.peers[0]!.holdTime, 9, 'BIRD offers 9: the smaller wins');
  });

  it('a removed peer gets Cease / Peer De-configured and its routes go', async () => {
    rewrite((c) => {
      c.peers = [];
    });
    await waitFor('peer gone from status', async () => (await tabby.status()).bgp.peers.length === 0, { timeoutMs: 10_000 });
    await waitFor('BIRD received Cease 6/3', () => /Received: Peer de-configured/i.test(bird.proc.logTail(200)), { timeoutMs: 10_000 });
    assert.equal((await tabby.routes('10.20.0.0/24')).routes.length, 0);
  });
});
