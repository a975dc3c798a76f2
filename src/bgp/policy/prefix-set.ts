/**
 * A compiled prefix list: entries "P/L ge G le H" (config `parsePrefixMatch`)
 * with the usual meaning (BIRD `{ P/L{G,H} }`, FRR `ip prefix-list`): a
 * prefix p/n matches when n is within [G, H] and the first L bits of p equal
 * those of P.
 *
 * IPv4 lookups do no parsing and no string work: entries are grouped by their
 * length L, and for each L a Map from the top L bits of the address to a
 * 33-slot table of accepted prefix lengths. A lookup probes one map per
 * distinct entry length not longer than the prefix (usually one or two).
 * IPv6 entries are few in practice and are matched by a linear scan over
 * their octets.
 */
import type { PrefixMatch } from '../config.js';
import { parseIpv6Into } from '../wire/prefix.js';
import { parseV4Prefix } from '../rib/prefix-index.js';

interface V6Entry {
  bytes: Uint8Array;
  len: number;
  ge: number;
  le: number;
}

function v6PrefixMatches(e: V6Entry, bytes: Uint8Array, len: number): boolean {
  if (len < e.ge || len > e.le) return false;
  const full = e.len >> 3;
  for (let i = 0; i < full; i++) if (bytes[i] !== e.bytes[i]) return false;
  const rest = e.len & 7;
  if (rest === 0) return true;
  const m = (0xff << (8 - rest)) & 0xff;
  return (bytes[full]! & m) === (e.bytes[full]! & m);
}

export class PrefixSet {
  /** Distinct IPv4 entry lengths, ascending. */
  private readonly v4Lens: number[] = [];
  /** Per entry length: top bits -> accepted prefix lengths (index 0..32). */
  private readonly v4ByLen: (Map<number, Uint8Array> | undefined)[] = new Array(33).fill(undefined);
  private readonly v6: V6Entry[] = [];

  constructor(entries: readonly PrefixMatch[]) {
    for (const e of entries) {
      const slash = e.prefix.indexOf('/');
      if (e.family === 4) {
        const p = parseV4Prefix(e.prefix);
        if (!p) throw new RangeError(`not an IPv4 prefix: ${e.prefix}`);
        const L = e.length;
        let m = this.v4ByLen[L];
        if (!m) {
          m = new Map();
          this.v4ByLen[L] = m;
          this.v4Lens.push(L);
        }
        const key = L === 0 ? 0 : p[0] >>> (32 - L);
        let lens = m.get(key);
        if (!lens) {
          lens = new Uint8Array(33);
          m.set(key, lens);
        }
        for (let n = e.ge; n <= e.le; n++) lens[n] = 1;
      } else {
        const bytes = new Uint8Array(16);
        if (!parseIpv6Into(e.prefix, 0, slash, bytes, 0)) throw new RangeError(`not an IPv6 prefix: ${e.prefix}`);
        this.v6.push({ bytes, len: e.length, ge: e.ge, le: e.le });
      }
    }
    this.v4Lens.sort((a, b) => a - b);
  }

  matchesV4(addr: number, len: number): boolean {
    const lens = this.v4Lens;
    for (let i = 0; i < lens.length; i++) {
      const L = lens[i]!;
      if (L > len) break;
      const flags = this.v4ByLen[L]!.get(L === 0 ? 0 : addr >>> (32 - L));
      if (flags !== undefined && flags[len] === 1) return true;
    }
    return false;
  }

  /** `bytes`: the 16 address octets; `len`: the prefix length. */
  matchesV6(bytes: Uint8Array, len: number): boolean {
    for (const e of this.v6) if (v6PrefixMatches(e, bytes, len)) return true;
    return false;
  }

  /** Convenience for tests and the CLI: a prefix in text form. */
  matchesText(prefix: string): boolean {
    const v4 = parseV4Prefix(prefix);
    if (v4) return this.matchesV4(v4[0], v4[1]);
    const slash = prefix.lastIndexOf('/');
    const bytes = new Uint8Array(16);
    if (slash < 0 || !parseIpv6Into(prefix, 0, slash, bytes, 0)) return false;
    return this.matchesV6(bytes, Number(prefix.slice(slash + 1)));
  }
}
