/**
 * Fuzz into a LIVE session: the machinery shared by
 * `live-session-fuzz.test.ts` (>= 100k cases per CI run) and
 * `bench/bgp-fuzz.ts` (larger runs, cases/s).
 *
 * A raw client completes OPEN/KEEPALIVE with a Speaker listening on
 * loopback, then sends seeded mutations of a valid UPDATE. Each mutation is
 * classified with the codec first (the verdict RFC 4271 §6 and RFC 7606
 * prescribe) and applied to a model of what the peer's routes must then be:
 *   - ok / attribute-discard (RFC 7606 §2): the NLRI are announced with the
 *     attributes that survived, unless tabby's import rules drop the route
 *     (enforce-first-AS, AS loop: treat-as-withdraw, session stays up);
 *   - treat-as-withdraw: the NLRI are withdrawn;
 *   - session-reset (and af-disable, which tabby answers with a reset):
 *     exactly that NOTIFICATION code/subcode, the connection closes, and
 *     every route of the session is withdrawn (no graceful restart here).
 * Session-keeping cases go in chunks; after each chunk a valid UPDATE with
 * a new marker /32 must reach the Loc-RIB (everything before it was
 * processed, in order, and the session is still up, with no NOTIFICATION);
 * then every prefix the chunk touched is compared with the model (present
 * or not, and MED and ORIGIN when present). Session-ending cases are
 * sampled (one per `resetEvery` session-keeping cases): sent after a chunk,
 * answered, and the client reconnects at once.
 */
import { connect, type Socket } from 'node:net';
import type { Speaker } from '../../../src/bgp/speaker/speaker.js';
import { BgpFramer, BgpMessageError, decodeMessage, sessionContext, type ReceivedUpdate } from '../../../src/bgp/wire/index.js';

export const FUZZ_PEER_AS = 65002;
export const FUZZ_LOCAL_AS = 65001;
const CTX = sessionContext({ fourOctetAs: true });

/** mulberry32: a small seeded PRNG, so a failing case replays. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function message(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(19, 0xff);
  h.writeUInt16BE(19 + body.length, 16);
  h[18] = type;
  return Buffer.concat([h, body]);
}

/** OPEN: AS 65002, hold time 90, BGP id 127.0.0.2, MP IPv4 unicast and 4-octet AS. */
export function fuzzOpen(): Buffer {
  const caps = Buffer.from([1, 4, 0, 1, 0, 1, 65, 4, 0, 0, (FUZZ_PEER_AS >>> 8) & 255, FUZZ_PEER_AS & 255]);
  const opt = Buffer.concat([Buffer.from([2, caps.length]), caps]);
  const b = Buffer.from([4, (FUZZ_PEER_AS >>> 8) & 255, FUZZ_PEER_AS & 255, 0, 90, 127, 0, 0, 2, opt.length]);
  return message(1, Buffer.concat([b, opt]));
}

const ATTRS = Buffer.concat([
  Buffer.from([0x40, 1, 1, 0]), // ORIGIN IGP
  Buffer.from([0x40, 2, 6, 2, 1, 0, 0, (FUZZ_PEER_AS >>> 8) & 255, FUZZ_PEER_AS & 255]), // AS_PATH [65002]
  Buffer.from([0x40, 3, 4, 127, 0, 0, 2]), // NEXT_HOP
  Buffer.from([0x80, 4, 4, 0, 0, 0, 7]), // MED 7
  Buffer.from([0x40, 6, 0]), // ATOMIC_AGGREGATE (malformed: attribute discard, RFC 7606 §7.6)
  Buffer.from([0xc0, 7, 8, 0, 0, (FUZZ_PEER_AS >>> 8) & 255, FUZZ_PEER_AS & 255, 127, 0, 0, 2]), // AGGREGATOR (malformed: attribute discard, §7.7)
  Buffer.from([0xc0, 8, 4, 0xfd, 0xe8, 0, 1]), // COMMUNITIES 65000:1
  Buffer.from([0xc0, 32, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]), // LARGE_COMMUNITIES 1:2:3
  Buffer.from([0xc0, 99, 2, 1, 2]), // an unknown optional transitive
]);

/** A valid UPDATE body carrying `nlri` (wire form) with the attributes above. */
function bodyWith(nlri: Buffer): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(0, 0);
  b.writeUInt16BE(ATTRS.length, 2);
  return Buffer.concat([b, ATTRS, nlri]);
}

/** Two /24s per case index n (8192 distinct pairs): 10.64-95.x.0/24 and 10.32-63.x.0/24. */
function caseNlri(n: number): Buffer {
  const hi = (n >> 8) & 31;
  return Buffer.from([24, 10, 64 + hi, n & 255, 24, 10, 32 + hi, n & 255]);
}

