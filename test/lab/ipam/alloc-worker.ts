/**
 * Forked by concurrency.test.ts: one "CNI process" allocating addresses in a
 * loop against a shared store. argv[2] is a JSON WorkerConfig. Protocol on
 * the IPC channel: sends `ready`, waits for `go`, sends `progress` every
 * `progressEvery` attempts, and finally `done` with every outcome. Every
 * attempt ends as a success (handle, ip) or an error (handle, code,
 * message); nothing is retried here, so errors are reported as errors.
 */
import { openStore, type StoreConfig } from '../../../src/datastore/store/index.js';
import { Ipam, IpamError, type IpamPoolSpec } from '../../../src/ipam/index.js';
import { configureLogging, type LogLevel } from '../../../src/util/log.js';

export interface WorkerConfig {
  store: StoreConfig;
  pools: IpamPoolSpec[];
  node: string;
  count: number;
  handlePrefix: string;
  progressEvery: number;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'progress'; ok: number; failed: number }
  | { type: 'done'; ok: { handle: string; ip: string }[]; failed: { handle: string; code: string; inDoubt: boolean; message: string }[] };

function send(m: WorkerMessage): Promise<void> {
  return new Promise((resolve) => process.send!(m, () => resolve()));
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2]!) as WorkerConfig;
  configureLogging({ level: (process.env.TABBY_LOG_LEVEL as LogLevel | undefined) ?? 'silent', format: 'json' });
  const store = await openStore(cfg.store);
  const ipam = new Ipam({ store, pools: cfg.pools });
  await new Promise<void>((resolve) => {
    process.once('message', () => resolve());
    void send({ type: 'ready' });
  });
  const ok: { handle: string; ip: string }[] = [];
  const failed: { handle: string; code: string; inDoubt: boolean; message: string }[] = [];
  for (let i = 0; i < cfg.count; i++) {
    const handle = `${cfg.handlePrefix}-${i}`;
    try {
      const r = await ipam.autoAssign({ handleId: handle, node: cfg.node, num4: 1, attrs: { pod: handle } });
      ok.push({ handle, ip: r.ipv4[0]! });
    } catch (err) {
      failed.push({
        handle,
        code: err instanceof IpamError ? err.code : 'Other',
        inDoubt: (err as { inDoubt?: boolean }).inDoubt === true,
        message: err instanceof Error ? err.message : String(err),
      });
    }
    if ((i + 1) % cfg.progressEvery === 0) await send({ type: 'progress', ok: ok.length, failed: failed.length });
  }
  await send({ type: 'done', ok, failed });
  await store.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(3);
});
