/**
 * Path attributes as the RIB keeps them, and their interning.
 *
 * Routes that arrive in one UPDATE share one attribute set, and real tables
 * have far fewer distinct attribute sets than prefixes (the benchmark: 1M
 * prefixes, 10k sets). So every distinct set exists once, as an immutable
 * `AttrSet` with a small integer id; the per-prefix tables store only that id
 * (BIRD's `rta` cache, `nest/rt-attr.c`, does the same in C).
 *
 * Interning hashes the fields structurally (the same information as the
 * canonical wire bytes, without building them) into an open-addressing table
 * of set ids (typed arrays, no Map entry per set) and compares field by field
 * on a hash hit. Sets are reference counted by the tables that store their id;
 * a set whose count is zero is freed only in `collect()`, run by the RIB after
 * each flush, so ids stay valid for the whole of a batch and a set that was
 * interned but never stored does not leak.
 */
import type { AsPath, AsSegmentType } from '../wire/as-path.js';
import type { LargeCommunity } from '../wire/communities.js';

export type Origin = 0 | 1 | 2;
export const ORIGIN_NAMES = ['igp', 'egp', 'incomplete'] as const;

export interface Aggregator {
  asn: number;
  /** BGP identifier of the aggregating speaker, dotted quad. */
  address: string;
}

/** An attribute the RIB does not interpret, passed on as the bytes it came with. */
export interface UnknownAttr {
  flags: number;
  type: number;
  value: Uint8Array;
}

/**
 * The attributes of a route, as the session hands them in and as views read
 * them. Absent optional attributes are `undefined`.
 */
export interface PathAttrs {
  origin: Origin;
  asPath: AsPath;
  /** '' when there is none: a locally originated route (next hop = ourselves). */
  nextHop: string;
  /** IPv6 link-local next hop (RFC 2545 §3), '' or absent when none. */
  nextHopLinkLocal?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: Aggregator;
  /** RFC 1997 communities as uint32. */
  communities?: readonly number[];
  largeCommunities?: readonly LargeCommunity[];
  /** RFC 4456 ORIGINATOR_ID as uint32. */
  originatorId?: number;
  /** RFC 4456 CLUSTER_LIST as uint32, first = most recent reflector. */
  clusterList?: readonly number[];
  /** Unrecognised optional transitive attributes (RFC 4271 §5, pass-through). */
  unknown?: readonly UnknownAttr[];
}

const NO_NUMBERS: readonly number[] = Object.freeze([]);
const NO_LARGE: readonly LargeCommunity[] = Object.freeze([]);
const NO_UNKNOWN: readonly UnknownAttr[] = Object.freeze([]);

/** RFC 4271 §9.1.2.2 (a): an AS_SET counts as one, confederation segments (RFC 5065 §5.3) as zero. */
export function asPathLength(path: AsPath): number {
  let n = 0;
  for (const s of path) {
    if (s.type === 'sequence') n += s.asns.length;
    else if (s.type === 'set') n += 1;
  }
  return n;
}

/**
 * The neighbouring AS for MED comparison (RFC 4271 §9.1.2.2 (c)): the first
 * AS of a leading AS_SEQUENCE (after any confederation segments), or 0 when
 * the path is empty or starts with an AS_SET, which callers read as "the
 * local AS".
 */
export function neighbourAs(path: AsPath): number {
  for (const s of path) {
    if (s.type === 'confed-sequence' || s.type === 'confed-set') continue;
    return s.type === 'sequence' ? s.asns[0]! : 0;
  }
  return 0;
}

/** The AS path as policy regexes see it: "65001 65002 {65003,65004}". */
export function asPathText(path: AsPath): string {
  const parts: string[] = [];
  for (const s of path) {
    if (s.type === 'sequence') parts.push(s.asns.join(' '));
    else if (s.type === 'set') parts.push(`{${s.asns.join(',')}}`);
    else if (s.type === 'confed-sequence') parts.push(`(${s.asns.join(' ')})`);
    else parts.push(`[${s.asns.join(',')}]`);
  }
  return parts.join(' ');
}