/** The k-th marker: a /32 in 10.200.0.0/13 nothing else announces on purpose. */
export function markerPrefix(k: number): string {
  return `10.${200 + ((k >>> 16) % 50)}.${(k >>> 8) & 255}.${k & 255}/32`;
}

export function markerUpdate(k: number): Buffer {
  const [a, b, c, d] = markerPrefix(k).split('/')[0]!.split('.').map(Number);
  return message(2, bodyWith(Buffer.from([32, a!, b!, c!, d!])));
}

const ATTR_START = 4;

/** Mutations that mostly stay inside one attribute (so many are RFC 7606 "mild"), with some structural ones. */
export function mutatedUpdate(rand: () => number, n: number): Buffer {
  const randInt = (k: number) => Math.floor(rand() * k);
  let body = bodyWith(caseNlri(n));
  const edits = 1 + randInt(2);
  for (let e = 0; e < edits; e++) {
    const op = randInt(10);
    const at = ATTR_START + randInt(Math.max(1, body.length - ATTR_START - 8));
    if (op <= 3) body[at] = randInt(256); // an octet inside the attributes
    else if (op === 4) body[at] = [0x40, 0x80, 0xc0, 0x50, 0x10, 0xe0][randInt(6)]!; // a flags-like octet
    else if (op === 5) body[at] ^= 1 << randInt(8);
    else if (op === 6) body = body.subarray(0, randInt(body.length)); // truncated
    else if (op === 7) body = Buffer.concat([body, Buffer.from([randInt(33), randInt(256), randInt(256), randInt(256), randInt(256)])]); // trailing NLRI junk
    else if (op === 8 && body.length > 4) body.writeUInt16BE(randInt(body.length + 4), 2); // Total Path Attribute Length
    else body[body.length - 1 - randInt(4)] = randInt(256); // NLRI octets
  }
  return message(2, body);
}

export type MildAction = 'ok' | 'attribute-discard' | 'treat-as-withdraw' | 'af-disable';

export type Verdict =
  | { reset: true; code: number; subcode: number }
  | { reset: false; action: MildAction; update: ReceivedUpdate; disablesIpv4: boolean };

/** What RFC 4271 §6 / RFC 7606 say the receiver must do with this frame. */
export function classify(frame: Buffer): Verdict {
  try {
    const m = decodeMessage(frame, CTX);
    if (m.type !== 'UPDATE') throw new Error(`fuzz made a ${m.type}`);
    const v = m.verdict;
    // AFI/SAFI disable (RFC 4760 §7, RFC 7606 §2) keeps the session; it only matters here for IPv4 unicast, the one family negotiated.
    const disablesIpv4 = v.action === 'af-disable' && v.families.some((f) => f.afi === 1 && f.safi === 1);
    return { reset: false, action: v.action, update: m, disablesIpv4 };
  } catch (err) {
    if (err instanceof BgpMessageError) return { reset: true, code: err.code, subcode: err.subcode };
    throw err;
  }
}

/** What the speaker must hold for one prefix from the fuzzing peer. */
type Expected = { present: false } | { present: true; med: number | null; origin: string } | { present: 'unknown' };
const ABSENT: Expected = { present: false };
const UNKNOWN: Expected = { present: 'unknown' };

/** tabby's import rules for an eBGP peer (RFC 4271 §6.3 first AS, §9.1.2 AS loop). */
function importable(u: ReceivedUpdate): boolean {
  const path = u.attributes.asPath ?? [];
  const first = path[0];
  if (!first || first.type !== 'sequence' || first.asns[0] !== FUZZ_PEER_AS) return false;
  return !path.some((s) => s.asns.includes(FUZZ_LOCAL_AS));
}

export class RouteModel {
  readonly expected = new Map<string, Expected>();
  readonly touched = new Set<string>();

  private set(prefix: string, e: Expected): void {
    this.expected.set(prefix, e);
    this.touched.add(prefix);
  }

  /** Apply one session-keeping UPDATE in the order the speaker does (withdrawals first). */
  apply(action: MildAction, u: ReceivedUpdate): void {
    const a = u.attributes;
    for (const p of u.withdrawn) this.set(p, ABSENT);
    for (const p of a.mpUnreach?.withdrawn ?? []) this.set(p, ABSENT);
    const v = u.verdict as { withdraw?: { prefixes: string[] }[] };
    if (action === 'treat-as-withdraw' || (action === 'af-disable' && v.withdraw!.length > 0)) {
      for (const f of v.withdraw ?? []) for (const p of f.prefixes) this.set(p, ABSENT);
      for (const p of u.nlri) this.set(p, ABSENT);
      for (const p of a.mpReach?.nlri ?? []) this.set(p, ABSENT);
      return;
    }
    // IPv4 in MP_REACH_NLRI and NLRI without a NEXT_HOP are not exercised on purpose: not checked.
    if (action !== 'af-disable') for (const p of a.mpReach?.nlri ?? []) this.set(p, UNKNOWN);
    if (!u.nlri.length) return;
    const e: Expected = a.nextHop === undefined ? UNKNOWN : importable(u) ? { present: true, med: a.med ?? null, origin: a.origin ?? 'igp' } : ABSENT;
    for (const p of u.nlri) this.set(p, e);
  }

