/**
 * Benchmark: cluster convergence with `tabby daemon` on every host (issue 7).
 *
 *   node dist/bench/cluster-convergence.js     (env: SIZES=4,8,16 WORKLOADS=50 NEW=20 ATTACH_PARALLEL=4)
 *
 * For each N: N lab hosts in a node-to-node mesh on one embedded datastore,
 * W workloads per host attached through the real CNI plugin (bin/tabby as a
 * runtime runs it), then:
 *   up        from starting the daemons to a full connectivity matrix: one
 *             prober workload per host pings every workload of every other
 *             host (N x (N-1) x W pings, all must answer);
 *   new       a workload added on a host (CNI ADD), the time until it answers
 *             a ping from the prober of every other host: p50/p99 over NEW
 *             workloads, from the end of ADD (the plugin's own time shown
 *             beside it: that part is the CNI path, not convergence);
 *   dead      a daemon stopped (SIGTERM: it sends Cease, its peers withdraw),
 *             and a daemon killed (SIGKILL) whose Node is then deleted: the
 *             time until no other host has a route via it.
 * Floors measured in the same run: the probe matrix alone once everything is
 * converged (what "up" cannot go below besides attaching), and the CNI ADD
 * time (what "new" adds to). Ratios are printed beside the absolute times.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Ipam } from '../src/ipam/ipam.js';
import { storePoolSource } from '../src/ipam/pool-source.js';
import { mapLimit, ping } from '../src/lab/probe.js';
import { sleep, waitFor } from '../src/lab/wait.js';
import { DaemonCluster, type DaemonHost } from '../test/lab/node/daemon-harness.js';

const SIZES = (process.env.SIZES ?? '4,8,16').split(',').map(Number);
const WORKLOADS = Number(process.env.WORKLOADS ?? 50);
const NEW = Number(process.env.NEW ?? 20);
const ATTACH_PARALLEL = Number(process.env.ATTACH_PARALLEL ?? 4);

interface Pod {
  host: DaemonHost;
  netns: string;
  ip: string;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

const ms = (x: number) => `${x.toFixed(0)} ms`;

async function matrixOk(probers: Pod[], pods: Pod[]): Promise<{ ok: number; total: number }> {
  const pairs: [Pod, Pod][] = [];
  for (const a of probers) for (const b of pods) if (b.host !== a.host) pairs.push([a, b]);
  const res = await mapLimit(pairs, 16, async ([a, b]) => (await ping(a.netns, b.ip, { timeoutMs: 1000 })).ok);
  return { ok: res.filter(Boolean).length, total: pairs.length };
}

/**
 * Milliseconds until `ip` first answers a ping from `fromNs`: one ping
 * process sending every 10 ms, timed by the arrival of its first reply line
 * (a poll loop of single pings would add its own timeouts and process
 * start-ups to what is measured).
 */
function firstReplyMs(fromNs: string, ip: string, limitS = 30): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn('ip', ['netns', 'exec', fromNs, 'ping', '-n', '-i', '0.01', '-w', String(limitS), ip], { stdio: ['ignore', 'pipe', 'ignore'] });
    let done = false;
    p.stdout.on('data', (d: Buffer) => {
      if (!done && /bytes from/.test(d.toString())) {
        done = true;
        resolve(performance.now() - t0);
        p.kill('SIGINT');
      }
    });
    p.on('exit', () => {
      if (!done) reject(new Error(`${ip} never answered ${fromNs} within ${limitS} s`));
    });
  });
}

async function routesVia(c: DaemonCluster, h: DaemonHost, gw: string): Promise<number> {
  return (await c.routes(h)).filter((r) => r.gateway === gw || r.nexthops?.some((n) => n.gateway === gw)).length;
}

