/**
 * Benchmark: the Felix agent's cold start and per-workload update latency,
 * against the kernel-tool floor measured in the same run.
 *
 *   node dist/bench/felix-agent.js        (env: SIZES=1000,10000 REPS=3 ITER=100)
 *
 * Setup per size N (not timed): a host namespace with an addressed uplink
 * (first, see routes/DESIGN.md) and N+1 workload veths `cali<hash>` (up;
 * peers down in a second namespace), then the agent runs where the daemon
 * runs: inside the host namespace, in a child process
 * (`ip netns exec H node felix-agent.js --child ...`), so sysctls are plain
 * /proc writes. The input: N local WorkloadEndpoints (profile kns.default),
 * one NetworkPolicy (app=web, ingress from role=client: a selector ipset
 * with every client), one natOutgoing pool, the affine /26 blocks, one
 * learned route.
 *
 * Cold start, one fresh agent and input each time, from creating the agent
 * (its input complete and in sync, as the daemon has it from the datastore;
 * building the input is not timed) until the first pass has every route and
 * chain in the kernel (verified by counting afterwards):
 *   cold      interfaces as freshly created (MAC, MTU, sysctls not yet in
 *             Calico's shape): the agent configures them too;
 *   cold-cni  interfaces already in Calico's shape (as the CNI plugin leaves
 *             them), no tabby route, chain or set;
 *   restart   everything already in place: the agent reads back and adopts.
 * Floor: one `ip -batch` of the same route lines plus one
 * `iptables-nft-restore --noflush` per table of the very input the agent
 * applied (the ipsets they reference exist, untimed).
 *
 * Update latency with N=1000 in place: one WorkloadEndpoint added (its
 * veth exists), `apply()`, then removed, `apply()`; p50/p99 of each pass,
 * against the floor: the same route line plus the same restore input.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { FelixAgent } from '../src/felix/agent/agent.js';
import { FelixInput } from '../src/felix/calc/input.js';
import { ROUTE_CLASS_PRECEDENCE } from '../src/felix/routes/model.js';
import { renderDelete, renderWrite } from '../src/felix/routes/render.js';
import { NamespaceExec } from '../src/felix/routes/exec.js';
import { newTestRunPrefix } from '../src/lab/names.js';
import { createNetns, deleteNetns } from '../src/lab/netns.js';
import { configureLogging } from '../src/util/log.js';
import { intToIpv4, ipv4ToInt } from '../src/util/ip.js';
import { workloadIfaceName } from '../src/util/ifname.js';
import { ingressPolicy, pool, wep } from '../test/unit/felix/calc/fixtures.js';

const SIZES = (process.env.SIZES ?? '1000,10000').split(',').map(Number);
const REPS = Number(process.env.REPS ?? 3);
const ITER = Number(process.env.ITER ?? 100);
const LATENCY_N = Number(process.env.LATENCY_N ?? 1000);
const PROTO = 80;
const SELF = fileURLToPath(import.meta.url);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const median = (xs: number[]) => pct(xs, 50);
const f = (ms: number) => ms.toFixed(0).padStart(6);
const f1 = (ms: number) => ms.toFixed(1).padStart(6);

const iface = (i: number) => workloadIfaceName(`bench/${i}`);
const addr = (i: number) => intToIpv4(ipv4ToInt('10.64.0.0') + i);

// ---------------------------------------------------------------------------------------------
// Child: runs inside the host namespace.

interface ChildArgs {
  n: number;
  reps: number;
  iter: number;
  out: string;
}

interface ColdSample {
  scenario: 'cold' | 'cold-cni' | 'restart';
  totalMs: number;
  createMs: number;
  routesAndChainsMs: number;
  calcMs: number;
}

interface FloorSample {
  routesMs: number;
  iptablesMs: number;
}

interface ChildResult {
  n: number;
  cold: ColdSample[];
  floor: FloorSample[];
  rules: number;
  routes: number;
  latency?: { add: number[]; remove: number[]; addCalc: number[]; removeCalc: number[]; floorAdd: number[]; floorRemove: number[] };
}

function buildInput(n: number, extra = false): FelixInput {
  const input = new FelixInput();
  input.setNode({ name: 'h1', address: '172.31.0.1/24' });
  input.setPools([pool('bench', '10.64.0.0/12', { natOutgoing: true })]);
  const blocks: string[] = [];
  for (let i = 0; i <= n; i += 64) blocks.push(`${addr(i)}/26`);
  input.setLocalBlocks(blocks);
  input.setLearnedRoutes([{ dst: '10.80.0.0/26', via: ['172.31.0.2'] }]);
  input.setPolicy(ingressPolicy('default', 'web', "app == 'web'", [{ action: 'Allow', source: { selector: "role == 'client'" }, destination: {} }]));
  for (let i = 0; i < n + (extra ? 1 : 0); i++) input.setWorkloadEndpoint(benchWep(i));
  input.markInSync();
  return input;
}

function benchWep(i: number) {
  return wep({ node: 'h1', pod: `w${i}`, iface: iface(i), ips: [addr(i)], labels: i % 10 === 0 ? { app: 'web' } : { role: 'client' } });
}

async function sh(cmd: string, args: string[], input?: string): Promise<number> {
  const t = performance.now();
  const r = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code: code ?? -1, stderr }));
    if (input !== undefined) {
      c.stdin!.on('error', () => {});
      c.stdin!.end(input);
    }
  });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.stderr.split('\n').slice(0, 3).join(' | ')}`);
  return performance.now() - t;
}

/** Remove every tabby route, chain, hook and (optionally) ipset: an empty host again. */
async function flushTabby(sets: boolean): Promise<void> {
  await sh('ip', ['route', 'flush', 'proto', String(PROTO)]);
  const empty = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n';
  await sh('iptables-nft-restore', [], empty);
  if (sets) await sh('sh', ['-c', "ipset list -n | grep '^tabby-' | while read s; do ipset destroy \"$s\"; done"]);
}

