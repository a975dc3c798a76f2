/**
 * Path attributes (RFC 4271 §4.3, §5), table-driven: one row per type code
 * gives the name, the expected Optional/Transitive flags, the length rule,
 * the RFC 7606 action when the attribute is malformed, and the value codec.
 * `decodeAttributes` walks the Path Attributes field with RFC 7606 §3/§4
 * rules and reports problems; `encodeAttributes` writes them back in a fixed
 * order (MP_REACH_NLRI/MP_UNREACH_NLRI first, RFC 7606 §5.1; then by type
 * code), so that encode(decode(encode(x))) is byte-identical.
 */
import {
  AFI_IPV4,
  AFI_IPV6,
  AS_TRANS,
  ATTR_AGGREGATOR,
  ATTR_AS4_AGGREGATOR,
  ATTR_AS4_PATH,
  ATTR_AS_PATH,
  ATTR_ATOMIC_AGGREGATE,
  ATTR_CLUSTER_LIST,
  ATTR_COMMUNITIES,
  ATTR_FLAG_EXTENDED_LENGTH,
  ATTR_FLAG_OPTIONAL,
  ATTR_FLAG_PARTIAL,
  ATTR_FLAG_TRANSITIVE,
  ATTR_LARGE_COMMUNITIES,
  ATTR_LOCAL_PREF,
  ATTR_MP_REACH_NLRI,
  ATTR_MP_UNREACH_NLRI,
  ATTR_MULTI_EXIT_DISC,
  ATTR_NEXT_HOP,
  ATTR_ORIGIN,
  ATTR_ORIGINATOR_ID,
  SAFI_MULTICAST,
  SAFI_UNICAST,
} from './constants.js';
import {
  AsPath,
  asPathWireLength,
  decodeAsPath,
  hasFourOctetAs,
  isConfedSegment,
  reconstructAsPath,
  writeAsPath,
} from './as-path.js';
import { LargeCommunity } from './communities.js';
import { SessionContext } from './context.js';
import {
  EMPTY,
  ErrorAction,
  SUB_ATTRIBUTE_FLAGS_ERROR,
  SUB_ATTRIBUTE_LENGTH_ERROR,
  SUB_INVALID_NEXT_HOP_ATTRIBUTE,
  SUB_INVALID_ORIGIN_ATTRIBUTE,
  SUB_MALFORMED_AS_PATH,
  SUB_MALFORMED_ATTRIBUTE_LIST,
  SUB_OPTIONAL_ATTRIBUTE_ERROR,
  SUB_UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
} from './errors.js';
import { decodePrefixes, encodePrefixAt, ipv4Text, ipv6Text, textAfi, writeIpv4, writeIpv6 } from './prefix.js';
import { BufferWriter } from './writer.js';

// ---------------------------------------------------------------------------
// Decoded forms

export type Origin = 'igp' | 'egp' | 'incomplete';
export const ORIGINS: readonly Origin[] = ['igp', 'egp', 'incomplete'];

/** AGGREGATOR / AS4_AGGREGATOR (RFC 4271 §5.1.7, RFC 6793 §3). */
export interface Aggregator {
  asn: number;
  address: string;
}

/**
 * MP_REACH_NLRI (RFC 4760 §3). `nextHop` is the (global) next hop: IPv4 text
 * for a 4-octet next hop, IPv6 text for 16 or 32 octets (RFC 2545 §3, RFC
 * 8950); `linkLocalNextHop` is the second address of a 32-octet next hop.
 */
export interface MpReach {
  afi: number;
  safi: number;
  nextHop: string;
  linkLocalNextHop?: string;
  nlri: string[];
}

/** MP_UNREACH_NLRI (RFC 4760 §4). */
export interface MpUnreach {
  afi: number;
  safi: number;
  withdrawn: string[];
}

/** An unrecognized optional transitive attribute, kept opaque (RFC 4271 §5). */
export interface UnknownAttribute {
  typeCode: number;
  /** Flags as received, without Extended Length and the unused low bits. */
  flags: number;
  value: Buffer;
}

/**
 * The path attributes of an UPDATE. Absent means not carried. A RIB keeps
 * the "true" form: `asPath` with 4-octet AS numbers and no AS4_* (see
 * `mergeAs4`); encoding for a 2-octet peer derives AS_TRANS, AS4_PATH and
 * AS4_AGGREGATOR from it (RFC 6793 §4.2.2).
 */
export interface PathAttributes {
  origin?: Origin;
  asPath?: AsPath;
  /** NEXT_HOP (IPv4, for the NLRI field). */
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: Aggregator;
  /** RFC 1997 communities as unsigned 32-bit numbers (high 16 bits: AS). */
  communities?: number[];
  originatorId?: string;
  clusterList?: string[];
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  as4Path?: AsPath;
  as4Aggregator?: Aggregator;
  largeCommunities?: LargeCommunity[];
  /**
   * Type codes of recognized optional transitive attributes that arrived with
   * the Partial bit set; it stays set when passed on (RFC 4271 §5).
   */
  partial?: number[];
  /** Unrecognized optional transitive attributes, passed on with Partial set. */
  unknown?: UnknownAttribute[];
}

