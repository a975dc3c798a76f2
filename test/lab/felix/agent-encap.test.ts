/**
 * The Felix agent with encapsulation and NAT outgoing, end to end:
 *
 *   h1 (a) ── fabric ── h2 (c)        pool 10.65.0.0/16 vxlanMode Always, natOutgoing
 *                 └── outside          172.31.0.100, no route back to the pool
 *
 * The agents compute the VXLAN routes, neighbours and FDB entries from the
 * datastore view alone (node addresses, VTEPs, blocks: no BGP). Covered:
 * ping/TCP/iperf3 across vxlan.tabby, VXLAN drift repaired by the resync,
 * MASQUERADE only for traffic leaving the pools, natOutgoing switched off
 * and on, and a pool asking for IPIP on a kernel without ipip: reported once,
 * its blocks unrouted, VXLAN traffic unaffected.
 */
import assert from 'node:assert/strict';
import { Lab, type LabHost, type LabWorkload } from '../../../src/lab/lab.js';
import { ipBatch, runOk } from '../../../src/lab/exec.js';
import { createNetns } from '../../../src/lab/netns.js';
import { ping, tcpProbe } from '../../../src/lab/probe.js';
import { waitFor } from '../../../src/lab/wait.js';
import { firstAddressOfBlock } from '../../../src/ipip/desired.js';
import { vtepMacForNode } from '../../../src/ipip/mac.js';
import { FelixInput } from '../../../src/felix/calc/input.js';
import type { RemoteNodeInput } from '../../../src/felix/calc/types.js';
import { FelixAgent } from '../../../src/felix/agent/agent.js';
import { pool, wep } from '../../unit/felix/calc/fixtures.js';

const DEV = 'vxlan.tabby';
const OUTSIDE_IP = '172.31.0.100';
const IPIP_POOL_BLOCK_H2 = '10.66.2.0/26';

