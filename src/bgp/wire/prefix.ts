/**
 * Prefixes and addresses: text <-> wire.
 *
 * Representation (see README, "Prefix representation"): a prefix is its
 * canonical text, "10.1.2.0/24" or "2001:db8::/32" — host bits cleared,
 * IPv6 in RFC 5952 form (lowercase, longest zero run as "::", no dotted
 * tail). One string is at once the RIB key, the JSON value of the control
 * API and what the config says, so nothing converts between forms.
 *
 * It is made cheap on the hot path: an NLRI field is rendered as ASCII into a
 * scratch buffer with lookup tables, turned into one string with a single
 * latin1 `toString`, then cut with `substring` (one allocation per prefix, no
 * string concatenation). Encoding parses the text with a charCode loop and
 * writes octets directly.
 */
import { AFI_IPV4, AFI_IPV6 } from './constants.js';

// ---------------------------------------------------------------------------
// Text rendering tables

/** For octet v: [digit count, d0, d1, d2] as ASCII. */
const DEC = new Uint8Array(256 * 4);
for (let v = 0; v < 256; v++) {
  const s = String(v);
  DEC[v * 4] = s.length;
  for (let j = 0; j < s.length; j++) DEC[v * 4 + 1 + j] = s.charCodeAt(j);
}
const HEX = new Uint8Array(16);
for (let i = 0; i < 16; i++) HEX[i] = i.toString(16).charCodeAt(0);

const DOT = 46;
const SLASH = 47;
const COLON = 58;

/** Where decoded prefixes are rendered; flushed into strings when near full. */
const SCRATCH_SIZE = 65536;
/** Longest text one prefix can need: 39 (IPv6) + "/128". */
const MAX_PREFIX_TEXT = 48;
const scratch = Buffer.allocUnsafe(SCRATCH_SIZE);
/** End offset in `scratch` of each prefix rendered since the last flush. */
const ends = new Int32Array(SCRATCH_SIZE / 4);
/** The 8 groups of the IPv6 address being rendered. */
const groups = new Uint16Array(8);

function putDec(p: number, v: number): number {
  const b = v << 2;
  const n = DEC[b]!;
  scratch[p] = DEC[b + 1]!;
  if (n > 1) scratch[p + 1] = DEC[b + 2]!;
  if (n > 2) scratch[p + 2] = DEC[b + 3]!;
  return p + n;
}

function putLength(p: number, len: number): number {
  scratch[p++] = SLASH;
  if (len >= 100) {
    scratch[p++] = 49; // '1' (lengths stop at 128)
    len -= 100;
    scratch[p++] = 48 + ((len / 10) | 0);
    scratch[p++] = 48 + (len % 10);
  } else if (len >= 10) {
    scratch[p++] = 48 + ((len / 10) | 0);
    scratch[p++] = 48 + (len % 10);
  } else {
    scratch[p++] = 48 + len;
  }
  return p;
}

function putHexGroup(p: number, g: number): number {
  if (g >= 0x1000) scratch[p++] = HEX[g >>> 12]!;
  if (g >= 0x100) scratch[p++] = HEX[(g >>> 8) & 15]!;
  if (g >= 0x10) scratch[p++] = HEX[(g >>> 4) & 15]!;
  scratch[p++] = HEX[g & 15]!;
  return p;
}

/** Renders `groups` in RFC 5952 §4 form at `p`. */
function putIpv6(p: number): number {
  // Longest run of two or more zero groups; the first one on a tie (§4.2.3).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      scratch[p++] = COLON;
      if (i === 0) scratch[p++] = COLON;
      i += bestLen - 1;
      if (i === 7) break;
      continue;
    }
    p = putHexGroup(p, groups[i]!);
    if (i < 7) scratch[p++] = COLON;
  }
  return p;
}

// ---------------------------------------------------------------------------
// NLRI decoding (RFC 4271 §4.3 "Network Layer Reachability Information",
// RFC 4760 §5 for the MP attributes: <length, prefix> with the prefix padded
// to whole octets)

/**
 * Decodes the <length, prefix> tuples in buf[start, end) and appends their
 * canonical text to `out`. Returns undefined, or why the field is malformed
 * (RFC 7606 §5.3: a length beyond the family's maximum, or a prefix running
 * past the end of the field); `out` may then hold the prefixes before it.
 * Trailing bits in the last octet are ignored (RFC 4271 §4.3) and cleared.
 */