/** One problem found in an UPDATE, with the RFC 7606 approach it calls for. */
export interface UpdateProblem {
  action: ErrorAction;
  /** The attribute type code, when the problem is one attribute. */
  typeCode?: number;
  /** The UPDATE Message Error subcode a NOTIFICATION would carry. */
  subcode: number;
  /** The NOTIFICATION data RFC 4271 §6.3 asks for (often the whole attribute). */
  data: Buffer;
  reason: string;
  /** The address family concerned, for 'af-disable'. */
  afi?: number;
  safi?: number;
}

// ---------------------------------------------------------------------------
// The table

const WELL_KNOWN = ATTR_FLAG_TRANSITIVE;
const OPTIONAL_TRANSITIVE = ATTR_FLAG_OPTIONAL | ATTR_FLAG_TRANSITIVE;
const OPTIONAL_NON_TRANSITIVE = ATTR_FLAG_OPTIONAL;

/** Why a value is malformed; `subcode`/`action` override the row's defaults. */
interface Malformed {
  reason: string;
  subcode?: number;
  action?: ErrorAction;
  afi?: number;
  safi?: number;
}

export interface AttributeSpec {
  code: number;
  name: string;
  /** Expected Optional and Transitive bits; RFC 7606 §3 checks only these two. */
  flags: number;
  /** The length rule, in words (docs and tests). */
  lengthRule: string;
  lengthOk(len: number, ctx: SessionContext): boolean;
  /** RFC 7606 approach when the attribute is malformed. */
  onMalformed: ErrorAction;
  /** RFC 4271 §6.3 subcode for a malformed value (a bad length uses Attribute Length Error). */
  subcode: number;
  /**
   * RFC 7606 §7.5, §7.9, §7.10: from an external peer the attribute is
   * discarded (and its contents not checked).
   */
  internalOnly?: boolean;
  /** Decodes buf[start, end) into `attrs`; returns why it is malformed, if it is. */
  decode(buf: Buffer, start: number, end: number, ctx: SessionContext, attrs: PathAttributes): Malformed | undefined;
  /** Whether `attrs` has something to send as this attribute for `ctx`. */
  present(attrs: PathAttributes, ctx: SessionContext): boolean;
  /** Writes the value (not the header). */
  encode(attrs: PathAttributes, ctx: SessionContext, w: BufferWriter): void;
}

const exactly = (n: number) => (len: number) => len === n;
const nonZeroMultipleOf = (n: number) => (len: number) => len > 0 && len % n === 0;

function u32At(buf: Buffer, p: number): number {
  return buf.readUInt32BE(p);
}

