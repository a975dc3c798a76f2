/**
 * Routes as plain data, in the kernel's own terms.
 *
 * A producer (the calc graph, the BGP Loc-RIB) hands the route table
 * `RouteSpec`s for its class; they are validated and normalised into
 * `KernelRoute`s, the same shape the read-back of `ip -N -j route show`
 * parses into, so that desired and actual compare field by field.
 *
 * The key of a route is what the kernel keys it by: family, table,
 * destination prefix, metric (priority) and TOS. Two routes with the same key
 * cannot both be in the kernel; `route replace` of one overwrites the other.
 */
import { AddressError, canonicalAddress, familyOf, formatPrefix, parsePrefix, type Family } from './addr.js';

/** Who wants a route. See ROUTE_CLASS_PRECEDENCE for who wins a tie. */
export type RouteClass = 'local-workload' | 'local-block' | 'remote-block' | 'bgp-learned';

/**
 * When several classes want the same key, the earliest in this list wins
 * (Felix: the lowest RouteClass wins):
 *  1. local-workload: a workload on this host is always reached over its own
 *     veth, whatever a block route elsewhere claims.
 *  2. local-block: this host's own affine block (a blackhole) beats a route
 *     to the same block elsewhere; packets for unallocated addresses of our
 *     block must not leave the host.
 *  3. remote-block: routes computed from the datastore (block affinity +
 *     node address, encapsulated or not) do not wait for BGP and are the
 *     source of truth for pools tabby manages (Calico >= 3.33).
 *  4. bgp-learned: everything else learned from peers (ToRs, external).
 */
export const ROUTE_CLASS_PRECEDENCE: readonly RouteClass[] = ['local-workload', 'local-block', 'remote-block', 'bgp-learned'];

export type RouteType = 'unicast' | 'blackhole' | 'unreachable' | 'prohibit';

/** rtm_type numbers (linux/rtnetlink.h), printed by `ip -N`. */
export const RTN_BY_TYPE: Readonly<Record<RouteType, number>> = { unicast: 1, blackhole: 6, unreachable: 7, prohibit: 8 };

export const RT_TABLE_MAIN = 254;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
/** The kernel's default metric of an IPv6 route added without one (IP6_RT_PRIO_USER). */
export const IPV6_DEFAULT_METRIC = 1024;

export interface NextHopSpec {
  via?: string;
  dev?: string;
  /** Gateway is on the link even though no address covers it (tunnels: `dev tunl0 onlink`). */
  onlink?: boolean;
  /** ECMP weight, 1..256 (default 1). */
  weight?: number;
}

/** What a producer asks for. A single next hop may be given inline (`via`/`dev`/`onlink`). */
export interface RouteSpec extends NextHopSpec {
  dst: string;
  type?: RouteType;
  nextHops?: NextHopSpec[];
  table?: number;
  metric?: number;
  /** IPv4 TOS, part of the kernel's key (0 = none). */
  tos?: number;
}

export interface NextHop {
  gateway?: string;
  /** Undefined in a desired route means "whatever device the kernel resolves the gateway to". */
  dev?: string;
  onlink: boolean;
  weight: number;
}

/** A route in kernel terms; both desired routes and read-back use it. */
export interface KernelRoute {
  family: Family;
  /** Canonical "address/length". */
  dst: string;
  table: number;
  metric: number;
  tos: number;
  /** A RouteType, or `type-N` for a type tabby never writes. */
  type: RouteType | `type-${number}`;
  protocol: number;
  /** rtm_scope; meaningful for IPv4 only (IPv6 read-back carries none, so it is 0). */
  scope: number;
  /** Sorted by (gateway, dev); empty for non-unicast routes. */
  nextHops: NextHop[];
  /** Preferred source (`src`); tabby never sets one, so one found is drift. */
  src?: string;
  /** Read-back only: the kernel marks routes over a carrier-less device `linkdown`. */
  linkDown?: boolean;
}

export class RouteSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RouteSpecError';
  }
}

/** Key of a route as the kernel keys it (one route per key per table). */
export function routeKey(r: Pick<KernelRoute, 'family' | 'table' | 'dst' | 'metric' | 'tos'>): string {
  return `${r.family}|${r.table}|${r.dst}|${r.metric}|${r.tos}`;
}

