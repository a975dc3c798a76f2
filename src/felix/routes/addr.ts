/**
 * Canonical text of addresses and prefixes, as iproute2 prints them, so that
 * a desired route and the kernel's read-back compare as strings.
 *
 * iproute2 formats with glibc's inet_ntop: IPv4 dotted quad; IPv6 lower-case,
 * the longest run (>= 2) of zero groups compressed to "::", the leftmost run on
 * a tie (RFC 5952 section 4.2), and a dotted-quad tail for IPv4-mapped
 * (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  /** Canonical network address (host bits are zero). */
  address: string;
  length: number;
}

export class AddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AddressError';
  }
}

export function familyOf(address: string): Family | undefined {
  if (isIPv4(address)) return 4;
  if (isIPv6(address)) return 6;
  return undefined;
}

function v4Bytes(a: string): number[] {
  return a.split('.').map(Number);
}

/** The eight 16-bit groups of an IPv6 address (any valid textual form). */
export function ipv6Words(a: string): number[] {
  let text = a;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    // Dotted-quad tail ("::ffff:1.2.3.4"): two groups from the IPv4 bytes.
    const b = v4Bytes(last);
    tail = [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  const dbl = text.indexOf('::');
  if (dbl < 0) return [...parse(text), ...tail];
  const head = parse(text.slice(0, dbl));
  const back = parse(text.slice(dbl + 2));
  const zeros = new Array<number>(8 - tail.length - head.length - back.length).fill(0);
  return [...head, ...zeros, ...back, ...tail];
}

/** glibc inet_ntop for AF_INET6. */
export function formatIPv6(words: readonly number[]): string {
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  const v4Tail = bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff));
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i > 0) out += ':';
    if (i === 6 && v4Tail) {
      out += `${words[6]! >> 8}.${words[6]! & 255}.${words[7]! >> 8}.${words[7]! & 255}`;
      break;
    }
    out += words[i]!.toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** Canonical text of an address; throws AddressError when it is not one. */
export function canonicalAddress(a: string): string {
  const v4 = parseV4Prefix(a);
  if (v4 && !a.includes('/')) return v4.address;
  if (isIPv4(a)) return v4Bytes(a).join('.');
  if (isIPv6(a)) return formatIPv6(ipv6Words(a));
  throw new AddressError(`"${a}" is not an IP address`);
}

function maskWords(words: number[], length: number, bitsPerWord: number): number[] {
  return words.map((w, i) => {
    const keep = Math.max(0, Math.min(bitsPerWord, length - i * bitsPerWord));
    const mask = keep === 0 ? 0 : ((0xffffffff << (bitsPerWord - keep)) >>> 0) & ((1 << bitsPerWord) - 1);
    return w & mask;
  });
}

/**
 * Parse "a.b.c.d/n", "x::y/n", or a bare address (a host prefix). Throws
 * AddressError when malformed or when host bits are set: the kernel refuses
 * such a destination, and silently clearing them would hide a caller's bug.
 */
const V4_PREFIX = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/;

/** IPv4 without node:net and arrays: setRoutes normalises thousands of these. */
function parseV4Prefix(text: string): Prefix | undefined {
  const m = V4_PREFIX.exec(text);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part[0] === '0') return undefined; // no octal-looking octets (node:net refuses them too)
    const b = Number(part);
    if (b > 255) return undefined;
    n = n * 256 + b;
  }
  const length = m[5] === undefined ? 32 : Number(m[5]);
  if (length > 32) throw new AddressError(`"${text}": bad prefix length`);
  const net = n - (n % 2 ** (32 - length));
  const address = `${Math.floor(net / 16777216)}.${Math.floor(net / 65536) % 256}.${Math.floor(net / 256) % 256}.${net % 256}`;
  if (net !== n) throw new AddressError(`"${text}": host bits set (network is ${address}/${length})`);
  return { family: 4, address, length };
}

export function parsePrefix(text: string): Prefix {
  const fast = parseV4Prefix(text);
  if (fast) return fast;
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const family = familyOf(addr);
  if (!family) throw new AddressError(`"${text}": not an IP prefix`);
  const max = family === 4 ? 32 : 128;
  let length = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) throw new AddressError(`"${text}": bad prefix length`);
    length = Number(lenText);
  }
  const words = family === 4 ? v4Bytes(addr) : ipv6Words(addr);
  const masked = maskWords(words, length, family === 4 ? 8 : 16);
  if (masked.some((w, i) => w !== words[i])) throw new AddressError(`"${text}": host bits set (network is ${family === 4 ? masked.join('.') : formatIPv6(masked)}/${length})`);
  return { family, address: family === 4 ? masked.join('.') : formatIPv6(masked), length };
}

export function formatPrefix(p: Prefix): string {
  return `${p.address}/${p.length}`;
}

/**
 * The `dst` field of `ip -j route show`: "default", a bare address for a host
 * route (/32, /128), else "addr/len".
 */
export function prefixFromIpJson(dst: string, family: Family): Prefix {
  if (dst === 'default') return { family, address: family === 4 ? '0.0.0.0' : '::', length: 0 };
  return parsePrefix(dst);
}
