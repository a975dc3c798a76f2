/**
 * Between the wire's path attributes (what the codec decodes and encodes) and
 * the RIB's (what it interns and decides on). Pure.
 */
import { AFI_IPV6, SAFI_UNICAST, ipv4ToU32, u32ToIpv4, type PathAttributes } from '../wire/index.js';
import type { PathAttrs } from '../rib/index.js';

const ORIGIN_CODE = { igp: 0, egp: 1, incomplete: 2 } as const;
const ORIGIN_TEXT = ['igp', 'egp', 'incomplete'] as const;

/** RIB attributes of routes received with `a`; `nextHop`/`linkLocal` are the family's next hops. */
export function wireToRib(a: PathAttributes, nextHop: string, linkLocal?: string): PathAttrs {
  const out: PathAttrs = {
    origin: ORIGIN_CODE[a.origin ?? 'incomplete'],
    asPath: a.asPath ?? [],
    nextHop,
  };
  if (linkLocal) out.nextHopLinkLocal = linkLocal;
  if (a.med !== undefined) out.med = a.med;
  if (a.localPref !== undefined) out.localPref = a.localPref;
  if (a.atomicAggregate) out.atomicAggregate = true;
  if (a.aggregator) out.aggregator = a.aggregator;
  if (a.communities?.length) out.communities = a.communities;
  if (a.largeCommunities?.length) out.largeCommunities = a.largeCommunities;
  if (a.originatorId) out.originatorId = ipv4ToU32(a.originatorId);
  if (a.clusterList?.length) out.clusterList = a.clusterList.map(ipv4ToU32);
  if (a.unknown?.length) out.unknown = a.unknown.map((u) => ({ flags: u.flags, type: u.typeCode, value: u.value }));
  return out;
}

/**
 * Wire attributes to send for routes of one family with RIB attributes `a`
 * (already through the export rules: next hop, AS path, LOCAL_PREF decided).
 */
export function ribToWire(a: PathAttrs, family: 4 | 6): PathAttributes {
  const out: PathAttributes = { origin: ORIGIN_TEXT[a.origin], asPath: a.asPath as PathAttributes['asPath'] };
  if (family === 4) out.nextHop = a.nextHop;
  else {
    out.mpReach = { afi: AFI_IPV6, safi: SAFI_UNICAST, nextHop: a.nextHop, nlri: [] };
    if (a.nextHopLinkLocal) out.mpReach.linkLocalNextHop = a.nextHopLinkLocal;
  }
  if (a.med !== undefined) out.med = a.med;
  if (a.localPref !== undefined) out.localPref = a.localPref;
  if (a.atomicAggregate) out.atomicAggregate = true;
  if (a.aggregator) out.aggregator = { asn: a.aggregator.asn, address: a.aggregator.address };
  if (a.communities?.length) out.communities = a.communities.slice();
  if (a.largeCommunities?.length) out.largeCommunities = a.largeCommunities.slice();
  if (a.originatorId !== undefined) out.originatorId = u32ToIpv4(a.originatorId);
  if (a.clusterList?.length) out.clusterList = a.clusterList.map(u32ToIpv4);
  if (a.unknown?.length) out.unknown = a.unknown.map((u) => ({ typeCode: u.type, flags: u.flags, value: Buffer.from(u.value) }));
  return out;
}
