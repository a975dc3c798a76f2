/**
 * AS_PATH / AS4_PATH segments (RFC 4271 §4.3, RFC 5065 §3, RFC 6793) and the
 * RFC 6793 §4.2.3 reconstruction of the true path from AS_PATH + AS4_PATH.
 */
import { AS_CONFED_SEQUENCE, AS_CONFED_SET, AS_SEQUENCE, AS_SET, AS_TRANS } from './constants.js';

export type AsSegmentType = 'sequence' | 'set' | 'confed-sequence' | 'confed-set';

export interface AsPathSegment {
  type: AsSegmentType;
  asns: number[];
}

/** Segments in wire order; the leftmost AS of the first sequence is the neighbour's. */
export type AsPath = AsPathSegment[];

export const SEGMENT_TYPE_CODES: Readonly<Record<AsSegmentType, number>> = {
  set: AS_SET,
  sequence: AS_SEQUENCE,
  'confed-sequence': AS_CONFED_SEQUENCE,
  'confed-set': AS_CONFED_SET,
};

const SEGMENT_TYPES: readonly (AsSegmentType | undefined)[] = [undefined, 'set', 'sequence', 'confed-sequence', 'confed-set'];

export function isConfedSegment(s: AsPathSegment): boolean {
  return s.type === 'confed-sequence' || s.type === 'confed-set';
}

/**
 * Decodes AS path segments from buf[start, end), 2 or 4 octets per AS.
 * Returns the path, or a string saying why it is malformed in the sense of
 * RFC 7606 §7.2: an unknown segment type, a zero segment length, a segment
 * overrunning the attribute, or a single octet left over.
 */
export function decodeAsPath(buf: Buffer, start: number, end: number, asSize: 2 | 4): AsPath | string {
  const path: AsPath = [];
  let p = start;
  while (p < end) {
    if (end - p < 2) return 'a single octet left after the last segment';
    const type = SEGMENT_TYPES[buf[p]!];
    const count = buf[p + 1]!;
    if (type === undefined) return `unknown segment type ${buf[p]}`;
    if (count === 0) return 'segment of length zero';
    p += 2;
    if (p + count * asSize > end) return `segment of ${count} AS overruns the attribute`;
    const asns = new Array<number>(count);
    if (asSize === 4) {
      for (let i = 0; i < count; i++, p += 4) asns[i] = buf.readUInt32BE(p);
    } else {
      for (let i = 0; i < count; i++, p += 2) asns[i] = (buf[p]! << 8) | buf[p + 1]!;
    }
    path.push({ type, asns });
  }
  return path;
}

/** Octets the segments take on the wire; segments longer than 255 AS are split. */
export function asPathWireLength(path: AsPath, asSize: 2 | 4): number {
  let n = 0;
  for (const s of path) n += Math.ceil(s.asns.length / 255) * 2 + s.asns.length * asSize;
  return n;
}

/**
 * Writes the segments at buf[off] and returns the new offset. With asSize 2,
 * numbers above 65535 become AS_TRANS (RFC 6793 §4.2.2). A segment of more
 * than 255 AS is written as several segments of the same type, as the
 * 1-octet segment length demands.
 */
export function writeAsPath(path: AsPath, asSize: 2 | 4, buf: Buffer, off: number): number {
  for (const s of path) {
    const code = SEGMENT_TYPE_CODES[s.type];
    if (code === undefined) throw new RangeError(`unknown AS path segment type ${String(s.type)}`);
    for (let from = 0; from < s.asns.length; from += 255) {
      const to = Math.min(s.asns.length, from + 255);
      buf[off++] = code;
      buf[off++] = to - from;
      for (let i = from; i < to; i++) {
        const asn = s.asns[i]!;
        if (!Number.isInteger(asn) || asn < 0 || asn > 0xffffffff) throw new RangeError(`bad AS number ${asn}`);
        if (asSize === 4) {
          buf.writeUInt32BE(asn, off);
          off += 4;
        } else {
          const v = asn > 0xffff ? AS_TRANS : asn;
          buf[off++] = v >>> 8;
          buf[off++] = v & 0xff;
        }
      }
    }
  }
  return off;
}

/** True when some AS does not fit in 2 octets (then a 2-octet peer needs AS4_PATH). */
export function hasFourOctetAs(path: AsPath): boolean {
  for (const s of path) for (const a of s.asns) if (a > 0xffff) return true;
  return false;
}

/**
 * The number of ASes as counted by RFC 4271 §9.1.2.2 (a): an AS_SET counts
 * 1, confederation segments count 0 (RFC 5065 §5.3).
 */
export function asPathLength(path: AsPath): number {
  let n = 0;
  for (const s of path) {
    if (s.type === 'sequence') n += s.asns.length;
    else if (s.type === 'set') n += 1;
  }
  return n;
}

/**
 * RFC 6793 §4.2.3: rebuilds the true AS path from the AS_PATH and AS4_PATH a
 * 2-octet (OLD) speaker passed on. When AS_PATH holds fewer ASes than
 * AS4_PATH, AS4_PATH is ignored. Otherwise the leading AS_PATH ASes that
 * AS4_PATH does not cover are kept (they were prepended by OLD speakers) and
 * AS4_PATH follows. Counting follows §4.2.3: an AS_SET counts 1, confed
 * segments are not counted and are kept from AS_PATH.
 */
export function reconstructAsPath(asPath: AsPath, as4Path: AsPath | undefined): AsPath {
  if (!as4Path || as4Path.length === 0) return asPath;
  // AS4_PATH never carries confed segments (RFC 6793 §3); drop any.
  const as4 = as4Path.filter((s) => !isConfedSegment(s));
  const n2 = asPathLength(asPath);
  const n4 = asPathLength(as4);
  if (n2 < n4) return asPath;
  let keep = n2 - n4;
  const out: AsPath = [];
  for (const s of asPath) {
    if (isConfedSegment(s)) {
      out.push({ type: s.type, asns: s.asns.slice() });
      continue;
    }
    if (keep === 0) break;
    if (s.type === 'set') {
      out.push({ type: 'set', asns: s.asns.slice() });
      keep -= 1;
    } else {
      const take = Math.min(keep, s.asns.length);
      out.push({ type: 'sequence', asns: s.asns.slice(0, take) });
      keep -= take;
    }
  }
  // Merge a trailing kept sequence with a leading AS4 sequence: one segment on the wire.
  const last = out[out.length - 1];
  const first = as4[0];
  if (last && first && last.type === 'sequence' && first.type === 'sequence') {
    last.asns.push(...first.asns);
    for (let i = 1; i < as4.length; i++) out.push({ type: as4[i]!.type, asns: as4[i]!.asns.slice() });
  } else {
    for (const s of as4) out.push({ type: s.type, asns: s.asns.slice() });
  }
  return out;
}
