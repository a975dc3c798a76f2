/**
 * The inputs of this node's BGP topology, gathered from the datastore cache
 * and the node config, handed to the pure derivation.
 */
import { bgpConfigSchema, type BgpConfig } from '../bgp/config.js';
import type { NodeConfig } from '../config/node-config.js';
import type { BGPConfiguration, BGPPeer, IPPool, Node } from '../datastore/resources/index.js';
import { effectiveBGPConfiguration } from '../datastore/resources/index.js';
import type { DatastoreSync } from './datastore-sync.js';
import { nodeAddress } from './felix-feed.js';
import type { HostIdentity } from './registration.js';

export interface DerivedBgp {
  config: BgpConfig;
  /** Peer address -> mesh | rr | tor | ... (status). */
  types: Map<string, string>;
  problems: string[];
}

/** TEMPORARY minimal mesh derivation until src/node/bgp-topology.ts lands. */
export function deriveNodeBgp(cfg: NodeConfig, id: HostIdentity, sync: DatastoreSync, localBlocks: readonly string[]): DerivedBgp {
  const nodes = sync.values<Node>('Node');
  const eff = effectiveBGPConfiguration(sync.get<BGPConfiguration>('BGPConfiguration', 'default'), sync.get<BGPConfiguration>('BGPConfiguration', `node.${cfg.nodeName}`));
  void sync.values<BGPPeer>('BGPPeer');
  void sync.values<IPPool>('IPPool');
  const me = nodes.find((n) => n.metadata.name === cfg.nodeName);
  const asOf = (n: Node | undefined) => n?.spec.bgp?.asNumber ?? eff.asNumber;
  const myIp = id.address.split('/')[0]!;
  const peers: unknown[] = [];
  const types = new Map<string, string>();
  if (eff.nodeToNodeMeshEnabled) {
    for (const n of nodes) {
      if (n.metadata.name === cfg.nodeName) continue;
      const a = nodeAddress(n)?.split('/')[0];
      if (!a) continue;
      peers.push({ address: a, asNumber: asOf(n), description: `Mesh_${n.metadata.name}`, addressFamilies: ['ipv4-unicast'] });
      types.set(a, 'mesh');
    }
  }
  const config = bgpConfigSchema.parse({
    asNumber: asOf(me),
    routerId: myIp,
    listen: { address: cfg.bgp.listenAddress, port: cfg.bgp.listenPort },
    controlSocket: cfg.controlSocket,
    originate: [...localBlocks],
    peers,
  });
  return { config, types, problems: [] };
}
