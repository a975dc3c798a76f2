/**
 * Canonical text of ipset members, exactly as `ipset save` prints them, so a
 * member written by tabby and the same member read back compare equal:
 *   - IPv4 dotted quad without leading zeros; IPv6 lower case with the first
 *     longest run of two or more zero groups compressed (inet_ntop's form,
 *     RFC 5952 §4);
 *   - hash:net: host bits cleared; a full-length prefix (/32, /128) printed as
 *     the bare address; /0 is not storable, so it becomes the two halves /1;
 *   - `,port` types: `<addr>,<proto>:<port>` with the protocol in lower case
 *     (ipset's default protocol is tcp).
 */
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 'inet' | 'inet6';

export class MemberError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemberError';
  }
}

function ipv4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

/** Parse an IPv6 address (an embedded IPv4 tail included) into 8 groups. */
function ipv6Groups(ip: string): number[] {
  let text = ip;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const b = ipv4Bytes(tail);
    text = `${text.slice(0, lastColon + 1)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const dc = text.indexOf('::');
  const groups =
    dc < 0
      ? parse(text)
      : (() => {
          const h = parse(text.slice(0, dc));
          const r = parse(text.slice(dc + 2));
          return [...h, ...new Array<number>(Math.max(0, 8 - h.length - r.length)).fill(0), ...r];
        })();
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) throw new MemberError(`cannot parse IPv6 address ${ip}`);
  return groups;
}

function formatIpv6(groups: readonly number[]): string {
  // First longest run of zero groups, length >= 2.
  let bestStart = -1;
  let bestLen = 0;
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
  // inet_ntop prints an IPv4 tail for ::a.b.c.d and ::ffff:a.b.c.d.
  if (bestStart === 0 && (bestLen === 6 || (bestLen === 5 && groups[5] === 0xffff))) {
    const v4 = `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
    return bestLen === 6 ? `::${v4}` : `::ffff:${v4}`;
  }
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function groupsToBigInt(groups: readonly number[]): bigint {
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

function bigIntToGroups(n: bigint): number[] {
  const out: number[] = [];
  for (let i = 7; i >= 0; i--) out.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  return out;
}

export function familyOfAddress(ip: string): IpFamily | undefined {
  return isIPv4(ip) ? 'inet' : isIPv6(ip) ? 'inet6' : undefined;
}

/** Canonical text of a bare address of the given family. */
export function canonicalAddress(ip: string, family: IpFamily): string {
  const fam = familyOfAddress(ip);
  if (fam !== family) throw new MemberError(`${JSON.stringify(ip)} is not an ${family === 'inet' ? 'IPv4' : 'IPv6'} address`);
  return family === 'inet' ? ipv4Bytes(ip).join('.') : formatIpv6(ipv6Groups(ip.toLowerCase()));
}

/** Canonical network(s) of a CIDR or address: host bits cleared, /max as a bare address, /0 split in halves. */
export function canonicalNets(text: string, family: IpFamily): string[] {
  const slash = text.indexOf('/');
  const ip = slash < 0 ? text : text.slice(0, slash);
  const max = family === 'inet' ? 32 : 128;
  const lenText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) throw new MemberError(`bad prefix length in ${JSON.stringify(text)}`);
  const len = Number(lenText);
  if (len === 0) return family === 'inet' ? ['0.0.0.0/1', '128.0.0.0/1'] : ['::/1', '8000::/1'];
  canonicalAddress(ip, family);
  let addr: string;
  if (family === 'inet') {
    const n = ipv4Bytes(ip).reduce((a, b) => a * 256 + b, 0);
    const masked = len === 32 ? n : Math.floor(n / 2 ** (32 - len)) * 2 ** (32 - len);
    addr = [24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256).join('.');
  } else {
    const n = groupsToBigInt(ipv6Groups(ip.toLowerCase()));
    const mask = ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - len)) - 1n);
    addr = formatIpv6(bigIntToGroups(n & mask));
  }
  return [len === max ? addr : `${addr}/${len}`];
}

const PORT_PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'udplite']);

function canonicalPort(text: string, member: string): string {
  const colon = text.indexOf(':');
  const proto = colon < 0 ? 'tcp' : text.slice(0, colon).toLowerCase();
  const port = colon < 0 ? text : text.slice(colon + 1);
  if (!PORT_PROTOCOLS.has(proto)) throw new MemberError(`protocol ${proto} in ${JSON.stringify(member)} is not one of tcp, udp, sctp, udplite`);
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new MemberError(`bad port in ${JSON.stringify(member)} (one port, no range)`);
  return `${proto}:${Number(port)}`;
}

export type IpSetType = 'hash:ip' | 'hash:net' | 'hash:ip,port' | 'hash:net,port' | 'list:set';
export const IPSET_TYPES: readonly IpSetType[] = ['hash:ip', 'hash:net', 'hash:ip,port', 'hash:net,port', 'list:set'];

const SET_NAME_RE = /^[A-Za-z0-9_.:@+=~-]{1,31}$/;

export function isValidSetName(name: string): boolean {
  return SET_NAME_RE.test(name);
}

/** Canonical member text(s) for one member of a set of `type` and `family`. */
export function canonicalMember(type: IpSetType, family: IpFamily, member: string): string[] {
  const m = member.trim();
  switch (type) {
    case 'hash:ip': {
      const slash = m.indexOf('/');
      if (slash >= 0 && m.slice(slash + 1) !== (family === 'inet' ? '32' : '128')) {
        throw new MemberError(`hash:ip member ${JSON.stringify(member)} must be a single address`);
      }
      return [canonicalAddress(slash < 0 ? m : m.slice(0, slash), family)];
    }
    case 'hash:net':
      return canonicalNets(m, family);
    case 'hash:ip,port':
    case 'hash:net,port': {
      const comma = m.indexOf(',');
      if (comma < 0) throw new MemberError(`${type} member ${JSON.stringify(member)} needs ",proto:port"`);
      const port = canonicalPort(m.slice(comma + 1), member);
      const addrs = type === 'hash:ip,port' ? canonicalMember('hash:ip', family, m.slice(0, comma)) : canonicalNets(m.slice(0, comma), family);
      return addrs.map((a) => `${a},${port}`);
    }
    case 'list:set':
      if (!isValidSetName(m)) throw new MemberError(`list:set member ${JSON.stringify(member)} is not a set name`);
      return [m];
  }
}

/** Canonical, de-duplicated member set. */
export function canonicalMembers(type: IpSetType, family: IpFamily, members: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const m of members) for (const c of canonicalMember(type, family, m)) out.add(c);
  return out;
}
