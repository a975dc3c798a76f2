/**
 * Benchmark: forwarding through hosts the Felix agent programmed, against a
 * bare veth pair, in one run.
 *
 *   node dist/bench/forwarding.js        (env: T=5 REPS=3)
 *
 * Paths (iperf3, one TCP stream, T seconds each; the three alternate within
 * every repetition, so each ratio is taken under the same machine load):
 *   bare     two namespaces joined by one veth pair (MTU 1440, the workload
 *            MTU): the floor;
 *   path     the same workloads and hosts as below, plumbed statically by
 *            the lab (/32 and block routes of protocol 81, no iptables
 *            rules at all): what the topology itself costs (two hosts and
 *            the fabric bridge namespace between them);
 *   routed   workload -> host 1 -> fabric -> host 2 -> workload, no
 *            encapsulation: both hosts plumbed by a FelixAgent each (proxy
 *            ARP, /32 routes, the block route as a BGP-learned route given
 *            directly, the compiled filter chains with the namespace
 *            profile's allow and the conntrack accept first);
 *   vxlan    the same workloads with the pool switched to vxlanMode Always:
 *            the agents create vxlan.tabby, neighbours, FDB entries and the
 *            onlink routes (then the pool is switched back for the next rep).
 * Target (the Felix issue): routed >= 90 % of bare.
 */
import { runOk, ipBatch } from '../src/lab/exec.js';
import { Lab, LAB_ROUTE_PROTO, type LabHost, type LabWorkload } from '../src/lab/lab.js';
import { createNetns } from '../src/lab/netns.js';
import { waitFor } from '../src/lab/wait.js';
import { firstAddressOfBlock } from '../src/ipip/desired.js';
import { FelixAgent } from '../src/felix/agent/agent.js';
import { FelixInput } from '../src/felix/calc/input.js';
import { configureLogging } from '../src/util/log.js';
import { pool, wep } from '../test/unit/felix/calc/fixtures.js';

const T = Number(process.env.T ?? 5);
const REPS = Number(process.env.REPS ?? 3);
const MTU = 1440;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[], digits = 2) => `${Math.min(...xs).toFixed(digits)} / ${median(xs).toFixed(digits)} / ${Math.max(...xs).toFixed(digits)}`;

async function iperf(lab: Lab, serverNs: string, clientNs: string, to: string): Promise<number> {
  const server = lab.startProcess(serverNs, `iperf3-${Date.now()}`, 'iperf3', ['-s', '-1', '-p', '5201', '--forceflush']);
  await waitFor('iperf3 server', () => /Server listening/.test(server.logTail(5)), { timeoutMs: 10_000 });
  const out = JSON.parse(await runOk('iperf3', ['-c', to, '-p', '5201', '-t', String(T), '-J'], { ns: clientNs, timeoutMs: (T + 20) * 1000 })) as {
    end: { sum_received: { bits_per_second: number; bytes: number; seconds: number } };
  };
  await server.waitExit(5000);
  if (process.env.BENCH_DEBUG) console.log(`    iperf3 ${clientNs} -> ${to}: ${JSON.stringify(out.end.sum_received)}`);
  return out.end.sum_received.bits_per_second / 1e9;
}

