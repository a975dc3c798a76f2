/**
 * Read-only views of the RIB for the control socket: the rows of
 * `tabby routes` (architecture.md, "routes[]") and the per-peer prefix
 * counters of `tabby status`.
 */
import { formatCommunity, formatLargeCommunity } from '../wire/communities.js';
import type { AsPath } from '../wire/as-path.js';
import { ORIGIN_NAMES } from './attrs.js';
import type { BestPathReason } from './decision.js';
import type { BgpRib } from './rib.js';

export interface RouteView {
  prefix: string;
  /** '' for a route we originate (the next hop is ourselves). */
  nextHop: string;
  /** AS numbers in order; an AS_SET is a nested array. */
  asPath: (number | number[])[];
  origin: 'igp' | 'egp' | 'incomplete';
  med: number | null;
  localPref: number | null;
  communities: string[];
  largeCommunities: string[];
  /** Address of the peer it came from, or "local". */
  peer: string;
  best: boolean;
  /** Why it is the best route (best routes only). */
  reason?: BestPathReason;
  /** Kept from a restarting peer (RFC 4724), awaiting refresh. */
  stale?: boolean;
}

export function asPathJson(path: AsPath): (number | number[])[] {
  const out: (number | number[])[] = [];
  for (const s of path) {
    if (s.type === 'sequence' || s.type === 'confed-sequence') out.push(...s.asns);
    else out.push(s.asns.slice());
  }
  return out;
}

/** Every candidate route (best first within a prefix), optionally of one prefix. */
export function routeViews(rib: BgpRib, opts: { prefix?: string } = {}): RouteView[] {
  const rows: RouteView[] = [];
  const add = (pid: number) => {
    const prefix = rib.prefixes.text(pid);
    for (const c of rib.candidates(pid)) {
      const a = c.attrs;
      const row: RouteView = {
        prefix,
        nextHop: a.nextHop,
        asPath: asPathJson(a.asPath),
        origin: ORIGIN_NAMES[a.origin],
        med: a.med ?? null,
        localPref: a.localPref ?? null,
        communities: a.communities.map(formatCommunity),
        largeCommunities: a.largeCommunities.map(formatLargeCommunity),
        peer: c.peer.local ? 'local' : c.peer.address,
        best: c.best,
      };
      if (c.reason !== undefined) row.reason = c.reason;
      if (c.stale) row.stale = true;
      rows.push(row);
    }
  };
  if (opts.prefix !== undefined) {
    const pid = rib.prefixes.findText(opts.prefix);
    if (pid >= 0) add(pid);
    return rows;
  }
  rib.forEachPrefix(add);
  return rows;
}
