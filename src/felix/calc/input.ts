/**
 * FelixInput: the agent's whole view of the world, as a plain in-memory
 * model. The daemon fills it from the datastore watch and the BGP Loc-RIB;
 * tests and benchmarks fill it directly.
 *
 * Setters only record state and note what changed (Felix's OnUpdate: cheap,
 * no I/O); the agent takes the changes at its next apply and recomputes only
 * what they touch. Setting a value equal to the current one changes nothing.
 * Keys, not history: a change is "this key is dirty", and the agent reads the
 * key's current value (absent = deleted), so the order of updates never
 * matters and a spurious delete followed by a re-create is harmless.
 *
 * Nothing reaches the kernel before `markInSync()`: an agent that applied a
 * partial view would delete the routes and chains of workloads it merely had
 * not heard of yet (Felix waits for the datastore's in-sync).
 */
import type { GlobalNetworkPolicy, HostEndpoint, IPPool, NetworkPolicy, Profile, WorkloadEndpoint } from '../../datastore/resources/index.js';
import type { PolicyResourceKind } from './policy.js';
import type { FelixNode, LearnedRoute, RemoteNodeInput } from './types.js';
import { keyOfWorkload, workloadKey } from './workloads.js';

/** What changed since the agent last looked. */
export interface FelixDirty {
  node: boolean;
  pools: boolean;
  localBlocks: boolean;
  remotes: boolean;
  learned: boolean;
  /** WorkloadEndpoint keys (`namespace/name`) set or removed, on any node. */
  workloads: Set<string>;
  /** HostEndpoint names. */
  hostEndpoints: Set<string>;
  /** Policy keys (`policyKey`). */
  policies: Set<string>;
  /** Profile names. */
  profiles: Set<string>;
}

export function emptyDirty(): FelixDirty {
  return { node: false, pools: false, localBlocks: false, remotes: false, learned: false, workloads: new Set(), hostEndpoints: new Set(), policies: new Set(), profiles: new Set() };
}

export function isDirty(d: FelixDirty): boolean {
  return d.node || d.pools || d.localBlocks || d.remotes || d.learned || d.workloads.size + d.hostEndpoints.size + d.policies.size + d.profiles.size > 0;
}

export type PolicyKind = Extract<PolicyResourceKind, 'NetworkPolicy' | 'GlobalNetworkPolicy'>;

/** `NetworkPolicy|<ns>|<name>` or `GlobalNetworkPolicy||<name>`. */
export function policyKey(kind: PolicyKind, name: string, namespace?: string): string {
  return `${kind}|${kind === 'NetworkPolicy' ? (namespace ?? 'default') : ''}|${name}`;
}

export function parsePolicyKey(key: string): { kind: PolicyKind; namespace: string | undefined; name: string } {
  const [kind, ns, name] = key.split('|') as [PolicyKind, string, string];
  return { kind, namespace: ns === '' ? undefined : ns, name };
}

