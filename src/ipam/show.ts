/**
 * `tabby ipam show [--ip ADDR]`: pools, blocks with their affinity and use,
 * and (with an address) who holds it. Pure: snapshot and pools in, a plain
 * JSON-friendly structure out (format.ts renders it).
 */
import { compareNets, netContainsAddress, netSizeBig, ordinalOf, parseAddress, formatAddress } from './addr.js';
import { holderAt } from './block.js';
import { IpamInvalidArgumentError } from './errors.js';
import { affinityNode } from './keys.js';
import { poolOfBlock, type Pool } from './pools.js';
import type { IpamSnapshot } from './snapshot.js';
import type { IpamConfig } from './types.js';

export interface ShowOptions {
  /** Describe who holds this address. */
  ip?: string;
}

export interface ShowPool {
  name: string;
  cidr: string;
  blockSize: number;
  disabled: boolean;
  nodeSelector: string;
  /** Addresses in the pool (a decimal string: IPv6 pools exceed 2^53). */
  size: string;
  blocks: number;
  allocated: number;
}

export interface ShowBlock {
  cidr: string;
  /** The pool containing it, or null (a problem check reports). */
  pool: string | null;
  /** The node it is affine to, or null. */
  node: string | null;
  /** The affinity object's state, or null when the node has none. */
  affinityState: string | null;
  size: number;
  allocated: number;
  free: number;
  /** Addresses held for other nodes than the affine one (borrowed). */
  borrowed: number;
  /** Set when the block value cannot be read. */
  malformed?: string;
}

export interface ShowAddress {
  ip: string;
  pool: string | null;
  /** The block containing it, or null when no block does (the address is free). */
  block: string | null;
  blockNode: string | null;
  allocated: boolean;
  handle: string | null;
  attrs: Record<string, string>;
}

export interface ShowData {
  revision: number;
  config: IpamConfig;
  pools: ShowPool[];
  blocks: ShowBlock[];
  address?: ShowAddress;
}

export function buildShow(snap: IpamSnapshot, pools: readonly Pool[], opts: ShowOptions = {}): ShowData {
  const affState = new Map(snap.affinities.map((a) => [`${a.node}\u0000${a.cidr}`, a.value?.state ?? 'unknown']));
  const blocks = [...snap.blocks].sort((a, b) => (a.net && b.net ? compareNets(a.net, b.net) : a.name < b.name ? -1 : 1));
  const showBlocks: ShowBlock[] = blocks.map((b) => {
    if (!b.net || b.problems.length > 0) {
      return { cidr: b.cidr, pool: null, node: null, affinityState: null, size: b.size, allocated: 0, free: 0, borrowed: 0, malformed: b.problems.join('; ') };
    }
    const node = affinityNode(b.value.affinity) ?? null;
    const allocated = Object.keys(b.value.allocations).length;
    let borrowed = 0;
    for (const idx of Object.values(b.value.allocations)) {
      const holderNode = b.value.attributes[idx]?.attrs?.node;
      if (holderNode !== undefined && holderNode !== node) borrowed++;
    }
    return {
      cidr: b.cidr,
      pool: poolOfBlock(pools, b.net)?.name ?? null,
      node,
      affinityState: node === null ? null : (affState.get(`${node}\u0000${b.cidr}`) ?? null),
      size: b.size,
      allocated,
      free: b.size - allocated,
      borrowed,
    };
  });
  const showPools: ShowPool[] = pools.map((p) => {
    const mine = showBlocks.filter((b) => b.pool === p.name);
    return {
      name: p.name,
      cidr: p.cidr,
      blockSize: p.blockSize,
      disabled: p.disabled,
      nodeSelector: p.nodeSelector,
      size: netSizeBig(p.net).toString(),
      blocks: mine.length,
      allocated: mine.reduce((n, b) => n + b.allocated, 0),
    };
  });
  const data: ShowData = { revision: snap.revision, config: snap.config, pools: showPools, blocks: showBlocks };
  if (opts.ip !== undefined) {
    const addr = parseAddress(opts.ip);
    if (!addr) throw new IpamInvalidArgumentError(`not an IP address: ${JSON.stringify(opts.ip)}`);
    const pool = pools.find((p) => netContainsAddress(p.net, addr));
    const b = blocks.find((x) => x.net && x.problems.length === 0 && netContainsAddress(x.net, addr));
    const holder = b ? holderAt(b.value, ordinalOf(b.net!, addr)!) : undefined;
    data.address = {
      ip: formatAddress(addr),
      pool: pool?.name ?? null,
      block: b?.cidr ?? null,
      blockNode: b ? (affinityNode(b.value.affinity) ?? null) : null,
      allocated: holder !== undefined,
      handle: holder?.handle ?? null,
      attrs: { ...(holder?.attrs ?? {}) },
    };
  }
  return data;
}
