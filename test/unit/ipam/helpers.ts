/** Shared set-up for IPAM tests: throwaway embedded stores in temp directories. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../../src/datastore/store/index.js';

export class TempStores {
  private dirs: string[] = [];
  private stores: Store[] = [];

  /** A fresh, empty embedded store (no fsync: throwaway data). */
  async open(): Promise<Store> {
    const dir = await mkdtemp(join(tmpdir(), `tby-ipam-${process.pid}-`));
    this.dirs.push(dir);
    const s = await openStore({ type: 'embedded', path: join(dir, 'store'), unsafeNoSync: true });
    this.stores.push(s);
    return s;
  }

  async cleanup(): Promise<void> {
    for (const s of this.stores.splice(0)) await s.close();
    for (const d of this.dirs.splice(0)) await rm(d, { recursive: true, force: true });
  }
}

/** Asserts a promise rejects with an error of `cls` whose message matches `re`; returns the error. */
export async function rejectsWith<E extends Error>(p: Promise<unknown>, cls: new (...a: never[]) => E, re?: RegExp): Promise<E> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof cls)) throw new Error(`expected ${cls.name}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    if (re && !re.test(err.message)) throw new Error(`${cls.name} message ${JSON.stringify(err.message)} does not match ${re}`);
    return err;
  }
  throw new Error(`expected ${cls.name}, but it resolved`);
}