export function decodePrefixes(buf: Buffer, start: number, end: number, afi: number, out: string[]): string | undefined {
  const maxLen = afi === AFI_IPV6 ? 128 : 32;
  let p = start;
  let q = 0;
  let count = 0;
  let error: string | undefined;
  while (p < end) {
    const len = buf[p]!;
    if (len > maxLen) {
      error = `prefix length ${len} exceeds ${maxLen}`;
      break;
    }
    const n = (len + 7) >> 3;
    if (p + 1 + n > end) {
      error = `prefix of length ${len} overruns the field by ${p + 1 + n - end} octet(s)`;
      break;
    }
    p++;
    const tail = len & 7;
    const lastMask = tail === 0 ? 0xff : (0xff << (8 - tail)) & 0xff;
    if (afi === AFI_IPV6) {
      groups.fill(0);
      for (let i = 0; i < n; i++) {
        const b = i === n - 1 ? buf[p + i]! & lastMask : buf[p + i]!;
        groups[i >> 1] |= (i & 1) === 0 ? b << 8 : b;
      }
      q = putIpv6(q);
    } else {
      const m = n - 1;
      const a = n > 0 ? buf[p]! & (m === 0 ? lastMask : 0xff) : 0;
      const b = n > 1 ? buf[p + 1]! & (m === 1 ? lastMask : 0xff) : 0;
      const c = n > 2 ? buf[p + 2]! & (m === 2 ? lastMask : 0xff) : 0;
      const d = n > 3 ? buf[p + 3]! & lastMask : 0;
      q = putDec(q, a);
      scratch[q++] = DOT;
      q = putDec(q, b);
      scratch[q++] = DOT;
      q = putDec(q, c);
      scratch[q++] = DOT;
      q = putDec(q, d);
    }
    q = putLength(q, len);
    p += n;
    ends[count++] = q;
    if (q > SCRATCH_SIZE - MAX_PREFIX_TEXT || count === ends.length) {
      flush(q, count, out);
      q = 0;
      count = 0;
    }
  }
  if (count > 0) flush(q, count, out);
  return error;
}

/** Checks the <length, prefix> tuples of buf[start, end) like `decodePrefixes`, without producing them. */
export function checkPrefixes(buf: Buffer, start: number, end: number, afi: number): string | undefined {
  const maxLen = afi === AFI_IPV6 ? 128 : 32;
  let p = start;
  while (p < end) {
    const len = buf[p]!;
    if (len > maxLen) return `prefix length ${len} exceeds ${maxLen}`;
    const next = p + 1 + ((len + 7) >> 3);
    if (next > end) return `prefix of length ${len} overruns the field by ${next - end} octet(s)`;
    p = next;
  }
  return undefined;
}

function flush(q: number, count: number, out: string[]): void {
  const text = scratch.toString('latin1', 0, q);
  let s = 0;
  for (let i = 0; i < count; i++) {
    const e = ends[i]!;
    out.push(text.substring(s, e));
    s = e;
  }
}

// ---------------------------------------------------------------------------
// Text parsing

/** Parses dotted-quad IPv4 into buf[off..off+4); false when malformed. */
export function parseIpv4Into(text: string, from: number, to: number, buf: Uint8Array, off: number): boolean {
  let octet = 0;
  let digits = 0;
  let parts = 0;
  for (let i = from; i < to; i++) {
    const ch = text.charCodeAt(i);
    if (ch === DOT) {
      if (digits === 0 || parts === 3) return false;
      buf[off + parts++] = octet;
      octet = 0;
      digits = 0;
    } else if (ch >= 48 && ch <= 57) {
      if (digits === 3) return false;
      octet = octet * 10 + (ch - 48);
      if (octet > 255) return false;
      digits++;
    } else {
      return false;
    }
  }
  if (digits === 0 || parts !== 3) return false;
  buf[off + 3] = octet;
  return true;
}

