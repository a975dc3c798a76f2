/**
 * IPAM's stored value shapes (see README.md for the keys) and the public
 * argument and result types.
 */

// ---- stored values ---------------------------------------------------------

/** Who holds an allocation: the handle (a container id) and free-form attributes. */
export interface AllocationHolder {
  handle: string;
  /** e.g. `{ node, namespace, pod }`; omitted when empty. */
  attrs?: Record<string, string>;
}

/** `ipam-block/<cidr with / as ->`: one block of addresses and who holds each. */
export interface BlockValue {
  /** Canonical CIDR of the block, e.g. "10.65.0.0/26". */
  cidr: string;
  /** `host:<node>` for the node the block is affine to; null when nobody's (an orphan kept for its allocations). */
  affinity: string | null;
  /** When the affinity was claimed (ISO 8601); another node may reclaim an empty block only after a while. */
  affinityClaimTime?: string;
  /** ordinal (decimal string) -> index into `attributes`; a free ordinal is absent. */
  allocations: Record<string, number>;
  /** Deduplicated holders: several ordinals of one handle share one entry. */
  attributes: AllocationHolder[];
  /** Where the search for a free ordinal starts, so released addresses are reused last. */
  next: number;
  /** Incremented at every write (diagnostics; compare-and-swap uses the store's mod revision). */
  sequence: number;
}

/**
 * Calico's affinity states. tabby claims a block and writes its affinity in
 * one transaction, so it only ever writes `confirmed`; the others are read
 * (and reported by check) for data written by an interrupted foreign writer.
 */
export type AffinityState = 'confirmed' | 'pending' | 'pendingDeletion';

/** `ipam-affinity/<node>/<block name>`: node N is affine to block B. */
export interface AffinityValue {
  node: string;
  cidr: string;
  state: AffinityState;
}

/** `ipam-handle/<handle id>`: how many addresses the handle holds in which block. */
export interface HandleValue {
  handle: string;
  /** block CIDR -> number of addresses of this handle in that block. */
  blocks: Record<string, number>;
  /**
   * A random id of the last transaction that wrote this handle: after a
   * write whose reply was lost (etcd died), reading it back tells whether
   * the write applied.
   */
  op?: string;
}

/** `ipam-config/default` (Calico's IPAMConfiguration). */
export interface IpamConfig {
  /** Never borrow addresses from blocks affine to other nodes. Default false. */
  strictAffinity: boolean;
  /** At most this many affine blocks per node and family; 0 = no limit. Default 0. */
  maxBlocksPerHost: number;
  /** Claim new blocks when the affine ones are full. Default true. */
  autoAllocateBlocks: boolean;
}

export const DEFAULT_IPAM_CONFIG: IpamConfig = { strictAffinity: false, maxBlocksPerHost: 0, autoAllocateBlocks: true };

// ---- pools -----------------------------------------------------------------

export type PoolUse = 'Workload' | 'Tunnel';

/** An already-validated IPPool, reduced to what IPAM reads. */
export interface IpamPoolSpec {
  name: string;
  cidr: string;
  /** Default 26 (IPv4) or 122 (IPv6). */
  blockSize?: number;
  /** Calico selector over node labels; default all(). */
  nodeSelector?: string;
  disabled?: boolean;
  /** Default both. */
  allowedUses?: PoolUse[];
}

/** Pools as a fixed list or read afresh for every operation (e.g. from the store). */
export type PoolSource = readonly IpamPoolSpec[] | (() => Promise<readonly IpamPoolSpec[]> | readonly IpamPoolSpec[]);

// ---- arguments and results -------------------------------------------------

export interface AutoAssignArgs {
  /** The allocation's owner, e.g. the container id; DEL releases by it. */
  handleId: string;
  /** The node asking; its affine blocks are used first. */
  node: string;
  /** The node's labels, for pools' nodeSelector. */
  nodeLabels?: Record<string, string>;
  num4?: number;
  num6?: number;
  /** Stored with each address (namespace, pod, ...); `node` is added when absent. */
  attrs?: Record<string, string>;
  /** Restrict to these pools (names or CIDRs); their nodeSelector is then ignored, as in Calico. */
  pools?: string[];
  /** Which use the addresses are for (pool allowedUses). Default Workload. */
  use?: PoolUse;
  /** A per-request block limit; the stricter of this and the config's applies. */
  maxBlocksPerHost?: number;
}

export interface AutoAssignResult {
  ipv4: string[];
  ipv6: string[];
}

export interface AssignIpOptions {
  /** The node claiming the block when it does not exist yet (and the affinity checked under strict affinity). */
  node?: string;
  attrs?: Record<string, string>;
}

export interface ReleaseResult {
  released: string[];
  /** Addresses that were not allocated (already free, or in no block). */
  notAllocated: string[];
}

export interface NodeReleaseResult {
  /** Blocks deleted because they were empty. */
  deleted: string[];
  /** Blocks kept (they still hold addresses) with their affinity removed. */
  orphaned: string[];
}
