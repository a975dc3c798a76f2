/**
 * IPAM errors. Each message says what failed, for whom, and what to do; the
 * class (or `code`) lets callers such as the CNI plugin decide.
 */
export type IpamErrorCode = 'InvalidArgument' | 'NoPool' | 'Exhausted' | 'InUse' | 'NotAffine' | 'Contention' | 'Unavailable';

export class IpamError extends Error {
  constructor(
    readonly code: IpamErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class IpamInvalidArgumentError extends IpamError {
  constructor(message: string) {
    super('InvalidArgument', message);
  }
}

/** No enabled pool of the family selects the node (or matches the requested pools). */
export class IpamNoPoolError extends IpamError {
  constructor(message: string) {
    super('NoPool', message);
  }
}

/** Fewer free addresses than requested; `reasons` says why (pools full, block limit, strict affinity). */
export class IpamExhaustedError extends IpamError {
  constructor(
    message: string,
    readonly reasons: string[],
  ) {
    super('Exhausted', message);
  }
}

/** A specific address is already allocated. */
export class IpamAddressInUseError extends IpamError {
  constructor(
    readonly ip: string,
    /** The handle holding it. */
    readonly holder: string,
  ) {
    super('InUse', `address ${ip} is already allocated to handle ${JSON.stringify(holder)}`);
  }
}

/** Strict affinity forbids using a block affine to another node. */
export class IpamNotAffineError extends IpamError {
  constructor(message: string) {
    super('NotAffine', message);
  }
}

/** Compare-and-swap kept losing: too many concurrent writers on the same blocks. */
export class IpamContentionError extends IpamError {
  constructor(what: string, attempts: number) {
    super('Contention', `${what}: gave up after ${attempts} attempts lost to concurrent IPAM writers; try again`);
  }
}

/**
 * The store could not be reached. `inDoubt` is set when a write may have
 * applied without our hearing back: the handle may hold addresses, and
 * releasing by handle (CNI DEL) cleans them up.
 */
export class IpamUnavailableError extends IpamError {
  constructor(
    message: string,
    readonly inDoubt: boolean,
    cause?: unknown,
  ) {
    super('Unavailable', message, cause === undefined ? undefined : { cause });
  }
}