/** Parses IPv6 text (with "::" and an optional dotted IPv4 tail) into buf[off..off+16). */
export function parseIpv6Into(text: string, from: number, to: number, buf: Uint8Array, off: number): boolean {
  const words: number[] = [];
  let gap = -1;
  let i = from;
  if (to - from >= 2 && text.charCodeAt(i) === COLON && text.charCodeAt(i + 1) === COLON) {
    gap = 0;
    i += 2;
    if (i === to) {
      buf.fill(0, off, off + 16);
      return true;
    }
  } else if (i < to && text.charCodeAt(i) === COLON) {
    return false;
  }
  for (;;) {
    // One group: hex digits, or a dotted IPv4 tail.
    let j = i;
    let v = 0;
    let isDotted = false;
    while (j < to) {
      const ch = text.charCodeAt(j);
      let d: number;
      if (ch >= 48 && ch <= 57) d = ch - 48;
      else if (ch >= 97 && ch <= 102) d = ch - 87;
      else if (ch >= 65 && ch <= 70) d = ch - 55;
      else if (ch === DOT) {
        isDotted = true;
        break;
      } else break;
      v = (v << 4) | d;
      j++;
    }
    if (isDotted) {
      if (words.length > 6) return false;
      const tmp = new Uint8Array(4);
      if (!parseIpv4Into(text, i, to, tmp, 0)) return false;
      words.push((tmp[0]! << 8) | tmp[1]!, (tmp[2]! << 8) | tmp[3]!);
      break;
    }
    if (j === i || j - i > 4) return false;
    words.push(v);
    if (j === to) break;
    if (text.charCodeAt(j) !== COLON) return false;
    j++;
    if (j < to && text.charCodeAt(j) === COLON) {
      if (gap >= 0) return false;
      gap = words.length;
      j++;
      if (j === to) break;
    } else if (j === to) {
      return false;
    }
    i = j;
    if (words.length > 8) return false;
  }
  if (gap < 0 ? words.length !== 8 : words.length > 7) return false;
  const zeros = 8 - words.length;
  let w = 0;
  for (let k = 0; k < 8; k++) {
    let v = 0;
    if (gap >= 0 && k >= gap && k < gap + zeros) v = 0;
    else v = words[w++]!;
    buf[off + 2 * k] = v >>> 8;
    buf[off + 2 * k + 1] = v & 0xff;
  }
  return true;
}

/** The AFI of prefix or address text: IPv6 iff it contains a colon. */
export function textAfi(text: string): number {
  return text.indexOf(':') >= 0 ? AFI_IPV6 : AFI_IPV4;
}

const addr16 = new Uint8Array(16);

/**
 * Appends the NLRI encoding of prefix text at buf[off] (room for 1 + 16
 * octets must exist) and returns the new offset. Host bits are cleared.
 * Throws RangeError on malformed text: encoding input is ours, not the
 * peer's, so it is a programming error.
 */
export function encodePrefixAt(text: string, buf: Uint8Array, off: number): number {
  const fast = encodeIpv4PrefixAt(text, buf, off);
  return fast >= 0 ? fast : encodePrefixSlow(text, buf, off);
}

/**
 * One pass over "a.b.c.d/len": the common case when packing UPDATEs.
 * Returns -1 for anything else (IPv6, or malformed: the slow path then
 * decides and names the problem).
 */
export function encodeIpv4PrefixAt(text: string, buf: Uint8Array, off: number): number {
  const L = text.length;
  let v = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  let i = 0;
  for (; i < L; i++) {
    const ch = text.charCodeAt(i);
    if (ch >= 48 && ch <= 57) {
      octet = octet * 10 + (ch - 48);
      if (++digits > 3) return -1;
    } else if (ch === DOT) {
      if (digits === 0 || dots === 3 || octet > 255) return -1;
      v = (v << 8) | octet;
      dots++;
      octet = 0;
      digits = 0;
    } else if (ch === SLASH) {
      break;
    } else {
      return -1;
    }
  }
  if (i === L || dots !== 3 || digits === 0 || octet > 255) return -1;
  v = ((v << 8) | octet) >>> 0;
  let len = 0;
  const lenDigits = L - i - 1;
  if (lenDigits < 1 || lenDigits > 2) return -1;
  for (i++; i < L; i++) {
    const ch = text.charCodeAt(i);
    if (ch < 48 || ch > 57) return -1;
    len = len * 10 + (ch - 48);
  }
  if (len > 32) return -1;
  if (len < 32) v = len === 0 ? 0 : (v & (0xffffffff << (32 - len))) >>> 0;
  buf[off++] = len;
  if (len > 0) buf[off++] = v >>> 24;
  if (len > 8) buf[off++] = (v >>> 16) & 0xff;
  if (len > 16) buf[off++] = (v >>> 8) & 0xff;
  if (len > 24) buf[off++] = v & 0xff;
  return off;
}

