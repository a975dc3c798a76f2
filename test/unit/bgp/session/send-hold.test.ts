/**
 * RFC 9687 send hold timer: a peer that keeps the session up but stops
 * reading (its socket paused: the TCP window fills) is dropped after
 * SendHoldTime with NOTIFICATION 8; a peer that reads is never dropped.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { Session, type Negotiated, type SessionConfig, type SessionHandler } from '../../../../src/bgp/session/session.js';
import { packUpdates } from '../../../../src/bgp/wire/index.js';
import { sleep, waitFor } from '../../../../src/lab/wait.js';

function handler(): SessionHandler & { negotiated?: Negotiated; downs: string[] } {
  const h: SessionHandler & { negotiated?: Negotiated; downs: string[] } = {
    downs: [],
    established: (_s, n) => (h.negotiated = n),
    update: () => undefined,
    endOfRib: () => undefined,
    routeRefresh: () => undefined,
    down: (_s, info) => h.downs.push(info.reason),
  };
  return h;
}

const cfg = (o: Partial<SessionConfig>): SessionConfig => ({
  localAs: 65001, routerId: '10.0.0.1', peerAddress: '127.0.0.1', peerAs: 65002, port: 179, passive: false,
  holdTime: 90, keepaliveTime: 30, connectRetryTime: 1, families: ['ipv4-unicast'], gracefulRestart: false, restartTime: 120, ...o,
});

describe('RFC 9687 send hold timer', function () {
  this.timeout(30_000);
  let server: Server;
  const sessions: Session[] = [];
  afterEach(() => {
    for (const s of sessions.splice(0)) s.destroy();
    server?.close();
  });

  async function pair(pauseReader: boolean) {
    const hb = handler();
    const ha = handler();
    let raw: Socket | undefined;
    const b = new Session(cfg({ localAs: 65002, routerId: '10.0.0.2', peerAs: 65001, passive: true }), hb);
    server = createServer((sock) => {
      raw = sock;
      b.accept(sock);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const a = new Session(cfg({ port: (server.address() as { port: number }).port, sendHoldTime: 2 }), ha);
    sessions.push(a, b);
    b.start();
    a.start();
    await waitFor('established', () => a.state === 'Established' && b.state === 'Established', { timeoutMs: 5000 });
    if (pauseReader) raw!.pause();
    // Fill the pipe: big UPDATEs until our side has bytes queued that the peer does not take.
    const prefixes = Array.from({ length: 800 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.0/24`);
    const bytes = packUpdates({ origin: 'igp', asPath: [{ type: 'sequence', asns: [65001] }], nextHop: '10.0.0.1' }, prefixes, ha.negotiated!.ctx).bytes;
    for (let i = 0; i < 20_000 && a.writeBacklog === 0; i++) a.send(bytes, 1);
    return { a, ha, b, hb };
  }

  it('drops a peer that stops reading, with Send Hold Timer Expired', async () => {
    const { a, ha } = await pair(true);
    assert.ok(a.writeBacklog > 0, 'bytes are queued');
    await waitFor('down by the send hold timer', () => ha.downs.includes('send-hold-timer-expired'), { timeoutMs: 10_000 });
    assert.match(a.lastError ?? '', /Send Hold Timer Expired/);
  });

  it('keeps a peer that reads, however much is sent', async () => {
    const { a, ha } = await pair(false);
    await sleep(3500);
    assert.equal(a.state, 'Established');
    assert.deepEqual(ha.downs, []);
  });
});