function mixInt(h: number, v: number): number {
  h = Math.imul(h ^ (v | 0), 0x5bd1e995);
  return h ^ (h >>> 15);
}

function mixString(h: number, s: string): number {
  h = mixInt(h, s.length);
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

const SEG_CODE: Readonly<Record<AsSegmentType, number>> = { set: 1, sequence: 2, 'confed-sequence': 3, 'confed-set': 4 };

function hashAttrs(a: PathAttrs): number {
  let h = 0x811c9dc5 ^ a.origin;
  h = mixInt(h, a.asPath.length);
  for (const s of a.asPath) {
    h = mixInt(h, SEG_CODE[s.type] * 1024 + s.asns.length);
    for (const asn of s.asns) h = mixInt(h, asn);
  }
  h = mixString(h, a.nextHop);
  h = mixString(h, a.nextHopLinkLocal ?? '');
  h = mixInt(h, a.med === undefined ? -1 : a.med);
  h = mixInt(h, a.localPref === undefined ? -1 : a.localPref);
  h = mixInt(h, a.atomicAggregate ? 1 : 0);
  if (a.aggregator) h = mixString(mixInt(h, a.aggregator.asn), a.aggregator.address);
  const c = a.communities ?? NO_NUMBERS;
  h = mixInt(h, c.length);
  for (const v of c) h = mixInt(h, v);
  const lc = a.largeCommunities ?? NO_LARGE;
  h = mixInt(h, lc.length);
  for (const v of lc) h = mixInt(mixInt(mixInt(h, v.globalAdmin), v.localData1), v.localData2);
  h = mixInt(h, a.originatorId === undefined ? -1 : a.originatorId);
  const cl = a.clusterList ?? NO_NUMBERS;
  h = mixInt(h, cl.length);
  for (const v of cl) h = mixInt(h, v);
  const u = a.unknown ?? NO_UNKNOWN;
  h = mixInt(h, u.length);
  for (const x of u) {
    h = mixInt(mixInt(mixInt(h, x.flags), x.type), x.value.length);
    for (let i = 0; i < x.value.length; i++) h = Math.imul(h ^ x.value[i]!, 0x01000193);
  }
  // Smi range, so Map keys stay small integers.
  return h & 0x3fffffff;
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function samePath(a: AsPath, b: AsPath): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.type !== b[i]!.type || !sameNumbers(a[i]!.asns, b[i]!.asns)) return false;
  }
  return true;
}

function sameLarge(a: readonly LargeCommunity[], b: readonly LargeCommunity[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.globalAdmin !== y.globalAdmin || x.localData1 !== y.localData1 || x.localData2 !== y.localData2) return false;
  }
  return true;
}

function sameUnknown(a: readonly UnknownAttr[], b: readonly UnknownAttr[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.flags !== y.flags || x.type !== y.type || x.value.length !== y.value.length) return false;
    for (let j = 0; j < x.value.length; j++) if (x.value[j] !== y.value[j]) return false;
  }
  return true;
}

/** Field-by-field equality of two attribute sets (the interning key). */
export function sameAttrs(a: PathAttrs, b: PathAttrs): boolean {
  return (
    a.origin === b.origin &&
    a.nextHop === b.nextHop &&
    (a.nextHopLinkLocal ?? '') === (b.nextHopLinkLocal ?? '') &&
    a.med === b.med &&
    a.localPref === b.localPref &&
    !!a.atomicAggregate === !!b.atomicAggregate &&
    a.originatorId === b.originatorId &&
    (a.aggregator === undefined
      ? b.aggregator === undefined
      : b.aggregator !== undefined && a.aggregator.asn === b.aggregator.asn && a.aggregator.address === b.aggregator.address) &&
    samePath(a.asPath, b.asPath) &&
    sameNumbers(a.communities ?? NO_NUMBERS, b.communities ?? NO_NUMBERS) &&
    sameLarge(a.largeCommunities ?? NO_LARGE, b.largeCommunities ?? NO_LARGE) &&
    sameNumbers(a.clusterList ?? NO_NUMBERS, b.clusterList ?? NO_NUMBERS) &&
    sameUnknown(a.unknown ?? NO_UNKNOWN, b.unknown ?? NO_UNKNOWN)
  );
}