const IFNAME = /^[^\s/:]{1,15}$/;

function compareNextHops(a: NextHop, b: NextHop): number {
  const ga = a.gateway ?? '';
  const gb = b.gateway ?? '';
  if (ga !== gb) return ga < gb ? -1 : 1;
  const da = a.dev ?? '';
  const db = b.dev ?? '';
  return da < db ? -1 : da > db ? 1 : 0;
}

export function sortNextHops(hops: NextHop[]): NextHop[] {
  return [...hops].sort(compareNextHops);
}

function normaliseHop(h: NextHopSpec, family: Family, where: string): NextHop {
  const hop: NextHop = { onlink: h.onlink === true, weight: h.weight ?? 1 };
  if (h.via !== undefined) {
    const f = familyOf(h.via);
    if (f === undefined) throw new RouteSpecError(`${where}: via "${h.via}" is not an IP address`);
    if (f !== family) throw new RouteSpecError(`${where}: via ${h.via} is IPv${f} but the destination is IPv${family}`);
    hop.gateway = canonicalAddress(h.via);
  }
  if (h.dev !== undefined) {
    if (!IFNAME.test(h.dev)) throw new RouteSpecError(`${where}: "${h.dev}" is not an interface name`);
    hop.dev = h.dev;
  }
  if (hop.gateway === undefined && hop.dev === undefined) throw new RouteSpecError(`${where}: a next hop needs via or dev`);
  if (hop.onlink && hop.dev === undefined) throw new RouteSpecError(`${where}: onlink needs dev`);
  if (!Number.isInteger(hop.weight) || hop.weight < 1 || hop.weight > 256) throw new RouteSpecError(`${where}: weight ${hop.weight} is not 1..256`);
  return hop;
}

function intIn(v: number, lo: number, hi: number): boolean {
  return Number.isInteger(v) && v >= lo && v <= hi;
}

/**
 * Validate and normalise a producer's route. Throws RouteSpecError (or
 * AddressError) naming the route when it cannot be programmed as asked.
 */
export function normaliseRoute(spec: RouteSpec, protocol: number): KernelRoute {
  let prefix;
  try {
    prefix = parsePrefix(spec.dst);
  } catch (err) {
    if (err instanceof AddressError) throw new RouteSpecError(`route ${spec.dst}: ${err.message}`);
    throw err;
  }
  const where = `route ${formatPrefix(prefix)}`;
  const family = prefix.family;
  const type = spec.type ?? 'unicast';
  if (!(type in RTN_BY_TYPE)) throw new RouteSpecError(`${where}: unknown type "${type}"`);
  const table = spec.table ?? RT_TABLE_MAIN;
  if (!intIn(table, 1, 0xfffffffe) || table === 255) throw new RouteSpecError(`${where}: bad table ${table}`);
  const metric = spec.metric ?? (family === 6 ? IPV6_DEFAULT_METRIC : 0);
  if (!intIn(metric, 0, 0xffffffff)) throw new RouteSpecError(`${where}: bad metric ${metric}`);
  const tos = spec.tos ?? 0;
  if (!intIn(tos, 0, 255) || (family === 6 && tos !== 0)) throw new RouteSpecError(`${where}: bad tos ${tos}`);
  const inline = spec.via !== undefined || spec.dev !== undefined || spec.onlink !== undefined || spec.weight !== undefined;
  if (inline && spec.nextHops !== undefined) throw new RouteSpecError(`${where}: give either via/dev or nextHops, not both`);
  // A RouteSpec is a NextHopSpec for its inline next hop.
  const hopSpecs: readonly NextHopSpec[] = spec.nextHops ?? (inline ? [spec] : []);
  let nextHops: NextHop[] = [];
  if (type === 'unicast') {
    if (hopSpecs.length === 0) throw new RouteSpecError(`${where}: a unicast route needs a next hop (via or dev)`);
    nextHops = dedupeHops(hopSpecs.map((h) => normaliseHop(h, family, where)));
    if (nextHops.length > 1 && nextHops.some((h) => h.gateway === undefined)) {
      throw new RouteSpecError(`${where}: every ECMP next hop needs a gateway`);
    }
  } else if (hopSpecs.length > 0) {
    throw new RouteSpecError(`${where}: a ${type} route has no next hop`);
  }
  // iproute2 gives a unicast route without a gateway scope link; we say so
  // explicitly so the read-back compares equal. IPv6 has no route scope.
  const scope = family === 4 && type === 'unicast' && nextHops.length === 1 && nextHops[0]!.gateway === undefined ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  return { family, dst: formatPrefix(prefix), table, metric, tos, type, protocol, scope, nextHops };
}

