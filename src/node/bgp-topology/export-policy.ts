/**
 * What this node originates and which routes it lets out, as Calico's BIRD
 * export function `calico_export_to_bgp_peers` (confd: bird_ipam.cfg,
 * bird_aggr.cfg; the pool statements come from confd's BGP processor),
 * expressed as one tabby BGP filter (first matching term decides):
 *
 *   1. reject anything inside a pool with `disableBGPExport`;
 *   2. (communities of `prefixAdvertisements` are added to what is accepted,
 *      see below);
 *   3. "calico_aggr": this node's own blocks leave as the whole block only:
 *      the block itself is accepted, anything more specific inside it is
 *      rejected (Calico lets a more specific route out only when Felix gave
 *      it an elevated priority, which tabby's routes never have);
 *   4. accept the service ranges this node advertises (static routes);
 *   5. on a route reflector: accept anything inside the LoadBalancer and
 *      external service IP ranges (IPv4, as Calico), so per-service /32s of
 *      other nodes are reflected;
 *   6. accept anything inside an IP pool (disabled pools included: Calico's
 *      statements look at disableBGPExport only), whoever originated it;
 *   7. reject the rest.
 *
 * Calico adds the communities of every matching prefix advertisement and
 * carries on; a tabby filter term both sets and decides. CIDRs are nested
 * or disjoint, so the advertisements that cover one route form a chain: a
 * term per advertisement, most specific first, restricted to what rule 3-6
 * accept and setting the union of its chain's communities, gives the same
 * result.
 *
 * Calico's iBGP-only clause (do not export routes through Felix's tunnel
 * devices) has nothing to act on here: the speaker exports only what it
 * originates or learned over BGP, never kernel routes.
 */
import { ip } from '../../datastore/resources/index.js';

type IpNet = ip.IpNet;

/** A prefix-list entry: prefixes inside `net` with a length in [ge, le]. */
export interface PrefixRange {
  net: IpNet;
  ge: number;
  le: number;
}

export interface ExportTerm {
  match: { prefix: string[] };
  action: 'accept' | 'reject';
  set?: { addCommunities?: string[]; addLargeCommunities?: string[] };
}

export interface ExportPolicyInput {
  /** This node's affine blocks (canonical CIDRs). */
  ownBlocks: readonly string[];
  /** Service ranges this node originates (static routes). */
  serviceRanges: readonly string[];
  /** Route reflectors only: LoadBalancer and external IP ranges, IPv4 (Calico reflects the /32s inside them). */
  reflectedServiceRanges: readonly string[];
  /** Pools with disableBGPExport. */
  rejectedPools: readonly string[];
  /** All other pools. */
  exportedPools: readonly string[];
  /** Effective prefixAdvertisements, community names already resolved to values. */
  advertisements: readonly { cidr: string; communities: readonly string[] }[];
}

const bits = (n: IpNet) => ip.familyBits(n.family);

function net(cidr: string): IpNet {
  const n = ip.parseCidr(cidr, { bareIp: true });
  if (!n) throw new Error(`not a CIDR: ${cidr}`);
  return { family: n.family, addr: ip.networkOf(n), prefixLength: n.prefixLength };
}

const within = (cidr: string): PrefixRange => {
  const n = net(cidr);
  return { net: n, ge: n.prefixLength, le: bits(n) };
};
const exactly = (cidr: string): PrefixRange => {
  const n = net(cidr);
  return { net: n, ge: n.prefixLength, le: n.prefixLength };
};

/** The text tabby's filter syntax takes (src/bgp/config.ts parsePrefixMatch). */
export function formatRange(r: PrefixRange): string {
  const p = ip.canonicalNetwork(r.net);
  if (r.ge === r.net.prefixLength && r.le === r.net.prefixLength) return p;
  if (r.ge === r.net.prefixLength) return `${p} le ${r.le}`;
  return `${p} ge ${r.ge} le ${r.le}`;
}

/** `a` is `b` or inside it. */
function inside(a: IpNet, b: IpNet): boolean {
  return a.family === b.family && a.prefixLength >= b.prefixLength && ip.cidrContains(b, { family: a.family, value: a.addr });
}

/** The prefixes of `r` that lie inside `outer` (any length), or undefined when none do. */
export function intersectWithin(r: PrefixRange, outer: IpNet): PrefixRange | undefined {
  if (inside(r.net, outer)) return r;
  if (inside(outer, r.net)) {
    const ge = Math.max(r.ge, outer.prefixLength);
    return ge <= r.le ? { net: outer, ge, le: r.le } : undefined;
  }
  return undefined;
}

function uniq(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

export function exportTerms(input: ExportPolicyInput): ExportTerm[] {
  const terms: ExportTerm[] = [];
  const rejects = uniq([
    ...input.rejectedPools.map((c) => formatRange(within(c))),
    // More specific than one of our blocks: only the block itself leaves (calico_aggr).
    ...input.ownBlocks
      .map(net)
      .filter((n) => n.prefixLength < bits(n))
      .map((n) => formatRange({ net: n, ge: n.prefixLength + 1, le: bits(n) })),
  ]);
  if (rejects.length) terms.push({ match: { prefix: rejects }, action: 'reject' });

  const accepted: PrefixRange[] = [
    ...input.ownBlocks.map(exactly),
    ...input.serviceRanges.map(within),
    ...input.reflectedServiceRanges.map(within),
    ...input.exportedPools.map(within),
  ];

  // Communities: one term per advertised CIDR, most specific first, with the communities of every advertisement that covers it.
  const ads = new Map<string, { n: IpNet; communities: string[] }>();
  for (const a of input.advertisements) {
    const n = net(a.cidr);
    const key = ip.canonicalNetwork(n);
    const cur = ads.get(key) ?? { n, communities: [] };
    cur.communities.push(...a.communities);
    ads.set(key, cur);
  }
  const byLength = [...ads.values()].sort((a, b) => b.n.prefixLength - a.n.prefixLength || (a.n.addr < b.n.addr ? -1 : a.n.addr > b.n.addr ? 1 : 0));
  for (const a of byLength) {
    const chain = uniq(byLength.filter((o) => inside(a.n, o.n)).flatMap((o) => o.communities));
    const prefix = uniq(accepted.map((r) => intersectWithin(r, a.n)).filter((r): r is PrefixRange => r !== undefined).map(formatRange));
    if (!prefix.length || !chain.length) continue;
    const std = chain.filter((c) => c.split(':').length === 2);
    const large = chain.filter((c) => c.split(':').length === 3);
    terms.push({ match: { prefix }, action: 'accept', set: { ...(std.length ? { addCommunities: std } : {}), ...(large.length ? { addLargeCommunities: large } : {}) } });
  }

  const plain = uniq(accepted.map(formatRange));
  if (plain.length) terms.push({ match: { prefix: plain }, action: 'accept' });
  return terms;
}