async function main(): Promise<void> {
  configureLogging({ level: 'warn' });
  const lab = await Lab.create({ mtu: MTU });
  try {
    // bare: one veth pair between two namespaces of the lab (deleted with it).
    const bareA = `${lab.prefix}-bare-a`;
    const bareB = `${lab.prefix}-bare-b`;
    await createNetns(bareA);
    await createNetns(bareB);
    await ipBatch(bareA, [`link add v0 mtu ${MTU} type veth peer name v1 netns ${bareB}`, 'addr add 10.250.0.1/30 dev v0', 'link set v0 up']);
    await ipBatch(bareB, ['addr add 10.250.0.2/30 dev v1', 'link set v1 up']);

    const h1 = await lab.addHost('h1');
    const h2 = await lab.addHost('h2');
    const a = await lab.addWorkload('h1', { name: 'a', plumb: 'none' });
    const c = await lab.addWorkload('h2', { name: 'c', plumb: 'none' });
    const workloads: LabWorkload[] = [a, c];
    const hosts: LabHost[] = [h1, h2];
    const nodes = hosts.map((h) => {
      const other = h === h1 ? h2 : h1;
      const input = new FelixInput();
      input.setNode({ name: h.name, address: `${h.address}/${h.prefixLength}` });
      input.setPools([pool('default-ipv4-ippool', '10.65.0.0/16')]);
      input.setLocalBlocks([h.block]);
      for (const w of workloads) input.setWorkloadEndpoint(wep({ node: w.host, pod: w.name, iface: w.hostIface, ips: [w.ip] }));
      input.setRemoteNodes([{ name: other.name, address: other.address, vxlanTunnelAddress: firstAddressOfBlock(other.block), blocks: [other.block] }]);
      input.setLearnedRoutes([{ dst: other.block, via: [other.address] }]);
      input.markInSync();
      return { h, input };
    });
    let agents = await Promise.all(nodes.map((n) => FelixAgent.create({ input: n.input, netns: n.h.netns, mtu: MTU, resyncIntervalMs: 0 })));
    // path: tabby's routes and tables gone, the lab's static routes in their place (interfaces keep their shape).
    const staticPath = async () => {
      for (const x of agents) await x.stop();
      for (const h of hosts) {
        const other = h === h1 ? h2 : h1;
        await runOk('ip', ['-n', h.netns, 'route', 'flush', 'proto', '80']);
        await runOk('iptables-nft-restore', [], { ns: h.netns, input: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n' });
        const own = workloads.filter((w) => w.host === h.name);
        await ipBatch(h.netns, [
          ...own.map((w) => `route replace ${w.ip}/32 dev ${w.hostIface} scope link proto ${LAB_ROUTE_PROTO}`),
          `route replace ${other.block} via ${other.address} dev eth0 proto ${LAB_ROUTE_PROTO}`,
        ]);
      }
      await lab.waitReachable('a', 'c');
    };
    const leaveStatic = async () => {
      for (const h of hosts) await runOk('ip', ['-n', h.netns, 'route', 'flush', 'proto', String(LAB_ROUTE_PROTO)]);
      // A restarted agent per host: it adopts the interfaces and writes its routes and tables again.
      agents = await Promise.all(nodes.map((n) => FelixAgent.create({ input: n.input, netns: n.h.netns, mtu: MTU, resyncIntervalMs: 0 })));
    };
    const mode = async (encap: 'routed' | 'vxlan') => {
      for (const [i, n] of nodes.entries()) {
        n.input.setNode({ name: n.h.name, address: `${n.h.address}/${n.h.prefixLength}`, ...(encap === 'vxlan' ? { vxlanTunnelAddress: firstAddressOfBlock(n.h.block) } : {}) });
        n.input.setPools([pool('default-ipv4-ippool', '10.65.0.0/16', { vxlanMode: encap === 'vxlan' ? 'Always' : 'Never' })]);
        const r = await agents[i]!.apply();
        if ((r.routes?.failed.length ?? 0) > 0) throw new Error(`${n.h.name}: ${JSON.stringify(r.routes!.failed)}`);
      }
      const route = await runOk('ip', ['-n', h1.netns, 'route', 'show', h2.block]);
      if (encap === 'vxlan' ? !route.includes('vxlan.tabby') : route.includes('vxlan.tabby')) throw new Error(`h1 route to ${h2.block} is "${route}" in ${encap} mode`);
      await lab.waitReachable('a', 'c');
    };

    const bare: number[] = [];
    const path: number[] = [];
    const routed: number[] = [];
    const vxlan: number[] = [];
    await mode('routed'); // the interfaces get their shape once
    for (let rep = 0; rep < REPS; rep++) {
      bare.push(await iperf(lab, bareB, bareA, '10.250.0.2'));
      await staticPath();
      path.push(await iperf(lab, c.netns, a.netns, c.ip));
      await leaveStatic();
      await mode('routed');
      routed.push(await iperf(lab, c.netns, a.netns, c.ip));
      await mode('vxlan');
      vxlan.push(await iperf(lab, c.netns, a.netns, c.ip));
      console.log(`rep ${rep + 1}: bare ${bare.at(-1)!.toFixed(2)}, path ${path.at(-1)!.toFixed(2)}, routed ${routed.at(-1)!.toFixed(2)} (${((routed.at(-1)! / bare.at(-1)!) * 100).toFixed(0)} %), vxlan ${vxlan.at(-1)!.toFixed(2)} (${((vxlan.at(-1)! / bare.at(-1)!) * 100).toFixed(0)} %) Gbit/s`);
    }
    const ratio = (xs: number[]) => xs.map((x, i) => x / bare[i]!);
    console.log(`\nforwarding, one TCP stream, ${T} s, MTU ${MTU}, min / median / max of ${REPS}:`);
    console.log(`  bare veth pair                 ${fmt(bare)} Gbit/s`);
    console.log(`  path, static, no rules         ${fmt(path)} Gbit/s   ratio to bare ${fmt(ratio(path))}`);
    console.log(`  routed, agent-programmed       ${fmt(routed)} Gbit/s   ratio to bare ${fmt(ratio(routed))}   to path ${fmt(routed.map((x, i) => x / path[i]!))}`);
    console.log(`  vxlan.tabby, agent-programmed  ${fmt(vxlan)} Gbit/s   ratio to bare ${fmt(ratio(vxlan))}`);
    const r = median(ratio(routed));
    console.log(`  target routed >= 90 % of bare: ${r >= 0.9 ? 'met' : 'NOT met'} (median ${(r * 100).toFixed(0)} %)`);
    for (const x of agents) await x.stop();
  } finally {
    await lab.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
