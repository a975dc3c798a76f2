/**
 * RFC 9687 send hold timer, on the session's manual clock: a peer that keeps
 * the session up (its KEEPALIVEs arrive) but stops reading (its socket is
 * paused: the TCP window fills) is dropped once nothing of ours has been
 * written for SendHoldTime, with NOTIFICATION 8 (Send Hold Timer Expired);
 * the default SendHoldTime is max(8 minutes, 2 x the negotiated hold time);
 * a peer that reads is never dropped, however long the session lasts.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { Session, type Negotiated, type SessionConfig, type SessionHandler } from '../../../../src/bgp/session/session.js';
import { ManualClock } from '../../../../src/bgp/session/timers.js';
import { encodeMessage, KEEPALIVE, packUpdates, sessionContext } from '../../../../src/bgp/wire/index.js';
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

const KEEPALIVE_BYTES = encodeMessage(KEEPALIVE, sessionContext());

describe('RFC 9687 send hold timer (manual clock)', function () {
  this.timeout(30_000);
  let server: Server | undefined;
  const sessions: Session[] = [];
  afterEach(() => {
    for (const s of sessions.splice(0)) s.destroy();
    server?.close();
  });

  /** Session A (manual clock) with B (real clock, passive); `raw` is B's socket. */
  async function pair(a: Partial<SessionConfig>, b: Partial<SessionConfig> = {}) {
    const clock = new ManualClock();
    const hb = handler();
    const ha = handler();
    let raw: Socket | undefined;
    const sb = new Session(cfg({ localAs: 65002, routerId: '10.0.0.2', peerAs: 65001, passive: true, ...b }), hb);
    server = createServer((sock) => {
      raw = sock;
      sb.accept(sock);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const sa = new Session(cfg({ port: (server.address() as { port: number }).port, ...a }), ha, clock);
    sessions.push(sa, sb);
    sb.start();
    sa.start();
    await waitFor('established', () => sa.state === 'Established' && sb.state === 'Established', { timeoutMs: 5000 });
    return { sa, ha, sb, raw: raw!, clock };
  }

  /** Queue UPDATEs on A until the kernel stops taking them (the peer does not read). */
  async function fill(sa: Session, ha: ReturnType<typeof handler>) {
    const prefixes = Array.from({ length: 800 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.0/24`);
    const bytes = packUpdates({ origin: 'igp', asPath: [{ type: 'sequence', asns: [65001] }], nextHop: '10.0.0.1' }, prefixes, ha.negotiated!.ctx).bytes;
    for (let i = 0; i < 20_000 && sa.writeBacklog === 0; i++) sa.send(bytes, 1);
    assert.ok(sa.writeBacklog > 0, 'bytes are queued');
  }

  /**
   * Advance A's clock by `seconds` in 10 s steps; before each step the peer
   * sends a KEEPALIVE (its reads are paused, its writes are not), and A
   * processes it, so A's own hold timer never expires.
   */
  async function live(sa: Session, raw: Socket, clock: ManualClock, seconds: number) {
    for (let t = 0; t < seconds && sa.state === 'Established'; t += 10) {
      const seen = sa.counters.messagesIn;
      raw.write(KEEPALIVE_BYTES);
      await waitFor('KEEPALIVE processed', () => sa.counters.messagesIn > seen, { timeoutMs: 5000, intervalMs: 2 });
      clock.advance(Math.min(10, seconds - t) * 1000);
    }
  }

  it('default SendHoldTime: a peer that stops reading is dropped after max(480 s, 2 x hold time) = 480 s, with NOTIFICATION 8', async () => {
    const { sa, ha, raw, clock } = await pair({});
    assert.equal(ha.negotiated!.holdTime, 90);
    raw.pause();
    await fill(sa, ha);
    await sleep(100); // let the kernel buffers fill: nothing more is written from here on
    await live(sa, raw, clock, 460);
    assert.equal(sa.state, 'Established', 'still up well inside the send hold time');
    await live(sa, raw, clock, 40);
    assert.deepEqual(ha.downs, ['send-hold-timer-expired']);
    assert.match(sa.lastError ?? '', /Send Hold Timer Expired/);
  });

  it('a long negotiated hold time makes it 2 x hold time (hold 300: 600 s)', async () => {
    const { sa, ha, raw, clock } = await pair({ holdTime: 300, keepaliveTime: 100 }, { holdTime: 300, keepaliveTime: 100 });
    raw.pause();
    await fill(sa, ha);
    await sleep(100);
    await live(sa, raw, clock, 580);
    assert.equal(sa.state, 'Established');
    await live(sa, raw, clock, 40);
    assert.deepEqual(ha.downs, ['send-hold-timer-expired']);
  });

  it('a configured sendHoldTime wins, and 0 turns it off', async () => {
    {
      const { sa, ha, raw, clock } = await pair({ sendHoldTime: 30 });
      raw.pause();
      await fill(sa, ha);
      await sleep(100);
      await live(sa, raw, clock, 50);
      assert.deepEqual(ha.downs, ['send-hold-timer-expired']);
      for (const s of sessions.splice(0)) s.destroy();
      server?.close();
    }
    const { sa, ha, raw, clock } = await pair({ sendHoldTime: 0 });
    raw.pause();
    await fill(sa, ha);
    await sleep(100);
    await live(sa, raw, clock, 1000);
    assert.equal(sa.state, 'Established');
    assert.deepEqual(ha.downs, []);
  });

  it('keeps a peer that reads, however much is sent and however long', async () => {
    const { sa, ha, raw, clock } = await pair({});
    await fill(sa, ha);
    await waitFor('the peer read everything', () => sa.writeBacklog === 0, { timeoutMs: 10_000, intervalMs: 5 });
    await live(sa, raw, clock, 1000);
    assert.equal(sa.state, 'Established');
    assert.deepEqual(ha.downs, []);
  });
});
