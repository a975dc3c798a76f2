/**
 * Pure operations on one block value. Every function returns a new value and
 * never mutates its input, so a failed compare-and-swap can simply retry
 * from a fresh read.
 */
import type { AllocationHolder, BlockValue } from './types.js';

export function newBlock(cidr: string, affinity: string | null, claimTime?: string): BlockValue {
  const b: BlockValue = { cidr, affinity, allocations: {}, attributes: [], next: 0, sequence: 0 };
  if (claimTime !== undefined) b.affinityClaimTime = claimTime;
  return b;
}

export function allocatedCount(b: BlockValue): number {
  return Object.keys(b.allocations).length;
}

export function isEmpty(b: BlockValue): boolean {
  return allocatedCount(b) === 0;
}

export function freeCount(b: BlockValue, size: number): number {
  return size - allocatedCount(b);
}

export function holderAt(b: BlockValue, ordinal: number): AllocationHolder | undefined {
  const idx = b.allocations[String(ordinal)];
  return idx === undefined ? undefined : b.attributes[idx];
}

/**
 * Up to `n` free ordinals, searching upwards from the block's cursor and
 * wrapping: a fresh block hands out .0, .1, ... in order, and a released
 * address is reused only after the rest of the block has been used once
 * (as Calico's unallocated list does), which keeps stale routes and ARP
 * entries of a dead workload from reaching a new one at once.
 */
export function pickFree(b: BlockValue, size: number, n: number): number[] {
  const out: number[] = [];
  const start = Number.isInteger(b.next) && b.next >= 0 && b.next < size ? b.next : 0;
  for (let i = 0; i < size && out.length < n; i++) {
    const o = (start + i) % size;
    if (b.allocations[String(o)] === undefined) out.push(o);
  }
  return out;
}

function sameHolder(a: AllocationHolder, b: AllocationHolder): boolean {
  if (a.handle !== b.handle) return false;
  const ak = Object.keys(a.attrs ?? {}).sort();
  const bk = Object.keys(b.attrs ?? {}).sort();
  return ak.length === bk.length && ak.every((k, i) => k === bk[i] && a.attrs![k] === b.attrs![k]);
}

function normaliseHolder(h: AllocationHolder): AllocationHolder {
  return h.attrs !== undefined && Object.keys(h.attrs).length > 0 ? { handle: h.handle, attrs: { ...h.attrs } } : { handle: h.handle };
}

/** Marks `ordinals` (which must be free) as held by `holder`. */
export function withAssigned(b: BlockValue, size: number, ordinals: readonly number[], holder: AllocationHolder): BlockValue {
  const attributes = b.attributes.map((a) => ({ ...a }));
  let idx = attributes.findIndex((a) => sameHolder(a, holder));
  if (idx < 0) {
    attributes.push(normaliseHolder(holder));
    idx = attributes.length - 1;
  }
  const allocations = { ...b.allocations };
  for (const o of ordinals) {
    if (!Number.isInteger(o) || o < 0 || o >= size) throw new Error(`ordinal ${o} outside block ${b.cidr}`);
    if (allocations[String(o)] !== undefined) throw new Error(`ordinal ${o} of block ${b.cidr} is already allocated`);
    allocations[String(o)] = idx;
  }
  const last = ordinals.length > 0 ? ordinals[ordinals.length - 1]! : b.next - 1;
  return { ...b, allocations, attributes, next: (last + 1) % size, sequence: b.sequence + 1 };
}

/** Frees `ordinals` and drops holders no ordinal refers to any more (indexes are renumbered). */
export function withReleased(b: BlockValue, ordinals: readonly number[]): BlockValue {
  const allocations = { ...b.allocations };
  for (const o of ordinals) delete allocations[String(o)];
  const used = [...new Set(Object.values(allocations))].sort((x, y) => x - y);
  const renumber = new Map(used.map((old, i) => [old, i]));
  const attributes = used.map((old) => ({ ...b.attributes[old]! }));
  for (const k of Object.keys(allocations)) allocations[k] = renumber.get(allocations[k]!)!;
  return { ...b, allocations, attributes, sequence: b.sequence + 1 };
}

/** Ordinals whose holder satisfies `pred`, ascending. */
export function ordinalsWhere(b: BlockValue, pred: (ordinal: number, holder: AllocationHolder | undefined) => boolean): number[] {
  return Object.entries(b.allocations)
    .map(([k, idx]) => [Number(k), b.attributes[idx]] as const)
    .filter(([o, h]) => pred(o, h))
    .map(([o]) => o)
    .sort((x, y) => x - y);
}

/** How many of `ordinals` (all, when omitted) each handle holds. */
export function countsByHandle(b: BlockValue, ordinals?: readonly number[]): Map<string, number> {
  const counts = new Map<string, number>();
  const which = ordinals ?? Object.keys(b.allocations).map(Number);
  for (const o of which) {
    const h = holderAt(b, o);
    if (h) counts.set(h.handle, (counts.get(h.handle) ?? 0) + 1);
  }
  return counts;
}

/** Structural problems of a stored block value (foreign or corrupted data), for check and defensive reads. */
export function blockShapeProblems(v: unknown, size: number): string[] {
  if (typeof v !== 'object' || v === null) return ['value is not an object'];
  const b = v as Partial<BlockValue>;
  const out: string[] = [];
  if (typeof b.cidr !== 'string') out.push('cidr is missing');
  if (!(b.affinity === null || typeof b.affinity === 'string')) out.push('affinity is neither null nor a string');
  if (!Array.isArray(b.attributes)) out.push('attributes is not an array');
  if (typeof b.allocations !== 'object' || b.allocations === null || Array.isArray(b.allocations)) {
    out.push('allocations is not an object');
    return out;
  }
  const nAttrs = Array.isArray(b.attributes) ? b.attributes.length : 0;
  for (const [k, idx] of Object.entries(b.allocations)) {
    const o = Number(k);
    if (!Number.isInteger(o) || o < 0 || o >= size || String(o) !== k) out.push(`allocation ordinal ${JSON.stringify(k)} is outside the block`);
    else if (!Number.isInteger(idx) || idx < 0 || idx >= nAttrs) out.push(`allocation ${k} refers to missing attribute ${JSON.stringify(idx)}`);
    else if (typeof (b.attributes as AllocationHolder[])[idx]?.handle !== 'string') out.push(`allocation ${k} has no handle`);
  }
  return out;
}
