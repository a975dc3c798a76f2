/**
 * Parsing of `ip -N -j route show` (iproute2 6.1) into KernelRoutes.
 *
 * With `-N` every number is printed as a number-in-a-string ("protocol":"80",
 * "type":"6", "scope":"253", "table":"100"); without it known numbers are
 * names ("bird", "blackhole", "link", "main"). Both are accepted. Fields the
 * kernel leaves at their default are omitted: no "type" is unicast, no
 * "table" is main, no "scope" is universe, no "metric" is 0 (IPv4), no "tos"
 * is 0. With a `proto N` filter on the command line iproute2 omits
 * "protocol", so the caller passes the filter's number. The `dst` of a host
 * route is a bare address and of a default route the word "default", so the
 * family comes from the command (-4 / -6), not from the text.
 */
import { canonicalAddress, familyOf, formatPrefix, prefixFromIpJson, type Family } from './addr.js';
import { RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, RTN_BY_TYPE, sortNextHops, type KernelRoute, type NextHop, type RouteType } from './model.js';

interface IpRouteHopJson {
  gateway?: string;
  dev?: string;
  weight?: number;
  flags?: string[];
}

interface IpRouteJson extends IpRouteHopJson {
  type?: string;
  dst?: string;
  table?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  tos?: string;
  prefsrc?: string;
  nexthops?: IpRouteHopJson[];
}

const TYPE_NAMES: Record<string, number> = { unicast: 1, local: 2, broadcast: 3, anycast: 4, multicast: 5, blackhole: 6, unreachable: 7, prohibit: 8, throw: 9, nat: 10 };
const TYPE_BY_NUMBER = new Map<number, RouteType>(Object.entries(RTN_BY_TYPE).map(([k, v]) => [v, k as RouteType]));
const PROTO_NAMES: Record<string, number> = { unspec: 0, redirect: 1, kernel: 2, boot: 3, static: 4, gated: 8, ra: 9, mrt: 10, zebra: 11, bird: 12, dnrouted: 13, xorp: 14, ntk: 15, dhcp: 16, keepalived: 18, babel: 42, bgp: 186, isis: 187, ospf: 188, rip: 189, eigrp: 192 };
const SCOPE_NAMES: Record<string, number> = { global: RT_SCOPE_UNIVERSE, universe: RT_SCOPE_UNIVERSE, link: RT_SCOPE_LINK, host: RT_SCOPE_HOST, nowhere: 255 };
const TABLE_NAMES: Record<string, number> = { default: 253, main: RT_TABLE_MAIN, local: 255 };

function num(text: string | undefined, names: Record<string, number>, dflt: number): number | undefined {
  if (text === undefined) return dflt;
  if (/^\d+$/.test(text)) return Number(text);
  if (/^0x[0-9a-f]+$/i.test(text)) return parseInt(text, 16);
  return names[text];
}

function parseHop(h: IpRouteHopJson): NextHop | undefined {
  let gateway: string | undefined;
  if (h.gateway !== undefined) {
    // An IPv4 route may have an IPv6 gateway (RFC 5549); tabby never writes one but must not choke on it.
    if (familyOf(h.gateway) === undefined) return undefined;
    gateway = canonicalAddress(h.gateway);
  }
  return {
    ...(gateway !== undefined ? { gateway } : {}),
    ...(h.dev !== undefined ? { dev: h.dev } : {}),
    onlink: (h.flags ?? []).includes('onlink'),
    weight: h.weight ?? 1,
  };
}

export interface ParsedRoutes {
  routes: KernelRoute[];
  /** Entries that could not be understood (kept out of `routes`, never touched). */
  skipped: number;
}

/**
 * The family of one entry of a dump made without -4/-6. A "default" dst says
 * nothing, but the kernel puts RTA_PREF on every IPv6 route (rt6_fill_node)
 * and on no IPv4 one, so iproute2 prints "pref" for exactly the IPv6 ones.
 */
function familyOfEntry(j: IpRouteJson & { pref?: string }): Family {
  if (j.dst !== undefined && j.dst !== 'default') return j.dst.includes(':') ? 6 : 4;
  return j.pref !== undefined ? 6 : 4;
}

/**
 * Parse the JSON of `ip -N -j [-4|-6] route show ...`. `family` is the one of
 * the command, or 'any' for a dump of both. `protocolFilter` is the number
 * given to `proto` on that command line, if any.
 */
export function parseIpRouteJson(text: string, family: Family | 'any', protocolFilter?: number): ParsedRoutes {
  const trimmed = text.trim();
  if (trimmed === '') return { routes: [], skipped: 0 };
  const raw = JSON.parse(trimmed) as unknown;
  if (!Array.isArray(raw)) throw new Error('ip -j route show: expected a JSON array');
  const routes: KernelRoute[] = [];
  let skipped = 0;
  for (const item of raw as IpRouteJson[]) {
    const r = typeof item === 'object' && item !== null ? parseOne(item, family === 'any' ? familyOfEntry(item) : family, protocolFilter) : undefined;
    if (r) routes.push(r);
    else skipped++;
  }
  return { routes, skipped };
}

function parseOne(j: IpRouteJson, family: Family, protocolFilter: number | undefined): KernelRoute | undefined {
  if (typeof j !== 'object' || j === null || j.dst === undefined) return undefined;
  let dst: string;
  try {
    dst = formatPrefix(prefixFromIpJson(j.dst, family));
  } catch {
    return undefined;
  }
  const typeNum = num(j.type, TYPE_NAMES, 1);
  const protocol = j.protocol === undefined ? protocolFilter : num(j.protocol, PROTO_NAMES, 0);
  const table = num(j.table, TABLE_NAMES, RT_TABLE_MAIN);
  const scope = family === 6 ? RT_SCOPE_UNIVERSE : num(j.scope, SCOPE_NAMES, RT_SCOPE_UNIVERSE);
  const tos = num(j.tos, {}, 0);
  if (typeNum === undefined || protocol === undefined || table === undefined || scope === undefined || tos === undefined) return undefined;
  const type: KernelRoute['type'] = TYPE_BY_NUMBER.get(typeNum) ?? `type-${typeNum}`;
  let nextHops: NextHop[] = [];
  if (type === 'unicast') {
    const hopsJson = j.nexthops ?? [j];
    const hops = hopsJson.map((h) => parseHop(h));
    if (hops.some((h) => h === undefined)) return undefined;
    nextHops = sortNextHops(hops as NextHop[]);
  }
  const flags = [...(j.flags ?? []), ...(j.nexthops ?? []).flatMap((h) => h.flags ?? [])];
  return {
    family,
    dst,
    table,
    metric: j.metric ?? 0,
    tos,
    type,
    protocol,
    scope,
    nextHops,
    ...(j.prefsrc !== undefined && familyOf(j.prefsrc) !== undefined ? { src: canonicalAddress(j.prefsrc) } : {}),
    ...(flags.includes('linkdown') ? { linkDown: true } : {}),
  };
}
