/**
 * The cluster library in the route-reflector topology: mesh off, host1 and
 * host2 reflect (routeReflectorClusterID from their node configs, label
 * route-reflector=true on their Nodes), one BGPPeer with a peerSelector
 * makes every node peer with them (Calico's recipe); 4 clients. Then a
 * client joins through the library.
 */
import assert from 'node:assert/strict';
import type { Node } from '../../../src/datastore/resources/index.js';
import { Cluster, RR_CLUSTER_ID } from '../../../src/lab/cluster.js';
import { Lab } from '../../../src/lab/lab.js';

describe('lab cluster: 2 route reflectors, 4 clients', function () {
  this.timeout(240_000);
  let c: Cluster;

  before(async () => {
    const lab = await Lab.create();
    c = await Cluster.build(lab, { hosts: 6, workloadsPerHost: 1, topology: 'rr', encap: 'none', datastore: 'embedded' });
  });

  after(async () => {
    await c?.destroy();
  });

  it('host1 and host2 are reflectors: their Nodes carry the cluster id and the label', async () => {
    const rrs = c.nodes().filter((h) => h.role === 'route-reflector').map((h) => h.name);
    assert.deepEqual(rrs, ['host1', 'host2']);
    for (const name of rrs) {
      const n = (await c.store.get<Node>({ kind: 'Node', name }))!.value;
      assert.equal(n.spec.bgp?.routeReflectorClusterID, RR_CLUSTER_ID, name);
      assert.equal(n.metadata.labels?.['route-reflector'], 'true', name);
      assert.equal(n.spec.bgp?.ipv4Address?.split('/')[0], c.host(name).address, `${name}'s ipv4Address from its config`);
    }
    const client = (await c.store.get<Node>({ kind: 'Node', name: 'host3' }))!.value;
    assert.equal(client.spec.bgp?.routeReflectorClusterID, undefined);
  });

  it('reflectors have an rr session with every other node; clients have exactly the two reflectors', async () => {
    const rrAddrs = ['host1', 'host2'].map((n) => c.host(n).address).sort();
    for (const h of c.nodes()) {
      const st = await c.status(h);
      const want = h.role === 'route-reflector' ? c.nodes().filter((x) => x !== h).map((x) => x.address).sort() : rrAddrs;
      assert.deepEqual(st.bgp.peers.map((p) => p.address).sort(), want, h.name);
      for (const p of st.bgp.peers) {
        assert.equal(p.state, 'Established', `${h.name} -> ${p.address}`);
        assert.equal(p.type, 'rr', `${h.name} -> ${p.address}`);
      }
    }
  });

  it('a client routes another client\'s block via that client (reflected, next hop kept), and the matrix is full', async () => {
    await c.waitBlockRoutesExact(30_000);
    const blocks = await c.blocksByNode();
    const h3 = await c.blockRoutes(c.host('host3'));
    for (const b of blocks.get('host4') ?? []) assert.ok(h3.includes(`${b} via ${c.host('host4').address}`), h3.join('; '));
    const cells = await c.matrix();
    assert.equal(cells.length, 30);
    assert.deepEqual(c.matrixViolations(cells), []);
  });

  it('a client joins: both reflectors peer with it, every node routes its block, its workload answers', async () => {
    const h7 = await c.joinNode({ workloads: 1 });
    assert.equal(h7.role, 'node');
    for (const name of ['host1', 'host2']) {
      const st = await c.status(c.host(name));
      assert.equal(st.bgp.peers.length, 6, name);
    }
    assert.deepEqual((await c.status(h7)).bgp.peers.map((p) => p.address).sort(), ['host1', 'host2'].map((n) => c.host(n).address).sort());
    await c.waitBlockRoutesExact(30_000);
    assert.deepEqual(c.matrixViolations(await c.matrix()), []);
  });
});
