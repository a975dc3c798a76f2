/**
 * Fuzz into a LIVE session, at volume (the issue asks for >= 100k cases per
 * CI run): an in-process Speaker on loopback and the raw fuzzing client of
 * `live-fuzz.ts`. Every case is checked against its RFC 4271 §6 / RFC 7606
 * verdict: session-keeping UPDATEs (ok, attribute discard, treat-as-withdraw)
 * must leave the session up with exactly the routes the verdict says (kept
 * with the surviving MED/ORIGIN, or withdrawn); session-ending ones must get
 * exactly their NOTIFICATION code/subcode, drop the session's routes, and
 * the next connection is taken at once. The speaker must still answer at
 * the end. `bench/bgp-fuzz.ts` runs the same at larger volume.
 */
import assert from 'node:assert/strict';
import { bgpConfigSchema } from '../../../src/bgp/config.js';
import { Speaker } from '../../../src/bgp/speaker/speaker.js';
import { classify, FuzzConn, FUZZ_PEER_AS, markerPrefix, markerUpdate, message, runLiveFuzz, type LiveFuzzStats } from './live-fuzz.js';
import { waitFor } from '../../../src/lab/wait.js';

const CASES = Number(process.env.TABBY_FUZZ_CASES ?? 100_000);
const RESET_EVERY = Number(process.env.TABBY_FUZZ_RESET_EVERY ?? 250);
const SEED = Number(process.env.TABBY_FUZZ_SEED ?? 0x7ab1);

describe('live-session fuzz: mutated UPDATEs into a running speaker', function () {
  this.timeout(240_000);
  let speaker: Speaker;
  let stats: LiveFuzzStats;
  const port = 20_000 + (process.pid % 20_000);

  before(async () => {
    speaker = new Speaker(
      bgpConfigSchema.parse({
        asNumber: 65001,
        routerId: '127.0.0.1',
        listen: { address: '127.0.0.1', port },
        controlSocket: '/tmp/unused-fuzz.sock',
        peers: [{ address: '127.0.0.1', asNumber: FUZZ_PEER_AS, passive: true, addressFamilies: ['ipv4-unicast'], gracefulRestart: false, connectRetryTime: 1 }],
      }),
    );
    await speaker.start();
  });

  after(async () => {
    await speaker?.stop();
  });

  it(`${CASES} cases, each answered as its verdict says (routes kept or withdrawn, or exactly its NOTIFICATION)`, async () => {
    stats = await runLiveFuzz({ speaker, port, cases: CASES, resetEvery: RESET_EVERY, seed: SEED });
    console.log(
      `      (${stats.cases} cases from ${stats.mutations} mutations in ${stats.elapsedMs} ms: ${JSON.stringify(stats.byVerdict)}, ` +
        `${stats.resets} resets ${JSON.stringify(stats.notifications)}, ${stats.checkedPrefixes} prefix states checked, ${stats.sessions} sessions)`,
    );
    assert.deepEqual(stats.mismatches, []);
    assert.ok(stats.cases >= CASES, `${stats.cases} cases`);
  });

  it('exercised every kind of verdict', () => {
    for (const k of ['ok', 'treat-as-withdraw'] as const) assert.ok(stats.byVerdict[k] >= CASES / 100, `${stats.byVerdict[k]} ${k} cases`);
    assert.ok(stats.byVerdict['attribute-discard'] >= CASES / 1000, `${stats.byVerdict['attribute-discard']} attribute-discard cases`);
    assert.ok(stats.byVerdict['af-disable'] > 0, 'some AFI/SAFI disables');
    if (RESET_EVERY > 0) {
      assert.ok(stats.resets >= CASES / RESET_EVERY / 2, `${stats.resets} session resets`);
      assert.ok(Object.keys(stats.notifications).length >= 3, `several NOTIFICATION kinds: ${JSON.stringify(stats.notifications)}`);
    }
  });

  it('a malformed MP_REACH_NLRI of IPv4 unicast disables that family for the session: its routes go, later ones are ignored, no NOTIFICATION (RFC 4760 §7)', async () => {
    const c = await FuzzConn.open(port);
    try {
      const peerRoutes = () => speaker.peerStatus()[0]!.prefixes.accepted;
      await c.send(markerUpdate(1_000_001));
      await waitFor('first marker', () => speaker.routes(markerPrefix(1_000_001)).routes.length === 1, { timeoutMs: 5000, intervalMs: 2 });
      // MP_REACH_NLRI for AFI 1 / SAFI 1 whose NLRI has a prefix length of 33.
      const attrs = Buffer.from('4001010040020602010000fdea800e0a000101047f0000020021', 'hex');
      const body = Buffer.concat([Buffer.from([0, 0, 0, attrs.length]), attrs]);
      const bad = message(2, body);
      const v = classify(bad);
      assert.ok(!v.reset && v.action === 'af-disable' && v.disablesIpv4);
      await c.send(bad);
      await waitFor('every IPv4 route of the session removed', () => peerRoutes() === 0, { timeoutMs: 5000, intervalMs: 2 });
      await c.send(markerUpdate(1_000_002));
      const before = speaker.peerStatus()[0]!.updatesIn;
      await waitFor('the next UPDATE processed', () => speaker.peerStatus()[0]!.updatesIn > before, { timeoutMs: 5000, intervalMs: 2 });
      assert.equal(speaker.routes(markerPrefix(1_000_002)).routes.length, 0, 'IPv4 routes are ignored for the rest of the session');
      assert.deepEqual(c.notifications, []);
      assert.equal(c.closed, false);
      assert.equal(speaker.peerStatus()[0]!.state, 'Established');
    } finally {
      c.sock.destroy();
      await c.gone;
    }
    // A new session carries IPv4 again.
    const d = await FuzzConn.open(port);
    try {
      await d.send(markerUpdate(1_000_003));
      await waitFor('IPv4 again on a new session', () => speaker.routes(markerPrefix(1_000_003)).routes.length === 1, { timeoutMs: 5000, intervalMs: 2 });
    } finally {
      d.sock.destroy();
      await d.gone;
    }
  });

  it('the speaker is still up and serving the last session', () => {
    const p = speaker.peerStatus()[0]!;
    assert.ok(['Established', 'Idle', 'Active', 'Connect'].includes(p.state));
    assert.ok(speaker.routes().routes.length >= 0);
    assert.ok(p.flaps >= stats.resets, `${p.flaps} flaps recorded for ${stats.resets} resets`);
  });
});
