/**
 * The BGP decision process (RFC 4271 §9.1.2, tie-breaking §9.1.2.2, with
 * RFC 4456 §9 for reflected routes): pure, over the candidates of one prefix
 * that are eligible (next hop resolvable, no loop: the caller checks).
 *
 * Steps in order; each removes the candidates that lose, and the step that
 * leaves a single candidate is recorded as the `BestPathReason` (GoBGP keeps
 * the same for `show rib`, so `tabby routes` can say why a path won):
 *
 *  1. highest degree of preference: LOCAL_PREF, missing = `defaultLocalPref`
 *     (100; eBGP-learned routes have it stripped on import, §5.1.5);
 *  2. locally originated routes over learned ones (Cisco/GoBGP place it here);
 *  3. shortest AS_PATH (AS_SET counts 1, confederation segments 0, §9.1.2.2 a);
 *  4. lowest ORIGIN (§9.1.2.2 b);
 *  5. lowest MED among routes from the same neighbouring AS, missing MED = 0
 *     (§9.1.2.2 c), or among all routes with `alwaysCompareMed`. This is the
 *     RFC's set elimination, not a pairwise comparison, so the result does not
 *     depend on the order of candidates (MED is not transitive pairwise);
 *  6. eBGP-learned over iBGP-learned (§9.1.2.2 d);
 *  7. lowest IGP cost to the next hop (§9.1.2.2 e; injected, 0 when unknown);
 *     the routes still in the running here are the equal-cost multipath set;
 *  8. lowest BGP Identifier of the advertising peer, or the ORIGINATOR_ID
 *     when the route carries one (§9.1.2.2 f, RFC 4456 §9);
 *  9. shortest CLUSTER_LIST (RFC 4456 §9);
 * 10. lowest peer address (§9.1.2.2 g).
 */
import type { AttrSet } from './attrs.js';

export type BestPathReason =
  | 'only-path'
  | 'local-pref'
  | 'local-origin'
  | 'as-path-length'
  | 'origin'
  | 'med'
  | 'ebgp-over-ibgp'
  | 'igp-cost'
  | 'router-id'
  | 'cluster-list-length'
  | 'peer-address';

export interface Candidate {
  attrs: AttrSet;
  /** Originated by this speaker. */
  local: boolean;
  /** Learned over an eBGP session. */
  ebgp: boolean;
  /** BGP Identifier of the peer it came from (ours for local routes), uint32. */
  peerRouterId: number;
  /** Sortable form of the peer's address (`addressSortKey`). */
  peerAddressKey: string;
  /** IGP cost to the next hop. */
  igpCost: number;
}

export interface DecisionOptions {
  localAs: number;
  defaultLocalPref: number;
  alwaysCompareMed: boolean;
  /** Maximum members of the multipath set (1 = no multipath). */
  multipath: number;
}

export interface Decision {
  /** Index into the candidates. */
  best: number;
  reason: BestPathReason;
  /** Indices of the multipath set, best first (just [best] without multipath). */
  multipath: number[];
}

/** A string that sorts IPv4 before IPv6 and numerically within a family. */
export function addressSortKey(address: string): string {
  if (address === '') return '';
  if (address.indexOf(':') < 0) {
    const p = address.split('.').map(Number);
    return '4' + p.map((o) => o.toString(16).padStart(2, '0')).join('');
  }
  // Expand "::" and render 8 zero-padded groups.
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return '6' + groups.map((g) => g.padStart(4, '0').toLowerCase()).join('');
}

function keepMin(alive: number[], value: (i: number) => number): number[] {
  let min = Infinity;
  for (const i of alive) {
    const v = value(i);
    if (v < min) min = v;
  }
  return alive.filter((i) => value(i) === min);
}

/** Runs the decision process; undefined when there is no candidate. */
export function decide(cands: readonly Candidate[], opts: DecisionOptions): Decision | undefined {
  const n = cands.length;
  if (n === 0) return undefined;
  if (n === 1) return { best: 0, reason: 'only-path', multipath: [0] };
  let alive: number[] = [];
  for (let i = 0; i < n; i++) alive.push(i);
  let reason: BestPathReason | undefined;
  const step = (next: number[], why: BestPathReason): void => {
    if (reason === undefined && next.length === 1 && alive.length > 1) reason = why;
    alive = next;
  };

  step(keepMin(alive, (i) => -(cands[i]!.attrs.localPref ?? opts.defaultLocalPref)), 'local-pref');
  if (alive.some((i) => cands[i]!.local)) step(alive.filter((i) => cands[i]!.local), 'local-origin');
  step(keepMin(alive, (i) => cands[i]!.attrs.pathLength), 'as-path-length');
  step(keepMin(alive, (i) => cands[i]!.attrs.origin), 'origin');
  step(medStep(cands, alive, opts), 'med');
  if (alive.some((i) => cands[i]!.ebgp)) step(alive.filter((i) => cands[i]!.ebgp), 'ebgp-over-ibgp');
  step(keepMin(alive, (i) => cands[i]!.igpCost), 'igp-cost');

  // The rest are total orders: sort the equal-cost set by them; its head is the best.
  const rid = (i: number) => cands[i]!.attrs.originatorId ?? cands[i]!.peerRouterId;
  const sorted = alive.slice().sort((a, b) => {
    const r = rid(a) - rid(b);
    if (r !== 0) return r;
    const c = cands[a]!.attrs.clusterList.length - cands[b]!.attrs.clusterList.length;
    if (c !== 0) return c;
    const ka = cands[a]!.peerAddressKey;
    const kb = cands[b]!.peerAddressKey;
    return ka < kb ? -1 : ka > kb ? 1 : a - b;
  });
  if (reason === undefined) {
    const a = sorted[0]!;
    const b = sorted[1]!;
    if (rid(a) !== rid(b)) reason = 'router-id';
    else if (cands[a]!.attrs.clusterList.length !== cands[b]!.attrs.clusterList.length) reason = 'cluster-list-length';
    else reason = 'peer-address';
  }
  const mp = opts.multipath > 1 ? sorted.slice(0, opts.multipath) : [sorted[0]!];
  return { best: sorted[0]!, reason, multipath: mp };
}

/**
 * RFC 4271 §9.1.2.2 (c): among routes with the same neighbouring AS, remove
 * every route whose MED is higher than the lowest of that group.
 */
function medStep(cands: readonly Candidate[], alive: number[], opts: DecisionOptions): number[] {
  const med = (i: number) => cands[i]!.attrs.med ?? 0;
  if (opts.alwaysCompareMed) return keepMin(alive, med);
  const minByAs = new Map<number, number>();
  const nas = (i: number) => cands[i]!.attrs.neighbourAs || opts.localAs;
  for (const i of alive) {
    const k = nas(i);
    const m = med(i);
    const cur = minByAs.get(k);
    if (cur === undefined || m < cur) minByAs.set(k, m);
  }
  return alive.filter((i) => med(i) === minByAs.get(nas(i)));
}
