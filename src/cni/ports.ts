/**
 * The plugin's two datastore needs, as small interfaces (the unit tests use
 * fakes), and their real implementations on the store and the IPAM.
 */
import type { WorkloadEndpoint } from '../datastore/resources/endpoints.js';
import { ConflictError, NotFoundError } from '../datastore/store/errors.js';
import type { Store } from '../datastore/store/types.js';
import type { Ipam } from '../ipam/ipam.js';
import { wepKey } from './workload.js';

export interface AssignRequest {
  handleId: string;
  node: string;
  nodeLabels: Record<string, string>;
  num4: number;
  num6: number;
  /** Stored with each address (namespace, pod, container). */
  attrs: Record<string, string>;
  /** Pool names or CIDRs; empty: every pool selecting the node. */
  pools: string[];
}

/** IPAM as the plugin uses it: allocation and release by handle. */
export interface CniIpam {
  /** All or nothing; throws the IPAM's typed errors. Bare addresses. */
  assign(req: AssignRequest): Promise<{ ipv4: string[]; ipv6: string[] }>;
  /** Bare addresses held by the handle (empty if none). */
  addressesOf(handleId: string): Promise<string[]>;
  /** Releases everything the handle holds; nothing held is success. */
  release(handleId: string): Promise<void>;
}

/** WorkloadEndpoints and the node's labels. */
export interface EndpointStore {
  get(namespace: string, name: string): Promise<WorkloadEndpoint | undefined>;
  put(wep: WorkloadEndpoint): Promise<void>;
  /**
   * Deletes the endpoint only while it records `containerId`: a newer
   * sandbox of the same pod may own it already (compare-and-swap on its
   * revision). Returns whether it deleted.
   */
  deleteIfOwned(namespace: string, name: string, containerId: string): Promise<boolean>;
  /** Labels of the Node resource (for IPPool nodeSelector); empty when there is none. */
  nodeLabels(node: string): Promise<Record<string, string>>;
}

export class IpamAdapter implements CniIpam {
  constructor(private readonly ipam: Ipam) {}

  assign(req: AssignRequest): Promise<{ ipv4: string[]; ipv6: string[] }> {
    return this.ipam.autoAssign({
      handleId: req.handleId,
      node: req.node,
      nodeLabels: req.nodeLabels,
      num4: req.num4,
      num6: req.num6,
      attrs: req.attrs,
      ...(req.pools.length > 0 ? { pools: req.pools } : {}),
    });
  }

  addressesOf(handleId: string): Promise<string[]> {
    return this.ipam.ipsByHandle(handleId);
  }

  async release(handleId: string): Promise<void> {
    await this.ipam.releaseByHandle(handleId);
  }
}

interface NodeValue {
  metadata?: { labels?: Record<string, string> };
}

/** Attempts of a compare-and-swap delete that keeps losing to concurrent writers. */
const DELETE_ATTEMPTS = 5;

export class StoreEndpoints implements EndpointStore {
  constructor(private readonly store: Store) {}

  async get(namespace: string, name: string): Promise<WorkloadEndpoint | undefined> {
    return (await this.store.get<WorkloadEndpoint>(wepKey(namespace, name)))?.value;
  }

  async put(wep: WorkloadEndpoint): Promise<void> {
    await this.store.put(wepKey(wep.metadata.namespace, wep.metadata.name), wep);
  }

  async deleteIfOwned(namespace: string, name: string, containerId: string): Promise<boolean> {
    const key = wepKey(namespace, name);
    for (let i = 0; i < DELETE_ATTEMPTS; i++) {
      const cur = await this.store.get<WorkloadEndpoint>(key);
      if (!cur || cur.value?.spec?.containerID !== containerId) return false;
      try {
        await this.store.delete(key, { expectRevision: cur.revision });
        return true;
      } catch (err) {
        if (err instanceof NotFoundError) return false;
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    throw new ConflictError(key, 0, 0);
  }

  async nodeLabels(node: string): Promise<Record<string, string>> {
    const v = await this.store.get<NodeValue>({ kind: 'Node', name: node });
    return { ...(v?.value?.metadata?.labels ?? {}) };
  }
}
