/**
 * Fuzz into a LIVE session, at volume: an in-process Speaker listening on
 * loopback, a raw client that completes OPEN/KEEPALIVE and then sends
 * seeded mutations of a valid UPDATE. Each mutation is classified with the
 * codec first (the verdict RFC 4271 §6 / RFC 7606 prescribe); then:
 *   - the ones that must NOT end the session (ok, attribute discard,
 *     treat-as-withdraw) go in bulk, >= 100k per run; after every batch a
 *     valid UPDATE with a marker prefix must reach the Loc-RIB (the session
 *     processed everything in order and is still up) and no NOTIFICATION may
 *     have arrived;
 *   - the ones that must end it go one per connection (a sample each run):
 *     tabby must answer with exactly the NOTIFICATION code/subcode of the
 *     verdict, close, and accept the next connection at once.
 * The process must not crash or leak: the speaker still answers at the end.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { bgpConfigSchema } from '../../../src/bgp/config.js';
import { Speaker } from '../../../src/bgp/speaker/speaker.js';
import { BgpFramer, BgpMessageError, decodeMessage, sessionContext } from '../../../src/bgp/wire/index.js';
import { waitFor } from '../../../src/lab/wait.js';

const PEER_AS = 65002;
const CTX = sessionContext({ fourOctetAs: true });
const BULK = Number(process.env.TABBY_FUZZ_BULK ?? 100_000);
const RESETS = Number(process.env.TABBY_FUZZ_RESETS ?? 150);

let seed = 0x7ab1;
const rand = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const randInt = (n: number) => Math.floor(rand() * n);

function message(type: number, body: Buffer, lengthOverride?: number): Buffer {
  const h = Buffer.alloc(19, 0xff);
  h.writeUInt16BE(lengthOverride ?? 19 + body.length, 16);
  h[18] = type;
  return Buffer.concat([h, body]);
}

function open(): Buffer {
  const caps = Buffer.from([1, 4, 0, 1, 0, 1, 65, 4, 0, 0, (PEER_AS >>> 8) & 255, PEER_AS & 255]);
  const opt = Buffer.concat([Buffer.from([2, caps.length]), caps]);
  const b = Buffer.from([4, (PEER_AS >>> 8) & 255, PEER_AS & 255, 0, 90, 127, 0, 0, 2, opt.length]);
  return message(1, Buffer.concat([b, opt]));
}

/** A valid UPDATE body: ORIGIN, AS_PATH, NEXT_HOP, MED, COMMUNITIES, LARGE_COMMUNITIES, an unknown optional transitive; 2 prefixes. */
function validBody(prefix3: number): Buffer {
  const attrs = Buffer.concat([
    Buffer.from([0x40, 1, 1, 0]),
    Buffer.from([0x40, 2, 6, 2, 1, 0, 0, (PEER_AS >>> 8) & 255, PEER_AS & 255]),
    Buffer.from([0x40, 3, 4, 127, 0, 0, 2]),
    Buffer.from([0x80, 4, 4, 0, 0, 0, 7]),
    Buffer.from([0xc0, 8, 4, 0xfd, 0xe8, 0, 1]),
    Buffer.from([0xc0, 32, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]),
    Buffer.from([0xc0, 99, 2, 1, 2]),
  ]);
  const nlri = Buffer.from([24, 10, 66, prefix3 & 255, 24, 10, 67, prefix3 & 255]);
  const b = Buffer.alloc(4);
  b.writeUInt16BE(0, 0);
  b.writeUInt16BE(attrs.length, 2);
  return Buffer.concat([b, attrs, nlri]);
}

const ATTR_START = 4;

/** Mutations that mostly stay inside one attribute (so most are RFC 7606 "mild"), with some structural ones. */
function mutated(i: number): Buffer {
  let body = Buffer.from(validBody(i));
  const edits = 1 + randInt(2);
  for (let e = 0; e < edits; e++) {
    const op = randInt(10);
    const at = ATTR_START + randInt(Math.max(1, body.length - ATTR_START - 8));
    if (op <= 3) body[at] = randInt(256); // an octet inside the attributes
    else if (op === 4) body[at] = [0x40, 0x80, 0xc0, 0x50, 0x10, 0xe0][randInt(6)]!; // flags-like octet
    else if (op === 5) body[at] ^= 1 << randInt(8);
    else if (op === 6) body = body.subarray(0, randInt(body.length)); // truncated
    else if (op === 7) body = Buffer.concat([body, Buffer.from([randInt(33), randInt(256), randInt(256), randInt(256), randInt(256)])]); // trailing NLRI junk
    else if (op === 8 && body.length > 4) body.writeUInt16BE(randInt(body.length + 4), 2); // total path attribute length
    else body[body.length - 1 - randInt(4)] = randInt(256); // NLRI octets
  }
  return message(2, body);
}

type Expect = { reset: false } | { reset: true; code: number; subcode: number };