async function countRoutes(exec: NamespaceExec): Promise<number> {
  const r = await exec.ip(['-4', '-N', '-j', 'route', 'show', 'table', 'all', 'proto', String(PROTO)]);
  return (JSON.parse(r.stdout) as unknown[]).length;
}

async function countRules(): Promise<number> {
  const out = await new Promise<string>((resolve, reject) => {
    const c = spawn('iptables-nft-save', [], { stdio: ['ignore', 'pipe', 'ignore'] });
    let s = '';
    c.stdout!.on('data', (b: Buffer) => (s += b.toString()));
    c.on('error', reject);
    c.on('close', () => resolve(s));
  });
  return out.split('\n').filter((l) => /^-A .*tabby:/.test(l)).length;
}

async function child(args: ChildArgs): Promise<void> {
  configureLogging({ level: 'warn' });
  const exec = new NamespaceExec({ timeoutMs: 300_000 });
  const res: ChildResult = { n: args.n, cold: [], floor: [], rules: 0, routes: 0 };
  let routeLines: string[] = [];
  let restoreInputs: string[] = [];
  const coldOnce = async (scenario: ColdSample['scenario']): Promise<FelixAgent> => {
    // The input is complete (in sync) before the agent starts, as the daemon
    // fills it from the datastore first: building it is not the agent's time.
    const input = buildInput(args.n);
    const t0 = performance.now();
    const agent = await FelixAgent.create({ input, iptablesBackend: 'nft', resyncIntervalMs: 0 });
    const t1 = performance.now();
    const r = await agent.apply();
    const t2 = performance.now();
    if (r.skipped || (r.routes?.failed.length ?? 0) + (r.routes?.pending.length ?? 0) > 0) throw new Error(`${scenario}: ${JSON.stringify(r.routes?.failed.slice(0, 3) ?? r.skipped)}`);
    res.cold.push({ scenario, totalMs: t2 - t0, createMs: t1 - t0, routesAndChainsMs: t1 - t0 + r.routesAndChainsMs, calcMs: r.calcMs });
    const want = agent.stats().routes.desired;
    const got = await countRoutes(exec);
    if (got !== want) throw new Error(`${scenario}: kernel has ${got} of ${want} routes`);
    res.routes = got;
    if (scenario === 'cold-cni') {
      routeLines = ROUTE_CLASS_PRECEDENCE.flatMap((c) => agent.drivers.routes.routesOf(c).map((x) => renderWrite(x, 'add')));
      restoreInputs = Object.values(r.iptables).flatMap((x) => (x?.input !== undefined ? [x.input] : []));
      res.rules = await countRules();
    }
    process.stderr.write(`  [child n=${args.n}] ${scenario}: ${(t2 - t0).toFixed(0)} ms (create ${(t1 - t0).toFixed(0)}, routes+chains ${(t1 - t0 + r.routesAndChainsMs).toFixed(0)}; ${Object.entries(r.phases).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')})\n`);
    return agent;
  };

  for (let rep = 0; rep < args.reps; rep++) {
    await flushTabby(true);
    await resetSysctlsAndLinks(exec, args.n);
    await coldOnce('cold');
    await flushTabby(true);
    await coldOnce('cold-cni');
    await coldOnce('restart');
    // Floor: the same routes and the same restore inputs, sets in place.
    await flushTabby(false);
    const tr = await sh('ip', ['-batch', '-'], routeLines.join('\n') + '\n');
    let ti = 0;
    for (const input of restoreInputs) ti += await sh('iptables-nft-restore', ['--noflush'], input);
    res.floor.push({ routesMs: tr, iptablesMs: ti });
    const fr = await countRoutes(exec);
    const rules = await countRules();
    if (fr !== res.routes || rules !== res.rules) throw new Error(`floor: ${fr} routes / ${rules} rules, agent had ${res.routes} / ${res.rules}`);
    process.stderr.write(`  [child n=${args.n}] floor: routes ${tr.toFixed(0)} ms + iptables ${ti.toFixed(0)} ms\n`);
  }

  if (args.iter > 0) {
    await flushTabby(true);
    const input = buildInput(args.n);
    const agent = await FelixAgent.create({ input, iptablesBackend: 'nft', resyncIntervalMs: 0 });
    await agent.apply();
    const lat = { add: [] as number[], remove: [] as number[], addCalc: [] as number[], removeCalc: [] as number[], floorAdd: [] as number[], floorRemove: [] as number[] };
    const extra = benchWep(args.n);
    input.setWorkloadEndpoint(extra);
    await agent.apply();
    const extraRoute = agent.drivers.routes.routesOf('local-workload').find((x) => x.dst === `${addr(args.n)}/32`)!;
    const routeAdd = renderWrite(extraRoute, 'add');
    const routeDel = renderDelete(extraRoute);
    input.removeWorkloadEndpoint(extra.metadata.namespace, extra.metadata.name);
    await agent.apply();
    for (let i = 0; i < args.iter; i++) {
      input.setWorkloadEndpoint(extra);
      let t = performance.now();
      const ra = await agent.apply();
      lat.add.push(performance.now() - t);
      lat.addCalc.push(ra.calcMs);
      if (process.env.BENCH_PHASES && i % 10 === 0) process.stderr.write(`  add #${i}: ${(performance.now() - t).toFixed(0)} ms: ${Object.entries(ra.phases).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}\n`);
      if (ra.routes!.added !== 1 || ra.iptables.filter!.rewritten.length !== 4) throw new Error(`add: ${ra.routes!.added} routes, chains ${ra.iptables.filter!.rewritten.join(',')}`);
      input.removeWorkloadEndpoint(extra.metadata.namespace, extra.metadata.name);
      t = performance.now();
      const rr = await agent.apply();
      lat.remove.push(performance.now() - t);
      lat.removeCalc.push(rr.calcMs);
      if (process.env.BENCH_PHASES && i % 10 === 0) process.stderr.write(`  remove #${i}: ${(performance.now() - t).toFixed(0)} ms: ${Object.entries(rr.phases).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}\n`);
      if (rr.routes!.deleted !== 1) throw new Error(`remove: ${JSON.stringify(rr.routes)}`);
      // Floor: the same kernel work, once added and removed again (the agent's belief stays true).
      const setAdd = ra.ipsets!.input;
      const setDel = rr.ipsets!.input;
      t = performance.now();
      if (setAdd) await sh('ipset', ['restore'], setAdd);
      await sh('ip', ['-batch', '-'], routeAdd + '\n');
      await sh('iptables-nft-restore', ['--noflush'], ra.iptables.filter!.input!);
      lat.floorAdd.push(performance.now() - t);
      t = performance.now();
      await sh('ip', ['-batch', '-'], routeDel + '\n');
      await sh('iptables-nft-restore', ['--noflush'], rr.iptables.filter!.input!);
      if (setDel) await sh('ipset', ['restore'], setDel);
      lat.floorRemove.push(performance.now() - t);
    }
    const check = await agent.resync();
    if (check.repairs.length) throw new Error(`after the latency loop the kernel drifted from the agent: ${JSON.stringify(check.repairs.slice(0, 5))}`);
    res.latency = lat;
  }
  writeFileSync(args.out, JSON.stringify(res));
}

