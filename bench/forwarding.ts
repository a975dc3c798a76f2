/**
 * Benchmark: forwarding through hosts the Felix agent programmed, compared
 * like with like, in one run.
 *
 *   node dist/bench/forwarding.js        (env: T=5 REPS=5 BRIDGE=0)
 *
 * Topology (platform.md §2(e) measured the same shapes): two host
 * namespaces joined by one direct veth (172.30.0.1/30 <-> .2, each the
 * other's default gateway), one workload on each attached by a `cali` veth
 * (workload side /32 and default via 169.254.1.1, MTU 1440: the workload
 * MTU). Paths (iperf3, one TCP stream, T seconds each; all paths alternate
 * within every repetition, so each ratio is taken under the same load):
 *   bare     two namespaces joined by one veth pair (MTU 1440): the floor of
 *            platform.md's (i);
 *   static   workload -> host 1 -> veth -> host 2 -> workload with static
 *            plumbing (proxy ARP, /32 and block routes of protocol 81) and no
 *            iptables rule at all: the same path without tabby's rules
 *            (platform.md's (iii), 0.98 of bare there);
 *   routed   the same path, both hosts programmed by a FelixAgent each
 *            (proxy ARP, /32 routes, the remote block as a BGP-learned
 *            route given directly, the compiled filter chains with the
 *            namespace profile's allow and the conntrack accept first): the
 *            Felix issue's target, >= 90 % of bare;
 *   vxlan    the same, the pool switched to vxlanMode Always: the agents
 *            create vxlan.tabby, neighbours, FDB entries and onlink routes.
 * BRIDGE=1 adds the lab's own path (hosts on a bridge in a fabric namespace,
 * an extra hop) routed by agents, as the earlier version of this benchmark
 * measured it.
 */
import { runOk, ipBatch } from '../src/lab/exec.js';
import { Lab, LAB_ROUTE_PROTO } from '../src/lab/lab.js';
import { createNetns, setSysctls } from '../src/lab/netns.js';
import { waitFor } from '../src/lab/wait.js';
import { ping } from '../src/lab/probe.js';
import { firstAddressOfBlock } from '../src/ipip/desired.js';
import { FelixAgent } from '../src/felix/agent/agent.js';
import { FelixInput } from '../src/felix/calc/input.js';
import { configureLogging } from '../src/util/log.js';
import { workloadIfaceName } from '../src/util/ifname.js';
import { pool, wep } from '../test/unit/felix/calc/fixtures.js';

const T = Number(process.env.T ?? 5);
const REPS = Number(process.env.REPS ?? 5);
const BRIDGE = process.env.BRIDGE === '1';
const MTU = 1440;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[], digits = 2) => `${Math.min(...xs).toFixed(digits)} / ${median(xs).toFixed(digits)} / ${Math.max(...xs).toFixed(digits)}`;

interface Host {
  name: string;
  netns: string;
  address: string;
  block: string;
}
interface Workload {
  name: string;
  host: Host;
  netns: string;
  ip: string;
  hostIface: string;
}

