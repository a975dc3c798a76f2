/**
 * create/update/delete expressed as single-key transactions, shared by both
 * backends so that the error semantics (which typed error, which revision)
 * are the same whichever store is behind.
 */
import { AlreadyExistsError, ConflictError, InvalidArgumentError, NotFoundError } from './errors.js';
import { checkRevision } from './keys.js';
import type { DeleteOptions, StoreKey, TxnCompare, TxnRequest, TxnResult, UpdateOptions, WriteOptions } from './types.js';

type Txn = (req: TxnRequest) => Promise<TxnResult>;

function currentOf(r: TxnResult): number {
  return r.succeeded ? 0 : (r.current[0]?.revision ?? 0);
}

function casCompare(key: StoreKey, expectRevision: number | undefined): TxnCompare {
  if (expectRevision === undefined) return { key, exists: true };
  checkRevision('expectRevision', expectRevision);
  if (expectRevision === 0) throw new InvalidArgumentError('expectRevision 0 would mean "absent": use create() to write a new object');
  return { key, revision: expectRevision };
}

export async function createViaTxn(txn: Txn, key: StoreKey, value: unknown, options: WriteOptions = {}): Promise<number> {
  const r = await txn({ compare: [{ key, revision: 0 }], ops: [{ type: 'put', key, value, ...lease(options) }] });
  if (!r.succeeded) throw new AlreadyExistsError(key, currentOf(r));
  return r.revision;
}

export async function updateViaTxn(txn: Txn, key: StoreKey, value: unknown, options: UpdateOptions = {}): Promise<number> {
  const r = await txn({ compare: [casCompare(key, options.expectRevision)], ops: [{ type: 'put', key, value, ...lease(options) }] });
  if (!r.succeeded) throw failure(key, options.expectRevision, currentOf(r));
  return r.revision;
}

export async function deleteViaTxn(txn: Txn, key: StoreKey, options: DeleteOptions = {}): Promise<number> {
  const r = await txn({ compare: [casCompare(key, options.expectRevision)], ops: [{ type: 'delete', key }] });
  if (!r.succeeded) throw failure(key, options.expectRevision, currentOf(r));
  return r.revision;
}

function failure(key: StoreKey, expected: number | undefined, actual: number): Error {
  if (actual === 0) return new NotFoundError(key);
  return new ConflictError(key, expected ?? 0, actual);
}

function lease(options: WriteOptions): { lease?: string } {
  return options.lease === undefined ? {} : { lease: options.lease };
}
