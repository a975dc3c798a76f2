/**
 * The datastore store layer: one interface (types.ts), two backends.
 * `openStore(config)` is the only constructor callers need.
 */
import { EmbeddedStore } from './embedded/embedded-store.js';
import { EtcdStore } from './etcd/etcd-store.js';
import { InvalidArgumentError } from './errors.js';
import type { Store, StoreConfig } from './types.js';

export async function openStore(config: StoreConfig): Promise<Store> {
  switch (config.type) {
    case 'embedded':
      return EmbeddedStore.open(config);
    case 'etcd':
      return EtcdStore.open(config);
    default:
      throw new InvalidArgumentError(`unknown datastore type ${JSON.stringify((config as { type: unknown }).type)}`);
  }
}

export type * from './types.js';
export * from './errors.js';
export { encodeKey, decodeKey, selectorPrefix, normalizeKey } from './keys.js';
export { LeaseKeeper } from './lease-keeper.js';
export { EmbeddedStore } from './embedded/embedded-store.js';
export { EtcdStore, DEFAULT_ETCD_PREFIX } from './etcd/etcd-store.js';