async function main(): Promise<void> {
  configureLogging({ level: 'warn' });
  const lab = await Lab.create({ mtu: MTU });
  const ns = (tag: string) => `${lab.prefix}-${tag}`;
  const iperf = async (serverNs: string, clientNs: string, to: string): Promise<number> => {
    const server = lab.startProcess(serverNs, `iperf3-${Date.now()}`, 'iperf3', ['-s', '-1', '-p', '5201', '--forceflush']);
    await waitFor('iperf3 server', () => /Server listening/.test(server.logTail(5)), { timeoutMs: 10_000 });
    const out = JSON.parse(await runOk('iperf3', ['-c', to, '-p', '5201', '-t', String(T), '-J'], { ns: clientNs, timeoutMs: (T + 20) * 1000 })) as {
      end: { sum_received: { bits_per_second: number } };
    };
    await server.waitExit(5000);
    return out.end.sum_received.bits_per_second / 1e9;
  };
  const reachable = (from: Workload, to: Workload) => waitFor(`${from.name} -> ${to.name}`, async () => (await ping(from.netns, to.ip)).ok, { timeoutMs: 15_000 });

  try {
    // bare: one veth pair (deleted with the lab: its names carry the lab prefix).
    const [bareA, bareB] = [ns('bare-a'), ns('bare-b')];
    await createNetns(bareA);
    await createNetns(bareB);
    await ipBatch(bareA, [`link add v0 mtu ${MTU} type veth peer name v1 netns ${bareB}`, 'addr add 10.250.0.1/30 dev v0', 'link set v0 up']);
    await ipBatch(bareB, ['addr add 10.250.0.2/30 dev v1', 'link set v1 up']);

    // Two hosts joined by one direct veth.
    const d1: Host = { name: 'd1', netns: ns('d1'), address: '172.30.0.1', block: '10.66.1.0/26' };
    const d2: Host = { name: 'd2', netns: ns('d2'), address: '172.30.0.2', block: '10.66.2.0/26' };
    for (const h of [d1, d2]) await createNetns(h.netns);
    await ipBatch(d1.netns, [`link add eth0 type veth peer name eth0 netns ${d2.netns}`]);
    for (const [h, o] of [[d1, d2], [d2, d1]] as const) {
      await ipBatch(h.netns, [`addr add ${h.address}/30 dev eth0`, 'link set eth0 up', `route add default via ${o.address} dev eth0`]);
    }
    const workloads: Workload[] = [];
    for (const [h, name, ip] of [[d1, 'wa', '10.66.1.1'], [d2, 'wc', '10.66.2.1']] as const) {
      const w: Workload = { name, host: h, netns: ns(`w-${name}`), ip, hostIface: workloadIfaceName(`${h.name}/default/${name}`) };
      await createNetns(w.netns);
      await ipBatch(h.netns, [`link add ${w.hostIface} mtu ${MTU} type veth peer name eth0 netns ${w.netns}`]);
      await ipBatch(w.netns, [`addr add ${ip}/32 dev eth0`, `link set eth0 mtu ${MTU}`, 'link set eth0 up', 'route add 169.254.1.1 dev eth0 scope link', 'route add default via 169.254.1.1 dev eth0']);
      workloads.push(w);
    }
    const [wa, wc] = workloads as [Workload, Workload];
    const hosts = [d1, d2];
    const other = (h: Host) => (h === d1 ? d2 : d1);

    const inputs = hosts.map((h) => {
      const input = new FelixInput();
      input.setNode({ name: h.name, address: `${h.address}/30` });
      input.setPools([pool('default-ipv4-ippool', '10.66.0.0/16')]);
      input.setLocalBlocks([h.block]);
      for (const w of workloads) input.setWorkloadEndpoint(wep({ node: w.host.name, pod: w.name, iface: w.hostIface, ips: [w.ip] }));
      input.setRemoteNodes([{ name: other(h).name, address: other(h).address, vxlanTunnelAddress: firstAddressOfBlock(other(h).block), blocks: [other(h).block] }]);
      input.setLearnedRoutes([{ dst: other(h).block, via: [other(h).address] }]);
      input.markInSync();
      return input;
    });
    let agents: FelixAgent[] = [];
    const startAgents = async () => {
      agents = await Promise.all(hosts.map((h, i) => FelixAgent.create({ input: inputs[i]!, netns: h.netns, mtu: MTU, resyncIntervalMs: 0 })));
    };
    const mode = async (encap: 'routed' | 'vxlan') => {
      for (const [i, h] of hosts.entries()) {
        inputs[i]!.setNode({ name: h.name, address: `${h.address}/30`, ...(encap === 'vxlan' ? { vxlanTunnelAddress: firstAddressOfBlock(h.block) } : {}) });
        inputs[i]!.setPools([pool('default-ipv4-ippool', '10.66.0.0/16', { vxlanMode: encap === 'vxlan' ? 'Always' : 'Never' })]);
        const r = await agents[i]!.apply();
        if ((r.routes?.failed.length ?? 0) > 0) throw new Error(`${h.name}: ${JSON.stringify(r.routes!.failed)}`);
      }
      const route = await runOk('ip', ['-n', d1.netns, 'route', 'show', d2.block]);
      if (encap === 'vxlan' ? !route.includes('vxlan.tabby') : route.includes('vxlan.tabby')) throw new Error(`d1 route to ${d2.block} is "${route}" in ${encap} mode`);
      const rules = await runOk('iptables-nft-save', ['-t', 'filter'], { ns: d1.netns });
      if (!/tabby-FORWARD/.test(rules)) throw new Error('no tabby chains on d1');
      await reachable(wa, wc);
    };
    // static: tabby's routes and tables gone, static plumbing of the same shape.
    const staticPath = async () => {
      for (const a of agents) await a.stop();
      for (const h of hosts) {
        await runOk('ip', ['-n', h.netns, 'route', 'flush', 'proto', '80']);
        await runOk('iptables-nft-restore', [], { ns: h.netns, input: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n' });
        const own = workloads.filter((w) => w.host === h);
        await ipBatch(h.netns, [
          ...own.map((w) => `route replace ${w.ip}/32 dev ${w.hostIface} scope link proto ${LAB_ROUTE_PROTO}`),
          `route replace ${other(h).block} via ${other(h).address} dev eth0 proto ${LAB_ROUTE_PROTO}`,
        ]);
        await setSysctls(h.netns, { 'net.ipv4.ip_forward': 1 });
      }
      const rules = await runOk('iptables-nft-save', [], { ns: d1.netns });
      if (/tabby/.test(rules)) throw new Error('static path still has tabby rules');
      await reachable(wa, wc);
    };
    const leaveStatic = async () => {
      for (const h of hosts) await runOk('ip', ['-n', h.netns, 'route', 'flush', 'proto', String(LAB_ROUTE_PROTO)]);
      await startAgents();
    };

    // Optional: the lab's bridge path, routed by agents (the earlier comparison).
    const bridge = BRIDGE ? await bridgePath(lab) : undefined;

    const bare: number[] = [];
    const stat: number[] = [];
    const routed: number[] = [];
    const vxlan: number[] = [];
    const bridged: number[] = [];
    await startAgents();
    await mode('routed'); // the interfaces get their shape once
    for (let rep = 0; rep < REPS; rep++) {
      bare.push(await iperf(bareB, bareA, '10.250.0.2'));
      await staticPath();
      stat.push(await iperf(wc.netns, wa.netns, wc.ip));
      await leaveStatic();
      await mode('routed');
      routed.push(await iperf(wc.netns, wa.netns, wc.ip));
      await mode('vxlan');
      vxlan.push(await iperf(wc.netns, wa.netns, wc.ip));
      await mode('routed');
      if (bridge) bridged.push(await bridge.measure(iperf));
      const pc = (x: number) => `${((x / bare.at(-1)!) * 100).toFixed(0)} %`;
      console.log(
        `rep ${rep + 1}: bare ${bare.at(-1)!.toFixed(2)}, static ${stat.at(-1)!.toFixed(2)} (${pc(stat.at(-1)!)}), routed ${routed.at(-1)!.toFixed(2)} (${pc(routed.at(-1)!)}), vxlan ${vxlan.at(-1)!.toFixed(2)} (${pc(vxlan.at(-1)!)})` +
          (bridge ? `, lab bridge path routed ${bridged.at(-1)!.toFixed(2)} (${pc(bridged.at(-1)!)})` : '') +
          ' Gbit/s',
      );
    }
    const ratio = (xs: number[]) => xs.map((x, i) => x / bare[i]!);
    console.log(`\nforwarding, one TCP stream, ${T} s, MTU ${MTU}, min / median / max of ${REPS}:`);
    console.log(`  bare veth pair                          ${fmt(bare)} Gbit/s`);
    console.log(`  direct path, static, no rules           ${fmt(stat)} Gbit/s   ratio to bare ${fmt(ratio(stat))}`);
    console.log(`  direct path, routed by tabby            ${fmt(routed)} Gbit/s   ratio to bare ${fmt(ratio(routed))}   to static ${fmt(routed.map((x, i) => x / stat[i]!))}`);
    console.log(`  direct path, vxlan.tabby                ${fmt(vxlan)} Gbit/s   ratio to bare ${fmt(ratio(vxlan))}   to routed ${fmt(vxlan.map((x, i) => x / routed[i]!))}`);
    if (bridge) console.log(`  lab bridge path, routed by tabby        ${fmt(bridged)} Gbit/s   ratio to bare ${fmt(ratio(bridged))}`);
    const r = median(ratio(routed));
    console.log(`  target routed >= 90 % of bare: ${r >= 0.9 ? 'met' : 'NOT met'} (median ${(r * 100).toFixed(0)} %)`);
    for (const a of agents) await a.stop();
    await bridge?.stop();
  } finally {
    await lab.destroy();
  }
}

/** The lab's own topology (hosts on the fabric bridge), routed by two agents. */
async function bridgePath(lab: Lab): Promise<{ measure: (iperf: (s: string, c: string, to: string) => Promise<number>) => Promise<number>; stop: () => Promise<void> }> {
  const h1 = await lab.addHost('h1');
  const h2 = await lab.addHost('h2');
  const a = await lab.addWorkload('h1', { name: 'a', plumb: 'none' });
  const c = await lab.addWorkload('h2', { name: 'c', plumb: 'none' });
  const agents = await Promise.all(
    [h1, h2].map((h) => {
      const o = h === h1 ? h2 : h1;
      const input = new FelixInput();
      input.setNode({ name: h.name, address: `${h.address}/${h.prefixLength}` });
      input.setPools([pool('default-ipv4-ippool', '10.65.0.0/16')]);
      input.setLocalBlocks([h.block]);
      for (const w of [a, c]) input.setWorkloadEndpoint(wep({ node: w.host, pod: w.name, iface: w.hostIface, ips: [w.ip] }));
      input.setLearnedRoutes([{ dst: o.block, via: [o.address] }]);
      input.markInSync();
      return FelixAgent.create({ input, netns: h.netns, mtu: MTU, resyncIntervalMs: 0 });
    }),
  );
  for (const x of agents) await x.apply();
  await lab.waitReachable('a', 'c', 15_000);
  return {
    measure: (iperf) => iperf(c.netns, a.netns, c.ip),
    stop: async () => {
      for (const x of agents) await x.stop();
    },
  };
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
