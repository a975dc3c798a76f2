/**
 * PrefixIndex: gives every prefix the RIB knows a small integer id (`pid`),
 * so every per-prefix table (Adj-RIB-In, Loc-RIB, Adj-RIB-Out) is an int ->
 * int map over typed arrays instead of a string-keyed Map of objects.
 *
 * IPv4 (the volume case) is kept as numbers only: the address as uint32 and
 * the length, in parallel typed arrays indexed by pid, found through an
 * open-addressing hash (linear probing) whose slots are (address, pid << 6 |
 * length) pairs interleaved in one Int32Array, so a probe never leaves the
 * slot's cache line to compare keys. The hash keeps 8 consecutive networks of
 * one length next to each other (and scatters the blocks), so a table that
 * arrives in order, as full-table dumps do, fills memory sequentially instead
 * of missing the cache once per prefix. About 26 bytes per prefix in total.
 * IPv6 takes a slower path: canonical text in a `Map<string, pid>` (correct,
 * not compact).
 *
 * Ids are reference counted by the tables that store them. `acquire*` returns
 * an id with one reference for the caller, who hands it to a table or
 * releases it. An id whose count reaches zero is freed only in `collect()`
 * (the RIB calls it at the end of each flush), so an id queued in a change
 * batch can never be recycled for another prefix in the middle of that batch.
 */
import { canonicalPrefix, parseIpv6Into } from '../wire/prefix.js';

export type Family = 4 | 6;

const META_LEN = 0xff;
const META_V6 = 0x100;
const META_USED = 0x200;

/**
 * Home slot of addr/len. The slots form groups of LANES consecutive pairs
 * (one 64-byte line). The network number n (addr >> (32 - len)) without its
 * low 3 bits, and the length, go through murmur3's fmix32 to pick the group;
 * the low 3 bits, XORed with 3 bits of that hash, pick the lane. So the 8
 * neighbouring networks of a block, which tables list one after the other,
 * land in one cache line (a permutation of its lanes), while the lanes of
 * unrelated keys are uniformly spread (no lane fills up when, say, only every
 * 8th /24 exists). Probing steps a whole group at a time and stays in the
 * lane: each lane is an ordinary linear-probing table.
 */
const LANES = 8;
/** An insert that probes this far makes the table grow (keeps probe runs short). */
const MAX_PROBE = 32;

function slotHash(addr: number, len: number): number {
  const n = len === 0 ? 0 : addr >>> (32 - len);
  let h = ((n >>> 3) ^ Math.imul(len + 1, 0x9e3779b1)) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h << 3) | ((n ^ (h >>> 29)) & 7);
}

/** Prefix ids are stored as pid << 6 | length in the slots: ids stay below 2^25. */
const MAX_IDS = 1 << 25;

/** Network mask of an IPv4 prefix length, as uint32. */
export function v4Mask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

