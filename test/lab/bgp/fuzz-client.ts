/**
 * A misbehaving BGP peer for `session-fuzz.test.ts`, run as a script inside a
 * lab namespace: `node fuzz-client.js HOST AS ROUTER_ID SEED COUNT`.
 *
 * Each session completes OPEN/KEEPALIVE, then sends UPDATEs mutated from a
 * valid one (seeded, so a failure replays), noting every NOTIFICATION tabby
 * answers with, and reconnects when tabby closes the session. The first
 * session starts with a message with a broken marker (RFC 4271 §6.1 requires
 * Connection Not Synchronized). Prints one JSON summary line at the end.
 */
import { connect, type Socket } from 'node:net';

const [host = '172.31.0.1', asArg = '65003', routerId = '172.31.0.3', seedArg = '1', countArg = '2000'] = process.argv.slice(2);
const AS = Number(asArg);
const TOTAL = Number(countArg);
const MAX_SESSIONS = 400;
const DEADLINE = Date.now() + 60_000;

/** mulberry32: small seeded PRNG. */
let seed = Number(seedArg) >>> 0;
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
  // Capabilities (RFC 5492): MP IPv4 unicast (RFC 4760), 4-octet AS (RFC 6793).
  const caps = Buffer.from([1, 4, 0, 1, 0, 1, 65, 4, (AS >>> 24) & 255, (AS >>> 16) & 255, (AS >>> 8) & 255, AS & 255]);
  const opt = Buffer.concat([Buffer.from([2, caps.length]), caps]);
  const b = Buffer.alloc(10);
  b[0] = 4;
  b.writeUInt16BE(AS > 0xffff ? 23456 : AS, 1);
  b.writeUInt16BE(90, 3);
  routerId.split('.').forEach((o, i) => (b[5 + i] = Number(o)));
  b[9] = opt.length;
  return message(1, Buffer.concat([b, opt]));
}

const keepalive = () => message(4, Buffer.alloc(0));

function validUpdateBody(i: number): Buffer {
  const asn = Buffer.alloc(4);
  asn.writeUInt32BE(AS);
  const nh = Buffer.from(routerId.split('.').map(Number));
  const attrs = Buffer.concat([
    Buffer.from([0x40, 1, 1, 0]),
    Buffer.from([0x40, 2, 6, 2, 1]), asn,
    Buffer.from([0x40, 3, 4]), nh,
    Buffer.from([0x80, 4, 4, 0, 0, 0, 7]),
    Buffer.from([0xc0, 8, 4, 0xfd, 0xeb, 0, 1]),
  ]);
  const nlri = Buffer.from([24, 10, 99, i & 255]);
  const b = Buffer.alloc(4);
  b.writeUInt16BE(0, 0);
  b.writeUInt16BE(attrs.length, 2);
  return Buffer.concat([b, attrs, nlri]);
}

/** One mutated UPDATE: 1-3 random edits of a valid body; sometimes a wrong header length or type. */
function mutatedUpdate(i: number): Buffer {
  let body = validUpdateBody(i);
  const edits = 1 + randInt(3);
  for (let e = 0; e < edits; e++) {
    const op = randInt(6);
    if (op === 0 || op === 1) {
      const k = randInt(body.length);
      body[k] = randInt(256);
    } else if (op === 2) body = body.subarray(0, randInt(body.length));
    else if (op === 3) body = Buffer.concat([body, Buffer.from(Array.from({ length: 1 + randInt(12) }, () => randInt(256)))]);
    else if (op === 4 && body.length > 4) body.writeUInt16BE(randInt(body.length + 8), 2); // total path attribute length
    else if (op === 5 && body.length > 6) body[4 + randInt(Math.max(1, body.length - 8))] = [0x40, 0x80, 0xc0, 0x50, 0x10][randInt(5)]!; // flags
  }
  const r = randInt(40);
  if (r === 0) return message(2, body, 19 + randInt(body.length + 40)); // wrong header length
  if (r === 1) return message(5 + randInt(250), body); // unknown message type
  return message(2, body);
}

const summary = { sessions: 0, opened: 0, updatesSent: 0, notifications: {} as Record<string, number>, firstNotification: '' };

function session(first: boolean): Promise<void> {
  return new Promise((resolve) => {
    const sock: Socket = connect({ host, port: 179 });
    let buf = Buffer.alloc(0);
    let established = false;
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      sock.destroy();
      resolve();
    };
    const timer = setTimeout(finish, 10_000);
    sock.on('error', finish);
    sock.on('close', () => {
      clearTimeout(timer);
      finish();
    });
    sock.on('connect', () => {
      summary.sessions++;
      sock.write(open());
    });
    const pump = async () => {
      if (first) {
        // RFC 4271 §6.1: a marker that is not all ones -> Connection Not Synchronized.
        const bad = keepalive();
        bad[3] = 0;
        sock.write(bad);
        return;
      }
      for (let k = 0; k < 50 && !closed && summary.updatesSent < TOTAL; k++) {
        sock.write(mutatedUpdate(summary.updatesSent));
        summary.updatesSent++;
        if (k % 10 === 9) await new Promise((r) => setTimeout(r, 5));
      }
      if (!closed) setTimeout(finish, 200);
    };
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 19) {
        const len = buf.readUInt16BE(16);
        if (len < 19 || buf.length < len) break;
        const type = buf[18]!;
        const body = buf.subarray(19, len);
        buf = buf.subarray(len);
        if (type === 1) sock.write(keepalive());
        else if (type === 4 && !established) {
          established = true;
          summary.opened++;
          void pump();
        } else if (type === 3) {
          const key = `${body[0]}/${body[1]}`;
          summary.notifications[key] = (summary.notifications[key] ?? 0) + 1;
          if (first && !summary.firstNotification) summary.firstNotification = key;
        }
      }
    });
  });
}

let first = true;
while (summary.updatesSent < TOTAL && summary.sessions < MAX_SESSIONS && Date.now() < DEADLINE) {
  await session(first);
  first = false;
  await new Promise((r) => setTimeout(r, 100));
}
console.log(`FUZZ-SUMMARY ${JSON.stringify(summary)}`);
