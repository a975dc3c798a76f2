/**
 * Pools read from the store: the IPPool resources that `tabby apply` wrote
 * under `{ kind: 'IPPool', name }` (src/datastore/resources/key.ts), read
 * afresh at every IPAM operation so pool changes apply at once.
 */
import type { IPPool } from '../datastore/resources/ippool.js';
import type { Store } from '../datastore/store/types.js';
import { logger } from '../util/log.js';
import { poolFromResource } from './pools.js';
import type { IpamPoolSpec } from './types.js';

const log = logger('ipam');

export function storePoolSource(store: Store): () => Promise<IpamPoolSpec[]> {
  return async () => {
    const l = await store.list<IPPool>('IPPool');
    const out: IpamPoolSpec[] = [];
    for (const it of l.items) {
      const r = it.value;
      if (typeof r?.spec?.cidr !== 'string' || typeof r?.metadata?.name !== 'string') {
        log.warn('ipam.pool_unreadable', { pool: it.key.name }, 'ignoring a stored IPPool that is not a validated resource');
        continue;
      }
      out.push(poolFromResource(r));
    }
    return out;
  };
}
