/**
 * Which best routes a peer may be sent, and with which attributes: pure
 * functions of (where the route came from, the attributes, the destination).
 * The RIB evaluates them once per (attribute set, source kind, destination)
 * and caches the result, so they run per attribute set, not per prefix.
 *
 * `mayAdvertise` (RFC 4271 §9.2, RFC 1997, RFC 4456 §6):
 *  - never back to the peer the route came from (checked by the caller);
 *  - NO_ADVERTISE: to nobody; NO_EXPORT and NO_EXPORT_SUBCONFED: not to
 *    eBGP peers (without confederations every eBGP peer is outside);
 *  - iBGP-learned routes are not sent to iBGP peers (§9.2.1 split horizon)
 *    unless reflecting: from a client to every iBGP peer, from a non-client
 *    to clients only (RFC 4456 §6).
 *
 * `exportAttrs`:
 *  - eBGP: our AS prepended (1 + policy `prepend` times, RFC 4271 §5.1.2),
 *    confederation segments removed, NEXT_HOP = our session address (§5.1.3;
 *    IPv6: our global address, plus our link-local when the session shares a
 *    link, RFC 2545 §3), LOCAL_PREF removed (§5.1.5), ORIGINATOR_ID and
 *    CLUSTER_LIST removed, MED removed when the route was learned from a peer
 *    (§5.1.4: a received MED is not propagated to other ASes) and kept when we
 *    originated it — policy `set med` applies after that, so an operator can
 *    still send one;
 *  - iBGP: AS_PATH unchanged; LOCAL_PREF kept, 100 (defaultLocalPref) when
 *    missing (§5.1.5 says it MUST be sent); NEXT_HOP kept, except ours for
 *    locally originated routes and, with `nextHopSelf`, for routes learned
 *    from eBGP (reflected routes keep theirs, as RFC 4456 §10 expects);
 *    reflected routes get ORIGINATOR_ID (when absent: the BGP identifier of
 *    the peer we learned it from) and our CLUSTER_ID prepended to
 *    CLUSTER_LIST (RFC 4456 §8). Policy `prepend` is ignored towards iBGP
 *    (our own AS in the path would make every iBGP peer drop the route as a
 *    loop);
 *  - both: unrecognised transitive attributes keep going with the Partial
 *    bit set (RFC 4271 §4.3, §5).
 */
import { prependAs } from '../policy/actions.js';
import { ATTR_FLAG_PARTIAL, COMMUNITY_NO_ADVERTISE, COMMUNITY_NO_EXPORT, COMMUNITY_NO_EXPORT_SUBCONFED } from '../wire/constants.js';
import type { AsPath } from '../wire/as-path.js';
import type { AttrSet, PathAttrs } from './attrs.js';

/** Where a Loc-RIB route came from, as far as export rules care. */
export const SourceKind = { Local: 0, Ebgp: 1, Ibgp: 2, IbgpClient: 3 } as const;
export type SourceKind = (typeof SourceKind)[keyof typeof SourceKind];

export interface ExportDestination {
  ebgp: boolean;
  routeReflectorClient: boolean;
  nextHopSelf: boolean;
  /** eBGP: keep the next hop of learned routes instead of setting our own. */
  nextHopKeep?: boolean;
  /** Our address on the session for IPv4 next hops ('' when unknown). */
  nextHopV4: string;
  /** Our global IPv6 address for IPv6 next hops ('' when unknown). */
  nextHopV6: string;
  /** Our IPv6 link-local address when the peer shares the link ('' otherwise). */
  linkLocalV6: string;
}

export type ExportBlock = 'no-advertise' | 'no-export' | 'ibgp-split-horizon';

/** Why a route may not go to this destination, or undefined when it may. */
export function exportBlock(src: SourceKind, a: AttrSet, dest: ExportDestination): ExportBlock | undefined {
  const c = a.communities;
  if (c.length > 0) {
    if (c.includes(COMMUNITY_NO_ADVERTISE)) return 'no-advertise';
    if (dest.ebgp && (c.includes(COMMUNITY_NO_EXPORT) || c.includes(COMMUNITY_NO_EXPORT_SUBCONFED))) return 'no-export';
  }
  if (!dest.ebgp && src === SourceKind.Ibgp && !dest.routeReflectorClient) return 'ibgp-split-horizon';
  return undefined;
}

export interface ExportOptions {
  localAs: number;
  clusterId: number;
  defaultLocalPref: number;
  /** BGP identifier of the peer the route came from (for ORIGINATOR_ID). */
  sourceRouterId: number;
  /** Policy `prepend` count (eBGP only). */
  prepend: number;
}

function stripConfed(path: AsPath): AsPath {
  return path.some((s) => s.type === 'confed-sequence' || s.type === 'confed-set')
    ? path.filter((s) => s.type !== 'confed-sequence' && s.type !== 'confed-set')
    : path;
}

/**
 * The attributes to send, before policy set actions (`finishExport` runs
 * after them); undefined when the route cannot be sent because we have no
 * next hop of that family on this session.
 */
export function exportAttrs(src: SourceKind, a: AttrSet, dest: ExportDestination, v6: boolean, opts: ExportOptions): PathAttrs | undefined {
  const selfV4 = dest.nextHopV4;
  const selfV6 = dest.nextHopV6;
  const unknown = a.unknown.length > 0 ? a.unknown.map((u) => ({ flags: u.flags | ATTR_FLAG_PARTIAL, type: u.type, value: u.value })) : a.unknown;
  if (dest.ebgp) {
    // `nextHopKeep` (BIRD `next hop keep`, Calico keepOriginalNextHop): a
    // learned route keeps its next hop towards eBGP too (RFC 4271 §5.1.3
    // allows a third-party next hop on a shared subnet); ours get our address.
    const keep = dest.nextHopKeep && src !== SourceKind.Local && a.nextHop !== '';
    const nh = keep ? a.nextHop : v6 ? selfV6 : selfV4;
    if (nh === '') return undefined;
    return a.with({
      asPath: prependAs(stripConfed(a.asPath), opts.localAs, 1 + opts.prepend),
      nextHop: nh,
      nextHopLinkLocal: keep ? '' : v6 ? dest.linkLocalV6 : '',
      localPref: undefined,
      med: src === SourceKind.Local ? a.med : undefined,
      originatorId: undefined,
      clusterList: [],
      unknown,
    });
  }
  const changes: Partial<PathAttrs> = { unknown };
  if (a.localPref === undefined) changes.localPref = opts.defaultLocalPref;
  const self = src === SourceKind.Local ? a.nextHop === '' : src === SourceKind.Ebgp && dest.nextHopSelf;
  if (self) {
    const nh = v6 ? selfV6 : selfV4;
    if (nh === '') return undefined;
    changes.nextHop = nh;
    changes.nextHopLinkLocal = v6 ? dest.linkLocalV6 : '';
  } else {
    // A link-local next hop only means something on the link it was learned on.
    changes.nextHopLinkLocal = '';
  }
  if (src === SourceKind.Ibgp || src === SourceKind.IbgpClient) {
    changes.originatorId = a.originatorId ?? opts.sourceRouterId;
    changes.clusterList = [opts.clusterId, ...a.clusterList];
  }
  return a.with(changes);
}

/** Rules that hold whatever policy did: no LOCAL_PREF towards eBGP (RFC 4271 §5.1.5). */
export function finishExport(a: PathAttrs, destEbgp: boolean): PathAttrs {
  return destEbgp && a.localPref !== undefined ? { ...a, localPref: undefined } : a;
}
