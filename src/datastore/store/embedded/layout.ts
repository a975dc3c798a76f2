/**
 * File names and atomic file writes of the embedded store directory
 * (the layout is documented in ../README.md).
 */
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StoreCorruptError } from '../errors.js';
import type { SnapshotData } from './state.js';

export const META_FILE = 'tabby-store.json';
export const LOCK_FILE = 'lock';
export const META = { format: 'tabby-embedded-store', version: 1 } as const;

const SEGMENT_RE = /^log-(\d{16})-(\d{16})\.seg$/;
const SNAPSHOT_RE = /^snap-(\d{16})\.json$/;
const TEMP_RE = /^\..*\.tmp-\d+-[0-9a-f]+$/;

const pad = (n: number): string => String(n).padStart(16, '0');

export interface SegmentInfo {
  name: string;
  /** The seq of the record just before this segment's first record. */
  baseSeq: number;
  /** The store revision just before this segment's first record. */
  baseRev: number;
}

export function segmentName(baseSeq: number, baseRev: number): string {
  return `log-${pad(baseSeq)}-${pad(baseRev)}.seg`;
}

export function parseSegmentName(name: string): SegmentInfo | undefined {
  const m = SEGMENT_RE.exec(name);
  return m ? { name, baseSeq: Number(m[1]), baseRev: Number(m[2]) } : undefined;
}

export function snapshotName(seq: number): string {
  return `snap-${pad(seq)}.json`;
}

export interface DirListing {
  /** Sorted by baseSeq. */
  segments: SegmentInfo[];
  /** Snapshot seqs, ascending. */
  snapshots: number[];
  /** Leftover temporary files of interrupted atomic writes. */
  temps: string[];
}

export async function listDir(dir: string): Promise<DirListing> {
  const segments: SegmentInfo[] = [];
  const snapshots: number[] = [];
  const temps: string[] = [];
  for (const name of await readdir(dir)) {
    const seg = parseSegmentName(name);
    if (seg) segments.push(seg);
    const snap = SNAPSHOT_RE.exec(name);
    if (snap) snapshots.push(Number(snap[1]));
    if (TEMP_RE.test(name)) temps.push(name);
  }
  segments.sort((a, b) => a.baseSeq - b.baseSeq);
  snapshots.sort((a, b) => a - b);
  return { segments, snapshots, temps };
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Crash-safe replace: write a temp file, fsync it, rename it over `name`,
 * fsync the directory. A reader sees the old file or the new one, never a
 * mix; after a crash, at worst a temp file is left behind.
 */
export async function writeFileAtomic(dir: string, name: string, data: string | Buffer, sync = true): Promise<void> {
  const tmp = join(dir, `.${name}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, join(dir, name));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (sync) await fsyncDir(dir);
}

export async function readSnapshot(dir: string, seq: number): Promise<SnapshotData> {
  const path = join(dir, snapshotName(seq));
  const text = await readFile(path, 'utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new StoreCorruptError(path, `snapshot is not JSON: ${(err as Error).message}`);
  }
  const s = data as Partial<SnapshotData>;
  if (s.format !== 'tabby-embedded-snapshot' || s.version !== 1 || s.seq !== seq || !Array.isArray(s.entries) || !Array.isArray(s.leases)) {
    throw new StoreCorruptError(path, 'not a tabby snapshot of the expected format, version and seq');
  }
  return s as SnapshotData;
}
