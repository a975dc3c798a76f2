/**
 * Test helpers for the wire codec: a declarative builder for expected wire
 * bytes (lengths computed, so tests state fields, not arithmetic), a seeded
 * PRNG, and an assertion for BgpMessageError.
 */
import assert from 'node:assert/strict';
import { BgpMessageError } from '../../../../src/bgp/wire/index.js';

/** A piece of wire: one octet, octets, a Buffer, or a hex string ("ff 01"). */
export type Part = number | readonly number[] | Buffer | string | Part[];

export function bytes(...parts: Part[]): Buffer {
  const out: number[] = [];
  const add = (p: Part): void => {
    if (typeof p === 'number') {
      if (!Number.isInteger(p) || p < 0 || p > 255) throw new RangeError(`not an octet: ${p}`);
      out.push(p);
    } else if (typeof p === 'string') {
      const hex = p.replace(/\s+/g, '');
      if (hex.length % 2 !== 0 || /[^0-9a-f]/i.test(hex)) throw new RangeError(`bad hex ${p}`);
      for (let i = 0; i < hex.length; i += 2) out.push(parseInt(hex.slice(i, i + 2), 16));
    } else if (Buffer.isBuffer(p)) {
      for (const b of p) out.push(b);
    } else {
      for (const x of p) add(x);
    }
  };
  for (const p of parts) add(p);
  return Buffer.from(out);
}

export const u16 = (n: number): number[] => [(n >>> 8) & 0xff, n & 0xff];
export const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
export const ip4 = (s: string): number[] => s.split('.').map(Number);
export const MARKER = new Array<number>(16).fill(0xff);

/** A whole message: marker, computed length, type, body. */
export function msg(type: number, ...body: Part[]): Buffer {
  const b = bytes(...body);
  return bytes(MARKER, u16(19 + b.length), type, b);
}

/** A message whose Length field says `length` whatever the body. */
export function msgWithLength(length: number, type: number, ...body: Part[]): Buffer {
  return bytes(MARKER, u16(length), type, ...body);
}

/** A path attribute; the length is 1 octet unless flags has Extended Length (0x10). */
export function attr(flags: number, code: number, ...value: Part[]): Buffer {
  const v = bytes(...value);
  return (flags & 0x10) !== 0 ? bytes(flags, code, u16(v.length), v) : bytes(flags, code, v.length, v);
}

/** An UPDATE from its three fields (lengths computed). */
export function update(withdrawn: Part, attrs: Part, nlri: Part = []): Buffer {
  const w = bytes(withdrawn);
  const a = bytes(attrs);
  return msg(2, u16(w.length), w, u16(a.length), a, nlri);
}

/** NLRI <length, prefix> of "a.b.c.d/len" written by hand (not by the codec under test). */
export function nlri4(...prefixes: string[]): number[] {
  const out: number[] = [];
  for (const p of prefixes) {
    const [addr, len] = p.split('/');
    const l = Number(len);
    out.push(l, ...ip4(addr!).slice(0, Math.ceil(l / 8)));
  }
  return out;
}

// Common well-formed attributes, built by hand.
export const ORIGIN_IGP = attr(0x40, 1, 0);
export const AS_PATH_4 = (...asns: number[]) => attr(0x40, 2, 2, asns.length, asns.map(u32));
export const AS_PATH_2 = (...asns: number[]) => attr(0x40, 2, 2, asns.length, asns.map(u16));
export const NEXT_HOP = (s: string) => attr(0x40, 3, ip4(s));
export const BASIC_ATTRS = bytes(ORIGIN_IGP, AS_PATH_4(65001), NEXT_HOP('10.0.0.1'));

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Asserts `fn` throws a BgpMessageError with this code/subcode (and data, if given). */
export function assertBgpError(fn: () => unknown, code: number, subcode: number, data?: Buffer): BgpMessageError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof BgpMessageError, `expected BgpMessageError ${code}/${subcode}, got ${caught === undefined ? 'no error' : String(caught)}`);
  assert.equal(caught.code, code, `code of: ${caught.message}`);
  assert.equal(caught.subcode, subcode, `subcode of: ${caught.message}`);
  if (data !== undefined) assert.deepEqual(caught.data, data, `data of: ${caught.message}`);
  return caught;
}