async function runSize(n: number): Promise<Record<string, string | number>> {
  const c = await DaemonCluster.create();
  try {
    await c.h.addPool('bench-pool', '10.90.0.0/16', 26);
    const hosts: DaemonHost[] = [];
    for (let i = 1; i <= n; i++) hosts.push(await c.addHost(`b${i}`));
    const t0 = performance.now();
    for (const h of hosts) c.startDaemon(h);
    await c.waitEstablished(hosts, n - 1, 300_000);
    const tSessions = performance.now() - t0;
    const jobs: { host: DaemonHost; name: string }[] = [];
    for (const h of hosts) for (let w = 0; w < WORKLOADS; w++) jobs.push({ host: h, name: `${h.name}w${w}` });
    const tA = performance.now();
    const pods: Pod[] = await mapLimit(jobs, ATTACH_PARALLEL, async (j) => ({ host: j.host, ...(await c.addPod(j.host, 'default', j.name)) }));
    const tAttach = performance.now() - tA;
    const probers = hosts.map((h) => pods.find((p) => p.host === h)!);
    let last = { ok: 0, total: 0 };
    await waitFor('full connectivity matrix', async () => {
      last = await matrixOk(probers, pods);
      return last.ok === last.total;
    }, { timeoutMs: 600_000, intervalMs: 200 }).catch((err) => {
      throw new Error(`${(err as Error).message}: the last matrix had ${last.ok}/${last.total} cells answering`);
    });
    const tUp = performance.now() - t0;
    const tp = performance.now();
    const check = await matrixOk(probers, pods);
    const tProbeFloor = performance.now() - tp;
    if (check.ok !== check.total) throw new Error(`matrix regressed: ${check.ok}/${check.total}`);

    // A new workload: time until every other host's prober reaches it.
    const addMs: number[] = [];
    const reachMs: number[] = [];
    for (let i = 0; i < NEW; i++) {
      const h = hosts[i % n]!;
      const ta = performance.now();
      const p = await c.addPod(h, 'default', `${h.name}new${i}`);
      const tAdded = performance.now();
      addMs.push(tAdded - ta);
      const others = probers.filter((x) => x.host !== h);
      await Promise.all(others.map((o) => firstReplyMs(o.netns, p.ip)));
      reachMs.push(performance.now() - tAdded);
    }

    // A node stopped (Cease): its routes vanish from every other host.
    const stopped = hosts[n - 1]!;
    const survivors = hosts.slice(0, n - 1);
    const td = performance.now();
    await stopped.proc!.stop();
    await Promise.all(survivors.map((h) => waitFor(`${h.name} drops routes via ${stopped.name}`, async () => (await routesVia(c, h, stopped.host.address)) === 0, { timeoutMs: 120_000, intervalMs: 20 })));
    const tDeadStop = performance.now() - td;

    // A node killed (no Cease: its peers keep its routes for graceful restart), then its Node deleted.
    const killed = hosts[n - 2]!;
    const rest = hosts.slice(0, n - 2);
    killed.proc!.signalWith('SIGKILL');
    await killed.proc!.waitExit(5000);
    await sleep(1000);
    const stillThere = (await Promise.all(rest.map((h) => routesVia(c, h, killed.host.address)))).every((x) => x > 0);
    const tk = performance.now();
    await c.h.store.delete({ kind: 'Node', name: killed.name });
    await new Ipam({ store: c.h.store, pools: storePoolSource(c.h.store) }).releaseNodeAffinities(killed.name);
    await Promise.all(rest.map((h) => waitFor(`${h.name} drops routes via ${killed.name}`, async () => (await routesVia(c, h, killed.host.address)) === 0, { timeoutMs: 120_000, intervalMs: 20 })));
    const tDeadDelete = performance.now() - tk;

    return {
      hosts: n,
      workloads: n * WORKLOADS,
      sessions: ms(tSessions),
      attach: ms(tAttach),
      up: ms(tUp),
      'probe floor': ms(tProbeFloor),
      'converge after attach': ms(Math.max(0, tUp - tSessions - tAttach - tProbeFloor)),
      'new p50': ms(pct(reachMs, 50)),
      'new p99': ms(pct(reachMs, 99)),
      'CNI ADD p50': ms(pct(addMs, 50)),
      'new/ADD p50': (pct(reachMs, 50) / pct(addMs, 50)).toFixed(2),
      'dead (Cease)': ms(tDeadStop),
      'dead (kill, kept for GR)': stillThere ? 'yes' : 'NO',
      'dead (Node deleted)': ms(tDeadDelete),
    };
  } finally {
    await c.destroy();
  }
}

const rows: Record<string, string | number>[] = [];
for (const n of SIZES) {
  console.error(`cluster of ${n} hosts x ${WORKLOADS} workloads ...`);
  try {
    rows.push(await runSize(n));
  } catch (err) {
    console.error(`N=${n} failed: ${(err as Error).message}`);
    rows.push({ hosts: n, error: (err as Error).message.slice(0, 120) });
    break;
  }
  console.table(rows);
}
console.log(JSON.stringify(rows, null, 2));
