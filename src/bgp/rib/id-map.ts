/**
 * IdMap: a map from prefix ids (small non-negative int32, see
 * `prefix-index.ts`) to non-zero int32 values, stored in typed arrays.
 *
 * Why not `Map<number, number>`: a V8 Map costs ~30-40 bytes per entry and
 * every value is a tagged slot; the RIB holds one such map per peer and
 * direction, with up to millions of entries each. This map has two layouts and
 * switches between them by how full it is:
 *
 *  - hash: open addressing with linear probing over two Int32Arrays (key,
 *    value), load <= 0.7, backward-shift deletion (no tombstones). About
 *    12-16 bytes per entry. Used while the map is sparse relative to the
 *    prefix universe (a mesh peer that sends 3 prefixes out of 1M).
 *  - dense: one Int32Array indexed by id, 0 = absent. 4 bytes per id of the
 *    universe. Chosen when the map holds at least a quarter of the universe
 *    (where dense becomes the smaller of the two), dropped again when it falls
 *    under a sixteenth (hysteresis, so it does not flap).
 *
 * The id space (the prefix index) says how many ids exist (`universe`, its
 * high-water mark) and how far its own per-id arrays reach (`capacity`, a
 * power of two): dense arrays are sized to that capacity, so they grow in
 * step with the index instead of overshooting it.
 */

/** Where ids come from: `PrefixIndex` is one. */
export interface IdSpace {
  readonly universe: number;
  readonly capacity: number;
}

const EMPTY_KEY = -1;
const MIN_HASH_CAPACITY = 16;
/** Below this universe the hash layout is always used (dense saves nothing). */
const MIN_DENSE_UNIVERSE = 256;

export class IdMap {
  private hkeys: Int32Array;
  private hvals: Int32Array;
  private mask: number;
  private shift: number;
  private dense: Int32Array | null = null;
  private _size = 0;

  constructor(private readonly space: IdSpace) {
    this.hkeys = new Int32Array(MIN_HASH_CAPACITY).fill(EMPTY_KEY);
    this.hvals = new Int32Array(MIN_HASH_CAPACITY);
    this.mask = MIN_HASH_CAPACITY - 1;
    this.shift = 32 - Math.log2(MIN_HASH_CAPACITY);
  }

  get size(): number {
    return this._size;
  }

  /** The value for `id`, or 0 when absent. */
  get(id: number): number {
    const d = this.dense;
    if (d !== null) return id < d.length ? d[id]! : 0;
    const keys = this.hkeys;
    let i = Math.imul(id, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const k = keys[i]!;
      if (k === id) return this.hvals[i]!;
      if (k === EMPTY_KEY) return 0;
      i = (i + 1) & this.mask;
    }
  }

  has(id: number): boolean {
    return this.get(id) !== 0;
  }

  /**
   * Sets `id` to `value` (must be non-zero) and returns the previous value (0
   * when it was absent).
   */
  set(id: number, value: number): number {
    let d = this.dense;
    if (d !== null) {
      if (id >= d.length) d = this.growDense(id);
      const old = d[id]!;
      d[id] = value;
      if (old === 0) this._size++;
      return old;
    }
    const keys = this.hkeys;
    let i = Math.imul(id, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const k = keys[i]!;
      if (k === id) {
        const old = this.hvals[i]!;
        this.hvals[i] = value;
        return old;
      }
      if (k === EMPTY_KEY) break;
      i = (i + 1) & this.mask;
    }
    keys[i] = id;
    this.hvals[i] = value;
    this._size++;
    if (this._size * 10 > keys.length * 7) this.afterGrowth();
    return 0;
  }

