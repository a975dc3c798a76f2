/**
 * BGP codec benchmark: encodes 1M IPv4 /24 prefixes into UPDATEs and decodes
 * them back through the framer, as a speaker would on the wire.
 *
 *   node dist/bench/bgp-codec.js [--prefixes N] [--per-update 500] [--runs 5]
 *
 * Scenarios:
 *  - "grouped": one attribute set per 500 prefixes (distinct AS paths and
 *    MEDs), each group packed on its own: ~500 NLRI per UPDATE, the shape of
 *    the speaker benchmark's feed.
 *  - "one set": all prefixes share one attribute set and are packed to the
 *    4096-octet limit (~1000 NLRI per UPDATE).
 *  - "numbers": as "grouped", but prefixes held as uint32 + length: encoded
 *    through an NlriSource, decoded with { ipv4: 'raw' } and read back into
 *    numbers (the path for a RIB that keys IPv4 by number).
 * Decoding feeds the whole stream to BgpFramer in 64 KiB chunks (like TCP
 * reads) and runs decodeMessage on every frame. Making the input prefix
 * strings is outside the timings.
 */
import {
  BgpFramer,
  DecodeOptions,
  NlriSource,
  PathAttributes,
  decodeMessage,
  packUpdates,
  packUpdatesFrom,
  sessionContext,
} from '../src/bgp/wire/index.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const N = arg('prefixes', 1_000_000);
const PER = arg('per-update', 500);
const RUNS = arg('runs', 5);
const CHUNK = 64 * 1024;
const ctx = sessionContext({ fourOctetAs: true, ibgp: false });

function prefixes(n: number): string[] {
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = `${10 + (i >>> 16)}.${(i >>> 8) & 255}.${i & 255}.0/24`;
  return out;
}

function attrsFor(group: number): PathAttributes {
  return {
    origin: 'igp',
    asPath: [{ type: 'sequence', asns: [65001, 65100 + (group % 50), 4200000000 + group] }],
    nextHop: '172.31.0.1',
    med: group,
    communities: [((65001 << 16) >>> 0) + (group % 7)],
  };
}

function encodeGrouped(all: string[]): Buffer[] {
  const out: Buffer[] = [];
  for (let g = 0, i = 0; i < all.length; g++, i += PER) {
    out.push(packUpdates(attrsFor(g), all.slice(i, i + PER), ctx).bytes);
  }
  return out;
}

function encodeOneSet(all: string[]): Buffer[] {
  return [packUpdates(attrsFor(0), all, ctx).bytes];
}

/** IPv4 prefixes as numbers, written as NLRI only while they fit. */
class NumberSource implements NlriSource {
  readonly afi = 1;
  private i: number;
  constructor(
    private readonly addrs: Uint32Array,
    private readonly lens: Uint8Array,
    from: number,
    private readonly to: number,
  ) {
    this.i = from;
  }
  write(buf: Buffer, off: number, limit: number): number {
    let i = this.i;
    for (; i < this.to; i++) {
      const len = this.lens[i]!;
      const n = (len + 7) >> 3;
      if (off + 1 + n > limit) break;
      const a = this.addrs[i]!;
      buf[off++] = len;
      if (n > 0) buf[off++] = a >>> 24;
      if (n > 1) buf[off++] = (a >>> 16) & 255;
      if (n > 2) buf[off++] = (a >>> 8) & 255;
      if (n > 3) buf[off++] = a & 255;
    }
    this.i = i;
    return off;
  }
}

const addrs = new Uint32Array(N);
const lens = new Uint8Array(N).fill(24);
for (let i = 0; i < N; i++) addrs[i] = (((10 + (i >>> 16)) << 24) | (((i >>> 8) & 255) << 16) | ((i & 255) << 8)) >>> 0;

function encodeNumbers(): Buffer[] {
  const out: Buffer[] = [];
  for (let g = 0, i = 0; i < N; g++, i += PER) {
    out.push(packUpdatesFrom(attrsFor(g), new NumberSource(addrs, lens, i, Math.min(N, i + PER)), ctx).bytes);
  }
  return out;
}

