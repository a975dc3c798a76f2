/**
 * The shape of the route to each remote block: no encapsulation, IPIP or
 * VXLAN. Pure; the route driver (`src/felix/routes/`) consumes the result and
 * owns the kernel route entries.
 *
 * Rules (Calico's felix route manager + L3 route resolver):
 * - The pool that contains the block decides (the longest pool prefix when
 *   pools nest).
 * - `vxlanMode`/`ipipMode` `Always`: encapsulate. `CrossSubnet`: encapsulate
 *   only when the remote node's address is outside this node's subnet (the
 *   prefix of this node's own address); in the same subnet the route goes
 *   straight to the node (`via NODE_IP`, no encapsulation).
 * - IPIP: `via NODE_IP dev tunl0 onlink` (the gateway is the remote node's
 *   underlay address; `onlink` because it is not on tunl0's subnet).
 * - VXLAN: `via REMOTE_VTEP_IP dev vxlan.tabby onlink` (the gateway is the
 *   remote tunnel address, resolved by the permanent neighbour entry). A node
 *   without a VTEP yet gets no route (as felix waits for the VTEP).
 * - A pool with both modes enabled is invalid in Calico; if one gets here,
 *   VXLAN wins.
 */
import { ipv4InCidr, parseCidr, type Cidr } from '../util/ip.js';
import { IPIP_DEVICE, VXLAN_DEVICE } from './constants.js';
import { EncapInputError, hostAddress, vtepsOf } from './desired.js';
import type { EncapMode, LocalNode, PoolEncap, RemoteNode } from './types.js';

export type RouteShape =
  | {
      cidr: string;
      node: string;
      encap: 'none';
      /** The remote node's underlay address. */
      gateway: string;
      why: 'pool-not-encapsulated' | 'cross-subnet-same-subnet';
    }
  | {
      cidr: string;
      node: string;
      encap: 'ipip';
      /** The remote node's underlay address. */
      gateway: string;
      device: typeof IPIP_DEVICE;
      onlink: true;
      why: 'always' | 'cross-subnet-other-subnet';
    }
  | {
      cidr: string;
      node: string;
      encap: 'vxlan';
      /** The remote node's VXLAN tunnel address. */
      gateway: string;
      device: typeof VXLAN_DEVICE;
      onlink: true;
      why: 'always' | 'cross-subnet-other-subnet';
    };

export type SkipReason = 'no-pool' | 'no-vtep' | 'claimed-by-other-node' | 'bad-cidr';

export interface SkippedBlock {
  cidr: string;
  node: string;
  reason: SkipReason;
}

export interface RouteShapeInput {
  local: Pick<LocalNode, 'name' | 'address'>;
  remotes: readonly RemoteNode[];
  pools: readonly PoolEncap[];
}

export interface RouteShapeResult {
  /** At most one shape per CIDR, sorted by CIDR. */
  routes: RouteShape[];
  /** Blocks that get no route, and why. */
  skipped: SkippedBlock[];
}

interface ParsedPool {
  pool: PoolEncap;
  cidr: Cidr;
}

function containingPool(block: Cidr, pools: readonly ParsedPool[]): PoolEncap | undefined {
  let best: ParsedPool | undefined;
  for (const p of pools) {
    if (p.cidr.prefixLength > block.prefixLength || !ipv4InCidr(block.address, p.cidr)) continue;
    if (!best || p.cidr.prefixLength > best.cidr.prefixLength) best = p;
  }
  return best?.pool;
}

function encapNeeded(mode: EncapMode, sameSubnet: boolean): 'always' | 'cross-subnet-other-subnet' | undefined {
  if (mode === 'Always') return 'always';
  if (mode === 'CrossSubnet' && !sameSubnet) return 'cross-subnet-other-subnet';
  return undefined;
}

/** The route shape of every remote block. */
export function computeRouteShapes(input: RouteShapeInput): RouteShapeResult {
  const localCidr = parseCidr(input.local.address);
  if (!localCidr || localCidr.family !== 4) throw new EncapInputError(`node ${input.local.name}: address "${input.local.address}" must be an IPv4 CIDR (address/prefix)`);
  const pools: ParsedPool[] = [];
  for (const pool of input.pools) {
    const cidr = parseCidr(pool.cidr);
    if (cidr && cidr.family === 4) pools.push({ pool, cidr });
  }
  const vteps = new Map(vtepsOf(input.remotes).map((v) => [v.node, v]));
  const routes = new Map<string, RouteShape>();
  const skipped: SkippedBlock[] = [];
  const remotes = [...input.remotes].filter((r) => r.name !== input.local.name).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  for (const remote of remotes) {
    const nodeIp = hostAddress(remote.address, `node ${remote.name} address`);
    const sameSubnet = ipv4InCidr(nodeIp, localCidr);
    for (const block of remote.blocks) {
      const b = parseCidr(block);
      if (!b || b.family !== 4) {
        skipped.push({ cidr: block, node: remote.name, reason: 'bad-cidr' });
        continue;
      }
      if (routes.has(block)) {
        skipped.push({ cidr: block, node: remote.name, reason: 'claimed-by-other-node' });
        continue;
      }
      const pool = containingPool(b, pools);
      if (!pool) {
        skipped.push({ cidr: block, node: remote.name, reason: 'no-pool' });
        continue;
      }
      const vxlanWhy = encapNeeded(pool.vxlanMode, sameSubnet);
      const ipipWhy = pool.vxlanMode === 'Never' ? encapNeeded(pool.ipipMode, sameSubnet) : undefined;
      if (vxlanWhy) {
        const vtep = vteps.get(remote.name);
        if (!vtep) {
          skipped.push({ cidr: block, node: remote.name, reason: 'no-vtep' });
          continue;
        }
        routes.set(block, { cidr: block, node: remote.name, encap: 'vxlan', gateway: vtep.tunnelIp, device: VXLAN_DEVICE, onlink: true, why: vxlanWhy });
      } else if (ipipWhy) {
        routes.set(block, { cidr: block, node: remote.name, encap: 'ipip', gateway: nodeIp, device: IPIP_DEVICE, onlink: true, why: ipipWhy });
      } else {
        const encapped = pool.vxlanMode !== 'Never' || pool.ipipMode !== 'Never';
        routes.set(block, { cidr: block, node: remote.name, encap: 'none', gateway: nodeIp, why: encapped ? 'cross-subnet-same-subnet' : 'pool-not-encapsulated' });
      }
    }
  }
  const sorted = [...routes.values()].sort((a, b) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0));
  return { routes: sorted, skipped };
}

/**
 * The canonical `ip route` batch line of a shape (`route replace ...`), for
 * the route driver, tests and the VM test. `uplink` names the device of
 * unencapsulated routes (omitted: the kernel picks it from the gateway).
 */
export function routeShapeToIpLine(shape: RouteShape, opts: { proto: number; uplink?: string }): string {
  switch (shape.encap) {
    case 'none':
      return `route replace ${shape.cidr} via ${shape.gateway}${opts.uplink ? ` dev ${opts.uplink}` : ''} proto ${opts.proto}`;
    case 'ipip':
    case 'vxlan':
      return `route replace ${shape.cidr} via ${shape.gateway} dev ${shape.device} onlink proto ${opts.proto}`;
  }
}
