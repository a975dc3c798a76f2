/**
 * IP address and CIDR arithmetic for resource validation: both families,
 * canonical text, masks, containment and overlap. Pure functions; addresses
 * are held as bigints so IPv4 and IPv6 share one code path.
 *
 * The accepted text follows Go's net.ParseIP/ParseCIDR, which Calico uses:
 * dotted-quad IPv4 without leading zeros, RFC 4291 §2.2 IPv6 text (with an
 * optional trailing dotted quad), no zone index.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface IpAddr {
  family: Family;
  value: bigint;
}

export interface IpNet {
  family: Family;
  /** The address as written (host bits may be set). */
  addr: bigint;
  prefixLength: number;
}

export const familyBits = (f: Family): number => (f === 4 ? 32 : 128);

export function parseIp(text: string): IpAddr | undefined {
  if (isIPv4(text)) return { family: 4, value: ipv4Value(text) };
  if (text.includes('%') || !isIPv6(text)) return undefined;
  return { family: 6, value: ipv6Value(text) };
}

function ipv4Value(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function ipv6Value(text: string): bigint {
  // A trailing dotted quad stands for the last 32 bits (RFC 4291 §2.2, form 3).
  let s = text;
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = ipv4Value(tail);
    s = `${s.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const missing = 8 - headGroups.length - restGroups.length;
  const groups = rest === undefined ? headGroups : [...headGroups, ...Array<string>(missing).fill('0'), ...restGroups];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** Canonical text: dotted quad, or RFC 5952 §4 compressed lower-case IPv6. */
export function formatIp(a: IpAddr): string {
  if (a.family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => ((a.value >> s) & 0xffn).toString()).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((a.value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952 §4.2.3: compress the longest run of two or more zero groups, the first on a tie.
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
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** "addr/len"; with `bareIp`, an address alone is a full-length prefix (Calico's ParseCIDROrIP). */
export function parseCidr(text: string, opts: { bareIp?: boolean } = {}): IpNet | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) {
    if (!opts.bareIp) return undefined;
    const ip = parseIp(text);
    return ip && { family: ip.family, addr: ip.value, prefixLength: familyBits(ip.family) };
  }
  const ip = parseIp(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(lenText)) return undefined;
  const prefixLength = Number(lenText);
  if (prefixLength > familyBits(ip.family)) return undefined;
  return { family: ip.family, addr: ip.value, prefixLength };
}

function mask(family: Family, prefixLength: number): bigint {
  const bits = BigInt(familyBits(family));
  const all = (1n << bits) - 1n;
  return all ^ ((1n << (bits - BigInt(prefixLength))) - 1n);
}

/** The network address (host bits cleared). */
export function networkOf(n: IpNet): bigint {
  return n.addr & mask(n.family, n.prefixLength);
}

/** True when no host bits are set (Calico's "strictly masked"). */
export function isStrictlyMasked(n: IpNet): boolean {
  return networkOf(n) === n.addr;
}

export function formatCidr(n: IpNet): string {
  return `${formatIp({ family: n.family, value: n.addr })}/${n.prefixLength}`;
}

/** Canonical text of the network: host bits cleared, canonical address. */
export function canonicalNetwork(n: IpNet): string {
  return `${formatIp({ family: n.family, value: networkOf(n) })}/${n.prefixLength}`;
}

export function cidrContains(n: IpNet, ip: IpAddr): boolean {
  return n.family === ip.family && (ip.value & mask(n.family, n.prefixLength)) === networkOf(n);
}

/** Two prefixes overlap when the shorter one contains the other's network address. */
export function cidrsOverlap(a: IpNet, b: IpNet): boolean {
  if (a.family !== b.family) return false;
  const shorter = a.prefixLength <= b.prefixLength ? a : b;
  const other = shorter === a ? b : a;
  return cidrContains(shorter, { family: other.family, value: networkOf(other) });
}
