/**
 * A bounds-checked cursor over a slice of a Buffer. Every read past `end`
 * throws the BgpMessageError the reader was built with, so a caller picks the
 * NOTIFICATION that fits the field being read (e.g. OPEN Message Error
 * inside an OPEN, Malformed Attribute List in an UPDATE).
 */
import { BgpMessageError, EMPTY, ErrorAction } from './errors.js';

export interface OverrunError {
  code: number;
  subcode: number;
  /** What is being read, for the error message. */
  what: string;
  data?: Buffer;
  action?: ErrorAction;
}

export class BufferReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    readonly start: number,
    readonly end: number,
    private readonly overrun: OverrunError,
  ) {
    if (start < 0 || end > buf.length || start > end) throw new RangeError(`reader bounds ${start}..${end} outside 0..${buf.length}`);
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Throws the overrun error unless `n` more octets are available. */
  need(n: number): void {
    if (n > this.end - this.pos) this.fail(`${this.overrun.what}: need ${n} octet(s), ${this.end - this.pos} left`);
  }

  fail(message: string): never {
    const o = this.overrun;
    throw new BgpMessageError(o.code, o.subcode, o.data ?? EMPTY, message, o.action ?? 'session-reset');
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A copy of the next `n` octets (safe to keep: does not pin the frame). */
  bytes(n: number): Buffer {
    this.need(n);
    const out = n === 0 ? EMPTY : Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** A view of the next `n` octets (shares memory with the frame). */
  view(n: number): Buffer {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** A reader over the next `n` octets, with its own overrun error; advances this one past them. */
  sub(n: number, overrun: OverrunError = this.overrun): BufferReader {
    this.need(n);
    const r = new BufferReader(this.buf, this.pos, this.pos + n, overrun);
    this.pos += n;
    return r;
  }
}
