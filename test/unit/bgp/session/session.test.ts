import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { Session, type Family, type Negotiated, type SessionConfig, type SessionHandler } from '../../../../src/bgp/session/session.js';
import { encodeMessage, endOfRib, packUpdates, type ReceivedUpdate } from '../../../../src/bgp/wire/index.js';
import { waitFor } from '../../../../src/lab/wait.js';

interface Recorder extends SessionHandler {
  events: string[];
  updates: ReceivedUpdate[];
  negotiated?: Negotiated;
  downs: { reason: string; code?: number; subcode?: number }[];
}

function recorder(): Recorder {
  const r: Recorder = {
    events: [],
    updates: [],
    downs: [],
    established(_s, n) {
      r.events.push('established');
      r.negotiated = n;
    },
    update(_s, u) {
      r.updates.push(u);
    },
    endOfRib(_s, f: Family) {
      r.events.push(`eor:${f}`);
    },
    routeRefresh(_s, f: Family) {
      r.events.push(`refresh:${f}`);
    },
    down(_s, info) {
      r.downs.push({ reason: info.reason, ...(info.notification ? { code: info.notification.code, subcode: info.notification.subcode } : {}) });
    },
  };
  return r;
}

const base = (o: Partial<SessionConfig>): SessionConfig => ({
  localAs: 65001,
  routerId: '10.0.0.1',
  peerAddress: '127.0.0.1',
  peerAs: 65002,
  port: 179,
  passive: false,
  holdTime: 90,
  keepaliveTime: 30,
  connectRetryTime: 1,
  families: ['ipv4-unicast', 'ipv6-unicast'],
  gracefulRestart: true,
  restartTime: 120,
  ...o,
});

/** A passive session behind a loopback listener, and an active one connecting to it. */
async function pair(a: Partial<SessionConfig>, b: Partial<SessionConfig>) {
  const rb = recorder();
  const ra = recorder();
  let sb: Session | undefined;
  const server: Server = createServer((sock) => sb!.accept(sock));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  sb = new Session(base({ localAs: 65002, routerId: '10.0.0.2', peerAs: 65001, passive: true, ...b }), rb);
  const sa = new Session(base({ port, ...a }), ra);
  sb.start();
  sa.start();
  return { sa, sb: sb!, ra, rb, server };
}

describe('BGP session over loopback', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it('reaches Established on both sides and negotiates capabilities', async () => {
    const p = await pair({}, { holdTime: 30, families: ['ipv4-unicast'] });
    cleanups.push(() => (p.sa.destroy(), p.sb.destroy(), p.server.close()));
    await waitFor('both established', () => p.sa.state === 'Established' && p.sb.state === 'Established', { timeoutMs: 5000 });
    assert.equal(p.ra.negotiated!.holdTime, 30, 'the smaller hold time wins (§4.2)');
    assert.equal(p.ra.negotiated!.keepaliveTime, 10);
    assert.deepEqual(p.ra.negotiated!.families, ['ipv4-unicast']);
    assert.equal(p.ra.negotiated!.fourOctetAs, true);
    assert.equal(p.ra.negotiated!.peerRouterId, '10.0.0.2');
    assert.equal(p.rb.negotiated!.peerGracefulRestart?.restartTime, 120);
  });

  it('carries UPDATEs and End-of-RIB, then an admin shutdown with Cease 6/2', async () => {
    const p = await pair({}, {});
    cleanups.push(() => (p.sa.destroy(), p.sb.destroy(), p.server.close()));
    await waitFor('established', () => p.sa.state === 'Established' && p.sb.state === 'Established', { timeoutMs: 5000 });
    const ctx = p.ra.negotiated!.ctx;
    const packed = packUpdates({ origin: 'igp', asPath: [{ type: 'sequence', asns: [65001] }], nextHop: '10.0.0.1' }, ['10.1.0.0/24', '10.1.1.0/24'], ctx);
    assert.equal(p.sa.send(packed.bytes, packed.messages.length), true);
    p.sa.send(encodeMessage(endOfRib(1, 1), ctx), 1);
    await waitFor('update and End-of-RIB arrive', () => p.rb.events.includes('eor:ipv4-unicast'), { timeoutMs: 3000 });
    assert.equal(p.rb.updates.length, 1, 'End-of-RIB is not handed over as an update');
    // The session hands IPv4 NLRI over as checked raw bytes (RFC 4271 §4.3 tuples) for the RIB's fast path.
    assert.equal(p.rb.updates[0]!.ipv4Raw!.nlri.toString('hex'), '180a0100180a0101');
    assert.deepEqual(p.rb.updates[0]!.attributes.asPath, [{ type: 'sequence', asns: [65001] }]);
    p.sa.stop(2, 'maintenance');
    await waitFor('B down', () => p.rb.downs.length === 1, { timeoutMs: 3000 });
    // Both sides sent the N bit (RFC 8538): the shutdown goes out as a Hard
    // Reset, so B does not keep A's routes stale for the restart time.
    assert.deepEqual(p.rb.downs[0], { reason: 'notification-received', code: 6, subcode: 9 });
    assert.equal(p.sa.state, 'Idle');
    assert.match(p.sb.lastError ?? '', /Hard Reset \(.*Administrative Shutdown: "maintenance"\)/);
  });

  it('without graceful restart an admin shutdown is a plain Cease 6/2 (RFC 4486)', async () => {
    const p = await pair({ gracefulRestart: false }, {});
    cleanups.push(() => (p.sa.destroy(), p.sb.destroy(), p.server.close()));
    await waitFor('established', () => p.sa.state === 'Established' && p.sb.state === 'Established', { timeoutMs: 5000 });
    p.sa.stop(2, 'maintenance');
    await waitFor('B down', () => p.rb.downs.length === 1, { timeoutMs: 3000 });
    assert.deepEqual(p.rb.downs[0], { reason: 'notification-received', code: 6, subcode: 2 });
    assert.match(p.sb.lastError ?? '', /Administrative Shutdown/);
  });

  it('rejects a peer whose AS is not the configured one: OPEN error 2/2', async () => {
    const p = await pair({ localAs: 65009 }, {});
    cleanups.push(() => (p.sa.destroy(), p.sb.destroy(), p.server.close()));
    await waitFor('A told', () => p.sa.lastError?.includes('Bad Peer AS'), { timeoutMs: 5000 });
    assert.equal(p.sb.state === 'Established' || p.sa.state === 'Established', false);
    assert.match(p.sb.lastError ?? '', /^sent .*Bad Peer AS/);
  });

  it('hold timer expiry when the peer goes silent: NOTIFICATION 4/0', async () => {
    const p = await pair({ holdTime: 3 }, { holdTime: 3 });
    cleanups.push(() => (p.sa.destroy(), p.sb.destroy(), p.server.close()));
    await waitFor('established', () => p.sa.state === 'Established' && p.sb.state === 'Established', { timeoutMs: 5000 });
    // Silence B without closing its socket: its timers stop, so it sends no KEEPALIVE.
    (p.sb as unknown as { timers: { stopAll(): void } }).timers.stopAll();
    await waitFor('A expires its hold timer', () => p.ra.downs.length > 0, { timeoutMs: 8000 });
    assert.deepEqual(p.ra.downs[0], { reason: 'hold-timer-expired', code: 4, subcode: 0 });
  });
});
