/**
 * Live-session fuzz: a misbehaving peer (`fuzz-client.ts`, in its own
 * namespace) sends a few thousand seeded, mutated UPDATEs over real sessions
 * while BIRD, a well-behaved peer, stays connected. tabby must stay up, keep
 * answering its control socket, answer errors with NOTIFICATIONs of the
 * right kind (RFC 4271 §6, RFC 7606) and never disturb the other session.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Lab } from '../../../src/lab/lab.js';
import { sleep, waitFor } from '../../../src/lab/wait.js';
import type { ManagedProcess } from '../../../src/lab/process.js';
import { birdConfig, startBird, startTabbyBgp, type BirdPeer, type TabbyPeer } from './peers.js';

const FUZZ_CLIENT = fileURLToPath(new URL('./fuzz-client.js', import.meta.url));
const SEED = Number(process.env.TABBY_FUZZ_SEED ?? 20261122);
const COUNT = 3000;

interface FuzzSummary {
  sessions: number;
  opened: number;
  updatesSent: number;
  notifications: Record<string, number>;
  firstNotification: string;
}

describe('tabby bgp under a live-session UPDATE fuzz, with a well-behaved peer alongside', () => {
  let lab: Lab;
  let bird: BirdPeer;
  let tabby: TabbyPeer;
  let fuzz: ManagedProcess;
  let summary: FuzzSummary;
  let flapsBefore: number;
  const birdPeer = async () => (await tabby.status()).bgp.peers.find((p) => p.address === '172.31.0.2') as unknown as { state: string; flaps: number; prefixes: { accepted: number } };

  before(async function () {
    this.timeout(60_000);
    lab = await Lab.create();
    const h1 = await lab.addHost('h1');
    const h2 = await lab.addHost('h2');
    const h3 = await lab.addHost('h3');
    bird = await startBird(lab, h2.netns, 'bird', birdConfig({ routerId: '172.31.0.2', as: 65002, peers: [{ name: 'tabby', address: '172.31.0.1', as: 65001 }], statics: ['10.20.0.0/24'] }));
    tabby = await startTabbyBgp(lab, h1.netns, 'tabby', {
      asNumber: 65001,
      routerId: '172.31.0.1',
      originate: ['10.10.0.0/24'],
      log: { level: 'info', format: 'json' },
      peers: [
        { address: '172.31.0.2', asNumber: 65002, holdTime: 9, connectRetryTime: 1 },
        { address: '172.31.0.3', asNumber: 65003, holdTime: 90, connectRetryTime: 1, passive: true, addressFamilies: ['ipv4-unicast'] },
      ],
    });
    await waitFor('BIRD session Established', async () => (await birdPeer())?.state === 'Established', { timeoutMs: 30_000 });
    await waitFor('BIRD route at tabby', async () => (await birdPeer())?.prefixes.accepted === 1, { timeoutMs: 10_000 });
    flapsBefore = (await birdPeer()).flaps;
    fuzz = lab.startProcess(h3.netns, 'fuzz', process.execPath, [FUZZ_CLIENT, '172.31.0.1', '65003', '172.31.0.3', String(SEED), String(COUNT)]);
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(lab.logsReport(30));
  });
  after(async () => {
    await lab.destroy();
  });

  it('the well-behaved session stays Established and tabby stays up while the fuzz runs', async function () {
    this.timeout(120_000);
    // Sample the other session and the control socket throughout the run.
    for (let i = 0; i < 400 && fuzz.alive; i++) {
      assert.equal(tabby.proc.alive, true, 'tabby is alive');
      const p = await birdPeer();
      assert.equal(p.state, 'Established');
      await sleep(250);
    }
    assert.equal(await fuzz.waitExit(90_000), true, 'fuzz client finished');
    const line = fuzz.logTail(20).split('\n').find((l) => l.startsWith('FUZZ-SUMMARY '));
    assert.ok(line, `fuzz client summary missing: ${fuzz.logTail(20)}`);
    summary = JSON.parse(line.slice('FUZZ-SUMMARY '.length)) as FuzzSummary;
    assert.equal(tabby.proc.alive, true);
    const p = await birdPeer();
    assert.equal(p.state, 'Established');
    assert.equal(p.flaps, flapsBefore, 'the BIRD session never flapped');
    assert.equal(p.prefixes.accepted, 1);
  });

  // Most mutations reset the session, and tabby refuses reconnects for about
  // a connect-retry time after (Cease/Connection Rejected, 6/5), so the 60 s
  // client budget bounds how many of the COUNT UPDATEs go out (~450 here).
  it('sent hundreds of mutated UPDATEs over many sessions', () => {
    assert.ok(summary, 'previous test produced a summary');
    assert.ok(summary.updatesSent >= 200, `UPDATEs sent: ${summary.updatesSent}`);
    assert.ok(summary.opened >= 10, `sessions opened: ${summary.opened}`);
  });

  it('a broken marker got Message Header Error / Connection Not Synchronized (RFC 4271 §6.1)', () => {
    assert.equal(summary.firstNotification, '1/1');
  });

  it('errors were answered only with header, UPDATE-message or Cease NOTIFICATIONs', () => {
    const codes = Object.keys(summary.notifications);
    assert.ok(codes.some((c) => c.startsWith('3/')), `no UPDATE Message Error seen: ${JSON.stringify(summary.notifications)}`);
    for (const c of codes) assert.match(c, /^(1|3|6)\/\d+$/, `unexpected NOTIFICATION ${c}`);
  });

  it('after the fuzz, tabby still routes: BIRD still has its route and tabby answers status and routes', async () => {
    assert.match(await bird.birdc('show', 'route', '10.10.0.0/24'), /10\.10\.0\.0\/24/);
    const r = (await tabby.routes('10.20.0.0/24')).routes;
    assert.equal(r.length, 1);
    assert.equal(r[0]!.nextHop, '172.31.0.2');
    // Whatever the fuzz peer left behind goes when its session is gone.
    await waitFor('fuzz peer routes gone', async () => (await tabby.routes()).routes.every((x) => x.peer !== '172.31.0.3'), { timeoutMs: 20_000 });
  });
});
