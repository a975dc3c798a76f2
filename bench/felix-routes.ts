/**
 * Benchmark: the route driver (RouteTable) against the floor measured in the
 * same run, a raw `ip -n NS -batch -` of the very same route lines spawned
 * from Node the same way.
 *
 *   node dist/bench/felix-routes.js        (env: SIZES=1000,10000 REPS=3 ITER=200)
 *
 * Setup (not timed): a host namespace with an uplink `eth0` (with an
 * address) and N+1 veths `caliI` (up; their peers sit, down, in a second
 * namespace, so there is no carrier and no IPv6 link-local per veth: the
 * routes are accepted with `linkdown`, which costs the kernel the same).
 *
 * Measured:
 *   cold    a new RouteTable: setRoutes(N /32 routes) + apply() until every
 *           route is in the kernel (read-back of both families + one batch),
 *           vs the floor: one `ip -batch` of the same N lines;
 *   add/del with 1k routes in place, one more /32 added (setRoutes of the
 *           whole class + apply), then removed again: p50/p99 of the apply
 *           and of setRoutes + apply; the same with upsertRoutes/removeRoutes;
 *           vs the floor: a one-line `ip -batch`.
 * Every number is checked: after each cold start the kernel holds exactly N
 * routes of protocol 80.
 */
import { performance } from 'node:perf_hooks';
import { NamespaceExec } from '../src/felix/routes/exec.js';
import { normaliseRoute, type RouteSpec } from '../src/felix/routes/model.js';
import { renderWrite } from '../src/felix/routes/render.js';
import { RouteTable } from '../src/felix/routes/route-table.js';
import { newTestRunPrefix } from '../src/lab/names.js';
import { createNetns, deleteNetns } from '../src/lab/netns.js';
import { configureLogging } from '../src/util/log.js';

const SIZES = (process.env.SIZES ?? '1000,10000').split(',').map(Number);
const REPS = Number(process.env.REPS ?? 3);
const ITER = Number(process.env.ITER ?? 200);
const PROTO = 80;
const prefix = newTestRunPrefix();
const created: string[] = [];

const median = (xs: number[]) => pct(xs, 50);
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
const f = (ms: number) => ms.toFixed(1).padStart(7);

function workloadRoutes(n: number): RouteSpec[] {
  return Array.from({ length: n }, (_, i) => ({ dst: `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`, dev: `cali${i}` }));
}

async function must(exec: NamespaceExec, lines: string[]): Promise<void> {
  const r = await exec.ipBatch(lines, { force: false });
  if (r.code !== 0) throw new Error(`ip -batch failed: ${r.stderr.split('\n').slice(0, 3).join(' | ')}`);
}

async function countOurs(exec: NamespaceExec): Promise<number> {
  const r = await exec.ip(['-4', '-N', '-j', 'route', 'show', 'table', 'all', 'proto', String(PROTO)]);
  return (JSON.parse(r.stdout) as unknown[]).length;
}

async function flush(exec: NamespaceExec): Promise<void> {
  await exec.ip(['-4', 'route', 'flush', 'proto', String(PROTO)]);
}

async function setupHost(n: number, tag: string): Promise<{ ns: string; exec: NamespaceExec }> {
  const ns = `${prefix}-bench-${tag}`;
  const peers = `${prefix}-bench-${tag}p`;
  created.push(ns, peers);
  await createNetns(ns);
  await createNetns(peers);
  const exec = new NamespaceExec({ netns: ns, timeoutMs: 300_000 });
  // An uplink with an address first, as on a real host: for a `dev caliX`
  // route the kernel picks a source address (inet_select_addr), and when the
  // cali device has none it walks the device list for one; with no address
  // early in the list that walk is O(links) per route, O(n^2) in all.
  await must(exec, [`link add eth0 type veth peer name up0 netns ${peers}`, 'addr add 172.31.0.1/24 dev eth0', 'link set eth0 up']);
  const lines: string[] = [];
  for (let i = 0; i <= n; i++) lines.push(`link add cali${i} type veth peer name w${i} netns ${peers}`, `link set cali${i} up`);
  const t = performance.now();
  for (let i = 0; i < lines.length; i += 4000) await must(exec, lines.slice(i, i + 4000));
  console.log(`  setup: ${n + 1} veths in ${((performance.now() - t) / 1000).toFixed(1)} s (not timed)`);
  return { ns, exec };
}

async function cold(n: number): Promise<{ floor: number; tabby: number }> {
  const { ns, exec } = await setupHost(n, `c${n}`);
  const specs = workloadRoutes(n);
  const lines = specs.map((s) => renderWrite(normaliseRoute(s, PROTO), 'add'));
  const floors: number[] = [];
  const tabbys: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    await flush(exec);
    let t = performance.now();
    await must(exec, lines);
    floors.push(performance.now() - t);
    if ((await countOurs(exec)) !== n) throw new Error('floor: not every route is in the kernel');
    await flush(exec);
    t = performance.now();
    const table = new RouteTable({ netns: ns, protocol: PROTO });
    table.setRoutes('local-workload', specs);
    const r = await table.apply();
    tabbys.push(performance.now() - t);
    if (r.added !== n || (await countOurs(exec)) !== n) throw new Error(`tabby: ${r.added} added, kernel has ${await countOurs(exec)} of ${n}`);
    console.log(`  rep ${rep + 1}: floor ${f(floors.at(-1)!)} ms   tabby ${f(tabbys.at(-1)!)} ms   (tabby: ${r.processes} processes, ${r.lines} lines)`);
  }
  await deleteNetns(created.splice(-2));
  return { floor: median(floors), tabby: median(tabbys) };
}

