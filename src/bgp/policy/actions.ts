/**
 * The `set:` part of a filter term, compiled: values parsed once, applied to
 * an attribute set to give the attributes to intern.
 *
 * `prepend` is not applied here: what it prepends depends on the direction
 * (export: our own AS, on eBGP sessions only; import: the peer's AS), so the
 * RIB's import and export rules read `prepend` and do it themselves.
 */
import type { LargeCommunity } from '../wire/communities.js';
import {
  COMMUNITY_NO_ADVERTISE,
  COMMUNITY_NO_EXPORT,
  COMMUNITY_NO_EXPORT_SUBCONFED,
  COMMUNITY_NOPEER,
} from '../wire/constants.js';
import type { AsPath } from '../wire/as-path.js';
import type { PathAttrs } from '../rib/attrs.js';

const NAMED: Readonly<Record<string, number>> = {
  'no-export': COMMUNITY_NO_EXPORT,
  'no-advertise': COMMUNITY_NO_ADVERTISE,
  'no-export-subconfed': COMMUNITY_NO_EXPORT_SUBCONFED,
  'no-peer': COMMUNITY_NOPEER,
};

/** A config community ("65000:1" or a well-known name) as uint32; RangeError when malformed. */
export function parseConfigCommunity(text: string): number {
  const named = NAMED[text];
  if (named !== undefined) return named;
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(text);
  if (!m || Number(m[1]) > 0xffff || Number(m[2]) > 0xffff) throw new RangeError(`not a community: ${JSON.stringify(text)}`);
  return ((Number(m[1]) << 16) | Number(m[2])) >>> 0;
}

/** A config large community "G:L1:L2"; RangeError when malformed. */
export function parseConfigLargeCommunity(text: string): LargeCommunity {
  const m = /^(\d{1,10}):(\d{1,10}):(\d{1,10})$/.exec(text);
  const v = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [];
  if (!m || v.some((x) => x > 0xffffffff)) throw new RangeError(`not a large community: ${JSON.stringify(text)}`);
  return { globalAdmin: v[0]!, localData1: v[1]!, localData2: v[2]! };
}

export interface SetConfig {
  localPref?: number;
  med?: number;
  addCommunities?: string[];
  removeCommunities?: string[];
  addLargeCommunities?: string[];
  prepend?: number;
}

export class SetActions {
  readonly localPref: number | undefined;
  readonly med: number | undefined;
  readonly addCommunities: readonly number[];
  readonly removeCommunities: ReadonlySet<number>;
  readonly addLargeCommunities: readonly LargeCommunity[];
  readonly prepend: number;

  constructor(cfg: SetConfig) {
    this.localPref = cfg.localPref;
    this.med = cfg.med;
    this.addCommunities = (cfg.addCommunities ?? []).map(parseConfigCommunity);
    this.removeCommunities = new Set((cfg.removeCommunities ?? []).map(parseConfigCommunity));
    this.addLargeCommunities = (cfg.addLargeCommunities ?? []).map(parseConfigLargeCommunity);
    this.prepend = cfg.prepend ?? 0;
  }

  /** True when applying changes nothing but (maybe) the prepend count. */
  get onlyPrepend(): boolean {
    return (
      this.localPref === undefined &&
      this.med === undefined &&
      this.addCommunities.length === 0 &&
      this.removeCommunities.size === 0 &&
      this.addLargeCommunities.length === 0
    );
  }

  /**
   * The attributes after the set actions (not prepend). Removing runs before
   * adding, so "remove X, add X" keeps X; added values already present are
   * not duplicated.
   */
  apply(a: PathAttrs): PathAttrs {
    const out: PathAttrs = { ...a };
    if (this.localPref !== undefined) out.localPref = this.localPref;
    if (this.med !== undefined) out.med = this.med;
    if (this.removeCommunities.size > 0 || this.addCommunities.length > 0) {
      const c = (a.communities ?? []).filter((x) => !this.removeCommunities.has(x));
      for (const x of this.addCommunities) if (!c.includes(x)) c.push(x);
      out.communities = c;
    }
    if (this.addLargeCommunities.length > 0) {
      const lc = (a.largeCommunities ?? []).slice();
      for (const x of this.addLargeCommunities) {
        if (!lc.some((y) => y.globalAdmin === x.globalAdmin && y.localData1 === x.localData1 && y.localData2 === x.localData2)) lc.push(x);
      }
      out.largeCommunities = lc;
    }
    return out;
  }
}

/**
 * Prepends `asn` `times` times to the path (RFC 4271 §5.1.2): into the
 * leading AS_SEQUENCE when there is one, else as a new leading sequence.
 * Segments over 255 ASes are split by the encoder.
 */
export function prependAs(path: AsPath, asn: number, times: number): AsPath {
  if (times <= 0) return path;
  const first = path[0];
  const merge = first !== undefined && first.type === 'sequence';
  // Exact-size arrays (the result lives in an attribute set; spreads leave slack).
  const tail = merge ? first.asns : [];
  const asns = new Array<number>(times + tail.length);
  for (let i = 0; i < times; i++) asns[i] = asn;
  for (let i = 0; i < tail.length; i++) asns[times + i] = tail[i]!;
  const rest = merge ? 1 : 0;
  const out: AsPath = new Array(1 + path.length - rest);
  out[0] = { type: 'sequence', asns };
  for (let i = rest; i < path.length; i++) out[1 + i - rest] = path[i]!;
  return out;
}
