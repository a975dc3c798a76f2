/**
 * The embedded store's log records and their framing (pure: Buffer in,
 * records out; no I/O).
 *
 * A log segment is a sequence of frames:
 *
 *     magic "tbyL" (4 bytes) | payload length (u32 BE) | CRC-32 of payload (u32 BE) | payload
 *
 * and each payload is one record in JSON. A writer appends a frame with one
 * write(2) while holding the store lock. A reader that finds a frame whose
 * header or payload is not all there yet, or whose checksum does not match,
 * stops before it: either a writer is in the middle of appending it, or a
 * writer died mid-append (a torn tail), which the next lock holder truncates
 * away. So a reader never applies half a record.
 */
import { crc32 } from 'node:zlib';

const MAGIC = 0x7462794c; // "tbyL"
export const FRAME_HEADER_BYTES = 12;
/** Sanity bound: a length field above this is corruption, not a record. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

export function encodeFrame(payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(MAGIC, 0);
  frame.writeUInt32BE(payload.length, 4);
  frame.writeUInt32BE(crc32(payload), 8);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * How a scan of frames ended:
 * - `clean`: every byte belongs to a complete, valid frame;
 * - `incomplete`: the bytes after `consumed` are the start of a frame;
 * - `corrupt`: the bytes after `consumed` are not a valid frame.
 */
export type FrameTail = 'clean' | 'incomplete' | 'corrupt';

export interface DecodedFrames {
  frames: Buffer[];
  /** Bytes taken by the complete frames (the next read starts here). */
  consumed: number;
  tail: FrameTail;
}

export function decodeFrames(buf: Buffer): DecodedFrames {
  const frames: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < FRAME_HEADER_BYTES) {
      return { frames, consumed: off, tail: magicPrefixMatches(buf, off) ? 'incomplete' : 'corrupt' };
    }
    const len = buf.readUInt32BE(off + 4);
    if (buf.readUInt32BE(off) !== MAGIC || len > MAX_RECORD_BYTES) return { frames, consumed: off, tail: 'corrupt' };
    const end = off + FRAME_HEADER_BYTES + len;
    if (end > buf.length) return { frames, consumed: off, tail: 'incomplete' };
    const payload = buf.subarray(off + FRAME_HEADER_BYTES, end);
    if (crc32(payload) !== buf.readUInt32BE(off + 8)) return { frames, consumed: off, tail: 'corrupt' };
    frames.push(payload);
    off = end;
  }
  return { frames, consumed: off, tail: 'clean' };
}

/**
 * True if a valid frame starts anywhere in `buf` at or after `from`. A bad
 * frame followed by valid ones is damage in the middle of the log, which
 * must never be "repaired" by truncation; a bad frame with nothing valid
 * after it is a torn tail.
 */
export function hasValidFrameAfter(buf: Buffer, from: number): boolean {
  const magic = Buffer.alloc(4);
  magic.writeUInt32BE(MAGIC, 0);
  for (let at = buf.indexOf(magic, from); at >= 0; at = buf.indexOf(magic, at + 1)) {
    if (decodeFrames(buf.subarray(at)).frames.length > 0) return true;
  }
  return false;
}

function magicPrefixMatches(buf: Buffer, off: number): boolean {
  const magic = Buffer.alloc(4);
  magic.writeUInt32BE(MAGIC, 0);
  const have = buf.subarray(off, Math.min(buf.length, off + 4));
  return magic.subarray(0, have.length).equals(have);
}

/**
 * A key change. `k` is the encoded key (keys.ts), `v` the value as JSON text
 * (kept as text so that replaying the log never re-serialises values), `l`
 * its lease.
 */
export type KvOp = { t: 'put'; k: string; v: string; l?: string } | { t: 'del'; k: string };

/** Lease bookkeeping. Times are wall-clock milliseconds (one machine, one clock). */
export type LeaseOp =
  | { t: 'grant'; id: string; ttl: number; exp: number }
  | { t: 'keepalive'; id: string; exp: number }
  | { t: 'revoke'; id: string };

/**
 * One log record. `seq` numbers every record of the store (1, 2, 3, ...
 * without gaps); `rev` is present when the record changes keys, and is then
 * the new store revision (records that only touch leases, or seal a segment,
 * do not create a revision, as in etcd).
 */
export interface LogRecord {
  seq: number;
  rev?: number;
  kv?: KvOp[];
  leases?: LeaseOp[];
  /** The last record of a segment: the file name of the next segment. */
  seal?: string;
}

export function encodeRecord(rec: LogRecord): Buffer {
  return encodeFrame(Buffer.from(JSON.stringify(rec), 'utf8'));
}

/** Parses and shape-checks one payload; throws a plain Error naming the problem. */
export function parseRecord(payload: Buffer): LogRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw new Error(`record is not JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('record is not an object');
  const r = raw as Record<string, unknown>;
  if (!isCount(r.seq) || r.seq < 1) throw new Error(`record has a bad seq ${JSON.stringify(r.seq)}`);
  const rec: LogRecord = { seq: r.seq };
  if (r.rev !== undefined) {
    if (!isCount(r.rev) || r.rev < 1) throw new Error(`record ${r.seq} has a bad rev`);
    rec.rev = r.rev;
  }
  if (r.kv !== undefined) {
    if (!Array.isArray(r.kv) || !r.kv.every(isKvOp)) throw new Error(`record ${r.seq} has bad kv ops`);
    if (rec.rev === undefined) throw new Error(`record ${r.seq} changes keys without a rev`);
    rec.kv = r.kv;
  }
  if (rec.rev !== undefined && (rec.kv === undefined || rec.kv.length === 0)) throw new Error(`record ${r.seq} has a rev but no kv ops`);
  if (r.leases !== undefined) {
    if (!Array.isArray(r.leases) || !r.leases.every(isLeaseOp)) throw new Error(`record ${r.seq} has bad lease ops`);
    rec.leases = r.leases;
  }
  if (r.seal !== undefined) {
    if (typeof r.seal !== 'string') throw new Error(`record ${r.seq} has a bad seal`);
    rec.seal = r.seal;
  }
  return rec;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isKvOp(v: unknown): v is KvOp {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  if (typeof o.k !== 'string') return false;
  if (o.t === 'del') return true;
  return o.t === 'put' && typeof o.v === 'string' && (o.l === undefined || typeof o.l === 'string');
}

function isLeaseOp(v: unknown): v is LeaseOp {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string') return false;
  switch (o.t) {
    case 'grant':
      return isCount(o.ttl) && isCount(o.exp);
    case 'keepalive':
      return isCount(o.exp);
    case 'revoke':
      return true;
    default:
      return false;
  }
}