async function incremental(n: number): Promise<void> {
  const { ns, exec } = await setupHost(n, `i${n}`);
  const base = workloadRoutes(n + 1);
  const specs = base.slice(0, n);
  const extra = base[n]!;
  const table = new RouteTable({ netns: ns, protocol: PROTO });
  table.setRoutes('local-workload', specs);
  await table.apply();
  const applyAdd: number[] = [];
  const applyDel: number[] = [];
  const totalAdd: number[] = [];
  const totalDel: number[] = [];
  const floor: number[] = [];
  const deltaAdd: number[] = [];
  const deltaDel: number[] = [];
  const withExtra = [...specs, extra];
  const addLine = renderWrite(normaliseRoute(extra, PROTO), 'add');
  const delLine = `route del ${extra.dst} proto ${PROTO}`;
  for (let i = 0; i < ITER; i++) {
    let t0 = performance.now();
    table.setRoutes('local-workload', withExtra);
    let t1 = performance.now();
    let r = await table.apply();
    let t2 = performance.now();
    if (r.added !== 1 || r.processes !== 1) throw new Error(`add: ${JSON.stringify(r)}`);
    applyAdd.push(t2 - t1);
    totalAdd.push(t2 - t0);
    t0 = performance.now();
    table.setRoutes('local-workload', specs);
    t1 = performance.now();
    r = await table.apply();
    t2 = performance.now();
    if (r.deleted !== 1 || r.processes !== 1) throw new Error(`del: ${JSON.stringify(r)}`);
    applyDel.push(t2 - t1);
    totalDel.push(t2 - t0);
    // The delta API: upsert + apply, remove + apply.
    t0 = performance.now();
    table.upsertRoutes('local-workload', [extra]);
    r = await table.apply();
    t2 = performance.now();
    if (r.added !== 1) throw new Error(`upsert: ${JSON.stringify(r)}`);
    deltaAdd.push(t2 - t0);
    t0 = performance.now();
    table.removeRoutes('local-workload', [extra]);
    r = await table.apply();
    t2 = performance.now();
    if (r.deleted !== 1) throw new Error(`remove: ${JSON.stringify(r)}`);
    deltaDel.push(t2 - t0);
    // The floor: the same single line, one process.
    if (i % 2 === 0) {
      let t = performance.now();
      await must(exec, [addLine]);
      floor.push(performance.now() - t);
      t = performance.now();
      await must(exec, [delLine]);
      floor.push(performance.now() - t);
    }
  }
  if ((await countOurs(exec)) !== n) throw new Error('incremental: kernel does not hold exactly the desired routes');
  const row = (name: string, xs: number[]) => console.log(`  ${name.padEnd(28)} p50 ${f(pct(xs, 50))} ms   p99 ${f(pct(xs, 99))} ms   (p99/floor p99 ${(pct(xs, 99) / pct(floor, 99)).toFixed(2)})`);
  console.log(`\nadd/remove one /32 among ${n} (${ITER} each):`);
  row('floor: 1-line ip -batch', floor);
  row('apply(), add', applyAdd);
  row('apply(), remove', applyDel);
  row('setRoutes+apply(), add', totalAdd);
  row('setRoutes+apply(), remove', totalDel);
  row('upsertRoutes+apply(), add', deltaAdd);
  row('removeRoutes+apply(), remove', deltaDel);
  const p99 = pct([...applyAdd, ...applyDel], 99);
  console.log(`  target p99 <= 50 ms: ${p99 <= 50 ? 'met' : 'NOT met'} (apply p99 ${p99.toFixed(1)} ms)`);
  await deleteNetns(created.splice(-2));
}

async function main(): Promise<void> {
  configureLogging({ level: 'warn' });
  console.log(`felix-routes bench: sizes ${SIZES.join(', ')}, ${REPS} reps, ${ITER} incremental iterations; namespaces ${prefix}-bench-*`);
  const results: Array<{ n: number; floor: number; tabby: number }> = [];
  for (const n of SIZES) {
    console.log(`\ncold start, ${n} workload routes:`);
    results.push({ n, ...(await cold(n)) });
  }
  console.log('\ncold start (median of reps):');
  console.log('       N   floor ms   tabby ms   ratio');
  for (const r of results) console.log(`${String(r.n).padStart(8)} ${f(r.floor)}    ${f(r.tabby)}    ${(r.tabby / r.floor).toFixed(2)}`);
  await incremental(1000);
}

const cleanup = async () => {
  await deleteNetns(created);
};
process.on('SIGINT', () => void cleanup().finally(() => process.exit(130)));
main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(cleanup);
