/**
 * The embedded store's log: one process's view of it (LogTailer) and the
 * read-back of history for watches (readHistory).
 *
 * A LogTailer holds the state rebuilt from the latest snapshot and the
 * records after it, and the position (segment, byte offset) up to which it
 * has applied them. `catchUp` applies whatever other processes appended
 * since; `append` (lock held, caught up) writes new records. Only the lock
 * holder may truncate a torn tail, create the next segment after a seal, or
 * roll/compact segments.
 */
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, StoreCorruptError } from '../errors.js';
import { decodeFrames, encodeRecord, hasValidFrameAfter, parseRecord, type LogRecord } from './record-codec.js';
import { StoreState, type AppliedChange } from './state.js';
import { fsyncDir, listDir, parseSegmentName, readSnapshot, segmentName, snapshotName, writeFileAtomic, type SegmentInfo } from './layout.js';

export interface CatchUpResult {
  changes: AppliedChange[];
  /** The tailer lost its place (its next segment was deleted) and reloaded: changes were skipped. */
  reloaded: boolean;
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

// Bounded loops: a catch-up crosses at most this many segments in one call.
const MAX_SEGMENT_HOPS = 10_000;
const MAX_LOAD_ATTEMPTS = 20;

export class LogTailer {
  private sealedNext: string | undefined;

  private constructor(
    readonly dir: string,
    public state: StoreState,
    private segment: SegmentInfo,
    private fh: FileHandle,
    /** Bytes of the current segment applied so far. */
    public offset: number,
  ) {}

  get segmentPath(): string {
    return join(this.dir, this.segment.name);
  }

  get currentSegment(): SegmentInfo {
    return this.segment;
  }

