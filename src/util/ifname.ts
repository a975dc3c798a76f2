import { createHash } from 'node:crypto';

/**
 * Host-side interface name of a workload (Calico's shape): "cali" + the first
 * 11 hex characters of the SHA-1 of the workload endpoint's id, 15 characters
 * in all (IFNAMSIZ - 1).
 */
export function workloadIfaceName(endpointId: string, prefix = 'cali'): string {
  return prefix + createHash('sha1').update(endpointId).digest('hex').slice(0, 15 - prefix.length);
}