  /** Removes `id` and returns its value (0 when it was absent). */
  delete(id: number): number {
    const d = this.dense;
    if (d !== null) {
      if (id >= d.length) return 0;
      const old = d[id]!;
      if (old !== 0) {
        d[id] = 0;
        this._size--;
        if (this._size * 16 < d.length && d.length > MIN_DENSE_UNIVERSE * 4) this.toHash();
      }
      return old;
    }
    const keys = this.hkeys;
    const vals = this.hvals;
    const mask = this.mask;
    let i = Math.imul(id, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const k = keys[i]!;
      if (k === EMPTY_KEY) return 0;
      if (k === id) break;
      i = (i + 1) & mask;
    }
    const old = vals[i]!;
    // Backward-shift deletion: pull later members of the probe run into the hole.
    let hole = i;
    let j = (i + 1) & mask;
    for (;;) {
      const k = keys[j]!;
      if (k === EMPTY_KEY) break;
      const home = Math.imul(k, 0x9e3779b1) >>> this.shift;
      // Move k into the hole when its home is not cyclically within (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        keys[hole] = k;
        vals[hole] = vals[j]!;
        hole = j;
      }
      j = (j + 1) & mask;
    }
    keys[hole] = EMPTY_KEY;
    vals[hole] = 0;
    this._size--;
    return old;
  }

  /** Calls fn(id, value) for every entry, in no particular order. fn must not add or remove entries. */
  forEach(fn: (id: number, value: number) => void): void {
    const d = this.dense;
    if (d !== null) {
      for (let id = 0; id < d.length; id++) {
        const v = d[id]!;
        if (v !== 0) fn(id, v);
      }
      return;
    }
    const keys = this.hkeys;
    const vals = this.hvals;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k !== EMPTY_KEY) fn(k, vals[i]!);
    }
  }

  /**
   * Copies up to ids.length entries into ids/values (in no particular order)
   * and returns how many were copied. The map is not changed.
   */
  copyTo(ids: Int32Array, values: Int32Array): number {
    const max = ids.length;
    let n = 0;
    const d = this.dense;
    if (d !== null) {
      for (let id = 0; id < d.length && n < max; id++) {
        const v = d[id]!;
        if (v !== 0) {
          ids[n] = id;
          values[n++] = v;
        }
      }
      return n;
    }
    const keys = this.hkeys;
    const vals = this.hvals;
    for (let i = 0; i < keys.length && n < max; i++) {
      const k = keys[i]!;
      if (k !== EMPTY_KEY) {
        ids[n] = k;
        values[n++] = vals[i]!;
      }
    }
    return n;
  }

  /** Copies all ids into a new Int32Array (safe to mutate the map while walking it). */
  ids(): Int32Array {
    const out = new Int32Array(this._size);
    let n = 0;
    this.forEach((id) => {
      out[n++] = id;
    });
    return out;
  }

  /** Replaces every value v with fn(v) (non-zero) without changing the key set. */
  mapValues(fn: (value: number) => number): void {
    const d = this.dense;
    const vals = d !== null ? d : this.hvals;
    const keys = d !== null ? null : this.hkeys;
    for (let i = 0; i < vals.length; i++) {
      if (keys !== null ? keys[i] !== EMPTY_KEY : vals[i] !== 0) vals[i] = fn(vals[i]!);
    }
  }

  /**
   * Empties the map. A hash of up to 2^17 slots is kept (wiped), so a map that
   * is filled and drained over and over (Adj-RIB-Out pending changes) does not
   * regrow through every size each time; anything bigger is given back.
   */
  clear(): void {
    if (this.dense === null && this.hkeys.length <= 1 << 17) {
      if (this._size > 0) {
        this.hkeys.fill(EMPTY_KEY);
        this.hvals.fill(0);
      }
      this._size = 0;
      return;
    }
    this.dense = null;
    this.hkeys = new Int32Array(MIN_HASH_CAPACITY).fill(EMPTY_KEY);
    this.hvals = new Int32Array(MIN_HASH_CAPACITY);
    this.mask = MIN_HASH_CAPACITY - 1;
    this.shift = 32 - Math.log2(MIN_HASH_CAPACITY);
    this._size = 0;
  }

  /** Bytes of typed-array storage held (for memory accounting in tests and the benchmark). */
  byteSize(): number {
    return this.dense !== null ? this.dense.byteLength : this.hkeys.byteLength + this.hvals.byteLength;
  }

  /** 'dense' or 'hash' (tests). */
  get layout(): 'dense' | 'hash' {
    return this.dense !== null ? 'dense' : 'hash';
  }

  private afterGrowth(): void {
    const u = this.space.universe;
    // Dense costs 4 bytes per id of the universe, hash ~16 per entry after the
    // doubling that is about to happen: switch when dense is no larger.
    if (u >= MIN_DENSE_UNIVERSE && this._size * 4 >= u) this.toDense(Math.max(u, this.space.capacity));
    else this.rehash(this.hkeys.length * 2);
  }

  private rehash(capacity: number): void {
    const oldKeys = this.hkeys;
    const oldVals = this.hvals;
    const keys = new Int32Array(capacity).fill(EMPTY_KEY);
    const vals = new Int32Array(capacity);
    const mask = capacity - 1;
    const shift = 32 - Math.log2(capacity);
    for (let j = 0; j < oldKeys.length; j++) {
      const k = oldKeys[j]!;
      if (k === EMPTY_KEY) continue;
      let i = Math.imul(k, 0x9e3779b1) >>> shift;
      while (keys[i] !== EMPTY_KEY) i = (i + 1) & mask;
      keys[i] = k;
      vals[i] = oldVals[j]!;
    }
    this.hkeys = keys;
    this.hvals = vals;
    this.mask = mask;
    this.shift = shift;
  }

  private toDense(universe: number): void {
    let maxId = 0;
    const keys = this.hkeys;
    for (let j = 0; j < keys.length; j++) if (keys[j]! > maxId) maxId = keys[j]!;
    const d = new Int32Array(Math.max(universe, maxId + 1));
    for (let j = 0; j < keys.length; j++) {
      const k = keys[j]!;
      if (k !== EMPTY_KEY) d[k] = this.hvals[j]!;
    }
    this.dense = d;
    this.hkeys = new Int32Array(0);
    this.hvals = new Int32Array(0);
  }

  private growDense(id: number): Int32Array {
    const old = this.dense!;
    const d = new Int32Array(Math.max(this.space.capacity, id + 1, old.length + (old.length >> 1)));
    d.set(old);
    this.dense = d;
    return d;
  }

  private toHash(): void {
    const d = this.dense!;
    let capacity = MIN_HASH_CAPACITY;
    while (this._size * 10 > capacity * 5) capacity *= 2;
    this.dense = null;
    this.hkeys = new Int32Array(capacity).fill(EMPTY_KEY);
    this.hvals = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.shift = 32 - Math.log2(capacity);
    const n = this._size;
    this._size = 0;
    for (let id = 0; id < d.length; id++) if (d[id] !== 0) this.set(id, d[id]!);
    if (this._size !== n) throw new Error('IdMap: size mismatch while converting to hash');
  }
}