/** Reads a checked IPv4 NLRI field into numbers, as a RIB would. */
const sinkAddrs = new Uint32Array(N);
const sinkLens = new Uint8Array(N);
let sinkCount = 0;
function readNumbers(field: Buffer): number {
  let p = 0;
  let n = 0;
  while (p < field.length) {
    const len = field[p]!;
    const k = (len + 7) >> 3;
    let a = 0;
    if (k > 0) a = field[p + 1]! << 24;
    if (k > 1) a |= field[p + 2]! << 16;
    if (k > 2) a |= field[p + 3]! << 8;
    if (k > 3) a |= field[p + 4]!;
    sinkAddrs[sinkCount] = a >>> 0;
    sinkLens[sinkCount++] = len;
    p += 1 + k;
    n++;
  }
  return n;
}

function decodeStream(stream: Buffer, options: DecodeOptions = {}): { messages: number; prefixes: number } {
  const framer = new BgpFramer();
  let messages = 0;
  let count = 0;
  sinkCount = 0;
  for (let off = 0; off < stream.length; off += CHUNK) {
    framer.push(stream.subarray(off, Math.min(stream.length, off + CHUNK)), (frame) => {
      const m = decodeMessage(frame, ctx, options);
      messages++;
      if (m.type !== 'UPDATE') return;
      count += m.ipv4Raw ? readNumbers(m.ipv4Raw.nlri) : m.nlri.length;
    });
  }
  return { messages, prefixes: count };
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]!.toFixed(1)} ms, median ${s[Math.floor(s.length / 2)]!.toFixed(1)} ms`;
}

function rate(ms: number): string {
  return `${((N / ms) * 1000 / 1e6).toFixed(2)}M prefixes/s`;
}

function scenario(name: string, encode: (all: string[]) => Buffer[], all: string[], options: DecodeOptions = {}): void {
  const enc: number[] = [];
  const dec: number[] = [];
  let stream = Buffer.alloc(0);
  let result = { messages: 0, prefixes: 0 };
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now();
    const parts = encode(all);
    enc.push(performance.now() - t);
    stream = Buffer.concat(parts);
    t = performance.now();
    result = decodeStream(stream, options);
    dec.push(performance.now() - t);
  }
  if (result.prefixes !== N) throw new Error(`decoded ${result.prefixes} prefixes, expected ${N}`);
  const minE = Math.min(...enc);
  const minD = Math.min(...dec);
  console.log(`${name}: ${result.messages} UPDATEs, ${(stream.length / 1e6).toFixed(2)} MB, ${(N / result.messages).toFixed(0)} NLRI/UPDATE`);
  console.log(`  encode: ${stats(enc)} (${rate(minE)})`);
  console.log(`  decode: ${stats(dec)} (${rate(minD)})`);
  console.log(`  encode+decode (min): ${(minE + minD).toFixed(1)} ms`);
}

/**
 * The prefix strings as a speaker holds them: decoded from a peer's UPDATEs
 * (so the encode timings see the strings the RIB would pass back in).
 */
function asDecoded(texts: string[]): string[] {
  const out: string[] = [];
  for (const m of packUpdates(attrsFor(0), texts, ctx).messages) {
    const d = decodeMessage(m, ctx);
    if (d.type === 'UPDATE') for (const p of d.nlri) out.push(p);
  }
  return out;
}

const all = asDecoded(prefixes(N));
console.log(`BGP codec benchmark: ${N} IPv4 /24 prefixes, ${RUNS} runs, Node ${process.version}`);
scenario(`grouped (${PER} prefixes per attribute set)`, encodeGrouped, all);
scenario('one attribute set (packed to 4096 octets)', encodeOneSet, all);
scenario(`numbers (${PER} per attribute set, NlriSource + ipv4 'raw')`, encodeNumbers, all, { ipv4: 'raw' });
