/**
 * `tabby daemon` in the two other topologies Calico users run:
 * - route reflectors: the mesh off, two nodes with a routeReflectorClusterID
 *   and a BGPPeer (peerSelector) that makes every node peer with them;
 *   clients learn each other's blocks only through the reflectors, with the
 *   originating node as next hop;
 * - top of rack: two racks, each node eBGP to its rack's BIRD (an AS per
 *   rack, per-node asNumber), the two BIRDs eBGP to each other; workloads
 *   in different racks reach each other through the ToRs.
 * Each asserts sessions, kernel routes and real traffic.
 */
import assert from 'node:assert/strict';
import { ping } from '../../../src/lab/probe.js';
import { waitFor } from '../../../src/lab/wait.js';
import { birdConfig, startBird } from '../bgp/peers.js';
import { DaemonCluster, type DaemonHost } from './daemon-harness.js';

type Pod = { host: DaemonHost; netns: string; ip: string };

async function allPing(pods: Pod[]): Promise<void> {
  for (const a of pods) {
    for (const b of pods) {
      if (a === b) continue;
      await waitFor(`${a.host.name} -> ${b.host.name} (${b.ip})`, async () => (await ping(a.netns, b.ip, { timeoutMs: 1000 })).ok, { timeoutMs: 30_000, intervalMs: 250 });
    }
  }
}

describe('tabby daemon: route reflector topology (2 reflectors, 3 clients)', function () {
  this.timeout(240_000);
  let c: DaemonCluster;
  const rrs: DaemonHost[] = [];
  const clients: DaemonHost[] = [];
  const pods: Pod[] = [];

  before(async () => {
    c = await DaemonCluster.create();
    await c.h.addPool('default-ipv4', '10.74.0.0/16', 26);
    await c.apply(`
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: { name: default }
spec: { nodeToNodeMeshEnabled: false, asNumber: 64512 }
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: { name: peer-with-route-reflectors }
spec: { nodeSelector: all(), peerSelector: route-reflector == 'true' }
`);
    for (const n of ['rr1', 'rr2']) {
      await c.apply(`apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: { name: ${n}, labels: { route-reflector: 'true' } }\nspec: { bgp: { routeReflectorClusterID: 244.0.0.1 } }\n`);
      rrs.push(await c.addHost(n));
    }
    for (const n of ['c1', 'c2', 'c3']) clients.push(await c.addHost(n));
    for (const h of [...rrs, ...clients]) c.startDaemon(h);
    await c.waitEstablished(rrs, 4); // the other RR and the 3 clients
    await c.waitEstablished(clients, 2); // both RRs
    for (const h of [...clients, rrs[0]!]) pods.push({ host: h, ...(await c.addPod(h, 'default', `pod-${h.name}`)) });
  });

  after(async () => {
    await c?.destroy();
  });

  it('the reflectors see their clients as rr sessions and the other reflector too; clients see only the two reflectors', async () => {
    for (const h of rrs) {
      const st = await c.status(h);
      assert.deepEqual(st.bgp.peers.map((p) => p.type).sort(), ['rr', 'rr', 'rr', 'rr']);
    }
    for (const h of clients) {
      const st = await c.status(h);
      assert.deepEqual(st.bgp.peers.map((p) => p.address).sort(), [rrs[0]!.host.address, rrs[1]!.host.address].sort());
    }
  });

  it('a client routes another client\'s block via that client (reflected with its original next hop), not via a reflector', async () => {
    await waitFor('reflected routes installed', async () => {
      for (const h of clients) {
        const routes = await c.routes(h);
        for (const other of clients) {
          if (other === h) continue;
          const ok = routes.some((r) => r.dst.endsWith('/26') && (r.gateway === other.host.address || r.nexthops?.some((n) => n.gateway === other.host.address)));
          if (!ok) return false;
        }
      }
      return true;
    }, { timeoutMs: 30_000, intervalMs: 250 });
  });

  it('workloads on every client and on a reflector reach each other', async () => {
    await allPing(pods);
  });
});

