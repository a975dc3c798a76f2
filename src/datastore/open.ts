/** Opening the datastore a node config names. */
import type { NodeConfig } from '../config/node-config.js';
import { openStore, type Store, type StoreConfig } from './store/index.js';

export function storeConfigOf(cfg: NodeConfig): StoreConfig {
  const d = cfg.datastore;
  if (d.type === 'embedded') return { type: 'embedded', path: d.path };
  return {
    type: 'etcd',
    endpoints: d.endpoints,
    // The store wants a prefix that starts and ends with "/".
    prefix: d.prefix.endsWith('/') ? d.prefix : `${d.prefix}/`,
    ...(d.tls ? { tls: d.tls } : {}),
    ...(d.username ? { username: d.username } : {}),
    ...(d.password ? { password: d.password } : {}),
    dialTimeoutMs: d.dialTimeout * 1000,
  };
}

export function openNodeStore(cfg: NodeConfig): Promise<Store> {
  return openStore(storeConfigOf(cfg));
}
