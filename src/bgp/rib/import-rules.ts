/**
 * What happens to a received attribute set before policy: pure functions,
 * evaluated once per attribute set (once per UPDATE), never per prefix.
 *
 * Rejections are "treat-as-withdraw" (RFC 7606 §2): the prefixes of the
 * UPDATE are removed from the peer's Adj-RIB-In as if withdrawn, counted as
 * received but not accepted, and the session stays up.
 *  - AS loop: our AS anywhere in AS_PATH (RFC 4271 §9.1.2: such a route is
 *    excluded from the decision process).
 *  - Enforce-first-AS on eBGP: the leftmost AS must be the peer's (RFC 4271
 *    §6.3 "MAY check"; a failure is a Malformed AS_PATH, which RFC 7606 §7.2
 *    handles as treat-as-withdraw). FRR and Cisco do the same check on by
 *    default for eBGP.
 *  - RFC 4456 §8: ORIGINATOR_ID equal to our router id, or our CLUSTER_ID in
 *    CLUSTER_LIST: a reflection loop.
 *
 * Normalisation (`importChanges`):
 *  - from eBGP, LOCAL_PREF is dropped (RFC 4271 §5.1.5: it is only
 *    meaningful inside the AS) and so are ORIGINATOR_ID and CLUSTER_LIST
 *    (RFC 4456 attributes are optional non-transitive, never valid across an
 *    AS boundary; BIRD drops them too);
 *  - unrecognised non-transitive attributes are dropped (RFC 4271 §5: "MUST
 *    be quietly ignored and not passed along"); unrecognised transitive ones
 *    stay and get the Partial bit when passed on (export rules).
 */
import { ATTR_FLAG_TRANSITIVE } from '../wire/constants.js';
import type { AttrSet, PathAttrs } from './attrs.js';

export type ImportVerdict = 'ok' | 'as-loop' | 'first-as' | 'originator-id-loop' | 'cluster-list-loop';

export interface ImportContext {
  localAs: number;
  /** Our BGP identifier, uint32. */
  routerId: number;
  /** Our route-reflection CLUSTER_ID, uint32 (defaults to the router id). */
  clusterId: number;
  peerAs: number;
  ebgp: boolean;
  enforceFirstAs: boolean;
  /** Accept routes with our AS in AS_PATH up to this many times (BIRD `allow local as`, "allowas-in"; Calico numAllowedLocalASNumbers). */
  allowOwnAs?: number;
}

export function checkImport(a: AttrSet, ctx: ImportContext): ImportVerdict {
  if (ctx.ebgp && ctx.enforceFirstAs) {
    const first = a.asPath[0];
    if (!first || first.type !== 'sequence' || first.asns[0] !== ctx.peerAs) return 'first-as';
  }
  if (ctx.allowOwnAs ? a.pathCount(ctx.localAs) > ctx.allowOwnAs : a.pathContains(ctx.localAs)) return 'as-loop';
  if (!ctx.ebgp) {
    if (a.originatorId !== undefined && a.originatorId === ctx.routerId) return 'originator-id-loop';
    if (a.clusterList.includes(ctx.clusterId)) return 'cluster-list-loop';
  }
  return 'ok';
}

/** The changes normalisation makes to `a`, or undefined when it keeps `a` as it is. */
export function importChanges(a: AttrSet, ebgp: boolean): Partial<PathAttrs> | undefined {
  let changes: Partial<PathAttrs> | undefined;
  if (ebgp && (a.localPref !== undefined || a.originatorId !== undefined || a.clusterList.length > 0)) {
    changes = { localPref: undefined, originatorId: undefined, clusterList: [] };
  }
  if (a.unknown.some((u) => (u.flags & ATTR_FLAG_TRANSITIVE) === 0)) {
    changes = { ...changes, unknown: a.unknown.filter((u) => (u.flags & ATTR_FLAG_TRANSITIVE) !== 0) };
  }
  return changes;
}
