/**
 * RFC 4724 §4.1 as the restarting speaker: a Speaker started with `restart`
 * sends the Restart State (R) bit and, when the forwarding state survived,
 * the Forwarding State (F) bit per family in its first OPEN; a speaker
 * started normally sends neither. Route selection then waits for the
 * peers' End-of-RIB (or the Selection_Deferral_Timer) before anything goes
 * to the FIB or to a peer.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { bgpConfigSchema } from '../../../src/bgp/config.js';
import { Session, type Negotiated, type SessionHandler } from '../../../src/bgp/session/session.js';
import { Speaker } from '../../../src/bgp/speaker/speaker.js';
import { sleep, waitFor } from '../../../src/lab/wait.js';
import { decodePrefixes, encodeMessage, endOfRib, packUpdates } from '../../../src/bgp/wire/index.js';

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

/** An observing peer (a real Session, passive, behind a loopback listener) and a restarting Speaker connecting to it. */
async function restartPair(o: { observerGr: boolean; observerRestarting?: boolean; deferral?: number }) {
  const events: string[] = [];
  const updates: string[][] = [];
  let negotiated: Negotiated | undefined;
  const handler: SessionHandler = {
    established: (_s, n) => (negotiated = n),
    update: (_s, u) => {
      events.push('update');
      const nlri = [...u.nlri];
      if (u.ipv4Raw) decodePrefixes(u.ipv4Raw.nlri, 0, u.ipv4Raw.nlri.length, 1, nlri);
      updates.push(nlri);
    },
    endOfRib: (_s, f) => events.push(`eor:${f}`),
    routeRefresh: () => undefined,
    down: () => undefined,
  };
  let observer: Session | undefined;
  const server: Server = createServer((sock) => observer!.accept(sock));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  observer = new Session({ localAs: 65002, routerId: '10.0.0.2', peerAddress: '127.0.0.1', peerAs: 65001, port: 179, passive: true, holdTime: 90, keepaliveTime: 30, connectRetryTime: 1, families: ['ipv4-unicast'], gracefulRestart: o.observerGr, restartTime: 120 }, handler);
  if (o.observerRestarting) observer.restarting = true;
  observer.start();
  const speaker = new Speaker(
    bgpConfigSchema.parse({
      asNumber: 65001,
      routerId: '10.0.0.1',
      listen: { enabled: false },
      controlSocket: '/tmp/unused.sock',
      originate: ['10.10.0.0/24'],
      ...(o.deferral ? { selectionDeferralTime: o.deferral } : {}),
      peers: [{ address: '127.0.0.1', port, asNumber: 65002, addressFamilies: ['ipv4-unicast'] }],
    }),
    { forwardingPreserved: true },
  );
  const changes: string[] = [];
  speaker.rib.onChange((pids) => {
    for (const pid of pids) changes.push(speaker.rib.prefixes.text(pid));
  });
  await speaker.start();
  await waitFor('established', () => negotiated !== undefined, { timeoutMs: 5000 });
  const close = async () => {
    await speaker.stop();
    observer!.destroy();
    server.close();
  };
  /** The observer announces `prefix` (and End-of-RIB with `eor`). */
  const announce = (prefix: string | undefined, eor: boolean) => {
    const ctx = negotiated!.ctx;
    if (prefix) observer!.send(packUpdates({ origin: 'igp', asPath: [{ type: 'sequence', asns: [65002] }], nextHop: '127.0.0.1' }, [prefix], ctx).bytes, 1);
    if (eor) observer!.send(encodeMessage(endOfRib(1, 1), ctx), 1);
  };
  return { speaker, events, updates, changes, announce, close };
}

describe('graceful restart as the restarting speaker: deferred route selection (RFC 4724 §4.1)', function () {
  this.timeout(20_000);

  it('learns routes, but nothing reaches the FIB or the peer until the peer\'s End-of-RIB; then its update, then End-of-RIB', async () => {
    const p = await restartPair({ observerGr: true });
    try {
      p.announce('10.20.0.0/24', false);
      await waitFor('the route is in the RIB', () => p.speaker.routes('10.20.0.0/24').routes.length === 1, { timeoutMs: 5000, intervalMs: 5 });
      await sleep(200); // several flush turns: none may run
      assert.equal(p.speaker.selectionDeferred, true);
      assert.deepEqual(p.events, [], 'nothing advertised, no End-of-RIB, before the peer\'s End-of-RIB');
      assert.deepEqual(p.changes, [], 'no FIB/listener change during the deferral');
      p.announce(undefined, true);
      await waitFor('our End-of-RIB', () => p.events.includes('eor:ipv4-unicast'), { timeoutMs: 5000, intervalMs: 5 });
      assert.equal(p.speaker.selectionDeferred, false);
      assert.deepEqual(p.events, ['update', 'eor:ipv4-unicast'], 'the update first, then End-of-RIB');
      assert.deepEqual(p.updates, [['10.10.0.0/24']]);
      assert.deepEqual(p.changes.sort(), ['10.10.0.0/24', '10.20.0.0/24']);
    } finally {
      await p.close();
    }
  });

  it('without the peer\'s End-of-RIB, the selection deferral timer ends the wait', async () => {
    const p = await restartPair({ observerGr: true, deferral: 1 });
    try {
      p.announce('10.20.0.0/24', false);
      await waitFor('our End-of-RIB after the timer', () => p.events.includes('eor:ipv4-unicast'), { timeoutMs: 10_000, intervalMs: 20 });
      assert.deepEqual(p.events, ['update', 'eor:ipv4-unicast']);
      assert.ok(p.changes.includes('10.20.0.0/24'));
    } finally {
      await p.close();
    }
  });

  it('does not wait for a peer without graceful restart, nor for one that restarts too (R bit)', async () => {
    for (const o of [{ observerGr: false }, { observerGr: true, observerRestarting: true }]) {
      const p = await restartPair(o);
      try {
        await waitFor(`our End-of-RIB (${JSON.stringify(o)})`, () => p.events.includes('eor:ipv4-unicast'), { timeoutMs: 5000, intervalMs: 5 });
        assert.equal(p.speaker.selectionDeferred, false);
        assert.deepEqual(p.updates, [['10.10.0.0/24']]);
      } finally {
        await p.close();
      }
    }
  });
});