export function v4Text(addr: number, len: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}/${len}`;
}

/** Parses "a.b.c.d/n" into [addr, len] with host bits cleared; undefined when malformed. */
export function parseV4Prefix(text: string): [number, number] | undefined {
  let addr = 0;
  let octet = 0;
  let digits = 0;
  let parts = 0;
  let i = 0;
  const n = text.length;
  for (; i < n; i++) {
    const ch = text.charCodeAt(i);
    if (ch >= 48 && ch <= 57) {
      octet = octet * 10 + (ch - 48);
      if (++digits > 3 || octet > 255) return undefined;
    } else if (ch === 46 || ch === 47) {
      if (digits === 0) return undefined;
      addr = addr * 256 + octet;
      parts++;
      octet = 0;
      digits = 0;
      if (ch === 47) break;
      if (parts > 3) return undefined;
    } else {
      return undefined;
    }
  }
  if (parts !== 4 || i >= n) return undefined;
  let len = 0;
  let ld = 0;
  for (i++; i < n; i++) {
    const ch = text.charCodeAt(i);
    if (ch < 48 || ch > 57 || ++ld > 2) return undefined;
    len = len * 10 + (ch - 48);
  }
  if (ld === 0 || len > 32) return undefined;
  return [(addr & v4Mask(len)) >>> 0, len];
}

export class PrefixIndex {
  private addrs: Uint32Array;
  private meta: Uint16Array;
  private refs: Uint32Array;
  /** IPv4 hash: pairs [address, (pid + 1) << 6 | length]; second word 0 = empty. */
  private slots: Int32Array;
  /** Number of pairs - 1. */
  private slotMask: number;
  private v4Count = 0;
  private readonly v6Ids = new Map<string, number>();
  private readonly v6Texts = new Map<number, string>();
  private freeIds: number[] = [];
  private zeroQueue: number[] = [];
  /** Ids below this have been handed out at least once (the universe of dense tables). */
  private highWater = 0;
  private live = 0;

  constructor(initialCapacity = 1024) {
    const cap = Math.max(16, 2 ** Math.ceil(Math.log2(initialCapacity)));
    this.addrs = new Uint32Array(cap);
    this.meta = new Uint16Array(cap);
    this.refs = new Uint32Array(cap);
    this.slots = new Int32Array(cap * 4);
    this.slotMask = cap * 2 - 1;
  }

  /** Live prefixes (allocated ids). */
  get size(): number {
    return this.live;
  }

  /** Ids in use are all below this: the length dense per-prefix arrays must cover. */
  get universe(): number {
    return this.highWater;
  }

  /** Length of the per-id arrays (>= universe); dense tables may size to it. */
  get capacity(): number {
    return this.addrs.length;
  }

  // ---------------------------------------------------------------------------
  // Lookup and creation

  /** The id of addr/len (host bits must already be clear), or -1. */
  findV4(addr: number, len: number): number {
    const slots = this.slots;
    const mask = this.slotMask;
    const groups = (mask + 1) >>> 3;
    const a = addr | 0;
    let i = slotHash(addr, len) & mask;
    // Bounded by the lane's size: a lane may be full (see acquireV4).
    for (let p = 0; p < groups; p++) {
      const v = slots[2 * i + 1]!;
      if (v === 0) return -1;
      if (slots[2 * i] === a && (v & 63) === len) return (v >>> 6) - 1;
      i = (i + LANES) & mask;
    }
    return -1;
  }

  /** The id of addr/len with one reference for the caller; created when new. */
  acquireV4(addr: number, len: number): number {
    const slots = this.slots;
    const mask = this.slotMask;
    const groups = (mask + 1) >>> 3;
    const a = addr | 0;
    let i = slotHash(addr, len) & mask;
    let probes = 0;
    for (;;) {
      const v = slots[2 * i + 1]!;
      if (v === 0) break;
      if (slots[2 * i] === a && (v & 63) === len) {
        const pid = (v >>> 6) - 1;
        this.refs[pid]!++;
        return pid;
      }
      i = (i + LANES) & mask;
      if (++probes === groups) {
        // The lane is full (only possible in small tables): grow and retry.
        this.rehash((mask + 1) * 2);
        return this.acquireV4(addr, len);
      }
    }
    const pid = this.allocId();
    this.addrs[pid] = addr;
    this.meta[pid] = len | META_USED;
    this.refs[pid] = 1;
    slots[2 * i] = a;
    slots[2 * i + 1] = ((pid + 1) << 6) | len;
    this.v4Count++;
    if (this.v4Count * 4 > (mask + 1) * 3 || probes >= MAX_PROBE) this.rehash((mask + 1) * 2);
    return pid;
  }

  /** Finds the id of a prefix in text form (any family), or -1. */
  findText(text: string): number {
    const v4 = parseV4Prefix(text);
    if (v4) return this.findV4(v4[0], v4[1]);
    const c = text.indexOf(':') >= 0 ? canonicalPrefix(text) : undefined;
    if (c === undefined) return -1;
    return this.v6Ids.get(c) ?? -1;
  }

  /**
   * The id of a prefix in text form with one reference for the caller;
   * created when new. Throws RangeError when the text is not a prefix.
   */
  acquireText(text: string): number {
    const v4 = parseV4Prefix(text);
    if (v4) return this.acquireV4(v4[0], v4[1]);
    const c = text.indexOf(':') >= 0 ? canonicalPrefix(text) : undefined;
    if (c === undefined) throw new RangeError(`not a prefix: ${JSON.stringify(text)}`);
    const found = this.v6Ids.get(c);
    if (found !== undefined) {
      this.refs[found]!++;
      return found;
    }
    const pid = this.allocId();
    const slash = c.lastIndexOf('/');
    this.meta[pid] = Number(c.slice(slash + 1)) | META_V6 | META_USED;
    this.addrs[pid] = 0;
    this.refs[pid] = 1;
    this.v6Ids.set(c, pid);
    this.v6Texts.set(pid, c);
    return pid;
  }

  // ---------------------------------------------------------------------------
  // Reference counting

  retain(pid: number): void {
    this.refs[pid]!++;
  }

  release(pid: number): void {
    const r = this.refs[pid]! - 1;
    if (!(r >= 0)) throw new Error(`PrefixIndex: release of unreferenced id ${pid}`);
    this.refs[pid] = r;
    if (r === 0) this.zeroQueue.push(pid);
  }

  refCount(pid: number): number {
    return this.refs[pid]!;
  }

  /** Frees the ids whose count fell to zero since the last call; returns how many. */
  collect(): number {
    const q = this.zeroQueue;
    if (q.length === 0) return 0;
    this.zeroQueue = [];
    let freed = 0;
    for (const pid of q) {
      if (this.refs[pid] !== 0 || (this.meta[pid]! & META_USED) === 0) continue;
      this.freeId(pid);
      freed++;
    }
    return freed;
  }

  // ---------------------------------------------------------------------------
  // Reading

  isLive(pid: number): boolean {
    return pid >= 0 && pid < this.highWater && (this.meta[pid]! & META_USED) !== 0;
  }

  family(pid: number): Family {
    return (this.meta[pid]! & META_V6) !== 0 ? 6 : 4;
  }

  isV6(pid: number): boolean {
    return (this.meta[pid]! & META_V6) !== 0;
  }

  length(pid: number): number {
    return this.meta[pid]! & META_LEN;
  }

  /** IPv4 network address as uint32 (0 for IPv6 ids). */
  v4Addr(pid: number): number {
    return this.addrs[pid]!;
  }

  /** Canonical text ("10.0.0.0/24", "2001:db8::/32"). */
  text(pid: number): string {
    const m = this.meta[pid]!;
    if ((m & META_V6) !== 0) return this.v6Texts.get(pid)!;
    return v4Text(this.addrs[pid]!, m & META_LEN);
  }

  /** The 16 address octets of an IPv6 id into out[0..16). */
  v6Bytes(pid: number, out: Uint8Array): void {
    const t = this.v6Texts.get(pid)!;
    parseIpv6Into(t, 0, t.lastIndexOf('/'), out, 0);
  }

  /** Calls fn(pid) for every live id. */
  forEachLive(fn: (pid: number) => void): void {
    for (let pid = 0; pid < this.highWater; pid++) if ((this.meta[pid]! & META_USED) !== 0) fn(pid);
  }

  byteSize(): number {
    return this.addrs.byteLength + this.meta.byteLength + this.refs.byteLength + this.slots.byteLength;
  }

  // ---------------------------------------------------------------------------
  // Internals

  private allocId(): number {
    this.live++;
    const reused = this.freeIds.pop();
    if (reused !== undefined) return reused;
    if (this.highWater === this.addrs.length) this.growArrays();
    if (this.highWater + 1 >= MAX_IDS) throw new RangeError('PrefixIndex: more than 2^25 prefixes');
    return this.highWater++;
  }

  private freeId(pid: number): void {
    const m = this.meta[pid]!;
    if ((m & META_V6) !== 0) {
      const t = this.v6Texts.get(pid)!;
      this.v6Texts.delete(pid);
      this.v6Ids.delete(t);
    } else {
      this.removeV4Slot(pid, this.addrs[pid]!, m & META_LEN);
      this.v4Count--;
    }
    this.meta[pid] = 0;
    this.addrs[pid] = 0;
    this.live--;
    this.freeIds.push(pid);
  }

  private removeV4Slot(pid: number, addr: number, len: number): void {
    const slots = this.slots;
    const mask = this.slotMask;
    const groups = (mask + 1) >>> 3;
    const want = ((pid + 1) << 6) | len;
    let i = slotHash(addr, len) & mask;
    for (let p = 0; slots[2 * i + 1] !== want; p++) {
      if (slots[2 * i + 1] === 0 || p === groups) throw new Error(`PrefixIndex: id ${pid} missing from the hash`);
      i = (i + LANES) & mask;
    }
    // Backward-shift deletion: pull later members of the probe run into the hole.
    let hole = i;
    let j = (i + LANES) & mask;
    for (let p = 1; p < groups; p++) {
      const v = slots[2 * j + 1]!;
      if (v === 0) break;
      const k = slots[2 * j]!;
      const home = slotHash(k >>> 0, v & 63) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots[2 * hole] = k;
        slots[2 * hole + 1] = v;
        hole = j;
      }
      j = (j + LANES) & mask;
    }
    slots[2 * hole] = 0;
    slots[2 * hole + 1] = 0;
  }

  private growArrays(): void {
    const cap = this.addrs.length * 2;
    const a = new Uint32Array(cap);
    a.set(this.addrs);
    this.addrs = a;
    const m = new Uint16Array(cap);
    m.set(this.meta);
    this.meta = m;
    const r = new Uint32Array(cap);
    r.set(this.refs);
    this.refs = r;
  }

  /** Rebuilds the hash with `pairs` slots; reads only the slot array (no per-id lookups). */
  private rehash(pairs: number): void {
    for (;;) {
      const slots = this.rebuild(pairs);
      if (slots !== undefined) {
        this.slots = slots;
        this.slotMask = pairs - 1;
        return;
      }
      pairs *= 2;
    }
  }

  /** The slots rebuilt at `pairs` pairs, or undefined when a lane would fill up. */
  private rebuild(pairs: number): Int32Array | undefined {
    const slots = new Int32Array(pairs * 2);
    const mask = pairs - 1;
    const old = this.slots;
    for (let j = 0; j < old.length; j += 2) {
      const v = old[j + 1]!;
      if (v === 0) continue;
      const k = old[j]!;
      let i = slotHash(k >>> 0, v & 63) & mask;
      let probes = 0;
      while (slots[2 * i + 1] !== 0) {
        i = (i + LANES) & mask;
        if (++probes === pairs >>> 3) return undefined;
      }
      slots[2 * i] = k;
      slots[2 * i + 1] = v;
    }
    return slots;
  }
}