  /** The session went down without graceful restart (or disabled IPv4 unicast): everything it sent is gone. */
  sessionDown(): void {
    for (const [p, e] of this.expected) if (e.present !== false) this.set(p, ABSENT);
  }

  /** Compare the touched prefixes with the speaker; returns the mismatches (and forgets the touched set). */
  check(speaker: Speaker, peer: string): { checked: number; mismatches: string[] } {
    const mismatches: string[] = [];
    let checked = 0;
    for (const p of this.touched) {
      const e = this.expected.get(p)!;
      if (e.present === 'unknown') continue;
      checked++;
      const rows = speaker.routes(p).routes.filter((r) => r.peer === peer);
      if (!e.present) {
        if (rows.length) mismatches.push(`${p}: expected withdrawn, speaker has it (med ${rows[0]!.med})`);
        else this.expected.delete(p); // absent is the default: keeps the model small
        continue;
      }
      if (rows.length !== 1) mismatches.push(`${p}: expected present, speaker has ${rows.length}`);
      else if (rows[0]!.med !== e.med || rows[0]!.origin !== e.origin) mismatches.push(`${p}: expected med ${e.med} origin ${e.origin}, speaker has med ${rows[0]!.med} origin ${rows[0]!.origin}`);
    }
    this.touched.clear();
    return { checked, mismatches };
  }
}

/** One fuzzing connection. */
export class FuzzConn {
  readonly notifications: { code: number; subcode: number }[] = [];
  closed = false;
  readonly established: Promise<void>;
  readonly gone: Promise<void>;

  private constructor(readonly sock: Socket) {
    const framer = new BgpFramer();
    let up: () => void;
    let fail: (e: Error) => void;
    this.established = new Promise<void>((res, rej) => {
      up = res;
      fail = rej;
    });
    this.established.catch(() => undefined);
    this.gone = new Promise<void>((res) => {
      const done = () => {
        this.closed = true;
        fail(new Error(`closed before Established: ${JSON.stringify(this.notifications)}`));
        res();
      };
      sock.on('close', done);
      sock.on('error', done);
    });
    sock.on('data', (d) => {
      for (const f of framer.push(d)) {
        const type = f[18];
        if (type === 3) this.notifications.push({ code: f[19]!, subcode: f[20]! });
        else if (type === 1) sock.write(message(4, Buffer.alloc(0)));
        else if (type === 4) up();
      }
    });
  }

  static async open(port: number, timeoutMs = 10_000): Promise<FuzzConn> {
    const sock = connect({ host: '127.0.0.1', port });
    sock.setNoDelay(true);
    const c = new FuzzConn(sock);
    sock.once('connect', () => sock.write(fuzzOpen()));
    await within(c.established, timeoutMs, 'session Established');
    return c;
  }

