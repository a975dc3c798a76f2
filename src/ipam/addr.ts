/**
 * Address arithmetic IPAM needs on top of the resource layer's IP helpers:
 * canonical networks, block-of-address, ordinal <-> address. Pure.
 *
 * A `Net` is always canonical (host bits cleared), so two Nets are the same
 * prefix exactly when family, network and length are equal.
 */
import { familyBits, formatIp, parseCidr, parseIp, type Family, type IpAddr } from '../datastore/resources/ip.js';

export type { Family, IpAddr };

export interface Net {
  family: Family;
  /** The network address, host bits cleared. */
  network: bigint;
  prefixLength: number;
}

function hostMask(family: Family, prefixLength: number): bigint {
  return (1n << BigInt(familyBits(family) - prefixLength)) - 1n;
}

/** Parses "a.b.c.d/n" or "x::/n"; host bits are cleared. Undefined when malformed. */
export function parseNet(text: string): Net | undefined {
  const n = parseCidr(text);
  if (!n) return undefined;
  return { family: n.family, network: n.addr & ~hostMask(n.family, n.prefixLength), prefixLength: n.prefixLength };
}

/** Like parseNet, but undefined when host bits are set (block names must be canonical). */
export function parseStrictNet(text: string): Net | undefined {
  const n = parseCidr(text);
  if (!n || (n.addr & hostMask(n.family, n.prefixLength)) !== 0n) return undefined;
  return { family: n.family, network: n.addr, prefixLength: n.prefixLength };
}

/** Canonical text of a network: "10.65.0.0/26", "fd00:10::/122". */
export function netText(n: Net): string {
  return `${formatIp({ family: n.family, value: n.network })}/${n.prefixLength}`;
}

/** Accepts "10.65.0.5", "10.65.0.5/32" or "fd00::5/128" (a host prefix is what CNI results carry). */
export function parseAddress(text: string): IpAddr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return parseIp(text);
  const ip = parseIp(text.slice(0, slash));
  if (!ip || text.slice(slash + 1) !== String(familyBits(ip.family))) return undefined;
  return ip;
}

export function formatAddress(a: IpAddr): string {
  return formatIp(a);
}

/** Number of addresses in a prefix, as a bigint (IPv6 pools are huge). */
export function netSizeBig(n: Net): bigint {
  return 1n << BigInt(familyBits(n.family) - n.prefixLength);
}

/** Number of addresses in a block; blocks are at most 2^12 addresses (Calico's block size ranges). */
export function blockAddressCount(n: Net): number {
  return Number(netSizeBig(n));
}

export function netContainsAddress(n: Net, ip: IpAddr): boolean {
  return n.family === ip.family && (ip.value & ~hostMask(n.family, n.prefixLength)) === n.network;
}

/** True when `inner` lies entirely inside `outer`. */
export function netContainsNet(outer: Net, inner: Net): boolean {
  return outer.family === inner.family && outer.prefixLength <= inner.prefixLength && (inner.network & ~hostMask(outer.family, outer.prefixLength)) === outer.network;
}

export function netsOverlap(a: Net, b: Net): boolean {
  return netContainsNet(a, b) || netContainsNet(b, a);
}

export function sameNet(a: Net, b: Net): boolean {
  return a.family === b.family && a.network === b.network && a.prefixLength === b.prefixLength;
}

/** The block of `prefixLength` that contains `ip`. */
export function blockNetOf(ip: IpAddr, prefixLength: number): Net {
  return { family: ip.family, network: ip.value & ~hostMask(ip.family, prefixLength), prefixLength };
}

export function addressAt(block: Net, ordinal: number): IpAddr {
  return { family: block.family, value: block.network + BigInt(ordinal) };
}

export function addressTextAt(block: Net, ordinal: number): string {
  return formatIp(addressAt(block, ordinal));
}

/** The ordinal of `ip` inside `block`, or undefined if it is outside. */
export function ordinalOf(block: Net, ip: IpAddr): number | undefined {
  if (!netContainsAddress(block, ip)) return undefined;
  return Number(ip.value - block.network);
}

/** Sort key for networks: family, then address, then prefix length. */
export function compareNets(a: Net, b: Net): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.network !== b.network) return a.network < b.network ? -1 : 1;
  return a.prefixLength - b.prefixLength;
}

export function compareAddresses(a: IpAddr, b: IpAddr): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value === b.value ? 0 : a.value < b.value ? -1 : 1;
}
