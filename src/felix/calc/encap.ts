/**
 * What the IPIP and VXLAN managers are handed (pure).
 *
 * An encapsulation runs on this node when the node has its tunnel address
 * and some IPv4 pool uses that encapsulation (Always or CrossSubnet). That
 * is when Calico's IPAM hands a node a tunnel address, so normally the two
 * agree; requiring both keeps a left-over address from bringing a device up
 * that no route will ever use.
 */
import type { IPPool } from '../../datastore/resources/index.js';
import type { LocalNode, RemoteNode } from '../../ipip/types.js';
import type { EncapDesired, FelixNode, RemoteNodeInput } from './types.js';
import { poolEncaps } from './routes.js';

export function poolsUse(pools: readonly IPPool[], encap: 'ipip' | 'vxlan'): boolean {
  return poolEncaps(pools).some((p) => (encap === 'ipip' ? p.ipipMode : p.vxlanMode) !== 'Never');
}

function localNode(node: FelixNode, extra: Partial<LocalNode>): LocalNode {
  return {
    name: node.name,
    address: node.address,
    ...(node.underlayMtu !== undefined ? { mtu: node.underlayMtu } : {}),
    ...extra,
  };
}

export function encapDesired(node: FelixNode, pools: readonly IPPool[], remotes: readonly RemoteNodeInput[]): EncapDesired {
  const ipipOn = node.ipipTunnelAddress !== undefined && poolsUse(pools, 'ipip');
  const vxlanOn = node.vxlanTunnelAddress !== undefined && poolsUse(pools, 'vxlan');
  const vxlanRemotes: RemoteNode[] = vxlanOn
    ? remotes
        .filter((r) => r.name !== node.name)
        .map((r) => ({
          name: r.name,
          address: r.address,
          blocks: [],
          ...(r.vxlanTunnelAddress !== undefined ? { vxlanTunnelAddress: r.vxlanTunnelAddress } : {}),
          ...(r.vxlanMac !== undefined ? { vxlanMac: r.vxlanMac } : {}),
        }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    : [];
  return {
    ipip: ipipOn ? localNode(node, { ipipTunnelAddress: node.ipipTunnelAddress! }) : undefined,
    vxlan: vxlanOn
      ? localNode(node, { vxlanTunnelAddress: node.vxlanTunnelAddress!, ...(node.vxlanMac !== undefined ? { vxlanMac: node.vxlanMac } : {}) })
      : undefined,
    vxlanRemotes,
  };
}
