/**
 * Choosing a block to claim. Pure.
 *
 * Like Calico's randomBlockGenerator, each node walks a pool's blocks from a
 * starting point derived from a hash of its name, wrapping around: nodes that
 * claim at the same moment usually try different blocks (fewer lost
 * compare-and-swaps), and one node's choice is reproducible.
 */
import { familyBits } from '../datastore/resources/ip.js';
import { netsOverlap, netText, type Net } from './addr.js';
import type { Pool } from './pools.js';

/** FNV-1a, 32 bits, of the UTF-8 bytes of `s`. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(s, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function blockCountOf(pool: Pool): bigint {
  return 1n << BigInt(pool.blockSize - pool.net.prefixLength);
}

/** Index of the first block a node tries in a pool. */
export function startIndex(pool: Pool, node: string): bigint {
  return BigInt(fnv1a32(node)) % blockCountOf(pool);
}

/** The pool's i-th block. */
export function blockAt(pool: Pool, i: bigint): Net {
  const step = 1n << BigInt(familyBits(pool.net.family) - pool.blockSize);
  return { family: pool.net.family, network: pool.net.network + i * step, prefixLength: pool.blockSize };
}

/** A pool's blocks in the node's order: from its start index, wrapping; at most `limit` of them. */
export function* blockCandidates(pool: Pool, node: string, limit = 1n << 20n): Generator<Net> {
  const count = blockCountOf(pool);
  const n = count < limit ? count : limit;
  const start = startIndex(pool, node);
  for (let k = 0n; k < n; k++) yield blockAt(pool, (start + k) % count);
}

/** What exists in the store, reduced to what the search needs. */
export interface ExistingBlocks {
  /** Canonical CIDR texts of every stored block. */
  cidrs: ReadonlySet<string>;
  /** Every stored block, for the overlap test against blocks of another size. */
  nets: readonly Net[];
}

/**
 * The first block of the first pool (in pool order) that no stored block
 * occupies or overlaps. Overlap matters when a pool was recreated with
 * another block size while blocks of the old size remain: claiming an
 * overlapping block would hand out addresses twice.
 */
export function findUnclaimedBlock(pools: readonly Pool[], node: string, existing: ExistingBlocks): Net | undefined {
  for (const pool of pools) {
    // Stored blocks of another size inside (or around) this pool: usually none.
    const foreign = existing.nets.filter((b) => b.family === pool.net.family && b.prefixLength !== pool.blockSize && netsOverlap(b, pool.net));
    for (const cand of blockCandidates(pool, node)) {
      if (existing.cidrs.has(netText(cand))) continue;
      if (foreign.some((f) => netsOverlap(f, cand))) continue;
      return cand;
    }
  }
  return undefined;
}
