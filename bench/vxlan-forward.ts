/**
 * Benchmark: VXLAN as tabby programs it, against the floor.
 *
 *   node dist/bench/vxlan-forward.js        (env: T=5 REPS=3 VTEPS=200)
 *
 * In one netns lab (2 hosts, 1 workload each, `tby-<pid>-*`, deleted at the
 * end):
 *   forwarding  iperf3 (one TCP stream, T s) workload -> workload across
 *               hosts, routed without encapsulation (lab static routes) vs
 *               over vxlan.tabby (VxlanManager + block routes from the route
 *               shapes); the two alternate within each repetition, so their
 *               ratio is taken under the same load (platform.md §2(e) (iii)
 *               vs (iv): 0.87 on a quiet machine);
 *   manager     VxlanManager.sync() cost with VTEPS remote nodes: first sync
 *               (device + 2 entries per VTEP), steady-state resync (read-back
 *               only), and repairing one deleted FDB entry.
 */
import { performance } from 'node:perf_hooks';
import { ipBatch, runOk } from '../src/lab/exec.js';
import { Lab } from '../src/lab/lab.js';
import { waitFor } from '../src/lab/wait.js';
import { computeRouteShapes, routeShapeToIpLine } from '../src/ipip/route-shapes.js';
import { firstAddressOfBlock } from '../src/ipip/desired.js';
import { vtepMacForNode } from '../src/ipip/mac.js';
import { NetnsRunner } from '../src/ipip/runner.js';
import { VxlanManager } from '../src/ipip/vxlan-manager.js';
import type { LocalNode, PoolEncap, RemoteNode } from '../src/ipip/types.js';

const T = Number(process.env.T ?? 5);
const REPS = Number(process.env.REPS ?? 3);
const VTEPS = Number(process.env.VTEPS ?? 200);
const POOLS: PoolEncap[] = [{ cidr: '10.65.0.0/16', ipipMode: 'Never', vxlanMode: 'Always' }];

const QUIET = { debug() {}, info() {}, warn() {}, error() {} };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[], digits = 2) => `${Math.min(...xs).toFixed(digits)} / ${median(xs).toFixed(digits)}`;

async function main(): Promise<void> {
  const lab = await Lab.create();
  try {
    const h1 = await lab.addHost('h1');
    const h2 = await lab.addHost('h2');
    const a = await lab.addWorkload('h1', { name: 'a', plumb: 'static' });
    const c = await lab.addWorkload('h2', { name: 'c', plumb: 'static' });
    const localOf = (h: typeof h1): LocalNode => ({ name: h.name, address: `${h.address}/24`, vxlanTunnelAddress: firstAddressOfBlock(h.block) });
    const remoteOf = (h: typeof h1): RemoteNode => ({ name: h.name, address: h.address, vxlanTunnelAddress: firstAddressOfBlock(h.block), blocks: [h.block] });
    const managers = [h1, h2].map((h) => {
      const m = new VxlanManager({ runner: new NetnsRunner({ netns: h.netns }), log: QUIET });
      m.setLocal(localOf(h));
      m.setRemotes([remoteOf(h === h1 ? h2 : h1)]);
      return { h, m };
    });

    const iperf = async (): Promise<number> => {
      const server = lab.startProcess(c.netns, `iperf3-${Date.now()}`, 'iperf3', ['-s', '-1', '-p', '5201', '--forceflush']);
      await waitFor('iperf3 server', () => /Server listening/.test(server.logTail(5)), { timeoutMs: 10_000 });
      const out = JSON.parse(await runOk('iperf3', ['-c', c.ip, '-p', '5201', '-t', String(T), '-J'], { ns: a.netns, timeoutMs: (T + 20) * 1000 })) as {
        end: { sum_received: { bits_per_second: number } };
      };
      await server.waitExit(5000);
      return out.end.sum_received.bits_per_second / 1e9;
    };
    // Both set the same block routes with `route replace`, so each switch simply overwrites the other.
    const plain = async () => {
      await lab.routeBlocksStatically();
      await lab.waitReachable('a', 'c');
    };
    const vxlan = async () => {
      for (const { h, m } of managers) {
        const r = await m.sync();
        if (!r.converged) throw new Error(`vxlan sync on ${h.name}: ${r.errors.join('; ')}`);
        const shapes = computeRouteShapes({ local: localOf(h), remotes: [remoteOf(h === h1 ? h2 : h1)], pools: POOLS });
        await ipBatch(h.netns, shapes.routes.map((s) => routeShapeToIpLine(s, { proto: 80 })));
      }
      await lab.waitReachable('a', 'c');
    };

    const direct: number[] = [];
    const overVxlan: number[] = [];
    const ratios: number[] = [];
    for (let i = 0; i < REPS; i++) {
      await plain();
      const d = await iperf();
      await vxlan();
      const v = await iperf();
      direct.push(d);
      overVxlan.push(v);
      ratios.push(v / d);
      console.log(`rep ${i + 1}: routed ${d.toFixed(2)} Gbit/s, vxlan ${v.toFixed(2)} Gbit/s, ratio ${(v / d).toFixed(2)}`);
    }
    console.log(`\nforwarding, one TCP stream, ${T} s, min / median of ${REPS}:`);
    console.log(`  routed, no encap      ${fmt(direct)} Gbit/s`);
    console.log(`  over vxlan.tabby      ${fmt(overVxlan)} Gbit/s`);
    console.log(`  ratio vxlan / routed  ${fmt(ratios)}`);

    // Manager cost with many remote VTEPs (fake nodes 172.31.1.x; nothing is sent to them).
    const { m } = managers[0]!;
    const fakes: RemoteNode[] = Array.from({ length: VTEPS }, (_, i) => ({
      name: `fake-${i}`,
      address: `172.31.${1 + (i >> 8)}.${i & 255}`,
      vxlanTunnelAddress: `10.66.${i >> 8}.${i & 255}`,
      blocks: [],
    }));
    m.setRemotes([remoteOf(h2), ...fakes]);
    const time = async () => {
      const t0 = performance.now();
      const r = await m.sync();
      if (!r.converged) throw new Error(r.errors.join('; '));
      return { ms: performance.now() - t0, repairs: r.repairs.length };
    };
    const first = await time();
    const steady: number[] = [];
    for (let i = 0; i < REPS; i++) steady.push((await time()).ms);
    const repair: number[] = [];
    for (let i = 0; i < REPS; i++) {
      await runOk('bridge', ['-n', h1.netns, 'fdb', 'del', vtepMacForNode(`fake-${i}`), 'dev', 'vxlan.tabby', 'self']);
      repair.push((await time()).ms);
    }
    console.log(`\nVxlanManager.sync() with ${VTEPS + 1} remote VTEPs, ms (min / median of ${REPS}):`);
    console.log(`  first sync (${first.repairs} changes)      ${first.ms.toFixed(1)}`);
    console.log(`  steady-state resync             ${fmt(steady, 1)}`);
    console.log(`  repair one deleted FDB entry    ${fmt(repair, 1)}`);
  } finally {
    await lab.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err));
  process.exitCode = 1;
});