describe('felix agent lab: VXLAN, NAT outgoing, IPIP detection', function () {
  this.timeout(180_000);
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;
  let a: LabWorkload;
  let c: LabWorkload;
  let outsideNs: string;
  const inputs = new Map<string, FelixInput>();
  const agents = new Map<string, FelixAgent>();

  const ipIn = (h: LabHost, args: string[]) => runOk('ip', ['-n', h.netns, ...args]);
  const inNs = (ns: string, cmd: string, args: string[]) => runOk(cmd, args, { ns });
  const pingOk = async (from: LabWorkload, to: string) => (await ping(from.netns, to, { timeoutMs: 1000 })).ok;
  const pools = (natOutgoing: boolean, withIpip = false) => [
    pool('default-ipv4-ippool', '10.65.0.0/16', { vxlanMode: 'Always', natOutgoing }),
    ...(withIpip ? [pool('ipip-pool', '10.66.0.0/16', { ipipMode: 'Always' })] : []),
  ];
  const remoteOf = (h: LabHost, withIpip = false): RemoteNodeInput => ({
    name: h.name,
    address: h.address,
    vxlanTunnelAddress: firstAddressOfBlock(h.block),
    blocks: [h.block, ...(withIpip && h === h2 ? [IPIP_POOL_BLOCK_H2] : [])],
  });
  /** Bytes counter of tabby's MASQUERADE rule on h1. */
  const masqPackets = async () => {
    const save = await inNs(h1.netns, 'iptables-nft-save', ['-c', '-t', 'nat']);
    const m = /^\[(\d+):\d+\] -A tabby-nat-outgoing .*-j MASQUERADE/m.exec(save);
    return m ? Number(m[1]) : undefined;
  };

  before(async () => {
    lab = await Lab.create();
    h1 = await lab.addHost('h1');
    h2 = await lab.addHost('h2');
    a = await lab.addWorkload('h1', { name: 'a', plumb: 'none' });
    c = await lab.addWorkload('h2', { name: 'c', plumb: 'none' });
    await lab.startEcho('c', { tcp: [8080], udp: [8081] });
    // "Outside": a namespace on the fabric with no route back to the pools.
    outsideNs = `${lab.prefix}-outside`;
    await createNetns(outsideNs);
    await ipBatch(lab.fabricNs, [`link add outside type veth peer name eth0 netns ${outsideNs}`, 'link set outside master br0', 'link set outside up']);
    await ipBatch(outsideNs, [`addr add ${OUTSIDE_IP}/24 dev eth0`, 'link set eth0 up']);

    for (const h of [h1, h2]) {
      const input = new FelixInput();
      input.setNode({ name: h.name, address: `${h.address}/${h.prefixLength}`, vxlanTunnelAddress: firstAddressOfBlock(h.block) });
      input.setPools(pools(true));
      input.setLocalBlocks([h.block]);
      for (const x of [a, c]) input.setWorkloadEndpoint(wep({ node: x.host, pod: x.name, iface: x.hostIface, ips: [x.ip] }));
      input.setRemoteNodes([remoteOf(h === h1 ? h2 : h1)]);
      input.markInSync();
      inputs.set(h.name, input);
      agents.set(h.name, await FelixAgent.create({ input, netns: h.netns, resyncIntervalMs: 0 }));
    }
  });

  after(async () => {
    for (const x of agents.values()) await x.stop();
    await lab.destroy();
  });

  it('computes and programs VXLAN from the datastore view: device, neighbour, FDB entry, onlink route', async () => {
    for (const h of [h1, h2]) {
      const r = await agents.get(h.name)!.apply();
      assert.equal(r.encap.vxlan!.converged, true, r.encap.vxlan!.errors.join('; '));
      assert.deepEqual(r.routes!.failed, []);
      assert.deepEqual(r.routes!.pending, []);
    }
    assert.match(await ipIn(h1, ['route', 'show', h2.block]), new RegExp(`^${h2.block.replace(/\./g, '\\.')} via 10\\.65\\.2\\.0 dev vxlan\\.tabby proto 80 onlink`));
    assert.match(await ipIn(h1, ['neigh', 'show', 'dev', DEV]), new RegExp(`^10\\.65\\.2\\.0 lladdr ${vtepMacForNode('h2')} PERMANENT`, 'm'));
    assert.match(await runOk('bridge', ['-n', h1.netns, 'fdb', 'show', 'dev', DEV]), new RegExp(`^${vtepMacForNode('h2')} dst 172\\.31\\.0\\.2 self permanent$`, 'm'));
    const st = agents.get('h1')!.stats();
    assert.deepEqual(st.encap.vxlan, { state: 'ok', device: DEV });
  });

  it('ping, TCP and iperf3 cross the tunnel', async () => {
    await lab.waitReachable('a', 'c');
    const t = await tcpProbe(a.netns, c.ip, 8080, { timeoutMs: 3000 });
    assert.equal(t.ok, true, t.detail);
    assert.equal(t.reply, 'c');
    const server = lab.startProcess(c.netns, 'iperf3-server', 'iperf3', ['-s', '-1', '-p', '5201', '--forceflush']);
    await waitFor('iperf3 server listening', () => {
      if (!server.alive) throw new Error(`iperf3 exited: ${server.logTail(5)}`);
      return /Server listening/.test(server.logTail(10));
    }, { timeoutMs: 10_000 });
    const out = JSON.parse(await runOk('iperf3', ['-c', c.ip, '-p', '5201', '-t', '2', '-J'], { ns: a.netns, timeoutMs: 30_000 })) as {
      end: { sum_received: { bytes: number; bits_per_second: number } };
    };
    const { bytes, bits_per_second: bps } = out.end.sum_received;
    console.log(`      iperf3 a -> c over ${DEV}: ${(bps / 1e9).toFixed(2)} Gbit/s`);
    assert.ok(bytes > 1_000_000, `received only ${bytes} bytes`);
    await server.waitExit(5000);
    const tx = JSON.parse(await ipIn(h1, ['-s', '-j', 'link', 'show', 'dev', DEV]))[0] as { stats64: { tx: { bytes: number } } };
    assert.ok(tx.stats64.tx.bytes >= bytes * 0.9, 'the data went through vxlan.tabby');
  });

  it('VXLAN drift (FDB entry, neighbour, route) is repaired by the resync and counted', async () => {
    await runOk('bridge', ['-n', h1.netns, 'fdb', 'del', vtepMacForNode('h2'), 'dev', DEV, 'dst', h2.address, 'self']);
    await ipIn(h1, ['neigh', 'del', '10.65.2.0', 'dev', DEV]);
    await ipIn(h1, ['route', 'del', h2.block]);
    assert.equal(await pingOk(a, c.ip), false);
    const x = agents.get('h1')!;
    const r = await x.resync();
    const kinds = new Set(r.repairs.map((p) => `${p.manager}.${p.kind}`));
    for (const k of ['vxlan.fdb-added', 'vxlan.neigh-added', 'routes.restored']) assert.ok(kinds.has(k), `${k} in ${[...kinds].join(', ')}`);
    assert.equal(x.stats().repairs['vxlan.fdb-added'], 1);
    await lab.waitReachable('a', 'c');
  });

  it('NAT outgoing: traffic from the pool to the outside is masqueraded, traffic between workloads is not', async () => {
    const before = (await masqPackets())!;
    assert.notEqual(before, undefined, 'MASQUERADE rule present');
    await waitFor('a -> outside', async () => (await pingOk(a, OUTSIDE_IP)) || { notYet: 'no reply' }, { timeoutMs: 5000 });
    const afterOut = (await masqPackets())!;
    assert.ok(afterOut > before, `masquerade counter ${before} -> ${afterOut}`);
    assert.ok(await pingOk(a, c.ip));
    assert.equal(await masqPackets(), afterOut, 'workload-to-workload traffic is not NATed');
    const sets = await inNs(h1.netns, 'ipset', ['list', 'tabby-masq-ipam-pools']);
    assert.match(sets, /^10\.65\.0\.0\/16$/m);
  });

  it('natOutgoing off: the rule goes, the outside becomes unreachable; on again: back', async () => {
    const input = inputs.get('h1')!;
    const x = agents.get('h1')!;
    input.setPools(pools(false));
    const r = await x.apply();
    assert.deepEqual(r.iptables.nat!.rewritten, ['tabby-nat-outgoing']);
    assert.deepEqual(r.iptables.filter!.rewritten, [], 'the filter table is untouched');
    assert.equal(await masqPackets(), undefined);
    // Existing conntrack entries keep an established NAT flow alive; a new ping id is a new flow.
    await runOk('conntrack', ['-D', '-s', a.ip], { ns: h1.netns }).catch(() => undefined);
    assert.equal(await pingOk(a, OUTSIDE_IP), false, 'no NAT, no route back: the outside cannot answer');
    input.setPools(pools(true));
    await x.apply();
    await waitFor('a -> outside again', async () => (await pingOk(a, OUTSIDE_IP)) || { notYet: 'no reply' }, { timeoutMs: 5000 });
  });

  it('a pool asking for IPIP on a kernel without ipip: reported, its blocks unrouted, VXLAN unaffected', async () => {
    const input = inputs.get('h1')!;
    const x = agents.get('h1')!;
    input.setNode({ ...input.node!, ipipTunnelAddress: '10.66.1.0' });
    input.setPools(pools(true, true));
    input.setRemoteNodes([remoteOf(h2, true)]);
    await x.apply();
    const st = x.stats();
    if (st.encap.ipip.state === 'unsupported') {
      assert.deepEqual(x.unroutedBlocks().filter((u) => u.reason === 'ipip-unavailable'), [{ cidr: IPIP_POOL_BLOCK_H2, node: 'h2', reason: 'ipip-unavailable' }]);
      assert.equal(await ipIn(h1, ['route', 'show', IPIP_POOL_BLOCK_H2]), '');
      assert.ok(x.problems().some((p) => p.includes(IPIP_POOL_BLOCK_H2) && p.includes('ipip-unavailable')), x.problems().join('\n'));
      // No retry storm: later passes do not try to create tunl0 again.
      const again = await x.apply();
      assert.equal(again.encap.ipip, undefined, 'tunl0 not synced again without a change');
    } else {
      // A kernel with ipip: the block goes through tunl0.
      assert.equal(st.encap.ipip.state, 'ok');
      assert.match(await ipIn(h1, ['route', 'show', IPIP_POOL_BLOCK_H2]), /dev tunl0/);
    }
    assert.ok(await pingOk(a, c.ip), 'VXLAN traffic unaffected');
  });
});
