/**
 * The embedded store's in-memory state, rebuilt by every process from the
 * latest snapshot plus the log records after it (pure: no I/O, no clock;
 * callers pass `now`).
 *
 * Every process applies the same records in the same order, so every process
 * computes the same revisions; the write lock guarantees that a writer plans
 * its record against the state as of the very last record.
 */
import type { KvOp, LeaseOp, LogRecord } from './record-codec.js';

export interface Entry {
  /** The value as JSON text (parsed afresh for every reader, so callers may mutate what they get). */
  json: string;
  /** Mod revision. */
  mod: number;
  /** Create revision. */
  create: number;
  /** Number of changes since creation (1 after create). */
  ver: number;
  lease?: string;
}

export interface LeaseEntry {
  id: string;
  ttl: number;
  /** Wall-clock ms after which the lease is expired. */
  exp: number;
  /** Encoded keys attached to this lease. */
  keys: Set<string>;
}

/** A change that a record made, as watchers see it. */
export interface AppliedChange {
  type: 'put' | 'delete';
  k: string;
  json?: string;
  lease?: string;
  revision: number;
}

export interface SnapshotData {
  format: 'tabby-embedded-snapshot';
  version: 1;
  /** The seq of the last record included. */
  seq: number;
  revision: number;
  entries: [string, { v: string; m: number; c: number; n: number; l?: string }][];
  leases: { id: string; ttl: number; exp: number }[];
}

export type PlannedCompare = { k: string; revision: number } | { k: string; exists: true };
export type PlannedOp = { type: 'put'; k: string; json: string; lease?: string } | { type: 'delete'; k: string };

export type TxnPlan =
  | { ok: true; kv: KvOp[] }
  | { ok: false; current: number[] }
  | { ok: false; missingLease: string };

export class StoreState {
  seq = 0;
  revision = 0;
  readonly entries = new Map<string, Entry>();
  readonly leases = new Map<string, LeaseEntry>();

  /**
   * Applies the next record. Throws if it is not the next one (a gap or a
   * replay means the reader lost its place; the caller reloads).
   */
  apply(rec: LogRecord): AppliedChange[] {
    if (rec.seq !== this.seq + 1) throw new Error(`expected record seq ${this.seq + 1}, got ${rec.seq}`);
    if (rec.rev !== undefined && rec.rev !== this.revision + 1) {
      throw new Error(`record ${rec.seq}: expected revision ${this.revision + 1}, got ${rec.rev}`);
    }
    const changes: AppliedChange[] = [];
    if (rec.rev !== undefined) {
      const rev = rec.rev;
      for (const op of rec.kv ?? []) changes.push(this.applyKv(op, rev));
      this.revision = rev;
    }
    for (const op of rec.leases ?? []) this.applyLease(op);
    this.seq = rec.seq;
    return changes;
  }

  private applyKv(op: KvOp, rev: number): AppliedChange {
    const prev = this.entries.get(op.k);
    if (prev?.lease !== undefined) this.leases.get(prev.lease)?.keys.delete(op.k);
    if (op.t === 'del') {
      this.entries.delete(op.k);
      return { type: 'delete', k: op.k, revision: rev };
    }
    const json = op.v;
    const entry: Entry = { json, mod: rev, create: prev ? prev.create : rev, ver: prev ? prev.ver + 1 : 1 };
    if (op.l !== undefined) {
      entry.lease = op.l;
      this.leases.get(op.l)?.keys.add(op.k);
    }
    this.entries.set(op.k, entry);
    return op.l === undefined ? { type: 'put', k: op.k, json, revision: rev } : { type: 'put', k: op.k, json, lease: op.l, revision: rev };
  }

  private applyLease(op: LeaseOp): void {
    switch (op.t) {
      case 'grant':
        this.leases.set(op.id, { id: op.id, ttl: op.ttl, exp: op.exp, keys: new Set() });
        break;
      case 'keepalive': {
        const l = this.leases.get(op.id);
        if (l) l.exp = op.exp;
        break;
      }
      case 'revoke':
        this.leases.delete(op.id);
        break;
    }
  }

  /** True when the entry's lease has run out (readers hide it before the revoke is written). */
  isExpired(entry: Entry, now: number): boolean {
    if (entry.lease === undefined) return false;
    const l = this.leases.get(entry.lease);
    return l === undefined || l.exp < now;
  }

