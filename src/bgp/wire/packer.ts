/**
 * Packs many prefixes sharing one attribute set into as few UPDATEs as the
 * session's maximum message size allows (4096, or 65535 with RFC 8654), and
 * the same for withdrawals. IPv4 unicast goes in the NLRI / Withdrawn Routes
 * fields, IPv6 in MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760). The two
 * families never share an UPDATE.
 *
 * Speed: the attribute block is encoded once; each message is written in
 * place in a reused scratch buffer (header, attributes, then NLRI straight
 * from the source, lengths patched afterwards), so a prefix is parsed once,
 * and the result is one exact-size copy of all messages. Packing is greedy
 * in the given order: a message is cut when the next prefix does not fit, so
 * each wastes less than one prefix of room, which is the minimum count for
 * that order (and within one message of the minimum for any order).
 *
 * Prefixes come as text (`packUpdates`) or from any `NlriSource`
 * (`packUpdatesFrom`), e.g. a RIB that keeps IPv4 prefixes as numbers and
 * writes their NLRI itself.
 */
import {
  AFI_IPV4,
  AFI_IPV6,
  ATTR_FLAG_EXTENDED_LENGTH,
  ATTR_FLAG_OPTIONAL,
  ATTR_MP_REACH_NLRI,
  ATTR_MP_UNREACH_NLRI,
  ATTR_NEXT_HOP,
  HEADER_LENGTH,
  MSG_UPDATE,
  SAFI_UNICAST,
} from './constants.js';
import { PathAttributes, encodeAttributes } from './attributes.js';
import { SessionContext, maxMessageLength } from './context.js';
import { writeHeader } from './header.js';
import { encodeIpv4PrefixAt, encodePrefixAt, writeIpv6 } from './prefix.js';
import { BufferWriter } from './writer.js';

/** UPDATEs laid out back to back: `bytes` is all of them, `messages` each one (views of `bytes`). */
export interface PackedUpdates {
  bytes: Buffer;
  messages: Buffer[];
}

/**
 * Where the packer gets NLRI from. `write` appends <length, prefix> tuples
 * of family `afi` to buf from `off`, as many as fit before `limit`, and
 * returns the new offset; returning `off` means no prefix is left. There is
 * always room for at least one prefix of 17 octets, and `buf` extends at
 * least 17 octets past `limit` (so a source may encode a prefix first and
 * then check whether it fit).
 */
export interface NlriSource {
  readonly afi: number;
  write(buf: Buffer, off: number, limit: number): number;
}

/** Most octets one prefix takes in NLRI (IPv6 /128). */
const MAX_PREFIX_OCTETS = 17;

/** Prefix texts of one family, with IPv6 texts set aside when reading IPv4. */
class TextSource implements NlriSource {
  private i = 0;
  /** IPv6 prefixes met while reading as IPv4: they get their own UPDATEs. */
  readonly deferred: string[] = [];

  constructor(
    readonly afi: number,
    private readonly list: readonly string[],
  ) {}

  write(buf: Buffer, off: number, limit: number): number {
    const list = this.list;
    let i = this.i;
    if (this.afi === AFI_IPV4) {
      for (; i < list.length; i++) {
        const text = list[i]!;
        let next = encodeIpv4PrefixAt(text, buf, off);
        if (next < 0) {
          if (text.indexOf(':') >= 0) {
            this.deferred.push(text);
            continue;
          }
          next = encodePrefixAt(text, buf, off); // unusual but valid IPv4 text, or a RangeError
        }
        if (next > limit) break;
        off = next;
      }
    } else {
      for (; i < list.length; i++) {
        const text = list[i]!;
        if (text.indexOf(':') < 0) throw new RangeError(`prefix ${text} is not IPv6`);
        const next = encodePrefixAt(text, buf, off);
        if (next > limit) break;
        off = next;
      }
    }
    this.i = i;
    return off;
  }
}

/** What goes around the NLRI of each message. */
type Shape =
  | { kind: 'nlri'; attrs: Buffer }
  | { kind: 'withdrawn' }
  | { kind: 'mp'; code: number; head: Buffer; attrs: Buffer };

/**
 * Where messages are written: a scratch buffer reused across calls (so a
 * call allocates only its exact result), grown by doubling when needed.
 */
let scratch: Buffer = Buffer.allocUnsafe(1 << 16);
let scratchInUse = false;
/** A grown scratch larger than this is dropped after use rather than kept. */
const SCRATCH_KEEP = 1 << 22;

class Output {
  buf: Buffer;
  pos = 0;
  readonly starts: number[] = [];
  private readonly shared: boolean;

