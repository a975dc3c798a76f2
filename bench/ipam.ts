/**
 * IPAM allocations per second: embedded store vs etcd, one process vs two
 * concurrent processes (one node, as two CNI ADDs on one host; or two
 * nodes). Each run starts from an empty store; each allocation is one
 * autoAssign of one IPv4 address with its own handle, as a CNI ADD does.
 *
 *   node dist/bench/ipam.js [--count 1000] [--backends embedded,etcd]
 *
 * The same file is the worker when started with `--worker <json>`.
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, type StoreConfig } from '../src/datastore/store/index.js';
import { Ipam, type IpamPoolSpec } from '../src/ipam/index.js';
import { table } from '../src/ipam/format.js';
import { configureLogging } from '../src/util/log.js';
import { EtcdServer } from '../test/unit/datastore/store/etcd-server.js';

const POOLS: IpamPoolSpec[] = [{ name: 'bench', cidr: '10.64.0.0/14', blockSize: 26 }];

interface WorkerArgs {
  store: StoreConfig;
  node: string;
  count: number;
  prefix: string;
  /** `floor`: no IPAM, just one read and one compare-and-swap write per iteration (the store's own cost). */
  mode?: 'ipam' | 'floor';
}

interface WorkerResult {
  ok: number;
  failed: number;
  /** Per-allocation latencies, ms. */
  latencies: number[];
}

async function worker(args: WorkerArgs): Promise<void> {
  configureLogging({ level: 'silent' });
  const store = await openStore(args.store);
  const ipam = new Ipam({ store, pools: POOLS });
  await new Promise<void>((resolve) => {
    process.once('message', () => resolve());
    process.send!({ ready: true });
  });
  const res: WorkerResult = { ok: 0, failed: 0, latencies: [] };
  const counter = { kind: 'bench-counter', name: args.prefix };
  for (let i = 0; i < args.count; i++) {
    const t0 = performance.now();
    try {
      if (args.mode === 'floor') {
        const cur = await store.get<number>(counter);
        const r = await store.txn({ compare: [{ key: counter, revision: cur?.revision ?? 0 }], ops: [{ type: 'put', key: counter, value: (cur?.value ?? 0) + 1 }] });
        if (!r.succeeded) throw new Error('lost a compare-and-swap');
      } else {
        await ipam.autoAssign({ handleId: `${args.prefix}-${i}`, node: args.node, num4: 1 });
      }
      res.ok++;
    } catch {
      res.failed++;
    }
    res.latencies.push(performance.now() - t0);
  }
  await store.close();
  process.send!(res, () => process.exit(0));
}

/** Forks one worker per entry, starts them together, returns the wall time from start to the last finish. */
async function runWorkers(store: StoreConfig, nodes: string[], countEach: number, mode: 'ipam' | 'floor'): Promise<{ seconds: number; results: WorkerResult[] }> {
  const self = fileURLToPath(import.meta.url);
  const children = nodes.map((node, i) => fork(self, ['--worker', JSON.stringify({ store, node, count: countEach, prefix: `b${i}`, mode } satisfies WorkerArgs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  try {
    await Promise.all(children.map((c) => new Promise<void>((resolve, reject) => {
      c.once('message', () => resolve());
      c.once('exit', (code) => reject(new Error(`bench worker exited with ${code}`)));
    })));
    const done = children.map((c) => new Promise<WorkerResult>((resolve, reject) => {
      c.once('message', (m: WorkerResult) => resolve(m));
      c.once('exit', (code) => reject(new Error(`bench worker exited with ${code}`)));
    }));
    const t0 = performance.now();
    for (const c of children) c.send('go');
    const results = await Promise.all(done);
    return { seconds: (performance.now() - t0) / 1000, results };
  } finally {
    for (const c of children) if (c.exitCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: string): string => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
  };
  const count = Number(opt('--count', '1000'));
  const backends = opt('--backends', 'embedded,etcd').split(',');
  configureLogging({ level: 'silent' });

  const tmp = await mkdtemp(join(tmpdir(), `tby-ipam-bench-${process.pid}-`));
  const etcd = backends.includes('etcd') && EtcdServer.available() ? new EtcdServer() : undefined;
  if (etcd) await etcd.start();
  let run = 0;
  const freshStore = (backend: string): StoreConfig =>
    backend === 'etcd'
      ? { type: 'etcd', endpoints: [etcd!.endpoint], prefix: `/tabby-ipam-bench-${process.pid}-${run++}/` }
      : { type: 'embedded', path: join(tmp, `store-${run++}`) };

  const scenarios: { label: string; nodes: string[]; mode: 'ipam' | 'floor' }[] = [
    { label: 'floor: 1 read + 1 CAS write, 1 process', nodes: ['node-1'], mode: 'floor' },
    { label: '1 process', nodes: ['node-1'], mode: 'ipam' },
    { label: '2 processes, 1 node', nodes: ['node-1', 'node-1'], mode: 'ipam' },
    { label: '2 processes, 2 nodes', nodes: ['node-1', 'node-2'], mode: 'ipam' },
  ];
  const rows: string[][] = [];
  try {
    for (const backend of backends) {
      if (backend === 'etcd' && !etcd) {
        rows.push(['etcd', '(skipped: /usr/bin/etcd absent)', '', '', '', '', '', '']);
        continue;
      }
      for (const s of scenarios) {
        const each = Math.floor(count / s.nodes.length);
        const { seconds, results } = await runWorkers(freshStore(backend), s.nodes, each, s.mode);
        const ok = results.reduce((n, r) => n + r.ok, 0);
        const failed = results.reduce((n, r) => n + r.failed, 0);
        const lat = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
        rows.push([backend === 'embedded' ? 'embedded (fsync)' : 'etcd 3.4 (1 member)', s.label, String(ok), String(failed), seconds.toFixed(2), (ok / seconds).toFixed(0), percentile(lat, 50).toFixed(2), percentile(lat, 99).toFixed(2)]);
        console.error(`  done: ${backend}, ${s.label}`);
      }
    }
  } finally {
    if (etcd) await etcd.destroy();
    await rm(tmp, { recursive: true, force: true });
  }
  console.log(table(['BACKEND', 'SCENARIO', 'DONE', 'FAILED', 'SECONDS', 'PER SECOND', 'P50 MS', 'P99 MS'], rows));
  console.log(`\n(${count} operations per row; machine load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} CPUs)`);
}

if (process.argv[2] === '--worker') {
  worker(JSON.parse(process.argv[3]!) as WorkerArgs).catch((err: unknown) => {
    console.error(err);
    process.exit(3);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
