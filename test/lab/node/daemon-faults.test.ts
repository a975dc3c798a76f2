/**
 * `tabby daemon` under faults, three (then four) hosts in a mesh on one
 * embedded datastore, workloads attached through CNI:
 * - kill -9 of one daemon: no ping lost between workloads of other hosts,
 *   none lost to or from its own workloads (graceful restart: the peers keep
 *   its routes stale, its kernel keeps forwarding, the restarted daemon
 *   adopts and converges);
 * - 100+ BGP session flaps (TCP sockets destroyed with `ss -K`): afterwards
 *   every host's tabby routes are exactly the expected set;
 * - a node added: every node peers with it and reaches its workloads;
 * - a node removed: its routes vanish everywhere.
 */
import assert from 'node:assert/strict';
import { Ipam } from '../../../src/ipam/ipam.js';
import { storePoolSource } from '../../../src/ipam/pool-source.js';
import { run } from '../../../src/lab/exec.js';
import { ping } from '../../../src/lab/probe.js';
import { sleep, waitFor } from '../../../src/lab/wait.js';
import { DaemonCluster, type DaemonHost } from './daemon-harness.js';

interface Pod {
  host: DaemonHost;
  netns: string;
  ip: string;
}

describe('tabby daemon under faults (mesh)', function () {
  this.timeout(300_000);
  let c: DaemonCluster;
  const hosts: DaemonHost[] = [];
  const pods: Pod[] = [];

  /** The remote blocks each host must route: every other live host's blocks via that host. */
  async function expectedRoutes(live: DaemonHost[]): Promise<Map<string, string[]>> {
    const ipam = new Ipam({ store: c.h.store, pools: storePoolSource(c.h.store) });
    const out = new Map<string, string[]>();
    for (const h of live) {
      const lines: string[] = [];
      for (const other of live) {
        if (other === h) continue;
        for (const b of await ipam.blocksOfNode(other.name)) lines.push(`${b} via ${other.host.address}`);
      }
      for (const b of await ipam.blocksOfNode(h.name)) lines.push(`blackhole ${b}`);
      out.set(h.name, lines.sort());
    }
    return out;
  }

  /** A host's tabby routes that are not workload /32s, in the same shape. */
  async function actualRoutes(h: DaemonHost): Promise<string[]> {
    const lines: string[] = [];
    for (const r of await c.routes(h)) {
      if (r.type === 'blackhole') lines.push(`blackhole ${r.dst}`);
      else if (r.gateway) lines.push(`${r.dst} via ${r.gateway}`);
      else if (r.nexthops) lines.push(`${r.dst} via ${r.nexthops.map((n) => n.gateway).sort().join(',')}`);
    }
    return lines.sort();
  }

  async function waitRoutesExact(live: DaemonHost[], timeoutMs = 60_000): Promise<void> {
    const want = await expectedRoutes(live);
    for (const h of live) {
      await waitFor(`${h.name}: exactly the expected tabby routes`, async () => {
        const got = await actualRoutes(h);
        return JSON.stringify(got) === JSON.stringify(want.get(h.name)) ? true : undefined;
      }, { timeoutMs, intervalMs: 200 }).catch(async (err) => {
        throw new Error(`${(err as Error).message}\nwant ${JSON.stringify(want.get(h.name))}\ngot  ${JSON.stringify(await actualRoutes(h))}`);
      });
    }
  }

  before(async () => {
    c = await DaemonCluster.create();
    await c.h.addPool('default-ipv4', '10.71.0.0/16', 26);
    for (const n of ['h1', 'h2', 'h3']) hosts.push(await c.addHost(n));
    for (const h of hosts) c.startDaemon(h);
    await c.waitEstablished(hosts, 2);
    for (const h of hosts) pods.push({ host: h, ...(await c.addPod(h, 'default', `pod-${h.name}`)) });
    await waitRoutesExact(hosts);
  });

  after(async () => {
    await c?.destroy();
  });

  it('kill -9 of one daemon loses no ping, to, from or between the other hosts, and it converges after restart', async () => {
    const [p1, p2, p3] = pods as [Pod, Pod, Pod];
    const pings = [
      c.startPing('2to3', p2.netns, p3.ip),
      c.startPing('2to1', p2.netns, p1.ip),
      c.startPing('1to3', p1.netns, p3.ip),
    ];
    await sleep(1000);
    const h1 = hosts[0]!;
    h1.proc!.signalWith('SIGKILL');
    assert.ok(await h1.proc!.waitExit(5000), 'the daemon died');
    await sleep(3000);
    c.startDaemon(h1);
    await c.waitEstablished(hosts, 2);
    await waitRoutesExact(hosts);
    await sleep(3000); // past the restarted daemon's hold release
    const results = await Promise.all(pings.map((p) => p.stop()));
    for (const [name, r] of [['h2->h3', results[0]!], ['h2->h1', results[1]!], ['h1->h3', results[2]!]] as const) {
      assert.ok(r.sent > 100, `${name}: ping ran (${r.sent} sent)`);
      assert.equal(r.lost, 0, `${name}: ${r.lost} of ${r.sent} pings lost`);
    }
  });

  it('after 100 BGP session flaps every host has exactly the expected routes', async () => {
    const before = await c.totalFlaps(hosts);
    // Each round destroys the BGP sockets of every host with a session up
    // (every session end counts its own flap, as each node's status shows it).
    for (let round = 0; round < 200; round++) {
      if ((await c.totalFlaps(hosts)) - before >= 100) break;
      const up: DaemonHost[] = [];
      await waitFor('a session up to flap', async () => {
        for (const h of hosts) if ((await c.status(h)).bgp.peers.some((p) => p.state === 'Established')) up.push(h);
        return up.length > 0;
      }, { timeoutMs: 30_000, intervalMs: 50 });
      await Promise.all(up.map((h) => run('ss', ['-K', '(', 'sport', '=', ':179', 'or', 'dport', '=', ':179', ')'], { ns: h.host.netns })));
    }
    const flaps = (await c.totalFlaps(hosts)) - before;
    assert.ok(flaps >= 100, `only ${flaps} flaps`);
    await c.waitEstablished(hosts, 2, 90_000);
    await waitRoutesExact(hosts);
    for (const h of hosts) assert.ok(h.proc!.alive, `${h.name}'s daemon survived the flaps`);
  });

  it('a node added: every node peers with it and reaches its workload', async () => {
    const h4 = await c.addHost('h4');
    hosts.push(h4);
    c.startDaemon(h4);
    await c.waitEstablished(hosts, 3);
    const p4 = { host: h4, ...(await c.addPod(h4, 'default', 'pod-h4')) };
    pods.push(p4);
    await waitRoutesExact(hosts);
    for (const p of pods) {
      if (p === p4) continue;
      const r = await ping(p.netns, p4.ip, { timeoutMs: 3000 });
      assert.ok(r.ok, `${p.host.name} -> h4: ${r.error ?? ''}`);
    }
  });

  it('a node removed: its sessions and routes vanish everywhere', async () => {
    const h4 = hosts.pop()!;
    await h4.proc!.stop();
    await c.h.store.delete({ kind: 'Node', name: 'h4' });
    const ipam = new Ipam({ store: c.h.store, pools: storePoolSource(c.h.store) });
    await ipam.releaseNodeAffinities('h4');
    await c.waitEstablished(hosts, 2);
    await waitRoutesExact(hosts);
    for (const h of hosts) {
      const routes = await actualRoutes(h);
      assert.ok(!routes.some((r) => r.includes(`via ${h4.host.address}`)), `${h.name} still routes via h4: ${routes.join('; ')}`);
    }
  });
});
