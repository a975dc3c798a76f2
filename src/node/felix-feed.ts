/**
 * From the datastore cache to FelixInput: which blocks are this node's, where
 * every other node is, and the endpoints and policies as they are. The
 * derivations are pure functions (unit-tested); `FelixFeed.update` only
 * routes a change to the setters that need it. FelixInput itself compares
 * values, so handing it an unchanged aggregate costs nothing downstream.
 */
import type { GlobalNetworkPolicy, HostEndpoint, IPPool, NetworkPolicy, Node, Profile, WorkloadEndpoint } from '../datastore/resources/index.js';
import type { FelixInput } from '../felix/calc/input.js';
import type { FelixNode, LearnedRoute, RemoteNodeInput } from '../felix/calc/types.js';
import type { BlockValue } from '../ipam/types.js';
import { affinityNode, cidrOfBlockName, KIND_BLOCK } from '../ipam/keys.js';
import { ip } from '../datastore/resources/index.js';
import type { DatastoreChange, DatastoreSync } from './datastore-sync.js';

/** A block as read from the store: its CIDR and value. */
export interface StoredBlock {
  name: string;
  value: BlockValue;
}

/** The node a block is affine to, or undefined. */
export function blockOwner(b: BlockValue): string | undefined {
  return affinityNode(b?.affinity);
}

/** CIDRs of the blocks affine to `node`, sorted. */
export function blocksOf(blocks: readonly StoredBlock[], node: string): string[] {
  return blocks.filter((b) => blockOwner(b.value) === node).map((b) => b.value?.cidr ?? cidrOfBlockName(b.name)).sort();
}

