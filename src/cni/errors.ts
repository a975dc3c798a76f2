/**
 * Maps whatever went wrong to the spec's error: the code tells the runtime
 * what to do (11: retry later; 3: nothing to clean up; others: fail the
 * pod), so the class of the error decides it, not its text.
 */
import { StoreError } from '../datastore/store/errors.js';
import { IpamError } from '../ipam/errors.js';
import { DataplaneError } from './kernel.js';
import { CniError, ErrorCode } from './spec.js';

export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof IpamError) {
    // Unavailable: the store is unreachable (maybe in doubt: DEL by handle cleans up);
    // Contention: compare-and-swap kept losing. Both pass.
    if (err.code === 'Unavailable' || err.code === 'Contention') return new CniError(ErrorCode.TryAgainLater, 'IPAM is temporarily unavailable', err.message);
    return new CniError(ErrorCode.IpamFailure, 'failed to assign an IP address', err.message);
  }
  if (err instanceof StoreError) {
    if (err.code === 'Unavailable') return new CniError(ErrorCode.TryAgainLater, 'datastore unavailable', err.message);
    return new CniError(ErrorCode.DatastoreFailure, 'datastore error', err.message);
  }
  if (err instanceof DataplaneError) {
    if (err.failure === 'interface-exists') return new CniError(ErrorCode.InterfaceExists, `interface already exists in the container`, err.message);
    if (err.failure === 'netns-invalid') return new CniError(ErrorCode.UnknownContainer, 'container network namespace is gone', err.message);
    return new CniError(ErrorCode.DataplaneFailure, 'failed to set up the workload interface', err.message);
  }
  // A bug: the message goes to the runtime, the stack (as the cause) to stderr.
  return new CniError(ErrorCode.Internal, 'internal error', err instanceof Error ? err.message : String(err), { cause: err });
}
