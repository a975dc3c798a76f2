/**
 * From the calc layer's view of the cluster to the desired devices and VTEPs.
 * Pure: no I/O.
 */
import { ipv4Network, isIPv4, parseCidr } from '../util/ip.js';
import {
  DEFAULT_NODE_MTU,
  IPIP_DEVICE,
  IPIP_OVERHEAD,
  VXLAN_DEVICE,
  VXLAN_OVERHEAD,
  VXLAN_PORT,
  VXLAN_VNI,
} from './constants.js';
import { normaliseMac, vtepMacForNode } from './mac.js';
import type { IpipDeviceSpec, LocalNode, RemoteNode, Vtep, VxlanDeviceSpec } from './types.js';

export class EncapInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncapInputError';
  }
}

/** The address part of `a.b.c.d` or `a.b.c.d/len`, checked to be IPv4. */
export function hostAddress(s: string, what: string): string {
  const addr = s.includes('/') ? s.slice(0, s.indexOf('/')) : s;
  if (!isIPv4(addr)) throw new EncapInputError(`${what}: "${s}" is not an IPv4 address`);
  return addr;
}

function checkMtu(mtu: number, what: string): number {
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) throw new EncapInputError(`${what}: MTU ${mtu} is not an integer in 576..65535`);
  return mtu;
}

export function ipipMtu(local: LocalNode): number {
  return checkMtu(local.ipipMtu ?? (local.mtu ?? DEFAULT_NODE_MTU) - IPIP_OVERHEAD, `node ${local.name} tunl0`);
}

export function vxlanMtu(local: LocalNode): number {
  return checkMtu(local.vxlanMtu ?? (local.mtu ?? DEFAULT_NODE_MTU) - VXLAN_OVERHEAD, `node ${local.name} ${VXLAN_DEVICE}`);
}

/**
 * The first address of a block: what Calico's IPAM hands out first from a
 * fresh block (ordinal 0; blocks are not subnets, so the "network address"
 * is usable), hence what `ipv4IPIPTunnelAddr` usually is. The agent should
 * pass the address IPAM actually allocated; this is for labs and tests.
 */
export function firstAddressOfBlock(block: string): string {
  const c = parseCidr(block);
  if (!c || c.family !== 4) throw new EncapInputError(`block "${block}" is not an IPv4 CIDR`);
  return ipv4Network(c);
}

/** Desired tunl0; without `ipipTunnelAddress` IPIP is off on this node. */
export function ipipDeviceSpec(local: LocalNode): IpipDeviceSpec {
  const spec: IpipDeviceSpec = { name: IPIP_DEVICE, mtu: ipipMtu(local) };
  if (local.ipipTunnelAddress !== undefined) spec.address = hostAddress(local.ipipTunnelAddress, `node ${local.name} ipipTunnelAddress`);
  return spec;
}

/** Desired vxlan.tabby, or undefined when the node has no VXLAN tunnel address (VXLAN off). */
export function vxlanDeviceSpec(local: LocalNode): VxlanDeviceSpec | undefined {
  if (local.vxlanTunnelAddress === undefined) return undefined;
  const mac = local.vxlanMac !== undefined ? normaliseMac(local.vxlanMac) : vtepMacForNode(local.name);
  if (!mac) throw new EncapInputError(`node ${local.name}: vxlanMac "${local.vxlanMac}" is not a MAC address`);
  return {
    name: VXLAN_DEVICE,
    vni: VXLAN_VNI,
    port: VXLAN_PORT,
    local: hostAddress(local.address, `node ${local.name} address`),
    mac,
    mtu: vxlanMtu(local),
    address: hostAddress(local.vxlanTunnelAddress, `node ${local.name} vxlanTunnelAddress`),
  };
}

/**
 * The VTEPs of the remote nodes that have one (a VXLAN tunnel address), in
 * node-name order. Nodes without a tunnel address are left out, as Calico's
 * VXLAN resolver does until the address arrives.
 */
export function vtepsOf(remotes: readonly RemoteNode[]): Vtep[] {
  const out: Vtep[] = [];
  for (const r of [...remotes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (r.vxlanTunnelAddress === undefined) continue;
    const mac = r.vxlanMac !== undefined ? normaliseMac(r.vxlanMac) : vtepMacForNode(r.name);
    if (!mac) throw new EncapInputError(`node ${r.name}: vxlanMac "${r.vxlanMac}" is not a MAC address`);
    out.push({
      node: r.name,
      tunnelIp: hostAddress(r.vxlanTunnelAddress, `node ${r.name} vxlanTunnelAddress`),
      mac,
      hostIp: hostAddress(r.address, `node ${r.name} address`),
    });
  }
  return out;
}
