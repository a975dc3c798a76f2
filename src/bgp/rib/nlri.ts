/**
 * IPv4 NLRI straight to and from numbers (RFC 4271 §4.3 <length, prefix>
 * tuples), the RIB's fast path for the volume family.
 *
 * The codec's `decodePrefixes` renders canonical text (one string per
 * prefix), which suits IPv6 and the API; for IPv4 the RIB does not need the
 * text at all, so a session may decode the NLRI fields of an UPDATE into an
 * `Ipv4Batch` (address as uint32 + length) and hand that to
 * `BgpRib.announceV4` / `withdrawV4`: no allocation per prefix. The packer
 * does the reverse with `encodeIpv4Nlri`.
 */
import type { PrefixIndex } from './prefix-index.js';

/** A reusable list of IPv4 prefixes as numbers. */
export class Ipv4Batch {
  addrs: Uint32Array;
  lens: Uint8Array;
  count = 0;

  constructor(capacity = 1024) {
    this.addrs = new Uint32Array(capacity);
    this.lens = new Uint8Array(capacity);
  }

  clear(): void {
    this.count = 0;
  }

  push(addr: number, len: number): void {
    if (this.count === this.addrs.length) {
      const a = new Uint32Array(this.addrs.length * 2);
      a.set(this.addrs);
      this.addrs = a;
      const l = new Uint8Array(this.lens.length * 2);
      l.set(this.lens);
      this.lens = l;
    }
    this.addrs[this.count] = addr;
    this.lens[this.count++] = len;
  }
}

/**
 * Appends the IPv4 prefixes of buf[start, end) to `out` (host bits cleared,
 * RFC 4271 §4.3). Returns undefined, or why the field is malformed (RFC 7606
 * §5.3: a length over 32 or a prefix running past the end); `out` then holds
 * the prefixes before the bad one.
 */
export function decodeIpv4Nlri(buf: Uint8Array, start: number, end: number, out: Ipv4Batch): string | undefined {
  let p = start;
  while (p < end) {
    const len = buf[p]!;
    if (len > 32) return `prefix length ${len} exceeds 32`;
    const n = (len + 7) >> 3;
    if (p + 1 + n > end) return `prefix of length ${len} overruns the field by ${p + 1 + n - end} octet(s)`;
    let addr = 0;
    if (n > 0) addr = buf[p + 1]! << 24;
    if (n > 1) addr |= buf[p + 2]! << 16;
    if (n > 2) addr |= buf[p + 3]! << 8;
    if (n > 3) addr |= buf[p + 4]!;
    if (len < 32) addr &= len === 0 ? 0 : -1 << (32 - len);
    out.push(addr >>> 0, len);
    p += 1 + n;
  }
  return undefined;
}

/**
 * Writes the NLRI encoding of IPv4 prefix ids pids[from..] into buf from
 * `off`, stopping before `limit` would be passed or at the end of `pids`.
 * Returns [next index into pids, new offset].
 */
export function encodeIpv4Nlri(index: PrefixIndex, pids: Int32Array, from: number, buf: Uint8Array, off: number, limit: number): [number, number] {
  let i = from;
  for (; i < pids.length; i++) {
    const pid = pids[i]!;
    const len = index.length(pid);
    const n = (len + 7) >> 3;
    if (off + 1 + n > limit) break;
    const addr = index.v4Addr(pid);
    buf[off++] = len;
    if (n > 0) buf[off++] = addr >>> 24;
    if (n > 1) buf[off++] = (addr >>> 16) & 255;
    if (n > 2) buf[off++] = (addr >>> 8) & 255;
    if (n > 3) buf[off++] = addr & 255;
  }
  return [i, off];
}

const v6Scratch = new Uint8Array(16);

/**
 * The NLRI of a list of prefix ids of one family, in the shape of the
 * codec's `NlriSource` (wire/packer.ts): hand it to `packUpdatesFrom` /
 * `packWithdrawalsFrom` with an `OutboundGroup`'s pids (or a batch's
 * withdrawals), so no prefix is turned into text on the way out.
 */
export class PidNlriSource {
  private i = 0;

  constructor(
    /** AFI: 1 (IPv4) or 2 (IPv6). */
    readonly afi: number,
    private readonly index: PrefixIndex,
    private readonly pids: Int32Array,
  ) {}

  /** Appends as many prefixes as fit before `limit`; returns the new offset (`off` when none is left). */
  write(buf: Uint8Array, off: number, limit: number): number {
    if (this.afi === 1) {
      const [next, end] = encodeIpv4Nlri(this.index, this.pids, this.i, buf, off, limit);
      this.i = next;
      return end;
    }
    const pids = this.pids;
    let i = this.i;
    for (; i < pids.length; i++) {
      const pid = pids[i]!;
      const len = this.index.length(pid);
      const n = (len + 7) >> 3;
      if (off + 1 + n > limit) break;
      this.index.v6Bytes(pid, v6Scratch);
      buf[off++] = len;
      for (let k = 0; k < n; k++) buf[off++] = v6Scratch[k]!;
    }
    this.i = i;
    return off;
  }
}