function classify(frame: Buffer): Expect {
  try {
    const m = decodeMessage(frame, CTX);
    if (m.type !== 'UPDATE') return { reset: false };
    const v = (m as unknown as { verdict: { action: string; notification?: BgpMessageError } }).verdict;
    if (v.action === 'session-reset' || v.action === 'af-disable') return { reset: true, code: v.notification!.code, subcode: v.notification!.subcode };
    return { reset: false };
  } catch (err) {
    if (err instanceof BgpMessageError) return { reset: true, code: err.code, subcode: err.subcode };
    throw err;
  }
}

interface Conn {
  sock: Socket;
  notifications: { code: number; subcode: number }[];
  closed: boolean;
}

async function connectEstablished(port: number): Promise<Conn> {
  const sock = connect({ host: '127.0.0.1', port });
  const c: Conn = { sock, notifications: [], closed: false };
  const framer = new BgpFramer();
  let established = false;
  sock.on('data', (d) => {
    for (const f of framer.push(d)) {
      const type = f[18];
      if (type === 3) c.notifications.push({ code: f[19]!, subcode: f[20]! });
      if (type === 4 && !established) established = true;
      if (type === 1) sock.write(message(4, Buffer.alloc(0)));
    }
  });
  sock.on('close', () => (c.closed = true));
  sock.on('error', () => (c.closed = true));
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('error', reject);
  });
  sock.write(open());
  await waitFor('session Established', () => {
    if (c.closed) throw new Error(`closed during OPEN: ${JSON.stringify(c.notifications)}`);
    return established;
  }, { timeoutMs: 10_000 });
  return c;
}

describe('live-session fuzz: mutated UPDATEs into a running speaker', function () {
  this.timeout(240_000);
  let speaker: Speaker;
  const port = 20_000 + (process.pid % 20_000);

  before(async () => {
    speaker = new Speaker(
      bgpConfigSchema.parse({
        asNumber: 65001,
        routerId: '127.0.0.1',
        listen: { address: '127.0.0.1', port },
        controlSocket: '/tmp/unused-fuzz.sock',
        peers: [{ address: '127.0.0.1', asNumber: PEER_AS, passive: true, addressFamilies: ['ipv4-unicast'], gracefulRestart: false, connectRetryTime: 1 }],
      }),
    );
    await speaker.start();
  });

  after(async () => {
    await speaker?.stop();
  });

  it(`keeps the session through ${BULK} UPDATEs whose verdict is ok, attribute discard or treat-as-withdraw, processing each in order`, async () => {
    const c = await connectEstablished(port);
    let sent = 0;
    let batch = 0;
    const counts = { candidates: 0, mild: 0 };
    while (sent < BULK) {
      const chunk: Buffer[] = [];
      while (chunk.length < 2000 && sent + chunk.length < BULK) {
        const m = mutated(randInt(256));
        counts.candidates++;
        if (!classify(m).reset) chunk.push(m);
      }
      // A marker route after the batch: when it is in the Loc-RIB, every message before it was processed.
      const marker = `10.${100 + (batch % 100)}.${(batch >> 8) & 255}.${batch & 255}`;
      const mb = validBody(0);
      const nlriAt = mb.length - 8;
      const withMarker = Buffer.concat([mb.subarray(0, nlriAt), Buffer.from([32, ...marker.split('.').map(Number)])]);
      chunk.push(message(2, withMarker));
      if (!c.sock.write(Buffer.concat(chunk))) await new Promise((r) => c.sock.once('drain', r));
      sent += chunk.length - 1;
      await waitFor(`marker ${marker}/32 in the Loc-RIB`, () => {
        if (c.closed || c.notifications.length) throw new Error(`session ended after ${sent} mild UPDATEs: ${JSON.stringify(c.notifications)}`);
        return speaker.routes(`${marker}/32`).routes.length > 0;
      }, { timeoutMs: 20_000, intervalMs: 5 });
      batch++;
    }
    counts.mild = sent;
    assert.ok(sent >= BULK, `${sent} mild UPDATEs sent`);
    assert.equal(c.notifications.length, 0);
    assert.ok(!c.closed);
    assert.equal(speaker.peerStatus()[0]!.state, 'Established');
    c.sock.destroy();
    console.log(`      (${counts.mild} mild UPDATEs delivered out of ${counts.candidates} mutations; the rest end a session)`);
  });

  it(`answers each of ${RESETS} session-ending UPDATEs with exactly the NOTIFICATION of its verdict, and takes the next connection at once`, async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < RESETS; i++) {
      let m: Buffer;
      let want: Expect;
      do {
        m = mutated(randInt(256));
        want = classify(m);
      } while (!want.reset);
      const c = await connectEstablished(port);
      c.sock.write(m);
      await waitFor('NOTIFICATION and close', () => c.notifications.length > 0 && c.closed, { timeoutMs: 10_000, intervalMs: 5 });
      const w = want as { code: number; subcode: number };
      assert.deepEqual(c.notifications[0], { code: w.code, subcode: w.subcode }, `mutation ${m.toString('hex')}`);
      const k = `${w.code}/${w.subcode}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    assert.ok(seen.size >= 3, `several kinds of error were exercised: ${JSON.stringify([...seen])}`);
    console.log(`      (NOTIFICATIONs by code/subcode: ${JSON.stringify(Object.fromEntries(seen))})`);
  });
});
