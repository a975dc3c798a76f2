/** Small pure helpers for IPv4/IPv6 addresses and CIDRs. */
import { isIPv4, isIPv6 } from 'node:net';

export { isIPv4, isIPv6 };

export interface Cidr {
  family: 4 | 6;
  /** The address as written (may have host bits set, e.g. a node's 172.31.0.1/24). */
  address: string;
  prefixLength: number;
}

/** Parse "a.b.c.d/n" or "x::y/n"; undefined when malformed. */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const address = s.slice(0, slash);
  const lenText = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return undefined;
  const prefixLength = Number(lenText);
  if (isIPv4(address)) return prefixLength <= 32 ? { family: 4, address, prefixLength } : undefined;
  if (isIPv6(address)) return prefixLength <= 128 ? { family: 6, address, prefixLength } : undefined;
  return undefined;
}

export function ipv4ToInt(a: string): number {
  const p = a.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

export function intToIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Network address of an IPv4 CIDR (host bits cleared). */
export function ipv4Network(c: Cidr): string {
  const mask = c.prefixLength === 0 ? 0 : (0xffffffff << (32 - c.prefixLength)) >>> 0;
  return intToIpv4((ipv4ToInt(c.address) & mask) >>> 0);
}

/** True when `ip` (IPv4) lies inside `cidr`. */
export function ipv4InCidr(ip: string, c: Cidr): boolean {
  if (c.family !== 4) return false;
  const mask = c.prefixLength === 0 ? 0 : (0xffffffff << (32 - c.prefixLength)) >>> 0;
  return ((ipv4ToInt(ip) & mask) >>> 0) === ((ipv4ToInt(c.address) & mask) >>> 0);
}
