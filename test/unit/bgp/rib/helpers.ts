/** Shared builders for the RIB tests. */
import { AttrTable, type PathAttrs } from '../../../../src/bgp/rib/attrs.js';
import type { Candidate } from '../../../../src/bgp/rib/decision.js';
import { addressSortKey } from '../../../../src/bgp/rib/decision.js';
import { ipv4ToU32 } from '../../../../src/bgp/wire/prefix.js';

/** Attributes with an AS_SEQUENCE path (numbers) or explicit segments. */
export function pa(path: number[] | PathAttrs['asPath'], more: Partial<PathAttrs> = {}): PathAttrs {
  const asPath = path.length > 0 && typeof path[0] === 'number' ? [{ type: 'sequence' as const, asns: path as number[] }] : (path as PathAttrs['asPath']);
  return { origin: 0, asPath, nextHop: '10.0.0.1', ...more };
}

export function u32(ip: string): number {
  return ipv4ToU32(ip);
}

const table = new AttrTable();

/** A decision-process candidate: eBGP from `peer` unless told otherwise. */
export function cand(
  attrs: PathAttrs,
  opts: { peer?: string; routerId?: string; ebgp?: boolean; local?: boolean; igpCost?: number } = {},
): Candidate {
  const peer = opts.peer ?? '10.0.0.1';
  return {
    attrs: table.intern(attrs),
    local: !!opts.local,
    ebgp: opts.ebgp ?? true,
    peerRouterId: u32(opts.routerId ?? peer),
    peerAddressKey: addressSortKey(peer),
    igpCost: opts.igpCost ?? 0,
  };
}

/** Deterministic PRNG (mulberry32) for randomized tests. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