/** Fresh-veth state: random MAC, MTU 1500, kernel-default sysctls (untimed setup of `cold`). */
async function resetSysctlsAndLinks(exec: NamespaceExec, n: number): Promise<void> {
  const lines: string[] = [];
  for (let i = 0; i <= n; i++) {
    const mac = `02:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:01`;
    lines.push(`link set dev ${iface(i)} address ${mac} mtu 1500`);
  }
  for (let i = 0; i < lines.length; i += 4000) {
    const r = await exec.ipBatch(lines.slice(i, i + 4000), { force: false });
    if (r.code !== 0) throw new Error(`reset: ${r.stderr.slice(0, 300)}`);
  }
  const defaults: Array<[string, string]> = [['ipv4/conf/X/proxy_arp', '0'], ['ipv4/neigh/X/proxy_delay', '80'], ['ipv4/conf/X/route_localnet', '0'], ['ipv4/conf/X/rp_filter', '0'], ['ipv6/conf/X/accept_ra', '1']];
  for (let i = 0; i <= n; i++) for (const [p, v] of defaults) writeFileSync(`/proc/sys/net/${p.replace('X', iface(i))}`, `${v}\n`);
}

// ---------------------------------------------------------------------------------------------
// Parent.

const prefix = newTestRunPrefix();
const created: string[] = [];

