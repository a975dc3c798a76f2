/**
 * The shapes the calc layer reads (besides the Calico resources themselves)
 * and the desired host state it produces. Plain data, no I/O.
 */
import type { Chain, Rule } from '../iptables/model.js';
import type { IpSetType } from '../ipsets/members.js';
import type { RouteClass, RouteSpec } from '../routes/model.js';
import type { WorkloadInterfaceSpec } from '../interfaces/model.js';
import type { LocalNode, RemoteNode } from '../../ipip/types.js';
import type { RouteShape } from '../../ipip/route-shapes.js';

/** This host, as the node config and its Node resource describe it. */
export interface FelixNode {
  /** The node name: WorkloadEndpoints with `spec.node` equal to it are local. */
  name: string;
  /** Underlay IPv4 address with its prefix length, e.g. `172.31.0.1/24` (CrossSubnet decisions, VXLAN `local`). */
  address: string;
  /** Node `spec.bgp.ipv4IPIPTunnelAddr`; IPIP runs only with it and a pool that uses IPIP. */
  ipipTunnelAddress?: string;
  /** Node `spec.ipv4VXLANTunnelAddr`; VXLAN runs only with it and a pool that uses VXLAN. */
  vxlanTunnelAddress?: string;
  /** Node `spec.vxlanTunnelMACAddr`; default: the deterministic MAC of the node name. */
  vxlanMac?: string;
  /** MTU of the underlay (default 1500); the tunnel devices' MTUs follow from it. */
  underlayMtu?: number;
}

/**
 * Another node: its underlay address, VTEP, affine blocks (from the
 * datastore) and the addresses it borrowed from blocks that are not its own
 * (each needs a /32 route towards it: Calico's borrowed-address routes).
 */
export interface RemoteNodeInput extends RemoteNode {
  borrowed?: string[];
}

/** A route from the BGP Loc-RIB: one prefix, one or more (ECMP) gateways. */
export interface LearnedRoute {
  dst: string;
  via: readonly string[];
}

/**
 * Who writes the routes to remote blocks of pools without encapsulation:
 * `bgp` (architecture.md: BGP-learned routes; calc leaves them out) or
 * `datastore` (calc writes `via NODE_IP` itself, for nodes without BGP).
 */
export type UnencapsulatedRouteSource = 'bgp' | 'datastore';

export type UnroutedReason =
  | 'no-pool'
  | 'no-vtep'
  | 'claimed-by-other-node'
  | 'bad-cidr'
  /** The pool wants IPIP but tunl0 cannot be used here (no tunnel address, or the kernel has no ipip). */
  | 'ipip-unavailable'
  /** The pool wants VXLAN but this node has no VXLAN tunnel address. */
  | 'vxlan-unavailable'
  /** An unencapsulated pool's block: the BGP writer's (not an error). */
  | 'left-to-bgp';

export interface UnroutedBlock {
  cidr: string;
  node: string;
  reason: UnroutedReason;
}

/** A policy or NAT ipset as the drivers take it. */
export interface DesiredIpSet {
  name: string;
  type: IpSetType;
  family: 'inet' | 'inet6';
  /** Canonical, sorted (so that comparing two versions is cheap). */
  members: readonly string[];
}

/** Chains of one iptables table plus tabby's rules in its built-in chains. */
export interface DesiredTable {
  chains: readonly Chain[];
  /** Built-in chain -> tabby's rules at its top (insert mode). */
  hooks: Readonly<Record<string, readonly Rule[]>>;
}

/** Everything the host should look like; what the managers are handed. */
export interface DesiredHostState {
  /** Workload interfaces by name (host side of each veth). */
  interfaces: ReadonlyMap<string, WorkloadInterfaceSpec>;
  routes: Readonly<Record<RouteClass, readonly RouteSpec[]>>;
  /** The remote-block shapes the routes came from (status, tests). */
  shapes: readonly RouteShape[];
  unrouted: readonly UnroutedBlock[];
  encap: EncapDesired;
  tables: { filter: DesiredTable; nat: DesiredTable };
  /** ip6tables, while the input uses IPv6 (see `usesIpv6`). */
  tables6?: { filter: DesiredTable; nat: DesiredTable };
  ipsets: readonly DesiredIpSet[];
  /** One line per input the calc could not honour (skipped workload, bad route, ...). */
  problems: readonly string[];
}

/** What the encapsulation managers are handed. `undefined` local: that encapsulation is off. */
export interface EncapDesired {
  ipip: LocalNode | undefined;
  vxlan: LocalNode | undefined;
  vxlanRemotes: readonly RemoteNode[];
}