  /** The entry as readers see it at `now`. */
  visible(k: string, now: number): Entry | undefined {
    const e = this.entries.get(k);
    return e && !this.isExpired(e, now) ? e : undefined;
  }

  /** Visible entries whose encoded key starts with `prefix`, sorted by key. */
  visibleWithPrefix(prefix: string, now: number): [string, Entry][] {
    const out: [string, Entry][] = [];
    for (const [k, e] of this.entries) {
      if (k.startsWith(prefix) && !this.isExpired(e, now)) out.push([k, e]);
    }
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out;
  }

  /** The lease ids that have run out at `now`, soonest first. */
  expiredLeases(now: number): string[] {
    return [...this.leases.values()].filter((l) => l.exp < now).sort((a, b) => a.exp - b.exp).map((l) => l.id);
  }

  /** The earliest lease deadline, if any (for the reaper's timer). */
  nextLeaseDeadline(): number | undefined {
    let min: number | undefined;
    for (const l of this.leases.values()) if (min === undefined || l.exp < min) min = l.exp;
    return min;
  }

  /**
   * The record (without seq/rev) that revokes `ids`: it deletes their keys at
   * one revision (if they have any) and forgets the leases.
   */
  planRevoke(ids: string[]): { kv: KvOp[]; leases: LeaseOp[] } {
    const kv: KvOp[] = [];
    const leases: LeaseOp[] = [];
    for (const id of ids) {
      const l = this.leases.get(id);
      if (!l) continue;
      for (const k of [...l.keys].sort()) {
        if (this.entries.get(k)?.lease === id) kv.push({ t: 'del', k });
      }
      leases.push({ t: 'revoke', id });
    }
    return { kv, leases };
  }

  /**
   * Evaluates a transaction against the current state. Expired leases must
   * have been revoked first (the writer does), so every entry is live here.
   */
  planTxn(compare: PlannedCompare[], ops: PlannedOp[]): TxnPlan {
    let ok = true;
    const current = compare.map((c) => {
      const mod = this.entries.get(c.k)?.mod ?? 0;
      if ('exists' in c ? mod === 0 : mod !== c.revision) ok = false;
      return mod;
    });
    if (!ok) return { ok: false, current };
    const kv: KvOp[] = [];
    for (const op of ops) {
      if (op.type === 'delete') {
        if (this.entries.has(op.k)) kv.push({ t: 'del', k: op.k });
        continue;
      }
      if (op.lease !== undefined && !this.leases.has(op.lease)) return { ok: false, missingLease: op.lease };
      kv.push(op.lease === undefined ? { t: 'put', k: op.k, v: op.json } : { t: 'put', k: op.k, v: op.json, l: op.lease });
    }
    return { ok: true, kv };
  }

  toSnapshot(): SnapshotData {
    const entries: SnapshotData['entries'] = [];
    for (const [k, e] of this.entries) {
      entries.push([k, e.lease === undefined ? { v: e.json, m: e.mod, c: e.create, n: e.ver } : { v: e.json, m: e.mod, c: e.create, n: e.ver, l: e.lease }]);
    }
    const leases = [...this.leases.values()].map((l) => ({ id: l.id, ttl: l.ttl, exp: l.exp }));
    return { format: 'tabby-embedded-snapshot', version: 1, seq: this.seq, revision: this.revision, entries, leases };
  }

  static fromSnapshot(s: SnapshotData): StoreState {
    if (s.format !== 'tabby-embedded-snapshot' || s.version !== 1) throw new Error(`unknown snapshot format ${String(s.format)} v${String(s.version)}`);
    const st = new StoreState();
    st.seq = s.seq;
    st.revision = s.revision;
    for (const l of s.leases) st.leases.set(l.id, { id: l.id, ttl: l.ttl, exp: l.exp, keys: new Set() });
    for (const [k, e] of s.entries) {
      const entry: Entry = { json: e.v, mod: e.m, create: e.c, ver: e.n };
      if (e.l !== undefined) {
        entry.lease = e.l;
        st.leases.get(e.l)?.keys.add(k);
      }
      st.entries.set(k, entry);
    }
    return st;
  }
}