async function setupHost(n: number, tag: string): Promise<string> {
  const ns = `${prefix}-bench-${tag}`;
  const peers = `${prefix}-bench-${tag}p`;
  created.push(ns, peers);
  await createNetns(ns);
  await createNetns(peers);
  const exec = new NamespaceExec({ netns: ns, timeoutMs: 300_000 });
  const must = async (lines: string[]) => {
    const r = await exec.ipBatch(lines, { force: false });
    if (r.code !== 0) throw new Error(`setup: ${r.stderr.slice(0, 300)}`);
  };
  await must([`link add eth0 type veth peer name up0 netns ${peers}`, 'addr add 172.31.0.1/24 dev eth0', 'link set eth0 up', 'route add default via 172.31.0.254 dev eth0']);
  const lines: string[] = [];
  for (let i = 0; i <= n; i++) lines.push(`link add ${iface(i)} type veth peer name w${i} netns ${peers}`, `link set ${iface(i)} up`);
  const t = performance.now();
  for (let i = 0; i < lines.length; i += 4000) await must(lines.slice(i, i + 4000));
  await new Promise<void>((resolve, reject) => {
    const c = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward'], { stdio: 'ignore' });
    c.on('error', reject);
    c.on('close', () => resolve());
  });
  console.log(`  setup: ${n + 1} veths in ${((performance.now() - t) / 1000).toFixed(1)} s (not timed)`);
  return ns;
}

