/**
 * The identity of a resource: its kind, its namespace if the kind is
 * namespaced, and its name. The same shape as the store's StoreKey, so a
 * resource is stored under resourceKey(r).
 */
import type { Resource } from './registry.js';

export interface ResourceKey {
  kind: Resource['kind'];
  namespace?: string;
  name: string;
}

export function resourceKey(r: Resource): ResourceKey {
  if (r.kind === 'NetworkPolicy' || r.kind === 'WorkloadEndpoint') {
    return { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
  }
  return { kind: r.kind, name: r.metadata.name };
}

/** "IPPool(pool-a)", "NetworkPolicy(default/allow-web)": how messages name a resource (as calicoctl does). */
export function describeKey(k: ResourceKey): string {
  return `${k.kind}(${k.namespace !== undefined ? `${k.namespace}/` : ''}${k.name})`;
}