function addressOrdinal(cidr: string, ordinal: number): string | undefined {
  const [base, len] = cidr.split('/');
  if (!base || len === undefined || base.includes(':')) return undefined; // IPv6 borrowed routes: not programmed yet
  const n = base.split('.').reduce((a, o) => a * 256 + Number(o), 0) + ordinal;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * Addresses held for each node inside blocks affine to another node (or to
 * none): each needs a /32 towards its holder (Calico's borrowed-IP routes).
 */
export function borrowedByNode(blocks: readonly StoredBlock[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const b of blocks) {
    const v = b.value;
    if (!v || typeof v.allocations !== 'object' || !Array.isArray(v.attributes)) continue;
    const owner = blockOwner(v);
    for (const [ord, idx] of Object.entries(v.allocations)) {
      const holder = v.attributes[idx]?.attrs?.node;
      if (!holder || holder === owner) continue;
      const ip = addressOrdinal(v.cidr, Number(ord));
      if (!ip) continue;
      let l = out.get(holder);
      if (!l) out.set(holder, (l = []));
      l.push(ip);
    }
  }
  for (const l of out.values()) l.sort();
  return out;
}

/** The IPv4 underlay address of a Node (Calico's spec.bgp.ipv4Address, else a node address), with its prefix. */
export function nodeAddress(n: Node): string | undefined {
  const a = n.spec?.bgp?.ipv4Address ?? n.spec?.addresses?.find((x) => !x.address.includes(':'))?.address;
  return a;
}

/** Every node but `self` with an address: where its blocks, VTEP and borrowed addresses are. */
export function remoteNodesOf(nodes: readonly Node[], blocks: readonly StoredBlock[], self: string): RemoteNodeInput[] {
  const borrowed = borrowedByNode(blocks);
  const out: RemoteNodeInput[] = [];
  for (const n of nodes) {
    const name = n.metadata.name;
    if (name === self) continue;
    const address = nodeAddress(n);
    if (!address) continue;
    const r: RemoteNodeInput = { name, address: address.split('/')[0]!, blocks: blocksOf(blocks, name) };
    if (n.spec.ipv4VXLANTunnelAddr) r.vxlanTunnelAddress = n.spec.ipv4VXLANTunnelAddr;
    if (n.spec.vxlanTunnelMACAddr) r.vxlanMac = n.spec.vxlanTunnelMACAddr;
    const b = borrowed.get(name);
    if (b?.length) r.borrowed = b;
    out.push(r);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** This host as Felix sees it: the node config's address wins, the Node resource adds tunnel addresses. */
export function felixNodeOf(name: string, address: string, node: Node | undefined, underlayMtu: number | undefined): FelixNode {
  const out: FelixNode = { name, address };
  if (node?.spec.bgp?.ipv4IPIPTunnelAddr) out.ipipTunnelAddress = node.spec.bgp.ipv4IPIPTunnelAddr;
  if (node?.spec.ipv4VXLANTunnelAddr) out.vxlanTunnelAddress = node.spec.ipv4VXLANTunnelAddr;
  if (node?.spec.vxlanTunnelMACAddr) out.vxlanMac = node.spec.vxlanTunnelMACAddr;
  if (underlayMtu !== undefined) out.underlayMtu = underlayMtu;
  return out;
}

/** BGP best paths -> the routes the route manager should install (never our own blocks, never via ourselves). */
export function learnedRoutesOf(
  best: ReadonlyMap<string, readonly string[]>,
  localBlocks: ReadonlySet<string>,
  selfAddresses: ReadonlySet<string>,
  /** Service ranges: every node answers for them itself, so learned routes inside them stay out of the kernel (Calico's kernel filter). */
  rejectRanges: readonly string[] = [],
): LearnedRoute[] {
  const reject = rejectRanges.map((c) => ip.parseCidr(c)).filter((c): c is ip.IpNet => c !== undefined);
  const out: LearnedRoute[] = [];
  for (const [dst, hops] of best) {
    if (localBlocks.has(dst)) continue;
    if (reject.length) {
      const net = ip.parseCidr(dst);
      if (net && reject.some((r) => r.prefixLength <= net.prefixLength && ip.cidrsOverlap(r, net))) continue;
    }
    const via = hops.filter((h) => !selfAddresses.has(h));
    if (via.length) out.push({ dst, via });
  }
  return out;
}

function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: 'default', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export interface FelixFeedOptions {
  nodeName: string;
  /** Underlay address with prefix, e.g. 172.31.0.1/24. */
  address: string;
  underlayMtu?: number;
}

/** Routes datastore changes to FelixInput's setters. */
export class FelixFeed {
  constructor(
    private readonly input: FelixInput,
    private readonly sync: DatastoreSync,
    private readonly opts: FelixFeedOptions,
  ) {}

  update(change: DatastoreChange): void {
    const s = this.sync;
    const kinds = change.kinds;
    const touched = (kind: string) => change.all || kinds.has(kind);
    if (touched('WorkloadEndpoint')) this.syncKeyed('WorkloadEndpoint', change, (k, v) => (v ? this.input.setWorkloadEndpoint(v as WorkloadEndpoint) : this.input.removeWorkloadEndpoint(splitKey(k).namespace, splitKey(k).name)), () => [...this.input.workloadEndpoints()].map((w) => `${w.metadata.namespace}/${w.metadata.name}`));
    if (touched('HostEndpoint')) this.syncKeyed('HostEndpoint', change, (k, v) => (v ? this.input.setHostEndpoint(v as HostEndpoint) : this.input.removeHostEndpoint(k)), () => [...this.input.hostEndpoints()].map((h) => h.metadata.name));
    if (touched('NetworkPolicy')) this.syncKeyed('NetworkPolicy', change, (k, v) => (v ? this.input.setPolicy(v as NetworkPolicy) : this.input.removePolicy('NetworkPolicy', splitKey(k).name, splitKey(k).namespace)), () => [...this.input.policies()].filter((p) => p.kind === 'NetworkPolicy').map((p) => `${p.metadata.namespace}/${p.metadata.name}`));
    if (touched('GlobalNetworkPolicy')) this.syncKeyed('GlobalNetworkPolicy', change, (k, v) => (v ? this.input.setPolicy(v as GlobalNetworkPolicy) : this.input.removePolicy('GlobalNetworkPolicy', k)), () => [...this.input.policies()].filter((p) => p.kind === 'GlobalNetworkPolicy').map((p) => p.metadata.name));
    if (touched('Profile')) this.syncKeyed('Profile', change, (k, v) => (v ? this.input.setProfile(v as Profile) : this.input.removeProfile(k)), () => [...this.input.profiles()].map((p) => p.metadata.name));
    if (touched('IPPool')) this.input.setPools(s.values<IPPool>('IPPool'));
    if (touched('Node') || touched(KIND_BLOCK)) {
      const blocks = this.blocks();
      const me = s.get<Node>('Node', this.opts.nodeName);
      this.input.setNode(felixNodeOf(this.opts.nodeName, this.opts.address, me, this.opts.underlayMtu));
      this.input.setLocalBlocks(blocksOf(blocks, this.opts.nodeName));
      this.input.setRemoteNodes(remoteNodesOf(s.values<Node>('Node'), blocks, this.opts.nodeName));
    }
    if (change.all && !this.input.inSync) this.input.markInSync();
  }

  blocks(): StoredBlock[] {
    return [...this.sync.kind(KIND_BLOCK).entries()].map(([name, v]) => ({ name, value: v.value as BlockValue }));
  }

  /** Per-key updates; after a re-list, also removes what the input has and the store no longer does. */
  private syncKeyed(kind: string, change: DatastoreChange, apply: (key: string, value: unknown) => void, current: () => string[]): void {
    const cache = this.sync.kind(kind);
    if (change.all) {
      for (const [k, v] of cache) apply(k, v.value);
      for (const k of current()) if (!cache.has(k)) apply(k, undefined);
      return;
    }
    for (const k of change.keys.get(kind) ?? []) apply(k, cache.get(k)?.value);
  }
}