  constructor() {
    this.shared = !scratchInUse; // a source that packs from inside write() gets its own buffer
    if (this.shared) {
      scratchInUse = true;
      this.buf = scratch;
    } else {
      this.buf = Buffer.allocUnsafe(1 << 16);
    }
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Copies the messages out (exact size) and releases the scratch. */
  result(): PackedUpdates {
    const bytes = Buffer.allocUnsafe(this.pos);
    this.buf.copy(bytes, 0, 0, this.pos);
    if (this.shared) {
      if (this.buf.length <= SCRATCH_KEEP) scratch = this.buf;
      scratchInUse = false;
    }
    const messages: Buffer[] = [];
    for (let i = 0; i < this.starts.length; i++) messages.push(bytes.subarray(this.starts[i]!, this.starts[i + 1] ?? this.pos));
    return { bytes, messages };
  }

  /** Releases the scratch after an error. */
  abandon(): void {
    if (this.shared) scratchInUse = false;
  }
}

/** Runs `fill` on a fresh Output and returns its messages, releasing the scratch on error. */
function withOutput(fill: (out: Output) => void): PackedUpdates {
  const out = new Output();
  try {
    fill(out);
  } catch (err) {
    out.abandon();
    throw err;
  }
  return out.result();
}

function put16(buf: Buffer, at: number, v: number): void {
  buf[at] = v >>> 8;
  buf[at + 1] = v & 0xff;
}

/** Lets the source write, holding it to its limit (a message must never exceed the maximum). */
function fill(source: NlriSource, buf: Buffer, from: number, limit: number): number {
  const end = source.write(buf, from, limit);
  if (!(end >= from && end <= limit)) throw new RangeError(`NlriSource wrote to ${end}, outside ${from}..${limit}`);
  return end;
}

/** Writes UPDATEs of one shape until the source is empty. */
function packInto(out: Output, source: NlriSource, shape: Shape, max: number): void {
  const attrsLen = shape.kind === 'withdrawn' ? 0 : shape.attrs.length;
  // MP: the attribute header (4 octets while its length is unknown) and the fixed part of the value.
  const mpFixed = shape.kind === 'mp' ? 4 + shape.head.length : 0;
  const room = max - HEADER_LENGTH - 4 - attrsLen - mpFixed;
  if (room < MAX_PREFIX_OCTETS) throw new RangeError(`path attributes of ${attrsLen} octets leave no room for NLRI`);
  for (;;) {
    out.ensure(max + MAX_PREFIX_OCTETS);
    const buf = out.buf;
    const start = out.pos;
    const p = start + HEADER_LENGTH;
    let end: number;
    if (shape.kind === 'nlri') {
      // Withdrawn Routes Length 0, attributes, NLRI field.
      const nlriStart = p + 4 + attrsLen;
      end = fill(source, buf, nlriStart, start + max);
      if (end === nlriStart) return;
      put16(buf, p, 0);
      put16(buf, p + 2, attrsLen);
      shape.attrs.copy(buf, p + 4);
    } else if (shape.kind === 'withdrawn') {
      // Withdrawn Routes field, Total Path Attribute Length 0.
      const nlriStart = p + 2;
      end = fill(source, buf, nlriStart, start + max - 2);
      if (end === nlriStart) return;
      put16(buf, p, end - nlriStart);
      put16(buf, end, 0);
      end += 2;
    } else {
      // Withdrawn Routes Length 0, then MP_REACH/MP_UNREACH first (RFC 7606 §5.1), then the other attributes.
      const hdrAt = p + 4;
      const nlriStart = hdrAt + mpFixed;
      end = fill(source, buf, nlriStart, start + max - attrsLen);
      if (end === nlriStart) return;
      shape.head.copy(buf, hdrAt + 4);
      const valueLen = end - hdrAt - 4;
      buf[hdrAt + 1] = shape.code;
      if (valueLen > 255) {
        // RFC 4271 §4.3: Extended Length only when the value needs it.
        buf[hdrAt] = ATTR_FLAG_OPTIONAL | ATTR_FLAG_EXTENDED_LENGTH;
        put16(buf, hdrAt + 2, valueLen);
      } else {
        buf.copyWithin(hdrAt + 3, hdrAt + 4, end);
        end -= 1;
        buf[hdrAt] = ATTR_FLAG_OPTIONAL;
        buf[hdrAt + 2] = valueLen;
      }
      shape.attrs.copy(buf, end);
      end += attrsLen;
      put16(buf, p, 0);
      put16(buf, p + 2, end - hdrAt);
    }
    writeHeader(buf, start, end - start, MSG_UPDATE);
    out.starts.push(start);
    out.pos = end;
  }
}

function attributeBlock(attrs: PathAttributes, ctx: SessionContext, skip: readonly number[]): Buffer {
  const w = new BufferWriter(256);
  encodeAttributes(attrs, ctx, w, skip);
  return w.finish();
}

function mpReachHead(attributes: PathAttributes): Buffer {
  const t = attributes.mpReach;
  if (!t || t.afi !== AFI_IPV6) throw new RangeError('IPv6 prefixes need attributes.mpReach (AFI 2) as next-hop template');
  const nhLen = t.linkLocalNextHop !== undefined ? 32 : 16;
  const head = Buffer.alloc(5 + nhLen); // AFI, SAFI, next hop length, next hop, Reserved
  put16(head, 0, t.afi);
  head[2] = t.safi;
  head[3] = nhLen;
  writeIpv6(t.nextHop, head, 4);
  if (t.linkLocalNextHop !== undefined) writeIpv6(t.linkLocalNextHop, head, 20);
  return head;
}

function announceShape(attributes: PathAttributes, afi: number, ctx: SessionContext): Shape {
  if (afi === AFI_IPV4) {
    if (attributes.nextHop === undefined) throw new RangeError('IPv4 prefixes need attributes.nextHop');
    return { kind: 'nlri', attrs: attributeBlock(attributes, ctx, [ATTR_MP_REACH_NLRI, ATTR_MP_UNREACH_NLRI]) };
  }
  if (afi !== AFI_IPV6) throw new RangeError(`cannot pack AFI ${afi}`);
  // RFC 4760 §3: no NEXT_HOP in an UPDATE whose only NLRI are in MP_REACH_NLRI.
  const attrs = attributeBlock(attributes, ctx, [ATTR_MP_REACH_NLRI, ATTR_MP_UNREACH_NLRI, ATTR_NEXT_HOP]);
  return { kind: 'mp', code: ATTR_MP_REACH_NLRI, head: mpReachHead(attributes), attrs };
}

function withdrawShape(afi: number, safi: number): Shape {
  if (afi === AFI_IPV4) return { kind: 'withdrawn' };
  if (afi !== AFI_IPV6) throw new RangeError(`cannot pack AFI ${afi}`);
  const head = Buffer.from([AFI_IPV6 >>> 8, AFI_IPV6 & 0xff, safi]);
  return { kind: 'mp', code: ATTR_MP_UNREACH_NLRI, head, attrs: Buffer.alloc(0) };
}

/**
 * UPDATEs announcing `prefixes` (canonical text, mixed families allowed)
 * with one attribute set. IPv4 prefixes need `attributes.nextHop`; IPv6
 * prefixes need `attributes.mpReach` as the template of their MP_REACH_NLRI
 * (its AFI/SAFI and next hops; its `nlri` is ignored). IPv4 UPDATEs come
 * first, then IPv6 ones, each family in the given order.
 */
export function packUpdates(attributes: PathAttributes, prefixes: readonly string[], ctx: SessionContext): PackedUpdates {
  const max = maxMessageLength(ctx);
  return withOutput((out) => {
    const v4 = new TextSource(AFI_IPV4, prefixes);
    // Only ask for a NEXT_HOP when there is IPv4 to send (this stops at the first IPv4 prefix).
    if (prefixes.some((p) => p.indexOf(':') < 0)) packInto(out, v4, announceShape(attributes, AFI_IPV4, ctx), max);
    else v4.deferred.push(...prefixes);
    if (v4.deferred.length > 0) packInto(out, new TextSource(AFI_IPV6, v4.deferred), announceShape(attributes, AFI_IPV6, ctx), max);
  });
}

/** UPDATEs announcing the NLRI of `source` with one attribute set (see `packUpdates`). */
export function packUpdatesFrom(attributes: PathAttributes, source: NlriSource, ctx: SessionContext): PackedUpdates {
  return withOutput((out) => packInto(out, source, announceShape(attributes, source.afi, ctx), maxMessageLength(ctx)));
}

/**
 * UPDATEs withdrawing `prefixes`: IPv4 in the Withdrawn Routes field, IPv6
 * in MP_UNREACH_NLRI of AFI 2 / `ipv6Safi`.
 */
export function packWithdrawals(prefixes: readonly string[], ctx: SessionContext, ipv6Safi: number = SAFI_UNICAST): PackedUpdates {
  const max = maxMessageLength(ctx);
  return withOutput((out) => {
    const v4 = new TextSource(AFI_IPV4, prefixes);
    packInto(out, v4, withdrawShape(AFI_IPV4, SAFI_UNICAST), max);
    if (v4.deferred.length > 0) packInto(out, new TextSource(AFI_IPV6, v4.deferred), withdrawShape(AFI_IPV6, ipv6Safi), max);
  });
}

/** UPDATEs withdrawing the NLRI of `source` (SAFI `safi` for IPv6). */
export function packWithdrawalsFrom(source: NlriSource, ctx: SessionContext, safi: number = SAFI_UNICAST): PackedUpdates {
  return withOutput((out) => packInto(out, source, withdrawShape(source.afi, safi), maxMessageLength(ctx)));
}