function encodePrefixSlow(text: string, buf: Uint8Array, off: number): number {
  const slash = text.lastIndexOf('/');
  if (slash < 0) throw new RangeError(`not a prefix: ${JSON.stringify(text)}`);
  let len = 0;
  const L = text.length;
  if (slash + 1 === L || L - slash > 4) throw new RangeError(`bad prefix length: ${JSON.stringify(text)}`);
  for (let i = slash + 1; i < L; i++) {
    const ch = text.charCodeAt(i);
    if (ch < 48 || ch > 57) throw new RangeError(`bad prefix length: ${JSON.stringify(text)}`);
    len = len * 10 + (ch - 48);
  }
  let ok: boolean;
  let max: number;
  if (text.indexOf(':') >= 0) {
    ok = parseIpv6Into(text, 0, slash, addr16, 0);
    max = 128;
  } else {
    // Inline IPv4 fast path: this runs once per prefix when packing UPDATEs.
    ok = parseIpv4Into(text, 0, slash, addr16, 0);
    max = 32;
  }
  if (!ok || len > max) throw new RangeError(`not a prefix: ${JSON.stringify(text)}`);
  const n = (len + 7) >> 3;
  buf[off++] = len;
  for (let i = 0; i < n; i++) buf[off + i] = addr16[i]!;
  const tail = len & 7;
  if (tail !== 0) buf[off + n - 1] = buf[off + n - 1]! & ((0xff << (8 - tail)) & 0xff);
  return off + n;
}

/** Octets the NLRI encoding of prefix text takes (1 + ceil(len/8)), without validating the address. */
export function prefixWireLength(text: string): number {
  const slash = text.lastIndexOf('/');
  let len = 0;
  for (let i = slash + 1; i < text.length; i++) len = len * 10 + (text.charCodeAt(i) - 48);
  return 1 + ((len + 7) >> 3);
}

/**
 * The canonical text of a prefix (host bits cleared, RFC 5952 for IPv6), or
 * undefined when it is not a prefix. Config and API input go through this so
 * that they match the keys the decoder produces.
 */
export function canonicalPrefix(text: string): string | undefined {
  const buf = new Uint8Array(17);
  let end: number;
  try {
    end = encodePrefixAt(text.trim(), buf, 0);
  } catch {
    return undefined;
  }
  const out: string[] = [];
  decodePrefixes(Buffer.from(buf.buffer, 0, end), 0, end, textAfi(text), out);
  return out[0];
}

// ---------------------------------------------------------------------------
// Addresses (next hops, identifiers): not on the per-prefix hot path

export function ipv4Text(buf: Buffer, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

export function ipv6Text(buf: Buffer, off: number): string {
  for (let i = 0; i < 8; i++) groups[i] = (buf[off + 2 * i]! << 8) | buf[off + 2 * i + 1]!;
  const q = putIpv6(0);
  return scratch.toString('latin1', 0, q);
}

/** Writes an IPv4 address (4 octets) at buf[off]; RangeError when malformed. */
export function writeIpv4(text: string, buf: Uint8Array, off: number): void {
  if (!parseIpv4Into(text, 0, text.length, buf, off)) throw new RangeError(`not an IPv4 address: ${JSON.stringify(text)}`);
}

/** Writes an IPv6 address (16 octets) at buf[off]; RangeError when malformed. */
export function writeIpv6(text: string, buf: Uint8Array, off: number): void {
  if (!parseIpv6Into(text, 0, text.length, buf, off)) throw new RangeError(`not an IPv6 address: ${JSON.stringify(text)}`);
}

/** IPv4 text as an unsigned 32-bit number (e.g. a BGP Identifier); RangeError when malformed. */
export function ipv4ToU32(text: string): number {
  const b = new Uint8Array(4);
  writeIpv4(text, b, 0);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

export function u32ToIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Canonical text of an IPv6 address, or undefined when malformed. */
export function canonicalIpv6(text: string): string | undefined {
  const b = Buffer.alloc(16);
  if (!parseIpv6Into(text, 0, text.length, b, 0)) return undefined;
  return ipv6Text(b, 0);
}
