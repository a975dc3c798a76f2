/**
 * Block-affinity IPAM (Calico's design) on the datastore's store interface.
 * See README.md for the stored data model and the allocation rules.
 */
export { Ipam, type IpamOptions } from './ipam.js';
export * from './types.js';
export * from './errors.js';
export { checkIpam, type CheckOptions, type CheckReport, type Problem, type ProblemKind, type Repair } from './check.js';
export { buildShow, type ShowAddress, type ShowBlock, type ShowData, type ShowOptions, type ShowPool } from './show.js';
export { formatCheck, formatShow, table, type CheckFormatOptions } from './format.js';
export { normalizePool, normalizePools, poolFromResource, choosePools, DEFAULT_BLOCK_SIZE, type Pool } from './pools.js';
export { storePoolSource } from './pool-source.js';
export { snapshotFromList, type IpamSnapshot, type StoredAffinity, type StoredBlock, type StoredHandle } from './snapshot.js';
export { IPAM_PREFIX, KIND_AFFINITY, KIND_BLOCK, KIND_CONFIG, KIND_HANDLE, affinityKey, blockKey, blockName, configKey, handleKey, hostAffinity } from './keys.js';
