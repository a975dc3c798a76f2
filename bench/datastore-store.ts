/**
 * Throughput of the store backends: puts/s and compare-and-swap txns/s, one
 * client awaiting each call (the latency-bound case IPAM sees), and puts/s
 * with 16 calls in flight.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/datastore-store.js [--n 2000]
 *
 * Starts its own etcd (/usr/bin/etcd) on loopback and uses temp directories
 * for the embedded store; removes both afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store, type StoreConfig } from '../src/datastore/store/index.js';
import { EtcdServer } from '../test/unit/datastore/store/etcd-server.js';

const argN = process.argv.indexOf('--n');
const N = argN > 0 ? Number(process.argv[argN + 1]) : 2000;

interface Row {
  backend: string;
  case: string;
  ops: number;
  seconds: number;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function measure(label: string, config: StoreConfig, rows: Row[]): Promise<void> {
  const store: Store = await openStore(config);
  try {
    const value = { spec: { cidr: '10.0.0.0/26', allocations: Array.from({ length: 64 }, (_, i) => (i % 3 === 0 ? i : null)) } };
    rows.push({ backend: label, case: 'put (sequential)', ops: N, seconds: await timed(async () => {
      for (let i = 0; i < N; i++) await store.put({ kind: 'bench', name: `k${i % 100}` }, value);
    }) });

    const key = { kind: 'bench-cas', name: 'block' };
    let rev = await store.put(key, { n: 0 });
    rows.push({ backend: label, case: 'CAS txn (sequential)', ops: N, seconds: await timed(async () => {
      for (let i = 0; i < N; i++) {
        const r = await store.txn({ compare: [{ key, revision: rev }], ops: [{ type: 'put', key, value: { n: i + 1, ...value } }] });
        if (!r.succeeded) throw new Error('unexpected CAS failure');
        rev = r.revision;
      }
    }) });

    rows.push({ backend: label, case: 'get+update CAS (sequential)', ops: N, seconds: await timed(async () => {
      for (let i = 0; i < N; i++) {
        const cur = await store.get<{ n: number }>(key);
        await store.update(key, { ...value, n: cur!.value.n + 1 }, { expectRevision: cur!.revision });
      }
    }) });

    const inFlight = 16;
    rows.push({ backend: label, case: `put (${inFlight} in flight)`, ops: N, seconds: await timed(async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < N) {
            const i = next++;
            await store.put({ kind: 'bench', name: `p${i % 100}` }, value);
          }
        }),
      );
    }) });
  } finally {
    await store.close();
  }
  if (config.type === 'embedded') {
    // What a short-lived process (the CNI plugin, the CLI) pays to open: snapshot + log tail.
    const opens = 20;
    rows.push({ backend: label, case: 'open (rebuild state)', ops: opens, seconds: await timed(async () => {
      for (let i = 0; i < opens; i++) await (await openStore(config)).close();
    }) });
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const dir = await mkdtemp(join(tmpdir(), `tby-bench-store-${process.pid}-`));
  const etcd = new EtcdServer();
  try {
    await measure('embedded', { type: 'embedded', path: join(dir, 'a') }, rows);
    await measure('embedded (no fsync)', { type: 'embedded', path: join(dir, 'b'), unsafeNoSync: true }, rows);
    if (EtcdServer.available()) {
      await etcd.start();
      await measure('etcd 3.4 (1 member)', { type: 'etcd', endpoints: [etcd.endpoint], prefix: '/tabby-bench/v1/' }, rows);
    } else {
      console.log('etcd: skipped, /usr/bin/etcd is absent');
    }
  } finally {
    await etcd.destroy();
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`${'backend'.padEnd(22)} ${'case'.padEnd(30)} ${'ops/s'.padStart(8)}`);
  for (const r of rows) console.log(`${r.backend.padEnd(22)} ${r.case.padEnd(30)} ${Math.round(r.ops / r.seconds).toString().padStart(8)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
