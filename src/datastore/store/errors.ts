/**
 * Typed store errors. Every message names the key (or lease, or path) it is
 * about, so a log line or a CLI error is enough to know what failed.
 * Callers branch on the class (`instanceof ConflictError`) or on `code`.
 */
import type { LeaseId, StoreKey } from './types.js';

/** `IPPool "default"`, `WorkloadEndpoint "ns1/web-1"`: how messages name a key. */
export function describeKey(key: StoreKey): string {
  const name = key.namespace === undefined ? key.name : `${key.namespace}/${key.name}`;
  return `${key.kind} ${JSON.stringify(name)}`;
}

export type StoreErrorCode =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'LeaseNotFound'
  | 'InvalidArgument'
  | 'Unavailable'
  | 'Closed'
  | 'Corrupt';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFoundError extends StoreError {
  constructor(readonly key: StoreKey) {
    super('NotFound', `${describeKey(key)} not found`);
  }
}

export class AlreadyExistsError extends StoreError {
  constructor(
    readonly key: StoreKey,
    /** The mod revision of the existing object. */
    readonly revision: number,
  ) {
    super('AlreadyExists', `${describeKey(key)} already exists (revision ${revision})`);
  }
}

/** A compare-and-swap lost: the key changed since the caller read it. */
export class ConflictError extends StoreError {
  constructor(
    readonly key: StoreKey,
    readonly expectedRevision: number,
    /** 0 when the key is absent. */
    readonly actualRevision: number,
  ) {
    super(
      'Conflict',
      `conflict on ${describeKey(key)}: expected revision ${expectedRevision}, ` +
        (actualRevision === 0 ? 'but it is absent' : `found revision ${actualRevision}`),
    );
  }
}

export class LeaseNotFoundError extends StoreError {
  constructor(readonly leaseId: LeaseId) {
    super('LeaseNotFound', `lease ${leaseId} not found (expired or revoked)`);
  }
}

export class InvalidArgumentError extends StoreError {
  constructor(message: string) {
    super('InvalidArgument', message);
  }
}

/** The backend cannot be reached (etcd down, lock timeout). The operation may be retried. */
export class StoreUnavailableError extends StoreError {
  constructor(message: string, cause?: unknown) {
    super('Unavailable', message, cause === undefined ? undefined : { cause });
  }
}

export class StoreClosedError extends StoreError {
  constructor(what: string) {
    super('Closed', `store is closed (${what})`);
  }
}

/** On-disk data that cannot be read back (embedded backend). */
export class StoreCorruptError extends StoreError {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super('Corrupt', `corrupt store data in ${path}: ${detail}`);
  }
}
