/**
 * Node: one host running tabby; its BGP addresses and AS number, tunnel
 * addresses, and (through metadata.labels) what nodeSelector/peerSelector
 * match. Rules from Calico's Node type (libcalico-go internalapi) and
 * validateNodeSpec.
 */
import { z } from 'zod';
import { envelope } from './envelope.js';
import { ALWAYS, asNumber, ipAddr, ipNet, macAddress, report, subdomainName } from './fields.js';
import { metadataSchema, type Metadata } from './metadata.js';
import { unimplemented } from './unimplemented.js';

export type NodeAddressType = 'CalicoNodeIP' | 'InternalIP' | 'ExternalIP';

export interface NodeBGPSpec {
  asNumber?: number;
  /** The node's IPv4 address with its subnet, e.g. "10.0.0.5/24" (host bits set). */
  ipv4Address?: string;
  ipv6Address?: string;
  ipv4IPIPTunnelAddr?: string;
  /** Set on route reflectors: the cluster ID (RFC 4456 §7), an IPv4 address. */
  routeReflectorClusterID?: string;
}

export interface NodeSpec {
  bgp?: NodeBGPSpec;
  ipv4VXLANTunnelAddr?: string;
  vxlanTunnelMACAddr?: string;
  ipv6VXLANTunnelAddr?: string;
  vxlanTunnelMACAddrV6?: string;
  orchRefs?: { nodeName?: string; orchestrator: string }[];
  addresses?: { address: string; type?: NodeAddressType }[];
  interfaces?: { name?: string; addresses?: string[] }[];
}

export interface Node {
  apiVersion: 'projectcalico.org/v3';
  kind: 'Node';
  metadata: Metadata;
  spec: NodeSpec;
}

const nodeBGP = z
  .strictObject({
    asNumber: asNumber().optional(),
    // Calico's cidrv4/cidrv6: an address, or an address with its prefix length.
    ipv4Address: ipNet({ family: 4, bareIp: true }).optional(),
    ipv6Address: ipNet({ family: 6, bareIp: true }).optional(),
    ipv4IPIPTunnelAddr: ipAddr(4).optional(),
    routeReflectorClusterID: ipAddr(4).optional(),
  })
  .superRefine((b, ctx) => {
    if (Object.values(b).every((v) => v === undefined || v === '')) {
      report(ctx, 'must not be empty: set at least one of asNumber, ipv4Address, ipv6Address, or leave bgp out');
    }
  }, ALWAYS);

const nodeSpec = z.strictObject({
  bgp: nodeBGP.optional(),
  ipv4VXLANTunnelAddr: ipAddr(4).optional(),
  vxlanTunnelMACAddr: macAddress().optional(),
  ipv6VXLANTunnelAddr: ipAddr(6).optional(),
  vxlanTunnelMACAddrV6: macAddress().optional(),
  orchRefs: z.array(z.strictObject({ nodeName: z.string().optional(), orchestrator: z.string() })).optional(),
  addresses: z
    .array(z.strictObject({ address: ipNet({ bareIp: true }), type: z.enum(['CalicoNodeIP', 'InternalIP', 'ExternalIP']).optional() }))
    .optional(),
  interfaces: z.array(z.strictObject({ name: z.string().optional(), addresses: z.array(z.string()).optional() })).optional(),
  wireguard: unimplemented('nodeWireguard'),
});

export const nodeSchema = envelope(
  'Node',
  metadataSchema({ kind: 'Node', namespaced: false, name: subdomainName() }),
  nodeSpec.prefault({}).transform(({ wireguard: _w, ...rest }): NodeSpec => rest),
  { status: true },
);
