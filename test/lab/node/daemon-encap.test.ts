/**
 * `tabby daemon` with encapsulated pools: each daemon allocates its VXLAN
 * tunnel address from the pool (IPAM handle vxlan-tunnel-addr-<node>) and
 * writes it to its Node; every host programs vxlan.tabby and routes the other
 * hosts' blocks through it (calc from the datastore, not BGP), and workloads
 * talk across it. A pool with ipipMode on a kernel without ipip: the daemon
 * says so in its status and keeps routing the VXLAN pool.
 */
import assert from 'node:assert/strict';
import type { Node } from '../../../src/datastore/resources/index.js';
import { ping } from '../../../src/lab/probe.js';
import { waitFor } from '../../../src/lab/wait.js';
import { runOk } from '../../../src/lab/exec.js';
import { DaemonCluster, TABBY, type DaemonHost } from './daemon-harness.js';

const VXLAN_POOL = `
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: { name: vxlan-pool }
spec: { cidr: 10.73.0.0/16, blockSize: 26, vxlanMode: Always, ipipMode: Never, natOutgoing: false }
`;

describe('tabby daemon: VXLAN pool across two hosts', function () {
  this.timeout(180_000);
  let c: DaemonCluster;
  const hosts: DaemonHost[] = [];
  const pods: { host: DaemonHost; netns: string; ip: string }[] = [];

  before(async () => {
    c = await DaemonCluster.create();
    await c.apply(VXLAN_POOL);
    for (const n of ['h1', 'h2']) hosts.push(await c.addHost(n));
    for (const h of hosts) c.startDaemon(h);
    await c.waitEstablished(hosts, 1);
    for (const h of hosts) pods.push({ host: h, ...(await c.addPod(h, 'default', `pod-${h.name}`)) });
  });

  after(async () => {
    await c?.destroy();
  });

  it('each daemon allocates a VXLAN tunnel address inside its own block and writes it to its Node', async () => {
    for (const h of hosts) {
      const n = await waitFor(`${h.name}'s tunnel address`, async () => (await c.h.store.get<Node>({ kind: 'Node', name: h.name }))?.value.spec.ipv4VXLANTunnelAddr, { timeoutMs: 30_000, intervalMs: 200 });
      assert.match(n, /^10\.73\.\d+\.\d+$/);
    }
  });

  it('remote blocks are routed over vxlan.tabby with the remote tunnel address as next hop', async () => {
    for (const h of hosts) {
      const other = hosts.find((x) => x !== h)!;
      const otherTunnel = (await c.h.store.get<Node>({ kind: 'Node', name: other.name }))!.value.spec.ipv4VXLANTunnelAddr!;
      await waitFor(`${h.name}: a route via ${otherTunnel} dev vxlan.tabby`, async () => (await c.routes(h)).some((r) => r.dev === 'vxlan.tabby' && r.gateway === otherTunnel && r.dst.endsWith('/26')), { timeoutMs: 30_000, intervalMs: 200 });
    }
  });

  it('workloads ping each other across the tunnel', async () => {
    const [a, b] = pods as [(typeof pods)[0], (typeof pods)[0]];
    await waitFor('h1 pod -> h2 pod', async () => (await ping(a.netns, b.ip, { timeoutMs: 1500 })).ok, { timeoutMs: 30_000, intervalMs: 250 });
    assert.ok((await ping(b.netns, a.ip, { timeoutMs: 1500 })).ok, 'h2 pod -> h1 pod');
  });
});

describe('tabby daemon: an IPIP pool on a kernel without the ipip module', function () {
  this.timeout(120_000);
  let c: DaemonCluster;
  const hosts: DaemonHost[] = [];

  before(async () => {
    c = await DaemonCluster.create();
    await c.apply(`apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: { name: ipip-pool }\nspec: { cidr: 10.77.0.0/16, blockSize: 26, ipipMode: Always, vxlanMode: Never }\n`);
    for (const n of ['h1', 'h2']) hosts.push(await c.addHost(n));
    for (const h of hosts) c.startDaemon(h);
    await c.waitEstablished(hosts, 1);
    for (const h of hosts) await c.addPod(h, 'default', `pod-${h.name}`);
  });

  after(async () => {
    await c?.destroy();
  });

  it('allocates an IPIP tunnel address, and says in its status, clearly, that tunl0 cannot be created here', async () => {
    const n = await waitFor('tunnel address', async () => (await c.h.store.get<Node>({ kind: 'Node', name: 'h1' }))?.value.spec.bgp?.ipv4IPIPTunnelAddr, { timeoutMs: 30_000, intervalMs: 200 });
    assert.match(n, /^10\.77\./);
    const st = await waitFor('IPIP reported unsupported', async () => {
      const s = (await c.status(hosts[0]!)) as unknown as { dataplane: { encap: { ipip: { state: string; reason?: string } } } };
      return s.dataplane.encap.ipip.state === 'unsupported' ? s : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    assert.match(st.dataplane.encap.ipip.reason ?? '', /ipip|tunl0|not supported|module/i);
    const table = await runOk(process.execPath, [TABBY, 'status', '--config', hosts[0]!.configPath]);
    assert.match(table, /ipip: UNSUPPORTED: /);
    // Said once in the log, not on every pass.
    const log = hosts[0]!.proc!.logTail(400);
    assert.equal(log.split('\n').filter((l) => l.includes('IPIP is unavailable on this node')).length, 1, log);
  });
});
