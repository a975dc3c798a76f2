/**
 * Speaker.reload for the decision and import options (what SIGHUP does to
 * `tabby bgp`): alwaysCompareMed re-runs the decision in place; a change of
 * enforceFirstAs, allowOwnAs or softReconfigInbound is applied without a
 * session reset (in place with soft reconfiguration, else by ROUTE-REFRESH,
 * RFC 2918), and only a peer that did not negotiate route refresh is reset
 * (Cease / Other Configuration Change, RFC 4486), as nothing else applies it.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { bgpConfigSchema, type BgpConfig } from '../../../src/bgp/config.js';
import { Session, type Negotiated, type SessionHandler } from '../../../src/bgp/session/session.js';
import { Speaker } from '../../../src/bgp/speaker/speaker.js';
import { packUpdates } from '../../../src/bgp/wire/index.js';
import { waitFor } from '../../../src/lab/wait.js';
import { FuzzConn, FUZZ_PEER_AS, markerPrefix, markerUpdate, message } from './live-fuzz.js';

/** A peer: a real passive Session behind a listener on `host`. */
class Observer {
  negotiated: Negotiated | undefined;
  refreshes = 0;
  downs = 0;
  session!: Session;
  server!: Server;
  port = 0;

  constructor(
    readonly host: string,
    readonly asNumber: number,
  ) {}

  async start(): Promise<void> {
    const handler: SessionHandler = {
      established: (_s, n) => (this.negotiated = n),
      update: () => undefined,
      endOfRib: () => undefined,
      routeRefresh: () => this.refreshes++,
      down: () => this.downs++,
    };
    this.server = createServer((sock) => this.session.accept(sock));
    await new Promise<void>((r) => this.server.listen(0, this.host, () => r()));
    this.port = (this.server.address() as { port: number }).port;
    this.session = new Session({ localAs: this.asNumber, routerId: this.host, peerAddress: '127.0.0.1', peerAs: 65001, port: 179, passive: true, holdTime: 90, keepaliveTime: 30, connectRetryTime: 1, families: ['ipv4-unicast'], gracefulRestart: false, restartTime: 120 }, handler);
    this.session.start();
  }

  announce(prefix: string, path: number[], med?: number): void {
    const attrs = { origin: 'igp' as const, asPath: [{ type: 'sequence' as const, asns: path }], nextHop: this.host, ...(med !== undefined ? { med } : {}) };
    this.session.send(packUpdates(attrs, [prefix], this.negotiated!.ctx).bytes, 1);
  }

  stop(): void {
    this.session.destroy();
    this.server.close();
  }
}

const base = (peers: Record<string, unknown>[], more: Record<string, unknown> = {}): BgpConfig =>
  bgpConfigSchema.parse({ asNumber: 65001, routerId: '10.0.0.1', listen: { enabled: false }, controlSocket: '/tmp/unused.sock', ...more, peers });