function dedupeHops(hops: NextHop[]): NextHop[] {
  if (hops.length === 1) return hops;
  const seen = new Map<string, NextHop>();
  for (const h of hops) seen.set(`${h.gateway ?? ''}|${h.dev ?? ''}`, h);
  return sortNextHops([...seen.values()]);
}

/**
 * Merge two routes of one class for the same key into one ECMP route (a
 * producer listing the same prefix twice, e.g. learned from two peers).
 * Throws when they cannot be merged (different types).
 */
export function mergeRoutes(a: KernelRoute, b: KernelRoute): KernelRoute {
  if (a.type !== b.type) throw new RouteSpecError(`route ${a.dst}: given twice with different types (${a.type}, ${b.type})`);
  if (a.type !== 'unicast') return a;
  const hops = dedupeHops([...a.nextHops, ...b.nextHops]);
  if (hops.length > 1 && hops.some((h) => h.gateway === undefined)) {
    throw new RouteSpecError(`route ${a.dst}: given twice with different devices and no gateway; cannot be ECMP`);
  }
  return { ...a, nextHops: hops, scope: hops.length === 1 ? a.scope : RT_SCOPE_UNIVERSE };
}

function hopMatches(desired: NextHop, actual: NextHop): boolean {
  return (
    desired.gateway === actual.gateway &&
    (desired.dev === undefined || desired.dev === actual.dev) &&
    desired.onlink === actual.onlink &&
    desired.weight === actual.weight
  );
}

/**
 * True when the kernel's `actual` route is what `desired` asks for. A desired
 * next hop without a device matches whatever device the kernel resolved.
 */
export function routeMatches(desired: KernelRoute, actual: KernelRoute): boolean {
  if (
    desired.family !== actual.family ||
    desired.dst !== actual.dst ||
    desired.table !== actual.table ||
    desired.metric !== actual.metric ||
    desired.tos !== actual.tos ||
    desired.type !== actual.type ||
    desired.protocol !== actual.protocol ||
    (desired.family === 4 && desired.scope !== actual.scope) ||
    desired.src !== actual.src ||
    desired.nextHops.length !== actual.nextHops.length
  ) {
    return false;
  }
  const rest = [...actual.nextHops];
  for (const d of desired.nextHops) {
    const i = rest.findIndex((a) => hopMatches(d, a));
    if (i < 0) return false;
    rest.splice(i, 1);
  }
  return true;
}

/** Devices a route's next hops name (a route to a missing/down device cannot be programmed). */
export function routeDevices(r: KernelRoute): string[] {
  return r.nextHops.flatMap((h) => (h.dev !== undefined ? [h.dev] : []));
}

/** One line for logs and reports, close to `ip route` output. */
export function describeRoute(r: KernelRoute): string {
  const parts: string[] = [];
  if (r.type !== 'unicast') parts.push(r.type);
  parts.push(r.dst);
  const hop = (h: NextHop) => [h.gateway !== undefined ? `via ${h.gateway}` : '', h.dev !== undefined ? `dev ${h.dev}` : '', h.onlink ? 'onlink' : ''].filter(Boolean).join(' ');
  if (r.nextHops.length === 1) parts.push(hop(r.nextHops[0]!));
  else for (const h of r.nextHops) parts.push(`nexthop ${hop(h)} weight ${h.weight}`);
  if (r.table !== RT_TABLE_MAIN) parts.push(`table ${r.table}`);
  if (r.metric !== (r.family === 6 ? IPV6_DEFAULT_METRIC : 0)) parts.push(`metric ${r.metric}`);
  if (r.tos !== 0) parts.push(`tos 0x${r.tos.toString(16)}`);
  if (r.src !== undefined) parts.push(`src ${r.src}`);
  parts.push(`proto ${r.protocol}`);
  return parts.filter(Boolean).join(' ');
}