function checkU32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${what} must be an unsigned 32-bit integer, got ${v}`);
  return v;
}

function writeAsPathValue(path: AsPath, asSize: 2 | 4, w: BufferWriter): void {
  const n = asPathWireLength(path, asSize);
  w.ensure(n);
  w.pos = writeAsPath(path, asSize, w.raw(), w.pos);
}

function writeIpv4Value(text: string, w: BufferWriter): void {
  w.ensure(4);
  writeIpv4(text, w.raw(), w.pos);
  w.pos += 4;
}

/** RFC 4760 §3 next-hop lengths by AFI: IPv4 4 (or IPv6 16/32, RFC 8950); IPv6 16 or 32 (RFC 2545 §3). */
function nextHopLengthOk(afi: number, len: number): boolean {
  if (afi === AFI_IPV4) return len === 4 || len === 16 || len === 32;
  return len === 16 || len === 32;
}

/** Families whose NLRI is a plain <length, prefix> list (RFC 4760 §5). */
export function isSupportedFamily(afi: number, safi: number): boolean {
  return (afi === AFI_IPV4 || afi === AFI_IPV6) && (safi === SAFI_UNICAST || safi === SAFI_MULTICAST);
}

function decodeMpReach(buf: Buffer, start: number, end: number, attrs: PathAttributes): Malformed | undefined {
  const len = end - start;
  if (len < 3) return { reason: `MP_REACH_NLRI of ${len} octet(s) has no AFI/SAFI`, action: 'session-reset' };
  const afi = (buf[start]! << 8) | buf[start + 1]!;
  const safi = buf[start + 2]!;
  const fam = { afi, safi };
  if (!isSupportedFamily(afi, safi)) return { reason: `unsupported AFI/SAFI ${afi}/${safi}`, ...fam };
  if (len < 5) return { reason: 'MP_REACH_NLRI too short for its next hop', ...fam };
  const nhLen = buf[start + 3]!;
  if (!nextHopLengthOk(afi, nhLen)) return { reason: `next hop length ${nhLen} does not fit AFI ${afi}`, ...fam };
  const nh = start + 4;
  // Next hop, then the Reserved octet (RFC 4760 §3: ignored on receipt).
  if (nh + nhLen + 1 > end) return { reason: 'next hop overruns MP_REACH_NLRI', ...fam };
  let nextHop: string;
  let linkLocalNextHop: string | undefined;
  if (nhLen === 4) nextHop = ipv4Text(buf, nh);
  else {
    nextHop = ipv6Text(buf, nh);
    if (nhLen === 32) linkLocalNextHop = ipv6Text(buf, nh + 16);
  }
  const nlri: string[] = [];
  const err = decodePrefixes(buf, nh + nhLen + 1, end, afi, nlri);
  // RFC 7606 §5.3 / RFC 4760 §7: an unparseable MP NLRI disables the family.
  if (err) return { reason: `MP_REACH_NLRI: ${err}`, subcode: SUB_OPTIONAL_ATTRIBUTE_ERROR, ...fam };
  attrs.mpReach = linkLocalNextHop === undefined ? { afi, safi, nextHop, nlri } : { afi, safi, nextHop, linkLocalNextHop, nlri };
  return undefined;
}

function decodeMpUnreach(buf: Buffer, start: number, end: number, attrs: PathAttributes): Malformed | undefined {
  const len = end - start;
  if (len < 3) return { reason: `MP_UNREACH_NLRI of ${len} octet(s) has no AFI/SAFI`, action: 'session-reset' };
  const afi = (buf[start]! << 8) | buf[start + 1]!;
  const safi = buf[start + 2]!;
  if (!isSupportedFamily(afi, safi)) {
    // An End-of-RIB for a family we do not speak is harmless: keep it.
    if (len === 3) {
      attrs.mpUnreach = { afi, safi, withdrawn: [] };
      return undefined;
    }
    return { reason: `unsupported AFI/SAFI ${afi}/${safi}`, afi, safi };
  }
  const withdrawn: string[] = [];
  const err = decodePrefixes(buf, start + 3, end, afi, withdrawn);
  if (err) return { reason: `MP_UNREACH_NLRI: ${err}`, afi, safi };
  attrs.mpUnreach = { afi, safi, withdrawn };
  return undefined;
}

function writeMpReachHead(mp: MpReach, w: BufferWriter): void {
  w.u16(mp.afi).u8(mp.safi);
  const v6 = mp.nextHop.indexOf(':') >= 0;
  const nhLen = v6 ? (mp.linkLocalNextHop !== undefined ? 32 : 16) : 4;
  if (!v6 && mp.linkLocalNextHop !== undefined) throw new RangeError('a link-local next hop needs an IPv6 next hop');
  w.u8(nhLen);
  w.ensure(nhLen + 1);
  const b = w.raw();
  if (v6) {
    writeIpv6(mp.nextHop, b, w.pos);
    if (mp.linkLocalNextHop !== undefined) writeIpv6(mp.linkLocalNextHop, b, w.pos + 16);
  } else {
    writeIpv4(mp.nextHop, b, w.pos);
  }
  w.pos += nhLen;
  w.u8(0); // Reserved
}

/** Appends NLRI for prefix texts of one AFI. */
export function writePrefixes(prefixes: readonly string[], afi: number, w: BufferWriter): void {
  const max = afi === AFI_IPV6 ? 17 : 5;
  for (const p of prefixes) {
    if (textAfi(p) !== afi) throw new RangeError(`prefix ${p} is not of AFI ${afi}`);
    w.ensure(max);
    w.pos = encodePrefixAt(p, w.raw(), w.pos);
  }
}

function aggregatorSpec(code: number, name: string, as4: boolean): AttributeSpec {
  const field = as4 ? 'as4Aggregator' : 'aggregator';
  return {
    code,
    name,
    flags: OPTIONAL_TRANSITIVE,
    lengthRule: as4 ? '8' : '6 (2-octet AS session) or 8 (4-octet AS session)',
    lengthOk: (len, ctx) => len === (as4 || ctx.fourOctetAs ? 8 : 6),
    // RFC 7606 §7.7 (AGGREGATOR), RFC 6793 §6 (AS4_AGGREGATOR).
    onMalformed: 'attribute-discard',
    subcode: SUB_OPTIONAL_ATTRIBUTE_ERROR,
    decode(buf, start, end, ctx, attrs) {
      if (as4 && ctx.fourOctetAs) return { reason: 'AS4_AGGREGATOR from a 4-octet AS speaker (RFC 6793 §3)', action: 'attribute-discard' };
      const four = end - start === 8;
      const asn = four ? u32At(buf, start) : (buf[start]! << 8) | buf[start + 1]!;
      attrs[field] = { asn, address: ipv4Text(buf, end - 4) };
      return undefined;
    },
    present: (attrs, ctx) =>
      as4 ? !ctx.fourOctetAs && (attrs.as4Aggregator !== undefined || (attrs.aggregator?.asn ?? 0) > 0xffff) : attrs.aggregator !== undefined,
    encode(attrs, ctx, w) {
      const agg = as4 ? (attrs.as4Aggregator ?? attrs.aggregator)! : attrs.aggregator!;
      checkU32(agg.asn, 'aggregator AS');
      if (as4 || ctx.fourOctetAs) w.u32(agg.asn);
      else w.u16(agg.asn > 0xffff ? AS_TRANS : agg.asn); // RFC 6793 §4.2.2
      writeIpv4Value(agg.address, w);
    },
  };
}

function asPathSpec(code: number, name: string, as4: boolean): AttributeSpec {
  return {
    code,
    name,
    flags: as4 ? OPTIONAL_TRANSITIVE : WELL_KNOWN,
    lengthRule: 'any (segments of 2 + n × AS size octets)',
    lengthOk: () => true,
    // RFC 7606 §7.2 (AS_PATH); RFC 6793 §6 (AS4_PATH: attribute discard).
    onMalformed: as4 ? 'attribute-discard' : 'treat-as-withdraw',
    subcode: as4 ? SUB_OPTIONAL_ATTRIBUTE_ERROR : SUB_MALFORMED_AS_PATH,
    decode(buf, start, end, ctx, attrs) {
      if (as4 && ctx.fourOctetAs) return { reason: 'AS4_PATH from a 4-octet AS speaker (RFC 6793 §3)' };
      const path = decodeAsPath(buf, start, end, as4 || ctx.fourOctetAs ? 4 : 2);
      if (typeof path === 'string') return { reason: path };
      if (as4) {
        if (path.some(isConfedSegment)) return { reason: 'confederation segment in AS4_PATH (RFC 6793 §3)' };
        attrs.as4Path = path;
      } else {
        // RFC 5065 §5 / RFC 7606 §7.2: confederation segments only from inside the confederation.
        if (!ctx.ibgp && path.some(isConfedSegment)) return { reason: 'confederation segment from an external peer' };
        attrs.asPath = path;
      }
      return undefined;
    },
    present: (attrs, ctx) =>
      as4 ? !ctx.fourOctetAs && (attrs.as4Path !== undefined || (attrs.asPath !== undefined && hasFourOctetAs(attrs.asPath))) : attrs.asPath !== undefined,
    encode(attrs, ctx, w) {
      if (as4) {
        // RFC 6793 §4.2.2: the true path, without confederation segments.
        const path = attrs.as4Path ?? attrs.asPath!.filter((s) => !isConfedSegment(s));
        writeAsPathValue(path, 4, w);
      } else {
        writeAsPathValue(attrs.asPath!, ctx.fourOctetAs ? 4 : 2, w);
      }
    },
  };
}

const INTERNAL_ONLY_NOTE = 'discarded from external peers';

export const ATTRIBUTE_TABLE: readonly AttributeSpec[] = [
  {
    code: ATTR_ORIGIN,
    name: 'ORIGIN',
    flags: WELL_KNOWN,
    lengthRule: '1',
    lengthOk: exactly(1),
    onMalformed: 'treat-as-withdraw', // RFC 7606 §7.1
    subcode: SUB_INVALID_ORIGIN_ATTRIBUTE,
    decode(buf, start, _end, _ctx, attrs) {
      const v = buf[start]!;
      const origin = ORIGINS[v];
      if (origin === undefined) return { reason: `undefined ORIGIN value ${v}` };
      attrs.origin = origin;
      return undefined;
    },
    present: (a) => a.origin !== undefined,
    encode(attrs, _ctx, w) {
      const v = ORIGINS.indexOf(attrs.origin!);
      if (v < 0) throw new RangeError(`bad origin ${String(attrs.origin)}`);
      w.u8(v);
    },
  },
  asPathSpec(ATTR_AS_PATH, 'AS_PATH', false),
  {
    code: ATTR_NEXT_HOP,
    name: 'NEXT_HOP',
    flags: WELL_KNOWN,
    lengthRule: '4',
    lengthOk: exactly(4),
    onMalformed: 'treat-as-withdraw', // RFC 7606 §7.3
    subcode: SUB_INVALID_NEXT_HOP_ATTRIBUTE,
    decode(buf, start, _end, _ctx, attrs) {
      const a = buf[start]!;
      const v = u32At(buf, start);
      // RFC 4271 §6.3: not a valid host address (RFC 7606 §7.3: the route is ignored).
      if (v === 0 || v === 0xffffffff || (a & 0xf0) === 0xe0) return { reason: `next hop ${ipv4Text(buf, start)} is not a host address` };
      attrs.nextHop = ipv4Text(buf, start);
      return undefined;
    },
    present: (a) => a.nextHop !== undefined,
    encode: (attrs, _ctx, w) => writeIpv4Value(attrs.nextHop!, w),
  },
  {
    code: ATTR_MULTI_EXIT_DISC,
    name: 'MULTI_EXIT_DISC',
    flags: OPTIONAL_NON_TRANSITIVE,
    lengthRule: '4',
    lengthOk: exactly(4),
    onMalformed: 'treat-as-withdraw', // RFC 7606 §7.4
    subcode: SUB_OPTIONAL_ATTRIBUTE_ERROR,
    decode(buf, start, _end, _ctx, attrs) {
      attrs.med = u32At(buf, start);
      return undefined;
    },
    present: (a) => a.med !== undefined,
    encode: (attrs, _ctx, w) => void w.u32(checkU32(attrs.med!, 'MED')),
  },
  {
    code: ATTR_LOCAL_PREF,
    name: 'LOCAL_PREF',
    flags: WELL_KNOWN,
    lengthRule: `4; ${INTERNAL_ONLY_NOTE}`,
    lengthOk: exactly(4),
    onMalformed: 'treat-as-withdraw', // RFC 7606 §7.5
    subcode: SUB_ATTRIBUTE_LENGTH_ERROR,
    internalOnly: true,
    decode(buf, start, _end, _ctx, attrs) {
      attrs.localPref = u32At(buf, start);
      return undefined;
    },
    present: (a) => a.localPref !== undefined,
    encode: (attrs, _ctx, w) => void w.u32(checkU32(attrs.localPref!, 'LOCAL_PREF')),
  },
  {
    code: ATTR_ATOMIC_AGGREGATE,
    name: 'ATOMIC_AGGREGATE',
    flags: WELL_KNOWN,
    lengthRule: '0',
    lengthOk: exactly(0),
    onMalformed: 'attribute-discard', // RFC 7606 §7.6
    subcode: SUB_ATTRIBUTE_LENGTH_ERROR,
    decode(_buf, _start, _end, _ctx, attrs) {
      attrs.atomicAggregate = true;
      return undefined;
    },
    present: (a) => a.atomicAggregate === true,
    encode: () => undefined,
  },
  aggregatorSpec(ATTR_AGGREGATOR, 'AGGREGATOR', false),
  {
    code: ATTR_COMMUNITIES,
    name: 'COMMUNITIES',
    flags: OPTIONAL_TRANSITIVE,
    lengthRule: 'non-zero multiple of 4',
    lengthOk: nonZeroMultipleOf(4),
    onMalformed: 'treat-as-withdraw', // RFC 7606 §7.8
    subcode: SUB_OPTIONAL_ATTRIBUTE_ERROR,
    decode(buf, start, end, _ctx, attrs) {
      const out = new Array<number>((end - start) >> 2);
      for (let p = start, i = 0; p < end; p += 4, i++) out[i] = u32At(buf, p);
      attrs.communities = out;
      return undefined;
    },
    present: (a) => a.communities !== undefined && a.communities.length > 0,
    encode(attrs, _ctx, w) {
      for (const c of attrs.communities!) w.u32(checkU32(c, 'community'));
    },
  },
  {
    code: ATTR_ORIGINATOR_ID,
    name: 'ORIGINATOR_ID',
    flags: OPTIONAL_NON_TRANSITIVE,
    lengthRule: `4; ${INTERNAL_ONLY_NOTE}`,
    lengthOk: exactly(4),
    onMalformed: 'treat-as-withdraw', // RFC 7606 §7.9
    subcode: SUB_OPTIONAL_ATTRIBUTE_ERROR,
    internalOnly: true,
    decode(buf, start, _end, _ctx, attrs) {
      attrs.originatorId = ipv4Text(buf, start);
      return undefined;
    },
    present: (a) => a.originatorId !== undefined,
    encode: (attrs, _ctx, w) => writeIpv4Value(attrs.originatorId!, w),
  },
  {
    code: ATTR_CLUSTER_LIST,
    name: 'CLUSTER_LIST',
    flags: OPTIONAL_NON_TRANSITIVE,
    lengthRule: `non-zero multiple of 4; ${INTERNAL_ONLY_NOTE}`,
    lengthOk: nonZeroMultipleOf(4),
    onMalformed: 'treat-as-withdraw', // RFC 7606 §7.10
    subcode: SUB_OPTIONAL_ATTRIBUTE_ERROR,
    internalOnly: true,
    decode(buf, start, end, _ctx, attrs) {
      const out: string[] = [];
      for (let p = start; p < end; p += 4) out.push(ipv4Text(buf, p));
      attrs.clusterList = out;
      return undefined;
    },
    present: (a) => a.clusterList !== undefined && a.clusterList.length > 0,
    encode(attrs, _ctx, w) {
      for (const c of attrs.clusterList!) writeIpv4Value(c, w);
    },
  },
  {
    code: ATTR_MP_REACH_NLRI,
    name: 'MP_REACH_NLRI',
    flags: OPTIONAL_NON_TRANSITIVE,
    lengthRule: '5 + next hop length + NLRI',
    lengthOk: () => true,
    onMalformed: 'af-disable', // RFC 7606 §7.11, RFC 4760 §7
    subcode: SUB_OPTIONAL_ATTRIBUTE_ERROR,
    decode: (buf, start, end, _ctx, attrs) => decodeMpReach(buf, start, end, attrs),
    present: (a) => a.mpReach !== undefined,
    encode(attrs, _ctx, w) {
      const mp = attrs.mpReach!;
      writeMpReachHead(mp, w);
      writePrefixes(mp.nlri, mp.afi, w);
    },
  },
  {
    code: ATTR_MP_UNREACH_NLRI,
    name: 'MP_UNREACH_NLRI',
    flags: OPTIONAL_NON_TRANSITIVE,
    lengthRule: '3 + withdrawn NLRI',
    lengthOk: () => true,
    onMalformed: 'af-disable', // RFC 7606 §7.12, RFC 4760 §7
    subcode: SUB_OPTIONAL_ATTRIBUTE_ERROR,
    decode: (buf, start, end, _ctx, attrs) => decodeMpUnreach(buf, start, end, attrs),
    present: (a) => a.mpUnreach !== undefined,
    encode(attrs, _ctx, w) {
      const mp = attrs.mpUnreach!;
      w.u16(mp.afi).u8(mp.safi);
      writePrefixes(mp.withdrawn, mp.afi, w);
    },
  },
  asPathSpec(ATTR_AS4_PATH, 'AS4_PATH', true),
  aggregatorSpec(ATTR_AS4_AGGREGATOR, 'AS4_AGGREGATOR', true),
  {
    code: ATTR_LARGE_COMMUNITIES,
    name: 'LARGE_COMMUNITIES',
    flags: OPTIONAL_TRANSITIVE,
    lengthRule: 'non-zero multiple of 12',
    lengthOk: nonZeroMultipleOf(12),
    onMalformed: 'treat-as-withdraw', // RFC 8092 §6
    subcode: SUB_OPTIONAL_ATTRIBUTE_ERROR,
    decode(buf, start, end, _ctx, attrs) {
      const out: LargeCommunity[] = [];
      const seen = new Set<string>();
      for (let p = start; p < end; p += 12) {
        // RFC 8092 §5: duplicates are silently removed.
        const key = buf.toString('latin1', p, p + 12);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ globalAdmin: u32At(buf, p), localData1: u32At(buf, p + 4), localData2: u32At(buf, p + 8) });
      }
      attrs.largeCommunities = out;
      return undefined;
    },
    present: (a) => a.largeCommunities !== undefined && a.largeCommunities.length > 0,
    encode(attrs, _ctx, w) {
      for (const c of attrs.largeCommunities!) {
        w.u32(checkU32(c.globalAdmin, 'large community')).u32(checkU32(c.localData1, 'large community')).u32(checkU32(c.localData2, 'large community'));
      }
    },
  },
];

/** Row by type code (undefined: unrecognized). */
export const ATTRIBUTES_BY_CODE: readonly (AttributeSpec | undefined)[] = (() => {
  const t = new Array<AttributeSpec | undefined>(256).fill(undefined);
  for (const s of ATTRIBUTE_TABLE) t[s.code] = s;
  return t;
})();

export function attributeName(code: number): string {
  return ATTRIBUTES_BY_CODE[code]?.name ?? `attribute ${code}`;
}

// ---------------------------------------------------------------------------
// Decoding the Path Attributes field

/** What `decodeAttributes` found besides the attributes themselves. */
export interface AttributeScan {
  problems: UpdateProblem[];
  /** Type codes encountered, malformed or not (for the missing-attribute check). */
  seen: Uint8Array;
  /** Set when parsing had to stop: nothing after this can be trusted. */
  fatal?: UpdateProblem;
}

const seenScratch = new Uint8Array(256);

function attrProblem(action: ErrorAction, typeCode: number, subcode: number, data: Buffer, reason: string, afi?: number, safi?: number): UpdateProblem {
  const p: UpdateProblem = { action, typeCode, subcode, data, reason: `${attributeName(typeCode)}: ${reason}` };
  if (afi !== undefined) {
    p.afi = afi;
    p.safi = safi;
  }
  return p;
}

/**
 * Walks buf[start, end) (the Path Attributes field) into `attrs`, applying
 * RFC 7606 §3 (flags, duplicates), §4 (lengths overrunning the field) and
 * §7 (per-attribute rules). Never throws on peer input.
 */
export function decodeAttributes(buf: Buffer, start: number, end: number, ctx: SessionContext, attrs: PathAttributes): AttributeScan {
  const problems: UpdateProblem[] = [];
  const seen = seenScratch;
  seen.fill(0);
  const scan: AttributeScan = { problems, seen };
  let p = start;
  while (p < end) {
    const flags = buf[p]!;
    const ext = (flags & ATTR_FLAG_EXTENDED_LENGTH) !== 0;
    const hdr = ext ? 4 : 3;
    // RFC 7606 §4: too few octets left for an attribute header.
    if (end - p < hdr) {
      problems.push({ action: 'treat-as-withdraw', subcode: SUB_MALFORMED_ATTRIBUTE_LIST, data: EMPTY, reason: `${end - p} octet(s) left, too few for an attribute header` });
      break;
    }
    const code = buf[p + 1]!;
    const len = ext ? (buf[p + 2]! << 8) | buf[p + 3]! : buf[p + 2]!;
    const vStart = p + hdr;
    const vEnd = vStart + len;
    if (vEnd > end) {
      seen[code] = 1; // reported here, not again as missing
      // RFC 7606 §4: the last attribute overruns the field; the Total Attribute
      // Length still locates the NLRI. An MP attribute cut short cannot be
      // parsed, so treat-as-withdraw is impossible for it (RFC 7606 §3): its
      // family is disabled, or the session reset when even AFI/SAFI is missing.
      if (code === ATTR_MP_REACH_NLRI || code === ATTR_MP_UNREACH_NLRI) {
        if (end - vStart >= 3) {
          const afi = (buf[vStart]! << 8) | buf[vStart + 1]!;
          problems.push(attrProblem('af-disable', code, SUB_OPTIONAL_ATTRIBUTE_ERROR, EMPTY, 'overruns the path attributes', afi, buf[vStart + 2]!));
        } else {
          scan.fatal = attrProblem('session-reset', code, SUB_MALFORMED_ATTRIBUTE_LIST, EMPTY, 'overruns the path attributes');
          problems.push(scan.fatal);
        }
      } else {
        problems.push(attrProblem('treat-as-withdraw', code, SUB_ATTRIBUTE_LENGTH_ERROR, EMPTY, `length ${len} overruns the path attributes by ${vEnd - end}`));
      }
      break;
    }
    const attrStart = p;
    const whole = () => Buffer.from(buf.subarray(attrStart, vEnd));
    p = vEnd;
    if (seen[code]) {
      // RFC 7606 §3: a repeated MP attribute resets the session; any other
      // repeat is dropped and the first occurrence kept.
      if (code === ATTR_MP_REACH_NLRI || code === ATTR_MP_UNREACH_NLRI) {
        scan.fatal = attrProblem('session-reset', code, SUB_MALFORMED_ATTRIBUTE_LIST, EMPTY, 'appears more than once');
        problems.push(scan.fatal);
        return scan;
      }
      problems.push(attrProblem('attribute-discard', code, SUB_MALFORMED_ATTRIBUTE_LIST, EMPTY, 'appears more than once; repeat discarded'));
      continue;
    }
    seen[code] = 1;
    const spec = ATTRIBUTES_BY_CODE[code];
    if (spec === undefined) {
      if ((flags & ATTR_FLAG_OPTIONAL) === 0) {
        // RFC 4271 §6.3: an unrecognized well-known attribute resets the session.
        scan.fatal = attrProblem('session-reset', code, SUB_UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, whole(), 'unrecognized well-known attribute');
        problems.push(scan.fatal);
        return scan;
      }
      // RFC 4271 §5: keep unrecognized optional transitive attributes, quietly
      // ignore unrecognized optional non-transitive ones.
      if ((flags & ATTR_FLAG_TRANSITIVE) !== 0) {
        (attrs.unknown ??= []).push({ typeCode: code, flags: flags & 0xe0, value: Buffer.from(buf.subarray(vStart, vEnd)) });
      }
      continue;
    }
    if (spec.internalOnly && !ctx.ibgp) {
      // Discarded whatever it holds, so its flags and length do not matter.
      problems.push(attrProblem('attribute-discard', code, spec.subcode, EMPTY, 'from an external peer; discarded'));
      continue;
    }
    const isMp = code === ATTR_MP_REACH_NLRI || code === ATTR_MP_UNREACH_NLRI;
    if ((flags & (ATTR_FLAG_OPTIONAL | ATTR_FLAG_TRANSITIVE)) !== spec.flags) {
      // RFC 7606 §3: Optional/Transitive bits in conflict -> treat-as-withdraw.
      problems.push(attrProblem('treat-as-withdraw', code, SUB_ATTRIBUTE_FLAGS_ERROR, whole(), `flags 0x${flags.toString(16)} conflict with the type`));
      // The NLRI of an MP attribute is still needed to know what to withdraw.
      if (!isMp) continue;
    }
    if (!spec.lengthOk(len, ctx)) {
      problems.push(attrProblem(spec.onMalformed, code, SUB_ATTRIBUTE_LENGTH_ERROR, whole(), `length ${len} breaks the rule "${spec.lengthRule}"`));
      continue;
    }
    const bad = spec.decode(buf, vStart, vEnd, ctx, attrs);
    if (bad !== undefined) {
      const subcode = bad.subcode ?? spec.subcode;
      const data = subcode === SUB_MALFORMED_AS_PATH || subcode === SUB_MALFORMED_ATTRIBUTE_LIST ? EMPTY : whole();
      const problem = attrProblem(bad.action ?? spec.onMalformed, code, subcode, data, bad.reason, bad.afi, bad.safi);
      problems.push(problem);
      if (problem.action === 'session-reset') {
        scan.fatal = problem;
        return scan;
      }
      continue;
    }
    if ((flags & ATTR_FLAG_PARTIAL) !== 0 && spec.flags === OPTIONAL_TRANSITIVE) (attrs.partial ??= []).push(code);
  }
  return scan;
}

// ---------------------------------------------------------------------------
// Encoding

/** Codes written first, in this order (RFC 7606 §5.1). */
const FIRST = [ATTR_MP_REACH_NLRI, ATTR_MP_UNREACH_NLRI];

function writeHeaderAndValue(w: BufferWriter, flags: number, code: number, writeValue: () => void): void {
  const flagsAt = w.pos;
  w.u8(flags & ~ATTR_FLAG_EXTENDED_LENGTH & 0xf0).u8(code);
  const lenAt = w.reserveU8();
  const valueAt = w.pos;
  writeValue();
  const len = w.pos - valueAt;
  if (len > 0xffff) throw new RangeError(`attribute ${attributeName(code)} of ${len} octets does not fit`);
  if (len > 255) {
    // RFC 4271 §4.3: Extended Length, used only when the value needs it.
    w.insertGap(valueAt, 1);
    w.patchU16(lenAt, len);
    w.patchU8(flagsAt, w.raw()[flagsAt]! | ATTR_FLAG_EXTENDED_LENGTH);
  } else {
    w.patchU8(lenAt, len);
  }
}

/**
 * Whether the attribute goes on the wire of this session: internal-only
 * attributes (LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST) never go to an
 * external peer (RFC 4271 §5.1.5, RFC 4456 §8), whatever the caller passed.
 */
function sends(spec: AttributeSpec, attrs: PathAttributes, ctx: SessionContext): boolean {
  return (ctx.ibgp || !spec.internalOnly) && spec.present(attrs, ctx);
}

function writeKnown(spec: AttributeSpec, attrs: PathAttributes, ctx: SessionContext, w: BufferWriter): void {
  let flags = spec.flags;
  if (spec.flags === OPTIONAL_TRANSITIVE && attrs.partial?.includes(spec.code)) flags |= ATTR_FLAG_PARTIAL;
  writeHeaderAndValue(w, flags, spec.code, () => spec.encode(attrs, ctx, w));
}

function writeUnknown(u: UnknownAttribute, w: BufferWriter): void {
  let flags = u.flags;
  // RFC 4271 §5: an unrecognized optional transitive attribute is passed on with Partial set.
  if ((flags & OPTIONAL_TRANSITIVE) === OPTIONAL_TRANSITIVE) flags |= ATTR_FLAG_PARTIAL;
  writeHeaderAndValue(w, flags, u.typeCode, () => w.bytes(u.value));
}

/**
 * Writes the Path Attributes field (without its 2-octet length) for `ctx`
 * (AS_TRANS and AS4_* for a 2-octet peer, no internal-only attributes to an
 * external peer). `skip` lists type codes to leave out (the packer writes MP_REACH itself
 * and leaves NEXT_HOP out of IPv6-only UPDATEs, RFC 4760 §3).
 */
export function encodeAttributes(attrs: PathAttributes, ctx: SessionContext, w: BufferWriter, skip: readonly number[] = []): void {
  for (const code of FIRST) {
    const spec = ATTRIBUTES_BY_CODE[code]!;
    if (!skip.includes(code) && sends(spec, attrs, ctx)) writeKnown(spec, attrs, ctx, w);
  }
  const unknown = attrs.unknown ? [...attrs.unknown].sort((a, b) => a.typeCode - b.typeCode) : [];
  let u = 0;
  for (const spec of ATTRIBUTE_TABLE) {
    if (FIRST.includes(spec.code)) continue;
    while (u < unknown.length && unknown[u]!.typeCode < spec.code) writeUnknown(unknown[u++]!, w);
    if (!skip.includes(spec.code) && sends(spec, attrs, ctx)) writeKnown(spec, attrs, ctx, w);
  }
  while (u < unknown.length) writeUnknown(unknown[u++]!, w);
}

/**
 * RFC 6793 §4.2.3: the true AS_PATH and AGGREGATOR from what a 2-octet
 * speaker sent: AS_PATH merged with AS4_PATH, and AS4_AGGREGATOR used unless
 * AGGREGATOR carries a real (non-AS_TRANS) AS, in which case both AS4_*
 * attributes are ignored. Returns a new object without AS4_*.
 */
export function mergeAs4(attrs: PathAttributes): PathAttributes {
  const out: PathAttributes = { ...attrs };
  delete out.as4Path;
  delete out.as4Aggregator;
  let as4Path = attrs.as4Path;
  if (attrs.aggregator && attrs.as4Aggregator) {
    if (attrs.aggregator.asn !== AS_TRANS) as4Path = undefined;
    else out.aggregator = { ...attrs.as4Aggregator };
  }
  if (attrs.asPath && as4Path) out.asPath = reconstructAsPath(attrs.asPath, as4Path);
  return out;
}
