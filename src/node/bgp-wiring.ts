/**
 * The inputs of this node's BGP topology, gathered from the datastore cache
 * and the node config, handed to the pure derivation (bgp-topology.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeConfig } from '../config/node-config.js';
import type { BGPConfiguration, BGPPeer, IPPool, Node } from '../datastore/resources/index.js';
import { deriveBgpTopology, type BgpTopology } from './bgp-topology.js';
import type { DatastoreSync } from './datastore-sync.js';
import type { HostIdentity } from './registration.js';

/** A Kubernetes-style secret as a file `<secretsDir>/<name>/<key>` (trailing newline dropped). */
export function secretReader(dir: string): (name: string, key: string) => string | undefined {
  return (name, key) => {
    try {
      return readFileSync(join(dir, name, key), 'utf8').replace(/\r?\n$/, '');
    } catch {
      return undefined;
    }
  };
}

/**
 * `borrowed`: addresses of this node's workloads inside blocks affine to
 * other nodes; their /32s are originated, as Calico does.
 */
export function deriveNodeBgp(cfg: NodeConfig, id: HostIdentity, sync: DatastoreSync, localBlocks: readonly string[], borrowed: readonly string[] = []): BgpTopology {
  return deriveBgpTopology({
    nodeName: cfg.nodeName,
    nodes: sync.values<Node>('Node'),
    bgpPeers: sync.values<BGPPeer>('BGPPeer'),
    bgpConfigurations: sync.values<BGPConfiguration>('BGPConfiguration'),
    ipPools: sync.values<IPPool>('IPPool'),
    localBlocks,
    workloadAddresses: borrowed,
    listen: { address: cfg.bgp.listenAddress, port: cfg.bgp.listenPort },
    controlSocket: cfg.controlSocket,
    // Before the Node is registered (or when it lost its bgp section) our own addresses still count.
    self: { ipv4: id.address.split('/')[0]!, ...(id.addressV6 ? { ipv6: id.addressV6.split('/')[0]! } : {}) },
    secret: secretReader(cfg.secretsDir),
  });
}
