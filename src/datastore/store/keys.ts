/**
 * Key encoding shared by both backends (pure).
 *
 * A key is encoded as `kind/name` (cluster-scoped) or `kind/namespace/name`.
 * Because no segment may contain `/`, the encoding is unambiguous and
 * reversible, and "every object of a kind" or "of a kind in one namespace" is
 * a plain string prefix (`kind/`, `kind/namespace/`): the embedded backend
 * filters its map by it, the etcd backend turns it into a range.
 */
import { InvalidArgumentError, describeKey } from './errors.js';
import type { KeySelector, StoreKey, TxnOp, TxnRequest } from './types.js';

const KIND = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// No '/', no C0 controls, no DEL.
const SEGMENT = /^[^/\u0000-\u001f\u007f]+$/;
const MAX_SEGMENT = 512;

function checkSegment(what: string, value: unknown, key: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_SEGMENT || !SEGMENT.test(value) || value === '.' || value === '..') {
    throw new InvalidArgumentError(
      `invalid ${what} ${JSON.stringify(value)} in key ${JSON.stringify(key)}: ` +
        `must be 1-${MAX_SEGMENT} characters without '/' or control characters, and not '.' or '..'`,
    );
  }
  return value;
}

function checkKind(kind: unknown, context: unknown): string {
  if (typeof kind !== 'string' || kind.length > 63 || !KIND.test(kind)) {
    throw new InvalidArgumentError(
      `invalid kind ${JSON.stringify(kind)} in ${JSON.stringify(context)}: must match [A-Za-z0-9][A-Za-z0-9._-]* (at most 63 characters)`,
    );
  }
  return kind;
}

/** Validates and encodes a key: `kind/name` or `kind/namespace/name`. */
export function encodeKey(key: StoreKey): string {
  if (typeof key !== 'object' || key === null) throw new InvalidArgumentError(`invalid key ${JSON.stringify(key)}`);
  const kind = checkKind(key.kind, key);
  const name = checkSegment('name', key.name, key);
  if (key.namespace === undefined) return `${kind}/${name}`;
  return `${kind}/${checkSegment('namespace', key.namespace, key)}/${name}`;
}

/** The inverse of encodeKey; undefined for strings that are not a key of this layout. */
export function decodeKey(encoded: string): StoreKey | undefined {
  const parts = encoded.split('/');
  if (parts.length !== 2 && parts.length !== 3) return undefined;
  if (!KIND.test(parts[0]!) || parts[0]!.length > 63) return undefined;
  for (const p of parts.slice(1)) {
    if (p.length === 0 || p.length > MAX_SEGMENT || !SEGMENT.test(p) || p === '.' || p === '..') return undefined;
  }
  return parts.length === 2 ? { kind: parts[0]!, name: parts[1]! } : { kind: parts[0]!, namespace: parts[1]!, name: parts[2]! };
}

/** A plain-object copy of a key without an `undefined` namespace property (for deep-equality). */
export function normalizeKey(key: StoreKey): StoreKey {
  return key.namespace === undefined ? { kind: key.kind, name: key.name } : { kind: key.kind, namespace: key.namespace, name: key.name };
}

/** Accepts the forms callers use (`'IPPool'`, `{kind, namespace}`, `{prefix}`) and returns one. */
export function toSelector(selector: KeySelector | string, namespace?: string): KeySelector {
  if (typeof selector === 'string') return namespace === undefined ? { kind: selector } : { kind: selector, namespace };
  return selector;
}

/** The encoded-key prefix that selects exactly the keys of `selector`. */
export function selectorPrefix(selector: KeySelector): string {
  if ('prefix' in selector) {
    if (typeof selector.prefix !== 'string') throw new InvalidArgumentError(`invalid prefix selector ${JSON.stringify(selector)}`);
    return selector.prefix;
  }
  const kind = checkKind(selector.kind, selector);
  if (selector.namespace === undefined) return `${kind}/`;
  return `${kind}/${checkSegment('namespace', selector.namespace, selector)}/`;
}

/** Serialises a value for storage; rejects what JSON cannot represent. */
export function encodeValue(key: StoreKey, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new InvalidArgumentError(`value of ${describeKey(key)} is not serialisable as JSON: ${(err as Error).message}`);
  }
  if (text === undefined) throw new InvalidArgumentError(`value of ${describeKey(key)} is not serialisable as JSON`);
  return text;
}

/** Rejects a transaction that names one key twice among its ops (etcd refuses those too). */
export function checkDistinctOpKeys(ops: TxnOp[]): string[] {
  const seen = new Set<string>();
  const encoded: string[] = [];
  for (const op of ops) {
    const k = encodeKey(op.key);
    if (seen.has(k)) throw new InvalidArgumentError(`transaction modifies ${k} more than once`);
    seen.add(k);
    encoded.push(k);
  }
  return encoded;
}

export function checkTtl(ttlSeconds: number): void {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 9_000_000_000) {
    throw new InvalidArgumentError(`invalid lease TTL ${ttlSeconds}: must be a whole number of seconds >= 1`);
  }
}

export function checkRevision(what: string, revision: number): void {
  if (!Number.isSafeInteger(revision) || revision < 0) {
    throw new InvalidArgumentError(`invalid ${what} ${revision}: must be a non-negative integer`);
  }
}

export type CheckedCompare = { key: StoreKey; k: string; revision: number } | { key: StoreKey; k: string; exists: true };
export type CheckedOp =
  | { type: 'put'; key: StoreKey; k: string; value: unknown; json: string; lease?: string }
  | { type: 'delete'; key: StoreKey; k: string };

/** Validates a transaction and encodes its keys and values once, for either backend. */
export function checkTxn(req: TxnRequest): { compare: CheckedCompare[]; ops: CheckedOp[] } {
  if (typeof req !== 'object' || req === null || !Array.isArray(req.compare) || !Array.isArray(req.ops)) {
    throw new InvalidArgumentError('a transaction needs `compare` and `ops` arrays');
  }
  const compare = req.compare.map((c): CheckedCompare => {
    const k = encodeKey(c.key);
    if ('exists' in c) {
      if (c.exists !== true) throw new InvalidArgumentError(`compare on ${k}: exists must be true`);
      return { key: c.key, k, exists: true };
    }
    checkRevision(`compare revision on ${k}`, c.revision);
    return { key: c.key, k, revision: c.revision };
  });
  const keys = checkDistinctOpKeys(req.ops);
  const ops = req.ops.map((op, i): CheckedOp => {
    const k = keys[i]!;
    if (op.type === 'delete') return { type: 'delete', key: op.key, k };
    if (op.type !== 'put') throw new InvalidArgumentError(`transaction op on ${k} has unknown type ${JSON.stringify((op as { type: unknown }).type)}`);
    const json = encodeValue(op.key, op.value);
    if (op.lease !== undefined && (typeof op.lease !== 'string' || op.lease.length === 0)) {
      throw new InvalidArgumentError(`put on ${k}: invalid lease id ${JSON.stringify(op.lease)}`);
    }
    return op.lease === undefined ? { type: 'put', key: op.key, k, value: op.value, json } : { type: 'put', key: op.key, k, value: op.value, json, lease: op.lease };
  });
  return { compare, ops };
}