/**
 * An exact-size copy (or the shared empty array). Decoders build arrays with
 * push(), which leaves spare capacity (a 1-element array from push holds
 * room for 17); a set lives long, so it keeps a right-sized copy.
 */
function compact<T>(xs: readonly T[] | undefined, empty: readonly T[]): readonly T[] {
  return xs !== undefined && xs.length > 0 ? xs.slice() : empty;
}

function shared<T>(xs: readonly T[] | undefined, empty: readonly T[]): readonly T[] {
  return xs !== undefined && xs.length > 0 ? xs : empty;
}

function compactPath(path: AsPath): AsPath {
  const out: AsPath = new Array(path.length);
  for (let i = 0; i < path.length; i++) out[i] = { type: path[i]!.type, asns: path[i]!.asns.slice() };
  return out;
}

/** The attributes most routes do not carry, and the AS-path text cache: one object, only when needed. */
interface RareAttrs {
  nextHopLinkLocal: string;
  atomicAggregate: boolean;
  aggregator: Aggregator | undefined;
  largeCommunities: readonly LargeCommunity[];
  originatorId: number | undefined;
  clusterList: readonly number[];
  unknown: readonly UnknownAttr[];
  pathText: string | undefined;
}

/**
 * One interned attribute set. Immutable apart from the bookkeeping fields
 * (`id`, `refs`, `nh`), which belong to the table and the RIB.
 *
 * Size matters (one per distinct set, and Node runs without pointer
 * compression: 8 bytes a field): the common attributes are own fields, the
 * rare ones (and caches) live in one optional object behind getters, and the
 * derived values (`pathLength`, `neighbourAs`) are computed when asked. About
 * 100 bytes plus the arrays.
 */
export class AttrSet implements PathAttrs {
  /** 0 once freed. */
  id: number;
  refs = 0;
  /**
   * Next-hop resolution cache, owned by the RIB: the IGP cost, -1 when the
   * next hop is unreachable, undefined when not resolved yet.
   */
  nh: number | undefined = undefined;

  readonly origin: Origin;
  readonly asPath: AsPath;
  readonly nextHop: string;
  readonly med: number | undefined;
  readonly localPref: number | undefined;
  readonly communities: readonly number[];
  private x: RareAttrs | undefined;

  /** `copy`: take exact-size copies of the arrays of `a` (else keep them, shared). */
  constructor(id: number, a: PathAttrs, copy: boolean) {
    this.id = id;
    this.origin = a.origin;
    this.asPath = copy ? compactPath(a.asPath) : a.asPath;
    this.nextHop = a.nextHop;
    this.med = a.med;
    this.localPref = a.localPref;
    this.communities = copy ? compact(a.communities, NO_NUMBERS) : shared(a.communities, NO_NUMBERS);
    const rare =
      !!a.nextHopLinkLocal ||
      !!a.atomicAggregate ||
      a.aggregator !== undefined ||
      (a.largeCommunities !== undefined && a.largeCommunities.length > 0) ||
      a.originatorId !== undefined ||
      (a.clusterList !== undefined && a.clusterList.length > 0) ||
      (a.unknown !== undefined && a.unknown.length > 0);
    this.x = rare
      ? {
          nextHopLinkLocal: a.nextHopLinkLocal ?? '',
          atomicAggregate: !!a.atomicAggregate,
          aggregator: a.aggregator,
          largeCommunities: copy ? compact(a.largeCommunities, NO_LARGE) : shared(a.largeCommunities, NO_LARGE),
          originatorId: a.originatorId,
          clusterList: copy ? compact(a.clusterList, NO_NUMBERS) : shared(a.clusterList, NO_NUMBERS),
          unknown: copy ? compact(a.unknown, NO_UNKNOWN) : shared(a.unknown, NO_UNKNOWN),
          pathText: undefined,
        }
      : undefined;
  }

