/**
 * RFC 4724 §4.1 as the restarting speaker: a Speaker started with `restart`
 * sends the Restart State (R) bit and, when the forwarding state survived,
 * the Forwarding State (F) bit per family in its first OPEN; a speaker
 * started normally sends neither.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { bgpConfigSchema } from '../../../src/bgp/config.js';
import { Session, type Negotiated, type SessionHandler } from '../../../src/bgp/session/session.js';
import { Speaker } from '../../../src/bgp/speaker/speaker.js';
import { waitFor } from '../../../src/lab/wait.js';

async function openOf(restart?: { forwardingPreserved: boolean }): Promise<Negotiated> {
  let negotiated: Negotiated | undefined;
  const handler: SessionHandler = {
    established: (_s, n) => (negotiated = n),
    update: () => undefined,
    endOfRib: () => undefined,
    routeRefresh: () => undefined,
    down: () => undefined,
  };
  // The observer: a passive session behind a loopback listener.
  let observer: Session | undefined;
  const server: Server = createServer((sock) => observer!.accept(sock));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  observer = new Session({ localAs: 65002, routerId: '10.0.0.2', peerAddress: '127.0.0.1', peerAs: 65001, port: 179, passive: true, holdTime: 90, keepaliveTime: 30, connectRetryTime: 1, families: ['ipv4-unicast'], gracefulRestart: true, restartTime: 120 }, handler);
  observer.start();
  const speaker = new Speaker(
    bgpConfigSchema.parse({ asNumber: 65001, routerId: '10.0.0.1', listen: { enabled: false }, controlSocket: '/tmp/unused.sock', peers: [{ address: '127.0.0.1', port, asNumber: 65002, addressFamilies: ['ipv4-unicast'] }] }),
    restart,
  );
  try {
    await speaker.start();
    await waitFor('established', () => negotiated !== undefined, { timeoutMs: 5000 });
    return negotiated!;
  } finally {
    await speaker.stop();
    observer.destroy();
    server.close();
  }
}

describe('graceful restart as the restarting speaker (RFC 4724 §4.1)', function () {
  this.timeout(20_000);

  it('after a restart with forwarding preserved: R bit, and F bit for IPv4 unicast', async () => {
    const gr = (await openOf({ forwardingPreserved: true })).peerGracefulRestart!;
    assert.equal(gr.restarting, true);
    assert.deepEqual(gr.families.map((f) => f.forwarding), [true]);
  });

  it('a normal start: neither bit', async () => {
    const gr = (await openOf()).peerGracefulRestart!;
    assert.equal(gr.restarting, false);
    assert.deepEqual(gr.families.map((f) => f.forwarding), [false]);
  });
});
