/**
 * Forked by the contract test: opens the store described by argv[2] (JSON),
 * waits for "go", then performs argv[3] compare-and-swap increments of the
 * counter key, retrying each on conflict, and reports how many conflicts it
 * lost. Exits non-zero on any unexpected error.
 */
import { ConflictError, openStore, type StoreConfig } from '../../../../src/datastore/store/index.js';

const config = JSON.parse(process.argv[2]!) as StoreConfig;
const increments = Number(process.argv[3]);
const key = { kind: 'counter', name: 'shared' };

async function main(): Promise<void> {
  const store = await openStore(config);
  await new Promise<void>((resolve) => {
    process.once('message', () => resolve());
    process.send!({ ready: true });
  });
  let conflicts = 0;
  for (let i = 0; i < increments; i++) {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 100_000) throw new Error('too many conflicts on one increment');
      const cur = await store.get<{ n: number }>(key);
      if (!cur) throw new Error('counter missing');
      try {
        await store.update(key, { n: cur.value.n + 1 }, { expectRevision: cur.revision });
        break;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        conflicts++;
      }
    }
  }
  await store.close();
  process.send!({ done: increments, conflicts }, () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(3);
});
