/**
 * Block routes (pure): blackholes for this node's affine blocks, routes to
 * other nodes' blocks (and borrowed addresses) in the shape their pool's
 * encapsulation asks for, and the BGP writer's routes.
 *
 * Who writes what (architecture.md, "Who writes which route"):
 *   local-block   a blackhole per affine block, so packets for an address of
 *                 ours that no workload holds die here instead of following
 *                 the default route out (Calico's shape). Never for a /32
 *                 block: that address is either a local workload's (its own
 *                 route) or free, and a blackhole would only shadow the
 *                 workload route when it comes.
 *   remote-block  computed from the datastore for encapsulated pools (IPIP,
 *                 VXLAN, and the same-subnet half of CrossSubnet), so they
 *                 never wait for BGP; for pools without encapsulation only
 *                 when `unencapsulated` is `datastore` (no BGP on the node),
 *                 otherwise those blocks are the BGP writer's.
 *   bgp-learned   the BGP Loc-RIB as given.
 */
import type { IPPool } from '../../datastore/resources/index.js';
import { computeRouteShapes, type RouteShape } from '../../ipip/route-shapes.js';
import type { PoolEncap, RemoteNode } from '../../ipip/types.js';
import { isIPv4, isIPv6, parseCidr } from '../../util/ip.js';
import type { RouteSpec } from '../routes/model.js';
import type { FelixNode, LearnedRoute, RemoteNodeInput, UnencapsulatedRouteSource, UnroutedBlock } from './types.js';

/** `local-block` routes: a blackhole per affine block, none for a host-sized block. */
export function localBlockRoutes(blocks: readonly string[]): { routes: RouteSpec[]; problems: string[] } {
  const routes: RouteSpec[] = [];
  const problems: string[] = [];
  for (const b of [...new Set(blocks)].sort()) {
    const c = parseCidr(b);
    if (!c) {
      problems.push(`local block "${b}" is not a CIDR; no blackhole for it`);
      continue;
    }
    if (c.prefixLength === (c.family === 4 ? 32 : 128)) continue;
    routes.push({ dst: b, type: 'blackhole' });
  }
  return { routes, problems };
}

/** The encapsulation-relevant part of the IPv4 pools (disabled pools too: their blocks still hold workloads). */
export function poolEncaps(pools: readonly IPPool[]): PoolEncap[] {
  return pools
    .filter((p) => parseCidr(p.spec.cidr)?.family === 4)
    .map((p) => ({ cidr: p.spec.cidr, ipipMode: p.spec.ipipMode, vxlanMode: p.spec.vxlanMode }));
}

function hostPrefix(addr: string): string | undefined {
  const a = addr.includes('/') ? addr.slice(0, addr.indexOf('/')) : addr;
  if (isIPv4(a)) return `${a}/32`;
  if (isIPv6(a)) return `${a}/128`;
  return undefined;
}

/** Remote nodes with their borrowed addresses folded in as /32 "blocks" (each gets the shape of its pool). */
export function withBorrowed(remotes: readonly RemoteNodeInput[]): RemoteNode[] {
  return remotes.map((r) => {
    const extra = (r.borrowed ?? []).map(hostPrefix).filter((x): x is string => x !== undefined);
    const { borrowed: _b, ...node } = r;
    return extra.length ? { ...node, blocks: [...node.blocks, ...extra] } : { ...node, blocks: [...node.blocks] };
  });
}

export interface RemoteRouteInput {
  node: FelixNode;
  pools: readonly IPPool[];
  remotes: readonly RemoteNodeInput[];
  /** tunl0 can carry traffic here (this node has an IPIP tunnel address and the kernel has ipip). */
  ipipUsable: boolean;
  /** vxlan.tabby exists or will (this node has a VXLAN tunnel address). */
  vxlanUsable: boolean;
  unencapsulated: UnencapsulatedRouteSource;
}

export interface RemoteRoutes {
  /** `remote-block` routes. */
  routes: RouteSpec[];
  /** The shapes the routes were made from. */
  shapes: RouteShape[];
  unrouted: UnroutedBlock[];
}

export function shapeToRoute(s: RouteShape): RouteSpec {
  return s.encap === 'none' ? { dst: s.cidr, via: s.gateway } : { dst: s.cidr, via: s.gateway, dev: s.device, onlink: true };
}

/** `remote-block` routes from the datastore's view of the other nodes (pure). */
export function remoteBlockRoutes(input: RemoteRouteInput): RemoteRoutes {
  const result = computeRouteShapes({
    local: { name: input.node.name, address: input.node.address },
    remotes: withBorrowed(input.remotes),
    pools: poolEncaps(input.pools),
  });
  const routes: RouteSpec[] = [];
  const shapes: RouteShape[] = [];
  const unrouted: UnroutedBlock[] = result.skipped.map((s) => ({ cidr: s.cidr, node: s.node, reason: s.reason }));
  for (const s of result.routes) {
    if (s.encap === 'ipip' && !input.ipipUsable) {
      unrouted.push({ cidr: s.cidr, node: s.node, reason: 'ipip-unavailable' });
      continue;
    }
    if (s.encap === 'vxlan' && !input.vxlanUsable) {
      unrouted.push({ cidr: s.cidr, node: s.node, reason: 'vxlan-unavailable' });
      continue;
    }
    if (s.encap === 'none' && s.why === 'pool-not-encapsulated' && input.unencapsulated === 'bgp') {
      unrouted.push({ cidr: s.cidr, node: s.node, reason: 'left-to-bgp' });
      continue;
    }
    shapes.push(s);
    routes.push(shapeToRoute(s));
  }
  unrouted.sort((a, b) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return { routes, shapes, unrouted };
}

/** `bgp-learned` routes (pure): one per prefix, ECMP when several gateways are given. */
export function learnedRoutes(learned: readonly LearnedRoute[]): { routes: RouteSpec[]; problems: string[] } {
  const byDst = new Map<string, Set<string>>();
  const problems: string[] = [];
  for (const r of learned) {
    if (!parseCidr(r.dst)) {
      problems.push(`learned route "${r.dst}" is not a CIDR; ignored`);
      continue;
    }
    const gws = r.via.filter((g) => isIPv4(g) || isIPv6(g));
    if (gws.length !== r.via.length || gws.length === 0) {
      problems.push(`learned route ${r.dst}: gateways ${JSON.stringify(r.via)} are not all addresses; ignored`);
      continue;
    }
    const set = byDst.get(r.dst) ?? new Set<string>();
    for (const g of gws) set.add(g);
    byDst.set(r.dst, set);
  }
  const routes: RouteSpec[] = [];
  for (const dst of [...byDst.keys()].sort()) {
    const gws = [...byDst.get(dst)!].sort();
    routes.push(gws.length === 1 ? { dst, via: gws[0]! } : { dst, nextHops: gws.map((via) => ({ via })) });
  }
  return { routes, problems };
}