  get nextHopLinkLocal(): string {
    return this.x === undefined ? '' : this.x.nextHopLinkLocal;
  }

  get atomicAggregate(): boolean {
    return this.x === undefined ? false : this.x.atomicAggregate;
  }

  get aggregator(): Aggregator | undefined {
    return this.x?.aggregator;
  }

  get largeCommunities(): readonly LargeCommunity[] {
    return this.x === undefined ? NO_LARGE : this.x.largeCommunities;
  }

  get originatorId(): number | undefined {
    return this.x?.originatorId;
  }

  get clusterList(): readonly number[] {
    return this.x === undefined ? NO_NUMBERS : this.x.clusterList;
  }

  get unknown(): readonly UnknownAttr[] {
    return this.x === undefined ? NO_UNKNOWN : this.x.unknown;
  }

  /** RFC 4271 §9.1.2.2 (a) length. */
  get pathLength(): number {
    return asPathLength(this.asPath);
  }

  /** First AS of the path for MED comparison; 0 = the local AS (see `neighbourAs`). */
  get neighbourAs(): number {
    return neighbourAs(this.asPath);
  }

  /** The AS path as policy regexes see it (cached when the set has rare attributes; else computed). */
  get pathText(): string {
    const x = this.x;
    if (x === undefined) return asPathText(this.asPath);
    if (x.pathText === undefined) x.pathText = asPathText(this.asPath);
    return x.pathText;
  }

  /** True when `asn` occurs anywhere in the path (sets and confed segments included). */
  /** How many times `asn` appears in AS_PATH (sequences and sets). */
  pathCount(asn: number): number {
    let n = 0;
    for (const s of this.asPath) for (const x of s.asns) if (x === asn) n++;
    return n;
  }

  pathContains(asn: number): boolean {
    for (const s of this.asPath) if (s.asns.includes(asn)) return true;
    return false;
  }

  hasCommunity(c: number): boolean {
    return this.communities.includes(c);
  }

  /** A plain copy with some fields replaced, to intern as a new set. */
  with(changes: Partial<PathAttrs>): PathAttrs {
    return {
      origin: this.origin,
      asPath: this.asPath,
      nextHop: this.nextHop,
      nextHopLinkLocal: this.nextHopLinkLocal,
      med: this.med,
      localPref: this.localPref,
      atomicAggregate: this.atomicAggregate,
      aggregator: this.aggregator,
      communities: this.communities,
      largeCommunities: this.largeCommunities,
      originatorId: this.originatorId,
      clusterList: this.clusterList,
      unknown: this.unknown,
      ...changes,
    };
  }
}

/** The table of interned attribute sets. */
export class AttrTable {
  private byId: (AttrSet | undefined)[] = [undefined];
  /** Structural hash of each live set, by id. */
  private hashes = new Int32Array(1024);
  /** Open addressing (linear probing): set id per slot, 0 = empty. */
  private slots = new Int32Array(1024);
  private mask = 1023;
  private freeIds: number[] = [];
  private zero: AttrSet[] = [];
  private live = 0;
  /**
   * Incremented whenever `collect()` frees a set. Caches keyed by set ids
   * compare it to know their keys may have been reused.
   */
  epoch = 0;

  /** Live sets (interned and not yet collected). */
  get size(): number {
    return this.live;
  }

