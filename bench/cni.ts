/**
 * CNI ADD latency: from starting the plugin (as a runtime does: a process in
 * the host netns, config on stdin) until the workload answers ping from its
 * host. 100 ADDs one after the other, then 20 at once, with the datastore
 * embedded and then etcd (a throwaway etcd inside the lab, killed by PID with
 * the lab). Also: the plugin process alone (ADD exit), DEL, and VERSION (the
 * start-up floor of `bin/tabby`).
 *
 *   node dist/bench/cni.js [--sequential 100] [--parallel 20] [--backends embedded,etcd]
 *
 * Needs root (network namespaces). Container namespaces are made before the
 * clock starts: creating them is the runtime's job, not the plugin's.
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { execPlugin, findPlugin, type Attachment, type PluginRun } from '../src/cni/runtime.js';
import { table } from '../src/ipam/format.js';
import { ipBatch, run } from '../src/lab/exec.js';
import { configureLogging } from '../src/util/log.js';
import { CniHarness, CNI_PATH, NETWORK, type HostSetup } from '../test/lab/cni/harness.js';
import { ETCD_BINARY } from '../test/lab/cni/lab-etcd.js';

interface Sample {
  /** Plugin process start to exit. */
  addMs: number;
  /** Plugin process start to the first ping reply from the host. */
  pingMs: number;
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

const fmt = (v: number) => v.toFixed(0);

async function pingUntilReply(hostNs: string, ip: string): Promise<void> {
  // One process: up to 100 echo requests 20 ms apart, stops at the first reply.
  const r = await run('ping', ['-n', '-q', '-c', '1', '-i', '0.02', '-w', '5', ip], { ns: hostNs, timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`${ip} does not answer ping from its host: ${r.stdout} ${r.stderr}`);
}

function ipOf(run: PluginRun): string {
  if (run.code !== 0) throw new Error(`ADD failed: ${run.stdout} ${run.stderr}`);
  const ips = (run.output as { ips?: { address: string }[] } | undefined)?.ips;
  if (!ips?.[0]) throw new Error(`no address in the result: ${run.stdout}`);
  return ips[0].address.split('/')[0]!;
}

class Bench {
  private n = 0;
  constructor(
    private readonly h: CniHarness,
    private readonly host: HostSetup,
  ) {}

  private conf(): string {
    return JSON.stringify({ cniVersion: '1.0.0', name: NETWORK, type: 'tabby', nodeConfig: this.host.configPath });
  }

  /** Container namespaces, made in one batch before timing. */
  async containers(count: number): Promise<Attachment[]> {
    const atts: Attachment[] = [];
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = `b${this.n++}`;
      const name = `${this.h.lab.prefix}-c-${id}`;
      lines.push(`netns add ${name}`);
      atts.push({ containerId: `bench-${id}`, netns: `/run/netns/${name}`, ifname: 'eth0', args: { K8S_POD_NAMESPACE: 'bench', K8S_POD_NAME: `pod-${id}` } });
    }
    await ipBatch(undefined, lines);
    return atts;
  }

  private invoke(command: string, att: Attachment): Promise<PluginRun> {
    return execPlugin(command, findPlugin('tabby', CNI_PATH), att, this.conf(), { path: CNI_PATH, hostNetns: this.host.host.netns, timeoutMs: 120_000 });
  }

  async addAndPing(att: Attachment, t0 = performance.now()): Promise<Sample> {
    const r = await this.invoke('ADD', att);
    const addMs = performance.now() - t0;
    await pingUntilReply(this.host.host.netns, ipOf(r));
    return { addMs, pingMs: performance.now() - t0 };
  }

  async del(atts: Attachment[]): Promise<number[]> {
    const out: number[] = [];
    for (const a of atts) {
      const r = await this.invoke('DEL', a);
      if (r.code !== 0) throw new Error(`DEL failed: ${r.stdout} ${r.stderr}`);
      out.push(r.ms);
    }
    return out;
  }

  async version(times: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < times; i++) out.push((await this.invoke('VERSION', { containerId: '', ifname: '' })).ms);
    return out;
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: string): string => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
  };
  const sequential = Number(opt('--sequential', '100'));
  const parallel = Number(opt('--parallel', '20'));
  const backends = opt('--backends', 'embedded,etcd').split(',') as ('embedded' | 'etcd')[];
  configureLogging({ level: 'silent' });

  const rows: string[][] = [];
  const row = (backend: string, scenario: string, n: number, v: number[], extra = '') =>
    rows.push([backend, scenario, String(n), fmt(percentile(v, 50)), fmt(percentile(v, 99)), fmt(Math.max(...v)), extra]);

  for (const backend of backends) {
    if (backend === 'etcd' && !existsSync(ETCD_BINARY)) {
      rows.push(['etcd', `(skipped: ${ETCD_BINARY} absent)`, '', '', '', '', '']);
      continue;
    }
    const h = await CniHarness.create({ datastore: backend });
    try {
      const host = await h.addHost('h1');
      await h.addPool('bench', '10.64.0.0/16', 26);
      const b = new Bench(h, host);
      const label = backend === 'embedded' ? 'embedded (fsync)' : 'etcd (1 member, in the lab)';
      if (backend === backends[0]) row('-', 'VERSION (process start floor)', 20, await b.version(20));

      // Warm-up: the first ADD claims the node's block.
      const warm = await b.containers(1);
      await b.addAndPing(warm[0]!);

      const seq = await b.containers(sequential);
      const seqSamples: Sample[] = [];
      for (const a of seq) seqSamples.push(await b.addAndPing(a));
      row(label, `${sequential} sequential: ADD exit`, sequential, seqSamples.map((s) => s.addMs));
      row(label, `${sequential} sequential: ADD -> ping reply`, sequential, seqSamples.map((s) => s.pingMs));
      const dels = await b.del([...warm, ...seq]);
      row(label, 'DEL', dels.length, dels);

      const par = await b.containers(parallel);
      const t0 = performance.now();
      const parSamples = await Promise.all(par.map((a) => b.addAndPing(a, t0)));
      const wall = performance.now() - t0;
      row(label, `${parallel} parallel: ADD exit`, parallel, parSamples.map((s) => s.addMs));
      row(label, `${parallel} parallel: ADD -> ping reply`, parallel, parSamples.map((s) => s.pingMs), `all in ${fmt(wall)} ms`);
      await b.del(par);
      console.error(`  done: ${backend}`);
    } finally {
      await h.destroy();
    }
  }
  console.log(table(['DATASTORE', 'SCENARIO', 'N', 'P50 MS', 'P99 MS', 'MAX MS', ''], rows));
  console.log(`\n(parallel latencies count from the common start; load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} CPUs)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
