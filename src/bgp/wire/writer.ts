/**
 * A growable big-endian writer. Lengths that are only known after the value
 * is written are reserved and back-patched (`reserveU16`/`patchU16`).
 * `finish()` hands the bytes over and the writer must not be used again.
 */
export class BufferWriter {
  private buf: Buffer;
  pos = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialSize));
  }

  /** Makes room for `n` more octets (grows by doubling). */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Writes `n` zero octets, e.g. for a reserved field. */
  zeros(n: number): this {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }

  /** Reserves a 1-octet length and returns its position. */
  reserveU8(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Reserves a 2-octet length and returns its position. */
  reserveU16(): number {
    this.ensure(2);
    const at = this.pos;
    this.pos += 2;
    return at;
  }

  patchU8(at: number, v: number): void {
    this.buf[at] = v & 0xff;
  }

  patchU16(at: number, v: number): void {
    this.buf[at] = (v >>> 8) & 0xff;
    this.buf[at + 1] = v & 0xff;
  }

  /**
   * Inserts `n` octets at `at`, moving what follows right: used when a value
   * turned out longer than a 1-octet length can say (extended length).
   */
  insertGap(at: number, n: number): void {
    this.ensure(n);
    this.buf.copyWithin(at + n, at, this.pos);
    this.pos += n;
  }

  /** Direct access for hot loops that write many octets themselves. */
  raw(): Buffer {
    return this.buf;
  }

  finish(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    return out;
  }
}
