/**
 * Forked by the embedded crash test: writes forever, each step one
 * transaction that creates item-<i> and compare-and-swaps the counter to
 * i+1, reporting progress; the parent SIGKILLs it somewhere in the middle.
 * The invariant the parent checks afterwards: counter == number of items.
 */
import { openStore, type StoreConfig } from '../../../../src/datastore/store/index.js';

const config = JSON.parse(process.argv[2]!) as StoreConfig;
const counter = { kind: 'counter', name: 'crash' };

async function main(): Promise<void> {
  const store = await openStore(config);
  // Large-ish values make a record span several pages, so a kill can land inside one write.
  const pad = 'x'.repeat(20_000);
  for (let step = 0; step < 1_000_000; step++) {
    const cur = await store.get<{ n: number }>(counter);
    const n = cur?.value.n ?? 0;
    const r = await store.txn({
      compare: [{ key: counter, revision: cur?.revision ?? 0 }],
      ops: [
        { type: 'put', key: counter, value: { n: n + 1 } },
        { type: 'put', key: { kind: 'item', name: `item-${n}` }, value: { n, pad } },
      ],
    });
    if (!r.succeeded) throw new Error('unexpected conflict: single writer');
    if (step % 10 === 0) process.send!({ step });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(3);
});
