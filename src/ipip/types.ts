/**
 * The data model of encapsulation: what the calc layer hands in (this node,
 * the remote nodes, the pools' encap modes), what the devices should look
 * like, what the kernel was read back as, and what a sync did.
 *
 * All addresses are IPv4 (IPIP is IPv4-only in Calico; VXLAN over IPv6,
 * Calico's `vxlan-v6.calico`, is not done yet).
 */

/** Calico's `ipipMode` / `vxlanMode` values of an IPPool. */
export type EncapMode = 'Always' | 'CrossSubnet' | 'Never';

/** One IPPool, as far as encapsulation is concerned. */
export interface PoolEncap {
  /** The pool's CIDR, e.g. `10.65.0.0/16`. */
  cidr: string;
  ipipMode: EncapMode;
  vxlanMode: EncapMode;
}

/** This node. */
export interface LocalNode {
  name: string;
  /** Underlay address with its prefix, e.g. `172.31.0.1/24` (the prefix decides CrossSubnet). */
  address: string;
  /** `ipv4IPIPTunnelAddr` of the Node: a /32 taken from one of the node's blocks. */
  ipipTunnelAddress?: string;
  /** `ipv4VXLANTunnelAddr` of the Node. */
  vxlanTunnelAddress?: string;
  /** `vxlanTunnelMACAddr` of the Node; default `vtepMacForNode(name)`. */
  vxlanMac?: string;
  /** Underlay MTU; default 1500. */
  mtu?: number;
  /** tunl0 MTU; default `mtu - 20`. */
  ipipMtu?: number;
  /** vxlan.tabby MTU; default `mtu - 50`. */
  vxlanMtu?: number;
}

/** Another node of the cluster. */
export interface RemoteNode {
  name: string;
  /** Underlay address (a prefix length, if given, is ignored). */
  address: string;
  /** The node's VXLAN tunnel address; without it the node has no VTEP yet. */
  vxlanTunnelAddress?: string;
  /** Default `vtepMacForNode(name)`. */
  vxlanMac?: string;
  /** The node's affine IPAM blocks (CIDRs). */
  blocks: string[];
}

/** A remote VXLAN tunnel endpoint: what one neighbour + one FDB entry encode. */
export interface Vtep {
  node: string;
  /** The remote tunnel address: next hop of the routes, key of the neighbour entry. */
  tunnelIp: string;
  /** The remote device's MAC: lladdr of the neighbour entry, key of the FDB entry. */
  mac: string;
  /** The remote node's underlay address: `dst` of the FDB entry (the outer IP header). */
  hostIp: string;
}

/** Desired tunl0. `address` undefined: IPIP is off (tabby then only strips addresses). */
export interface IpipDeviceSpec {
  name: string;
  mtu: number;
  /** The /32 tunnel address (without prefix). */
  address?: string;
}

export interface VxlanDeviceSpec {
  name: string;
  vni: number;
  port: number;
  /** Underlay address of this node (`local`). */
  local: string;
  mac: string;
  mtu: number;
  /** The /32 tunnel address (without prefix). */
  address: string;
}

/** A device as read back from `ip -d -j addr show dev NAME`. */
export interface ObservedDevice {
  name: string;
  /** linkinfo.info_kind; undefined for devices without one (e.g. loopback-like). */
  kind?: string;
  mtu: number;
  up: boolean;
  mac?: string;
  /** IPv4 addresses as `a.b.c.d/len`. */
  addresses: string[];
  vxlan?: { vni?: number; port?: number; local?: string; learning?: boolean };
  ipip?: { local?: string; remote?: string };
}

/** A neighbour entry on the VXLAN device (`ip -j -4 neigh show dev`). */
export interface ObservedNeighbour {
  ip: string;
  mac?: string;
  states: string[];
  protocol?: number;
}

/** An FDB entry on the VXLAN device (`bridge -j fdb show dev`). */
export interface ObservedFdb {
  mac: string;
  dst?: string;
  self: boolean;
  permanent: boolean;
}

export type ChangeKind =
  | 'device-created'
  | 'device-recreated'
  | 'device-removed'
  | 'mtu'
  | 'mac'
  | 'up'
  | 'address-added'
  | 'address-removed'
  | 'neigh-added'
  | 'neigh-fixed'
  | 'neigh-removed'
  | 'fdb-added'
  | 'fdb-fixed'
  | 'fdb-removed';

/** One difference between desired and actual state, and the fix for it. */
export interface Change {
  kind: ChangeKind;
  /** Human-readable: what was wrong, e.g. `mtu 1400 -> 1450`. */
  detail: string;
}

/** One line of an `ip -batch` / `bridge -batch` programme. */
export interface Op {
  tool: 'ip' | 'bridge';
  /** The batch line (no `ip`/`bridge` in front, no `-n`). */
  line: string;
  change: Change;
}

/** The state of one encapsulation, for `tabby status`. */
export type TunnelStatus =
  | { state: 'disabled'; device: string }
  | { state: 'ok'; device: string }
  /** The kernel cannot create the device at all (no module); reported once, not retried. */
  | { state: 'unsupported'; device: string; reason: string; since: string }
  /** Programming failed; retried on the next sync. */
  | { state: 'error'; device: string; reason: string; since: string; failures: number };

export interface SyncReport {
  device: string;
  status: TunnelStatus;
  /** What differed from the desired state and was acted on (empty in the steady state); `converged` says whether it all took. */
  repairs: Change[];
  /** The lines that were run, in order, prefixed with their tool. */
  commands: string[];
  /** After applying, a second read-back matched the desired state. */
  converged: boolean;
  /** Error output of the commands (`-force` batches), if any. */
  errors: string[];
  /**
   * The kernel dropped the routes through the device (it was created,
   * recreated or brought up): the route driver must resync them now.
   */
  routesFlushed: boolean;
}
