/**
 * The inputs of this node's BGP topology, gathered from the datastore cache
 * and the node config, handed to the pure derivation (bgp-peers.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeConfig } from '../config/node-config.js';
import type { BGPConfiguration, BGPPeer, IPPool, Node } from '../datastore/resources/index.js';
import { deriveBgpTopology, type BgpTopology } from './bgp-peers.js';
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

export function deriveNodeBgp(cfg: NodeConfig, id: HostIdentity, sync: DatastoreSync, localBlocks: readonly string[]): BgpTopology {
  return deriveBgpTopology({
    nodeName: cfg.nodeName,
    address: id.address.split('/')[0]!,
    listenAddress: cfg.bgp.listenAddress,
    listenPort: cfg.bgp.listenPort,
    controlSocket: cfg.controlSocket,
    nodes: sync.values<Node>('Node'),
    peers: sync.values<BGPPeer>('BGPPeer'),
    configs: sync.values<BGPConfiguration>('BGPConfiguration'),
    pools: sync.values<IPPool>('IPPool'),
    localBlocks,
    secret: secretReader(cfg.secretsDir),
  });
}
