/**
 * Import/export policies compiled from the config's `filters:` (and the
 * names `all` and `none`) into evaluators built for the RIB's hot path.
 *
 * A term's conditions split into two kinds, evaluated at different rates:
 *  - attribute conditions (communities, large communities, AS-path regex,
 *    AS-path-contains, origin) depend only on the attribute set, which all
 *    prefixes of one UPDATE share. `attrFlags(set)` evaluates them once per
 *    set into one flag per term;
 *  - prefix conditions (prefix lists, family) are checked per prefix by
 *    `decide(flags, index, pid)`, with compiled `PrefixSet`s (no parsing, no
 *    string work for IPv4).
 * Regexes are compiled once here and run against the set's cached AS-path
 * text; nothing is compiled per route.
 *
 * `decide` returns the index of the accepting term (so the caller can cache
 * the attributes that term's `set:` produces per attribute set),
 * `defaultAccepted` (= number of terms: accepted by the filter's default, no
 * set actions) or `REJECT`. Where import and export apply these, and what
 * `prepend` means in each direction: ../rib/DESIGN.md, "Policy".
 */
import type { BgpConfig } from '../config.js';
import { parsePrefixMatch } from '../config.js';
import type { AttrSet, Origin } from '../rib/attrs.js';
import type { PrefixIndex } from '../rib/prefix-index.js';
import type { LargeCommunity } from '../wire/communities.js';
import { parseConfigCommunity, parseConfigLargeCommunity, SetActions } from './actions.js';
import { PrefixSet } from './prefix-set.js';

export const REJECT = -1;

type FilterConfig = BgpConfig['filters'][string];
type TermConfig = FilterConfig['terms'][number];

const ORIGINS: Readonly<Record<string, Origin>> = { igp: 0, egp: 1, incomplete: 2 };

export class CompiledTerm {
  readonly prefixes: PrefixSet | undefined;
  readonly family: 4 | 6 | undefined;
  readonly communities: readonly number[];
  readonly largeCommunities: readonly LargeCommunity[];
  readonly asPath: RegExp | undefined;
  readonly asPathContains: readonly number[];
  readonly origin: Origin | undefined;
  readonly accept: boolean;
  readonly set: SetActions | undefined;
  /** True when the term has no attribute condition (its flag is always set). */
  readonly attrFree: boolean;

  constructor(t: TermConfig) {
    const m = t.match;
    this.prefixes = m.prefix
      ? new PrefixSet(
          m.prefix.map((s) => {
            const p = parsePrefixMatch(s);
            if (typeof p === 'string') throw new RangeError(`prefix "${s}": ${p}`);
            return p;
          }),
        )
      : undefined;
    this.family = m.family === 'ipv4-unicast' ? 4 : m.family === 'ipv6-unicast' ? 6 : undefined;
    this.communities = (m.community ?? []).map(parseConfigCommunity);
    this.largeCommunities = (m.largeCommunity ?? []).map(parseConfigLargeCommunity);
    this.asPath = m.asPath !== undefined ? new RegExp(m.asPath) : undefined;
    this.asPathContains = m.asPathContains ?? [];
    this.origin = m.origin !== undefined ? ORIGINS[m.origin] : undefined;
    this.accept = t.action === 'accept';
    this.set = t.set && t.action === 'accept' ? new SetActions(t.set) : undefined;
    this.attrFree =
      this.communities.length === 0 &&
      this.largeCommunities.length === 0 &&
      this.asPath === undefined &&
      this.asPathContains.length === 0 &&
      this.origin === undefined;
  }