function runChild(ns: string, a: ChildArgs): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [];
    const c = spawn('ip', ['netns', 'exec', ns, process.execPath, ...nodeArgs, SELF, '--child', JSON.stringify(a)], { stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => c.kill('SIGKILL'), 30 * 60_000);
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`child exited ${code}`));
      resolve(JSON.parse(readFileSync(a.out, 'utf8')) as ChildResult);
    });
  });
}

async function parent(): Promise<void> {
  console.log(`felix-agent bench: sizes ${SIZES.join(', ')}, ${REPS} reps, latency ${ITER} iterations at N=${LATENCY_N}; namespaces ${prefix}-bench-*`);
  const rows: ChildResult[] = [];
  const sizes = [...new Set([...SIZES, ...(ITER > 0 ? [LATENCY_N] : [])])].sort((a, b) => a - b);
  for (const n of sizes) {
    console.log(`\nN=${n}:`);
    const ns = await setupHost(n, `n${n}`);
    const out = `/tmp/${prefix}-felix-agent-${n}.json`;
    rows.push(await runChild(ns, { n, reps: SIZES.includes(n) ? REPS : 0, iter: n === LATENCY_N ? ITER : 0, out }));
    await deleteNetns(created.splice(-2));
  }

  console.log('\nCold start, ms (median of reps; "r+c" = until every route and chain is in the kernel):');
  console.log('       N  routes  rules | floor: routes iptables  total | cold r+c  total | cold-cni r+c  total | restart total | ratio r+c/floor (cold, cold-cni)');
  for (const r of rows.filter((x) => x.floor.length)) {
    const fl = r.floor.map((x) => x.routesMs + x.iptablesMs);
    const med = (s: ColdSample['scenario'], k: 'routesAndChainsMs' | 'totalMs') => median(r.cold.filter((c) => c.scenario === s).map((c) => c[k]));
    const floor = median(fl);
    console.log(
      `${String(r.n).padStart(8)} ${String(r.routes).padStart(7)} ${String(r.rules).padStart(6)} |        ${f(median(r.floor.map((x) => x.routesMs)))}   ${f(median(r.floor.map((x) => x.iptablesMs)))} ${f(floor)} |   ${f(med('cold', 'routesAndChainsMs'))} ${f(med('cold', 'totalMs'))} |       ${f(med('cold-cni', 'routesAndChainsMs'))} ${f(med('cold-cni', 'totalMs'))} |        ${f(med('restart', 'totalMs'))} | ${(med('cold', 'routesAndChainsMs') / floor).toFixed(2)}, ${(med('cold-cni', 'routesAndChainsMs') / floor).toFixed(2)}`,
    );
  }
  const lat = rows.find((r) => r.latency)?.latency;
  if (lat) {
    console.log(`\nOne workload added / removed among ${LATENCY_N} (${lat.add.length} each), ms:`);
    const row = (name: string, xs: number[]) => console.log(`  ${name.padEnd(34)} p50 ${f1(pct(xs, 50))}   p99 ${f1(pct(xs, 99))}`);
    row('agent apply(), add', lat.add);
    row('  of which calc (no I/O)', lat.addCalc);
    row('agent apply(), remove', lat.remove);
    row('  of which calc (no I/O)', lat.removeCalc);
    row('floor: same route + restore + set, add', lat.floorAdd);
    row('floor: same, remove', lat.floorRemove);
    const p99 = pct([...lat.add, ...lat.remove], 99);
    console.log(`  target p99 <= 50 ms: ${p99 <= 50 ? 'met' : 'NOT met'} (p99 ${p99.toFixed(1)} ms)`);
  }
}

const cleanup = async () => {
  await deleteNetns(created);
};

if (process.argv[2] === '--child') {
  child(JSON.parse(process.argv[3]!) as ChildArgs).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  process.on('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  parent()
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(cleanup);
}