  /**
   * The interned set equal to `a` (the same object when `a` is already a live
   * interned set). A new set starts with no references; store its id with
   * `retain` or it is freed at the next `collect()`.
   *
   * A new set copies the arrays of `a` to exact size (decoders leave spare
   * capacity, and sets live long). With `shareArrays` it keeps them instead:
   * the RIB does that for sets it derives from interned ones (export
   * rewrites, policy results), which then share the unchanged arrays with
   * their source. Either way the arrays of a set must never change (they are
   * not frozen: Object.freeze costs more than the rest of interning).
   */
  intern(a: PathAttrs, shareArrays = false): AttrSet {
    if (a instanceof AttrSet && a.id !== 0) return a;
    const h = hashAttrs(a);
    const slots = this.slots;
    const mask = this.mask;
    let i = h & mask;
    for (;;) {
      const id = slots[i]!;
      if (id === 0) break;
      if (this.hashes[id] === h) {
        const s = this.byId[id]!;
        if (sameAttrs(s, a)) return s;
      }
      i = (i + 1) & mask;
    }
    let id = this.freeIds.pop();
    if (id === undefined) {
      id = this.byId.length;
      if (id >= 0x40000000) throw new RangeError('AttrTable: more than 2^30 attribute sets');
      this.byId.push(undefined);
      if (id >= this.hashes.length) {
        const hs = new Int32Array(this.hashes.length * 2);
        hs.set(this.hashes);
        this.hashes = hs;
      }
    }
    const set = new AttrSet(id, a, !shareArrays);
    this.byId[id] = set;
    this.hashes[id] = h;
    slots[i] = id;
    this.live++;
    if (this.live * 2 > mask) this.rehash((mask + 1) * 2);
    this.zero.push(set);
    return set;
  }

  /** The live set with this id (throws when there is none: a RIB bug). */
  get(id: number): AttrSet {
    const s = this.byId[id];
    if (s === undefined) throw new Error(`AttrTable: no attribute set ${id}`);
    return s;
  }

  retain(set: AttrSet): void {
    set.refs++;
  }

  retainId(id: number): void {
    this.byId[id]!.refs++;
  }

  release(set: AttrSet): void {
    if (--set.refs === 0) this.zero.push(set);
    else if (set.refs < 0) throw new Error(`AttrTable: release of unreferenced set ${set.id}`);
  }

  releaseId(id: number): void {
    this.release(this.byId[id]!);
  }

  /** Frees the sets whose count is zero; returns how many. */
  collect(): number {
    const q = this.zero;
    if (q.length === 0) return 0;
    this.zero = [];
    let freed = 0;
    for (const s of q) {
      if (s.refs !== 0 || s.id === 0) continue;
      this.unlink(s.id);
      this.byId[s.id] = undefined;
      this.freeIds.push(s.id);
      s.id = 0;
      this.live--;
      freed++;
    }
    if (freed > 0) this.epoch++;
    return freed;
  }

  /** Calls fn for every live set. */
  forEach(fn: (s: AttrSet) => void): void {
    for (const s of this.byId) if (s !== undefined) fn(s);
  }

  private unlink(id: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let i = this.hashes[id]! & mask;
    while (slots[i] !== id) i = (i + 1) & mask;
    // Backward-shift deletion.
    let hole = i;
    let j = (i + 1) & mask;
    for (;;) {
      const k = slots[j]!;
      if (k === 0) break;
      const home = this.hashes[k]! & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots[hole] = k;
        hole = j;
      }
      j = (j + 1) & mask;
    }
    slots[hole] = 0;
  }

  private rehash(size: number): void {
    const old = this.slots;
    const slots = new Int32Array(size);
    const mask = size - 1;
    for (let j = 0; j < old.length; j++) {
      const id = old[j]!;
      if (id === 0) continue;
      let i = this.hashes[id]! & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = id;
    }
    this.slots = slots;
    this.mask = mask;
  }
}
