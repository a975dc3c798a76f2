/** Small helpers shared by the store tests (bounded waits, watch collectors). */
import type { KeySelector, Store, WatchHandle, WatchNotification } from '../../../../src/datastore/store/index.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` until it holds; fails with `what` after `timeoutMs` (a bound, never an assertion on speed). */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > giveUp) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export interface Collector {
  got: WatchNotification[];
  handle: WatchHandle;
  /** Waits until at least n notifications arrived. */
  waitCount(n: number, timeoutMs?: number): Promise<void>;
}

export async function collect(store: Store, selector: KeySelector | string, fromRevision?: number): Promise<Collector> {
  const got: WatchNotification[] = [];
  const handle = await store.watch(selector, fromRevision === undefined ? {} : { fromRevision }, (n) => {
    got.push(n);
  });
  return {
    got,
    handle,
    waitCount: (n, timeoutMs) => waitFor(`${n} watch notifications (have ${got.length})`, () => got.length >= n, timeoutMs),
  };
}

/** A compact, comparable form of notifications: `put kind/name=value@rev`, `delete kind/name@rev`, `resync`. */
export function summarise(ns: WatchNotification[]): string[] {
  return ns.map((n) => {
    if (n.type === 'resync') return `resync:${n.reason}`;
    const k = n.key.namespace === undefined ? `${n.key.kind}/${n.key.name}` : `${n.key.kind}/${n.key.namespace}/${n.key.name}`;
    return n.type === 'put' ? `put ${k}=${JSON.stringify(n.value)}` : `delete ${k}`;
  });
}