  async send(bytes: Buffer): Promise<void> {
    if (!this.sock.write(bytes)) await Promise.race([new Promise((r) => this.sock.once('drain', r)), this.gone]);
  }
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

export interface LiveFuzzOptions {
  speaker: Speaker;
  port: number;
  /** Cases to run: session-keeping UPDATEs plus the session-ending ones sampled. */
  cases: number;
  /** One session-ending case after this many session-keeping ones (0: none). */
  resetEvery: number;
  seed: number;
  /** Session-keeping UPDATEs per chunk (one marker round trip and one model check each). */
  chunk?: number;
}

export interface LiveFuzzStats {
  cases: number;
  mutations: number;
  byVerdict: Record<MildAction, number>;
  resets: number;
  notifications: Record<string, number>;
  checkedPrefixes: number;
  mismatches: string[];
  sessions: number;
  elapsedMs: number;
}

/** Runs the fuzz; returns statistics, with every deviation from the RFC verdicts in `mismatches`. */
export async function runLiveFuzz(o: LiveFuzzOptions): Promise<LiveFuzzStats> {
  const t0 = Date.now();
  const rand = prng(o.seed);
  const chunkSize = o.chunk ?? 2000;
  const peer = '127.0.0.1';
  const model = new RouteModel();
  const st: LiveFuzzStats = {
    cases: 0,
    mutations: 0,
    byVerdict: { ok: 0, 'attribute-discard': 0, 'treat-as-withdraw': 0, 'af-disable': 0 },
    resets: 0,
    notifications: {},
    checkedPrefixes: 0,
    mismatches: [],
    sessions: 1,
    elapsedMs: 0,
  };
  let conn = await FuzzConn.open(o.port);
  let chunk: Buffer[] = [];
  let markers = 0;
  let mildSinceReset = 0;
  let n = 0;

  const flush = async () => {
    const k = markers++;
    const m = markerUpdate(k);
    const v = classify(m);
    if (v.reset) throw new Error('the marker UPDATE is not valid');
    model.apply(v.action, v.update);
    chunk.push(m);
    await conn.send(Buffer.concat(chunk));
    chunk = [];
    const marker = markerPrefix(k);
    for (const deadline = Date.now() + 20_000; ; ) {
      if (conn.closed || conn.notifications.length) throw new Error(`the session ended on a session-keeping UPDATE: ${JSON.stringify(conn.notifications)}`);
      if (o.speaker.routes(marker).routes.length) break;
      if (Date.now() > deadline) throw new Error(`marker ${marker} never reached the Loc-RIB`);
      await new Promise((r) => setTimeout(r, 1));
    }
    const r = model.check(o.speaker, peer);
    st.checkedPrefixes += r.checked;
    st.mismatches.push(...r.mismatches.slice(0, 20 - Math.min(20, st.mismatches.length)));
  };

  try {
    while (st.cases < o.cases && st.mismatches.length === 0) {
      const frame = mutatedUpdate(rand, n++ & 8191);
      st.mutations++;
      const v = classify(frame);
      if (!v.reset && v.disablesIpv4) {
        // The family goes, the session stays: every route of the session
        // must be removed, with no NOTIFICATION; then start a new session.
        await flush();
        await conn.send(frame);
        for (const deadline = Date.now() + 10_000; o.speaker.peerStatus()[0]!.prefixes.accepted > 0; ) {
          if (conn.closed || conn.notifications.length) throw new Error(`AFI/SAFI disable ended the session: ${JSON.stringify(conn.notifications)}`);
          if (Date.now() > deadline) throw new Error(`AFI/SAFI disable of IPv4 unicast left routes: ${frame.toString('hex')}`);
          await new Promise((r) => setTimeout(r, 1));
        }
        model.sessionDown();
        const r = model.check(o.speaker, peer);
        st.checkedPrefixes += r.checked;
        st.mismatches.push(...r.mismatches.slice(0, 20));
        st.byVerdict['af-disable']++;
        st.cases++;
        conn.sock.destroy();
        await conn.gone;
        conn = await FuzzConn.open(o.port);
        st.sessions++;
        continue;
      }
      if (!v.reset) {
        model.apply(v.action, v.update);
        chunk.push(frame);
        st.byVerdict[v.action]++;
        st.cases++;
        mildSinceReset++;
        if (chunk.length >= chunkSize) await flush();
        continue;
      }
      if (o.resetEvery <= 0 || mildSinceReset < o.resetEvery) continue; // not sampled: not a case
      mildSinceReset = 0;
      await flush();
      await conn.send(frame);
      try {
        await within(conn.gone, 10_000, 'NOTIFICATION and close');
      } catch (err) {
        st.mismatches.push(`mutation ${frame.toString('hex')}: expected NOTIFICATION ${v.code}/${v.subcode}: ${(err as Error).message} (got ${JSON.stringify(conn.notifications)})`);
        break;
      }
      const got = conn.notifications[0];
      const key = `${v.code}/${v.subcode}`;
      if (!got || got.code !== v.code || got.subcode !== v.subcode) {
        st.mismatches.push(`mutation ${frame.toString('hex')}: expected NOTIFICATION ${key}, got ${got ? `${got.code}/${got.subcode}` : 'none'}`);
      }
      st.notifications[key] = (st.notifications[key] ?? 0) + 1;
      st.resets++;
      st.cases++;
      model.sessionDown();
      conn = await FuzzConn.open(o.port);
      st.sessions++;
    }
    if (chunk.length || model.touched.size) await flush();
  } finally {
    conn.sock.destroy();
  }
  st.elapsedMs = Date.now() - t0;
  return st;
}

/** The decoder-only floor: classify the same stream of mutations (no session, no RIB). */
export function decodeOnly(cases: number, seed: number): { elapsedMs: number; mutations: number } {
  const rand = prng(seed);
  const t0 = Date.now();
  let n = 0;
  for (; n < cases; n++) classify(mutatedUpdate(rand, n & 8191));
  return { elapsedMs: Date.now() - t0, mutations: n };
}