describe('Speaker.reload: decision and import options', function () {
  this.timeout(20_000);
  const speakers: Speaker[] = [];
  const observers: Observer[] = [];
  afterEach(async () => {
    for (const s of speakers.splice(0)) await s.stop();
    for (const o of observers.splice(0)) o.stop();
  });

  async function setup(peerOpts: Record<string, unknown>[], more: Record<string, unknown> = {}) {
    const obs = peerOpts.map((_, i) => new Observer(`127.0.0.${i + 1}`, 65002 + i));
    for (const o of obs) await o.start();
    observers.push(...obs);
    const peers = obs.map((o, i) => ({ address: o.host, port: o.port, asNumber: o.asNumber, addressFamilies: ['ipv4-unicast'], gracefulRestart: false, ...peerOpts[i] }));
    const speaker = new Speaker(base(peers, more));
    speakers.push(speaker);
    await speaker.start();
    await waitFor('sessions up', () => obs.every((o) => o.negotiated !== undefined) && speaker.peerStatus().every((p) => p.state === 'Established'), { timeoutMs: 5000 });
    return { speaker, obs, peers, next: (p: Record<string, unknown>[], m: Record<string, unknown> = more) => base(peers.map((x, i) => ({ ...x, ...p[i] })), m) };
  }

  const has = (s: Speaker, prefix: string, peer?: string) => s.routes(prefix).routes.some((r) => peer === undefined || r.peer === peer);

  it('enforceFirstAs off: a ROUTE-REFRESH, no reset; the re-sent route is accepted', async () => {
    const { speaker, obs, next } = await setup([{}]);
    const o = obs[0]!;
    o.announce('10.70.0.0/16', [65100]); // first AS is not the peer's
    await waitFor('received', () => speaker.peerStatus()[0]!.prefixes.received === 1, { timeoutMs: 5000, intervalMs: 5 });
    assert.equal(has(speaker, '10.70.0.0/16'), false);
    const r = speaker.reload(next([{ enforceFirstAs: false }]));
    assert.deepEqual([r.refreshed, r.reset], [['127.0.0.1'], []]);
    await waitFor('ROUTE-REFRESH at the peer', () => o.refreshes === 1, { timeoutMs: 5000, intervalMs: 5 });
    o.announce('10.70.0.0/16', [65100]); // what the peer does on a refresh
    await waitFor('accepted', () => has(speaker, '10.70.0.0/16'), { timeoutMs: 5000, intervalMs: 5 });
    assert.equal(o.downs, 0);
    assert.equal(speaker.peerStatus()[0]!.flaps, 0);
  });

  it('with softReconfigInbound, enforceFirstAs off is applied at once, without ROUTE-REFRESH', async () => {
    const { speaker, obs, next } = await setup([{ softReconfigInbound: true }]);
    const o = obs[0]!;
    o.announce('10.71.0.0/16', [65100]);
    await waitFor('received', () => speaker.peerStatus()[0]!.prefixes.received === 1, { timeoutMs: 5000, intervalMs: 5 });
    const r = speaker.reload(next([{ softReconfigInbound: true, enforceFirstAs: false }]));
    assert.deepEqual(r.refreshed, ['127.0.0.1']);
    assert.equal(has(speaker, '10.71.0.0/16'), true);
    assert.equal(o.refreshes, 0);
    assert.equal(o.downs, 0);
  });

  it('softReconfigInbound turned on: a ROUTE-REFRESH refills the unfiltered table, no reset; turned off: nothing is sent', async () => {
    const { speaker, obs, next } = await setup([{}]);
    const o = obs[0]!;
    o.announce('10.72.0.0/16', [65002]);
    await waitFor('accepted', () => has(speaker, '10.72.0.0/16'), { timeoutMs: 5000, intervalMs: 5 });
    speaker.reload(next([{ softReconfigInbound: true }]));
    await waitFor('ROUTE-REFRESH at the peer', () => o.refreshes === 1, { timeoutMs: 5000, intervalMs: 5 });
    o.announce('10.72.0.0/16', [65002]);
    await waitFor('received again', () => speaker.peerStatus()[0]!.prefixes.received === 1, { timeoutMs: 5000, intervalMs: 5 });
    speaker.reload(next([{ softReconfigInbound: false }]));
    assert.equal(speaker.peerStatus()[0]!.prefixes.accepted, 1);
    assert.equal(o.refreshes, 1);
    assert.equal(o.downs, 0);
  });

  it('alwaysCompareMed is applied in place: the best path changes, no session resets', async () => {
    const { speaker, obs, next } = await setup([{}, {}]);
    const [a, b] = obs as [Observer, Observer];
    a.announce('10.73.0.0/16', [65002], 50);
    b.announce('10.73.0.0/16', [65003], 10);
    const best = () => speaker.routes('10.73.0.0/16').routes.find((r) => r.best)?.peer;
    await waitFor('both paths', () => speaker.routes('10.73.0.0/16').routes.length === 2, { timeoutMs: 5000, intervalMs: 5 });
    assert.equal(best(), '127.0.0.1', 'MED not compared across neighbouring ASes: the lower router id wins');
    const r = speaker.reload(next([{}, {}], { alwaysCompareMed: true }));
    assert.deepEqual(r.reset, []);
    assert.equal(best(), '127.0.0.2', 'the lower MED wins');
    assert.deepEqual([a.downs, b.downs], [0, 0]);
  });

  it('a peer without route refresh (RFC 2918) is reset with Cease / Other Configuration Change, as nothing else applies the change', async () => {
    const port = 20_000 + ((process.pid + 7) % 20_000);
    const peers = [{ address: '127.0.0.1', asNumber: FUZZ_PEER_AS, passive: true, addressFamilies: ['ipv4-unicast'], gracefulRestart: false }];
    const more = { listen: { address: '127.0.0.1', port } };
    const speaker = new Speaker(base(peers, more));
    speakers.push(speaker);
    await speaker.start();
    const c = await FuzzConn.open(port); // its OPEN has no route-refresh capability
    try {
      await c.send(markerUpdate(1));
      await waitFor('a route from it', () => has(speaker, markerPrefix(1)), { timeoutMs: 5000, intervalMs: 5 });
      const r = speaker.reload(base([{ ...peers[0], enforceFirstAs: false }], more));
      assert.deepEqual(r.reset, ['127.0.0.1']);
      await waitFor('Cease 6/6 and close', () => c.closed, { timeoutMs: 5000, intervalMs: 5 });
      assert.deepEqual(c.notifications, [{ code: 6, subcode: 6 }]);
      // The new session takes connections after the reset gap; a reload with nothing changed leaves it alone.
      const d = await waitFor('a new session', async () => {
        try {
          return await FuzzConn.open(port);
        } catch {
          return undefined;
        }
      }, { timeoutMs: 10_000, intervalMs: 200 });
      try {
        assert.deepEqual(speaker.reload(base([{ ...peers[0], enforceFirstAs: false }], more)).unchanged, ['127.0.0.1']);
        d.sock.write(message(4, Buffer.alloc(0)));
        assert.equal(d.closed, false);
      } finally {
        d.sock.destroy();
      }
    } finally {
      c.sock.destroy();
    }
  });
});