function same(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

export class FelixInput {
  private nodeValue: FelixNode | undefined;
  private readonly weps = new Map<string, WorkloadEndpoint>();
  private readonly heps = new Map<string, HostEndpoint>();
  private readonly policiesMap = new Map<string, NetworkPolicy | GlobalNetworkPolicy>();
  private readonly profilesMap = new Map<string, Profile>();
  private poolsValue: readonly IPPool[] = [];
  private localBlocksValue: readonly string[] = [];
  private readonly remotesMap = new Map<string, RemoteNodeInput>();
  private learnedValue: readonly LearnedRoute[] = [];
  private synced = false;
  private dirty = emptyDirty();
  private readonly listeners = new Set<() => void>();

  // ---- this node --------------------------------------------------------------

  setNode(node: FelixNode): void {
    if (same(this.nodeValue, node)) return;
    this.nodeValue = { ...node };
    this.dirty.node = true;
    this.changed();
  }

  get node(): FelixNode | undefined {
    return this.nodeValue;
  }

  // ---- endpoints ---------------------------------------------------------------

  /** A WorkloadEndpoint of any node: local ones are plumbed, every one feeds policy ipsets. */
  setWorkloadEndpoint(w: WorkloadEndpoint): void {
    const key = keyOfWorkload(w);
    if (same(this.weps.get(key), w)) return;
    this.weps.set(key, w);
    this.dirty.workloads.add(key);
    this.changed();
  }

  removeWorkloadEndpoint(namespace: string, name: string): void {
    const key = workloadKey(namespace, name);
    if (!this.weps.delete(key)) return;
    this.dirty.workloads.add(key);
    this.changed();
  }

  workloadEndpoint(key: string): WorkloadEndpoint | undefined {
    return this.weps.get(key);
  }

  workloadEndpoints(): IterableIterator<WorkloadEndpoint> {
    return this.weps.values();
  }

  get workloadCount(): number {
    return this.weps.size;
  }

  setHostEndpoint(h: HostEndpoint): void {
    if (same(this.heps.get(h.metadata.name), h)) return;
    this.heps.set(h.metadata.name, h);
    this.dirty.hostEndpoints.add(h.metadata.name);
    this.changed();
  }

  removeHostEndpoint(name: string): void {
    if (!this.heps.delete(name)) return;
    this.dirty.hostEndpoints.add(name);
    this.changed();
  }

  hostEndpoint(name: string): HostEndpoint | undefined {
    return this.heps.get(name);
  }

  hostEndpoints(): IterableIterator<HostEndpoint> {
    return this.heps.values();
  }

  // ---- policy ------------------------------------------------------------------

  setPolicy(p: NetworkPolicy | GlobalNetworkPolicy): void {
    const key = p.kind === 'NetworkPolicy' ? policyKey(p.kind, p.metadata.name, p.metadata.namespace) : policyKey(p.kind, p.metadata.name);
    if (same(this.policiesMap.get(key), p)) return;
    this.policiesMap.set(key, p);
    this.dirty.policies.add(key);
    this.changed();
  }

  removePolicy(kind: PolicyKind, name: string, namespace?: string): void {
    const key = policyKey(kind, name, namespace);
    if (!this.policiesMap.delete(key)) return;
    this.dirty.policies.add(key);
    this.changed();
  }

  policy(key: string): NetworkPolicy | GlobalNetworkPolicy | undefined {
    return this.policiesMap.get(key);
  }

  policies(): IterableIterator<NetworkPolicy | GlobalNetworkPolicy> {
    return this.policiesMap.values();
  }

  setProfile(p: Profile): void {
    if (same(this.profilesMap.get(p.metadata.name), p)) return;
    this.profilesMap.set(p.metadata.name, p);
    this.dirty.profiles.add(p.metadata.name);
    this.changed();
  }

  removeProfile(name: string): void {
    if (!this.profilesMap.delete(name)) return;
    this.dirty.profiles.add(name);
    this.changed();
  }

  profile(name: string): Profile | undefined {
    return this.profilesMap.get(name);
  }

  profiles(): IterableIterator<Profile> {
    return this.profilesMap.values();
  }

  // ---- pools and blocks ----------------------------------------------------------

  setPools(pools: readonly IPPool[]): void {
    const sorted = [...pools].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
    if (same(this.poolsValue, sorted)) return;
    this.poolsValue = sorted;
    this.dirty.pools = true;
    this.changed();
  }

  get pools(): readonly IPPool[] {
    return this.poolsValue;
  }

  /** This node's affine blocks (IPAM `blocksOfNode`). */
  setLocalBlocks(cidrs: readonly string[]): void {
    const sorted = [...new Set(cidrs)].sort();
    if (same(this.localBlocksValue, sorted)) return;
    this.localBlocksValue = sorted;
    this.dirty.localBlocks = true;
    this.changed();
  }

  get localBlocks(): readonly string[] {
    return this.localBlocksValue;
  }

  /** Replace every other node (address, VTEP, affine blocks, borrowed addresses). */
  setRemoteNodes(nodes: readonly RemoteNodeInput[]): void {
    const next = new Map(nodes.map((n) => [n.name, n]));
    let changed = next.size !== this.remotesMap.size;
    if (!changed) for (const [k, v] of next) if (!same(this.remotesMap.get(k), v)) changed = true;
    if (!changed) return;
    this.remotesMap.clear();
    for (const [k, v] of next) this.remotesMap.set(k, { ...v, blocks: [...v.blocks] });
    this.dirty.remotes = true;
    this.changed();
  }

  setRemoteNode(node: RemoteNodeInput): void {
    if (same(this.remotesMap.get(node.name), node)) return;
    this.remotesMap.set(node.name, { ...node, blocks: [...node.blocks] });
    this.dirty.remotes = true;
    this.changed();
  }

  removeRemoteNode(name: string): void {
    if (!this.remotesMap.delete(name)) return;
    this.dirty.remotes = true;
    this.changed();
  }

  get remoteNodes(): RemoteNodeInput[] {
    return [...this.remotesMap.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The BGP writer's routes (the Loc-RIB best paths to install), replacing the previous set. */
  setLearnedRoutes(routes: readonly LearnedRoute[]): void {
    const sorted = [...routes].map((r) => ({ dst: r.dst, via: [...r.via].sort() })).sort((a, b) => (a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0));
    if (same(this.learnedValue, sorted)) return;
    this.learnedValue = sorted;
    this.dirty.learned = true;
    this.changed();
  }

  get learnedRoutes(): readonly LearnedRoute[] {
    return this.learnedValue;
  }

  // ---- sync and change tracking -------------------------------------------------------

  /** The view is complete (the datastore's initial listing has been loaded). */
  markInSync(): void {
    if (this.synced) return;
    this.synced = true;
    this.changed();
  }

  get inSync(): boolean {
    return this.synced;
  }

  /** Called after every change (the agent schedules an apply). Returns an unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The changes since the last call, and start collecting anew (the agent's one consumer). */
  takeDirty(): FelixDirty {
    const d = this.dirty;
    this.dirty = emptyDirty();
    return d;
  }

  get hasChanges(): boolean {
    return isDirty(this.dirty);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}