describe('tabby daemon: top-of-rack topology (2 racks, a BIRD ToR each, an AS per rack)', function () {
  this.timeout(240_000);
  let c: DaemonCluster;
  const rackA: DaemonHost[] = [];
  const rackB: DaemonHost[] = [];
  const pods: Pod[] = [];

  before(async () => {
    c = await DaemonCluster.create();
    await c.h.addPool('default-ipv4', '10.75.0.0/16', 26);
    const torA = await c.lab.addHost('tora');
    const torB = await c.lab.addHost('torb');
    await c.apply(`
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: { name: default }
spec: { nodeToNodeMeshEnabled: false }
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: { name: tor-a }
spec: { nodeSelector: rack == 'a', peerIP: ${torA.address}, asNumber: 65101, numAllowedLocalASNumbers: 1 }
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: { name: tor-b }
spec: { nodeSelector: rack == 'b', peerIP: ${torB.address}, asNumber: 65102, numAllowedLocalASNumbers: 1 }
`);
    for (const [name, rack, as] of [['a1', 'a', 65001], ['a2', 'a', 65001], ['b1', 'b', 65002]] as const) {
      await c.apply(`apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: { name: ${name}, labels: { rack: ${rack} } }\nspec: { bgp: { asNumber: ${as} } }\n`);
      (rack === 'a' ? rackA : rackB).push(await c.addHost(name));
    }
    // Each ToR: eBGP to its rack's nodes and to the other ToR, routes into its kernel so it forwards.
    const kernel = 'protocol kernel { ipv4 { export all; }; merge paths on; }';
    const tor = (self: typeof torA, as: number, rack: DaemonHost[], other: typeof torA, otherAs: number) =>
      birdConfig({
        routerId: self.address,
        as,
        peers: [...rack.map((h) => ({ name: `node_${h.name}`, address: h.host.address, as: h.name.startsWith('a') ? 65001 : 65002 })), { name: 'other_tor', address: other.address, as: otherAs }],
        extra: kernel,
      });
    await startBird(c.lab, torA.netns, 'bird-tora', tor(torA, 65101, rackA, torB, 65102));
    await startBird(c.lab, torB.netns, 'bird-torb', tor(torB, 65102, rackB, torA, 65101));
    for (const h of [...rackA, ...rackB]) c.startDaemon(h);
    await c.waitEstablished([...rackA, ...rackB], 1);
    for (const h of [...rackA, ...rackB]) pods.push({ host: h, ...(await c.addPod(h, 'default', `pod-${h.name}`)) });
  });

  after(async () => {
    await c?.destroy();
  });

  it('every node has one eBGP session, to its rack\'s ToR, of type tor, with its own AS', async () => {
    for (const h of [...rackA, ...rackB]) {
      const st = await c.status(h);
      assert.equal(st.bgp.peers.length, 1);
      assert.equal(st.bgp.peers[0]!.type, 'tor');
      assert.equal(st.bgp.peers[0]!.asNumber, h.name.startsWith('a') ? 65101 : 65102);
      assert.equal(st.node.asNumber, h.name.startsWith('a') ? 65001 : 65002);
    }
  });

  it('a node learns the other rack\'s blocks (and its own rack\'s) from the ToR and installs them', async () => {
    await waitFor('every node routes every other node\'s block', async () => {
      for (const h of [...rackA, ...rackB]) {
        const routes = await c.routes(h);
        const remoteBlocks = routes.filter((r) => r.dst.endsWith('/26') && r.type !== 'blackhole');
        if (remoteBlocks.length < 2) return false;
      }
      return true;
    }, { timeoutMs: 30_000, intervalMs: 250 });
  });

  it('workloads reach each other within and across racks', async () => {
    await allPing(pods);
  });
});

describe('tabby daemon: sessions follow BGPPeer changes live, without disturbing the others', function () {
  this.timeout(180_000);
  let c: DaemonCluster;
  const hosts: DaemonHost[] = [];
  let routerAddress = '';

  before(async () => {
    c = await DaemonCluster.create();
    await c.h.addPool('default-ipv4', '10.76.0.0/16', 26);
    const router = await c.lab.addHost('ext');
    routerAddress = router.address;
    for (const n of ['h1', 'h2']) hosts.push(await c.addHost(n));
    await startBird(c.lab, router.netns, 'bird-ext', birdConfig({
      routerId: router.address,
      as: 65200,
      peers: hosts.map((h) => ({ name: `node_${h.name}`, address: h.host.address, as: 64512 })),
      statics: ['10.200.0.0/24'],
    }));
    for (const h of hosts) c.startDaemon(h);
    await c.waitEstablished(hosts, 1);
  });

  after(async () => {
    await c?.destroy();
  });

  it('a BGPPeer applied adds a session on every node; the mesh session is not reset', async () => {
    const before = await Promise.all(hosts.map((h) => c.status(h)));
    await c.apply(`apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: { name: ext }\nspec: { peerIP: ${routerAddress}, asNumber: 65200 }\n`);
    await c.waitEstablished(hosts, 2);
    for (const [i, h] of hosts.entries()) {
      const st = await c.status(h);
      const mesh = st.bgp.peers.find((p) => p.type === 'mesh') as unknown as { since: string; flaps: number };
      const was = before[i]!.bgp.peers.find((p) => p.type === 'mesh') as unknown as { since: string; flaps: number };
      assert.equal(mesh.since, was.since, `${h.name}: the mesh session was not reset`);
      assert.equal(mesh.flaps, was.flaps);
      assert.ok(st.bgp.peers.some((p) => p.address === routerAddress && p.type === 'tor' && p.state === 'Established'));
    }
    // The external route is learned and installed (the BGP writer installs routes of external peers).
    await waitFor('10.200.0.0/24 installed on h1', async () => (await c.routes(hosts[0]!)).some((r) => r.dst === '10.200.0.0/24' && r.gateway === routerAddress), { timeoutMs: 30_000, intervalMs: 250 });
  });

  it('the BGPPeer deleted removes that session (and its route) everywhere; the mesh stays up', async () => {
    const meshSince = ((await c.status(hosts[0]!)).bgp.peers.find((p) => p.type === 'mesh') as unknown as { since: string }).since;
    await c.h.store.delete({ kind: 'BGPPeer', name: 'ext' });
    for (const h of hosts) {
      await waitFor(`${h.name}: external session gone`, async () => (await c.status(h)).bgp.peers.length === 1, { timeoutMs: 30_000, intervalMs: 250 });
    }
    await waitFor('external route withdrawn', async () => !(await c.routes(hosts[0]!)).some((r) => r.dst === '10.200.0.0/24'), { timeoutMs: 30_000, intervalMs: 250 });
    const mesh = (await c.status(hosts[0]!)).bgp.peers[0] as unknown as { since: string; state: string; type: string };
    assert.deepEqual([mesh.type, mesh.state, mesh.since], ['mesh', 'Established', meshSince]);
  });
});