  /** The attribute conditions of this term hold for `a`. */
  matchesAttrs(a: AttrSet): boolean {
    if (this.origin !== undefined && a.origin !== this.origin) return false;
    for (const c of this.communities) if (!a.communities.includes(c)) return false;
    for (const x of this.largeCommunities) {
      if (!a.largeCommunities.some((y) => y.globalAdmin === x.globalAdmin && y.localData1 === x.localData1 && y.localData2 === x.localData2)) return false;
    }
    if (this.asPathContains.length > 0 && !this.asPathContains.some((asn) => a.pathContains(asn))) return false;
    if (this.asPath !== undefined && !this.asPath.test(a.pathText)) return false;
    return true;
  }
}

const scratch6 = new Uint8Array(16);

export class CompiledPolicy {
  /** 'all': accept everything unchanged; 'none': reject everything; 'filter': run the terms. */
  readonly kind: 'all' | 'none' | 'filter';
  readonly terms: readonly CompiledTerm[];
  readonly defaultAccept: boolean;
  /** Index returned by `decide` for "accepted by the default". */
  readonly defaultAccepted: number;

  constructor(
    readonly name: string,
    filter: FilterConfig | 'all' | 'none',
  ) {
    if (filter === 'all' || filter === 'none') {
      this.kind = filter;
      this.terms = [];
      this.defaultAccept = filter === 'all';
    } else {
      this.kind = 'filter';
      this.terms = filter.terms.map((t) => new CompiledTerm(t));
      this.defaultAccept = filter.default === 'accept';
    }
    this.defaultAccepted = this.terms.length;
  }

  /** Per term: whether its attribute conditions hold for `a`. Compute once per attribute set. */
  attrFlags(a: AttrSet): Uint8Array {
    const f = new Uint8Array(this.terms.length);
    for (let i = 0; i < this.terms.length; i++) {
      const t = this.terms[i]!;
      f[i] = t.attrFree || t.matchesAttrs(a) ? 1 : 0;
    }
    return f;
  }

  /**
   * The index of the first term that matches prefix `pid` (given the flags of
   * its attribute set) if it accepts, `REJECT` if it rejects; when no term
   * matches, `defaultAccepted` or `REJECT` by the filter's default.
   */
  decide(flags: Uint8Array, index: PrefixIndex, pid: number): number {
    const terms = this.terms;
    for (let i = 0; i < terms.length; i++) {
      if (flags[i] === 0) continue;
      const t = terms[i]!;
      if (t.family !== undefined || t.prefixes !== undefined) {
        const v6 = index.isV6(pid);
        if (t.family !== undefined && t.family !== (v6 ? 6 : 4)) continue;
        if (t.prefixes !== undefined) {
          if (v6) {
            index.v6Bytes(pid, scratch6);
            if (!t.prefixes.matchesV6(scratch6, index.length(pid))) continue;
          } else if (!t.prefixes.matchesV4(index.v4Addr(pid), index.length(pid))) continue;
        }
      }
      return t.accept ? i : REJECT;
    }
    return this.defaultAccept ? this.defaultAccepted : REJECT;
  }

  /** The set actions of the term `decide` returned (undefined for the default or a term without `set:`). */
  actions(term: number): SetActions | undefined {
    return term >= 0 && term < this.terms.length ? this.terms[term]!.set : undefined;
  }
}

export const ACCEPT_ALL = new CompiledPolicy('all', 'all');
export const REJECT_ALL = new CompiledPolicy('none', 'none');

/**
 * Compiles every filter of the config once; `policy(ref)` then resolves a
 * peer's `import`/`export` ("all", "none" or a filter name). Throws
 * RangeError for an unknown name (the config schema already rejects those).
 */
export function compileFilters(filters: BgpConfig['filters']): (ref: string) => CompiledPolicy {
  const compiled = new Map<string, CompiledPolicy>();
  for (const [name, f] of Object.entries(filters)) compiled.set(name, new CompiledPolicy(name, f));
  return (ref: string) => {
    if (ref === 'all') return ACCEPT_ALL;
    if (ref === 'none') return REJECT_ALL;
    const p = compiled.get(ref);
    if (!p) throw new RangeError(`no filter named "${ref}"`);
    return p;
  };
}