  /**
   * Rebuilds the state from the latest snapshot and the log after it.
   * Retries when a concurrent roll removes a file between listing and opening.
   */
  static async load(dir: string): Promise<LogTailer> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < MAX_LOAD_ATTEMPTS; attempt++) {
      const listing = await listDir(dir);
      if (listing.segments.length === 0) throw new StoreCorruptError(dir, 'no log segment (log-*.seg) found');
      let state = new StoreState();
      const snap = listing.snapshots.at(-1);
      try {
        if (snap !== undefined) state = StoreState.fromSnapshot(await readSnapshot(dir, snap));
        // The segment that holds the record after the snapshot: the last one starting at or before it.
        const seg = [...listing.segments].reverse().find((s) => s.baseSeq <= state.seq);
        if (!seg) throw new StoreCorruptError(dir, `no log segment covers the records after snapshot seq ${state.seq}`);
        const fh = await open(join(dir, seg.name), 'r+');
        const tailer = new LogTailer(dir, state, seg, fh, 0);
        await tailer.catchUp(false);
        return tailer;
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        lastErr = err; // rolled away under us: list again
      }
    }
    throw new StoreCorruptError(dir, `could not load the store: ${(lastErr as Error)?.message ?? 'files keep changing'}`);
  }

  /**
   * Applies the records appended since the last call. With `locked` (the
   * caller holds the store lock, so nobody is mid-append), a torn tail is
   * truncated and a missing next segment is created; without it, both mean
   * "not yet" and the tailer stops there.
   */
  async catchUp(locked: boolean): Promise<CatchUpResult> {
    const changes: AppliedChange[] = [];
    let reloaded = false;
    for (let hop = 0; hop < MAX_SEGMENT_HOPS; hop++) {
      const size = (await this.fh.stat()).size;
      if (size > this.offset) {
        const buf = Buffer.allocUnsafe(size - this.offset);
        const { bytesRead } = await this.fh.read(buf, 0, buf.length, this.offset);
        const data = buf.subarray(0, bytesRead);
        const dec = decodeFrames(data);
        for (const frame of dec.frames) {
          let rec: LogRecord;
          try {
            rec = parseRecord(frame);
          } catch (err) {
            throw new StoreCorruptError(this.segmentPath, (err as Error).message);
          }
          changes.push(...this.applyOne(rec));
        }
        this.offset += dec.consumed;
        if (dec.tail !== 'clean') {
          if (!locked) return { changes, reloaded };
          await this.repairTail(data, dec.consumed);
        }
      } else if (size < this.offset) {
        throw new StoreCorruptError(this.segmentPath, `segment shrank below applied offset ${this.offset} (to ${size} bytes)`);
      }
      if (this.sealedNext === undefined) return { changes, reloaded };
      const moved = await this.openNext(this.sealedNext, locked);
      if (moved === 'wait') return { changes, reloaded };
      if (moved === 'gap') {
        // Continue from the reloaded position (with `locked`, up to a repaired end of the log).
        await this.reload();
        reloaded = true;
      }
    }
    throw new StoreCorruptError(this.dir, `more than ${MAX_SEGMENT_HOPS} segments to read in one catch-up`);
  }

  private applyOne(rec: LogRecord): AppliedChange[] {
    // After a snapshot load, the segment starts with records the snapshot already holds
    // (a seal among them still tells us where the log continues).
    if (rec.seq <= this.state.seq) {
      if (rec.seal !== undefined) this.sealedNext = rec.seal;
      return [];
    }
    let changes: AppliedChange[];
    try {
      changes = this.state.apply(rec);
    } catch (err) {
      throw new StoreCorruptError(this.segmentPath, (err as Error).message);
    }
    if (rec.seal !== undefined) {
      if (!parseSegmentName(rec.seal)) throw new StoreCorruptError(this.segmentPath, `seal names a bad segment ${rec.seal}`);
      this.sealedNext = rec.seal;
    }
    return changes;
  }

  /** Lock held: bytes after the last good frame are from a writer that died mid-append. */
  private async repairTail(data: Buffer, goodBytes: number): Promise<void> {
    if (hasValidFrameAfter(data, goodBytes + 1)) {
      throw new StoreCorruptError(this.segmentPath, `damaged record at byte ${this.offset} followed by valid records; refusing to truncate`);
    }
    await this.fh.truncate(this.offset);
    await this.fh.datasync();
  }

  private async openNext(name: string, locked: boolean): Promise<'moved' | 'wait' | 'gap'> {
    const next = parseSegmentName(name)!;
    let fh: FileHandle;
    try {
      fh = await open(join(this.dir, name), 'r+');
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      const listing = await listDir(this.dir);
      // A later segment exists, so ours was deleted by retention: we fell behind.
      if (listing.segments.some((s) => s.baseSeq > next.baseSeq)) return 'gap';
      if (!locked) return 'wait';
      // The sealer died between sealing and creating the next segment: finish its job.
      try {
        fh = await open(join(this.dir, name), 'wx+', 0o600);
      } catch (e) {
        if (!isErrno(e, 'EEXIST')) throw e;
        fh = await open(join(this.dir, name), 'r+');
      }
      await fsyncDir(this.dir);
    }
    await this.fh.close();
    this.fh = fh;
    this.segment = next;
    this.offset = 0;
    this.sealedNext = undefined;
    return 'moved';
  }

  private async reload(): Promise<void> {
    const fresh = await LogTailer.load(this.dir);
    await this.fh.close();
    this.state = fresh.state;
    this.segment = fresh.segment;
    this.fh = fresh.fh;
    this.offset = fresh.offset;
    this.sealedNext = fresh.sealedNext;
  }

  /**
   * Appends records (lock held, caught up) with one write and, unless told
   * otherwise, one fdatasync; then applies them. If the write fails the state
   * is untouched and the partial bytes are a torn tail for the next writer.
   */
  async append(records: LogRecord[], sync: boolean): Promise<AppliedChange[]> {
    const buf = Buffer.concat(records.map(encodeRecord));
    let written = 0;
    while (written < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, written, buf.length - written, this.offset + written);
      written += bytesWritten;
    }
    if (sync) await this.fh.datasync();
    const changes: AppliedChange[] = [];
    for (const rec of records) changes.push(...this.applyOne(rec));
    this.offset += buf.length;
    return changes;
  }

  /**
   * Lock held, caught up: snapshot the state, seal the current segment and
   * start the next one. Afterwards the old segments are history only.
   */
  async roll(sync: boolean): Promise<void> {
    const st = this.state;
    const next = segmentName(st.seq + 1, st.revision);
    await this.append([{ seq: st.seq + 1, seal: next }], sync);
    // The snapshot includes the seal, so a loader starting from it begins in `next`
    // and never needs the sealed segment (which retention may delete).
    await writeFileAtomic(this.dir, snapshotName(st.seq), JSON.stringify(st.toSnapshot()), sync);
    await this.catchUp(true); // creates and moves to `next`
  }

  /** Lock held: delete segments beyond the newest `retain`, older snapshots and temp files. */
  async cleanup(retain: number): Promise<void> {
    const listing = await listDir(this.dir);
    const doomed = listing.segments.slice(0, Math.max(0, listing.segments.length - Math.max(1, retain)));
    await this.removeFiles(listing, doomed);
  }

  /**
   * Lock held, caught up: make history at or before `revision` unavailable
   * (segments whose changes are all at or before it are deleted).
   */
  async compact(revision: number, sync: boolean): Promise<void> {
    if (revision > this.state.revision) {
      throw new InvalidArgumentError(`cannot compact at revision ${revision}: the store is at revision ${this.state.revision}`);
    }
    if (this.segment.baseRev < revision) await this.roll(sync);
    const listing = await listDir(this.dir);
    const segs = listing.segments;
    const doomed = segs.filter((s, i) => i < segs.length - 1 && segs[i + 1]!.baseRev <= revision && s.name !== this.segment.name);
    await this.removeFiles(listing, doomed);
  }

  private async removeFiles(listing: Awaited<ReturnType<typeof listDir>>, segments: SegmentInfo[]): Promise<void> {
    const keepSnap = listing.snapshots.at(-1);
    const names = [
      ...segments.map((s) => s.name),
      ...listing.snapshots.filter((s) => s !== keepSnap).map(snapshotName),
      // Only lock holders write temp files, so any found now is left over from a crash.
      ...listing.temps,
    ];
    for (const name of names) await unlink(join(this.dir, name)).catch((err) => (isErrno(err, 'ENOENT') ? undefined : Promise.reject(err)));
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

export type HistoryResult = { changes: AppliedChange[] } | { compacted: number };

/**
 * The changes with revision > `fromRevision` among the records up to
 * `uptoSeq`, read back from the segments on disk, or the compact revision
 * if some of them are gone.
 */
export async function readHistory(dir: string, fromRevision: number, uptoSeq: number): Promise<HistoryResult> {
  const { segments } = await listDir(dir);
  if (segments.length === 0 || fromRevision < segments[0]!.baseRev) return { compacted: segments[0]?.baseRev ?? 0 };
  let start = 0;
  for (let i = 0; i < segments.length; i++) if (segments[i]!.baseRev <= fromRevision) start = i;
  const changes: AppliedChange[] = [];
  let expectSeq = segments[start]!.baseSeq + 1;
  for (let i = start; i < segments.length && expectSeq <= uptoSeq; i++) {
    const seg = segments[i]!;
    if (seg.baseSeq + 1 !== expectSeq) return { compacted: seg.baseRev };
    let buf: Buffer;
    try {
      const fh = await open(join(dir, seg.name), 'r');
      try {
        buf = await fh.readFile();
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return { compacted: (await listDir(dir)).segments[0]?.baseRev ?? fromRevision };
      throw err;
    }
    for (const frame of decodeFrames(buf).frames) {
      const rec = parseRecord(frame);
      if (rec.seq > uptoSeq) break;
      if (rec.seq !== expectSeq) throw new StoreCorruptError(join(dir, seg.name), `expected record seq ${expectSeq}, got ${rec.seq}`);
      expectSeq++;
      if (rec.rev === undefined || rec.rev <= fromRevision) continue;
      for (const op of rec.kv ?? []) {
        if (op.t === 'del') changes.push({ type: 'delete', k: op.k, revision: rec.rev });
        else if (op.l === undefined) changes.push({ type: 'put', k: op.k, json: op.v, revision: rec.rev });
        else changes.push({ type: 'put', k: op.k, json: op.v, lease: op.l, revision: rec.rev });
      }
    }
  }
  if (expectSeq <= uptoSeq) throw new StoreCorruptError(dir, `history ends at seq ${expectSeq - 1}, expected ${uptoSeq}`);
  return { changes };
}
