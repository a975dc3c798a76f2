/**
 * The cluster library (src/lab/cluster.ts, what `tabby lab up` builds) as
 * a node-to-node mesh of 4 hosts running `tabby daemon` on one embedded
 * datastore, 2 workloads per host in two namespaces attached through the
 * CNI plugin, the sample policy; then its day-2 helpers on the same
 * cluster: a workload added and timed, a daemon killed and restarted under
 * a continuous ping, a node joined and removed.
 */
import assert from 'node:assert/strict';
import { Ipam } from '../../../src/ipam/ipam.js';
import { storePoolSource } from '../../../src/ipam/pool-source.js';
import { Cluster, type ClusterHost } from '../../../src/lab/cluster.js';
import { Lab } from '../../../src/lab/lab.js';
import { ping } from '../../../src/lab/probe.js';
import { sleep } from '../../../src/lab/wait.js';

describe('lab cluster: mesh of 4 daemons', function () {
  this.timeout(240_000);
  let c: Cluster;

  before(async () => {
    const lab = await Lab.create();
    c = await Cluster.build(lab, { hosts: 4, workloadsPerHost: 2, topology: 'mesh', encap: 'none', datastore: 'embedded' });
  });

  after(async () => {
    await c?.destroy();
  });

  it('every daemon has a mesh session Established with each of the 3 others', async () => {
    for (const h of c.nodes()) {
      const st = await c.status(h);
      const others = c.nodes().filter((x) => x !== h).map((x) => x.address).sort();
      assert.deepEqual(st.bgp.peers.map((p) => p.address).sort(), others, h.name);
      for (const p of st.bgp.peers) {
        assert.equal(p.type, 'mesh', `${h.name} -> ${p.address}`);
        assert.equal(p.state, 'Established', `${h.name} -> ${p.address}`);
      }
    }
  });

  it('each host routes every remote block via its owner and blackholes its own (ip route show proto 80)', async () => {
    assert.equal(c.routeProtocol(c.nodes()[0]!), 80);
    await c.waitBlockRoutesExact(30_000);
    const blocks = await c.blocksByNode();
    for (const h of c.nodes()) {
      assert.ok((blocks.get(h.name) ?? []).length >= 1, `${h.name} owns a block`);
      const lines = await c.blockRoutes(h);
      for (const o of c.nodes()) for (const b of blocks.get(o.name) ?? []) assert.ok(lines.includes(o === h ? `blackhole ${b}` : `${b} via ${o.address}`), `${h.name}: ${b} (${lines.join('; ')})`);
      // The workload /32s: dev cali..., scope link, tagged too.
      const routes = await c.routes(h);
      for (const w of c.workloads.filter((x) => x.host === h.name)) {
        assert.ok(routes.some((r) => r.dst === w.ip && r.dev === w.hostIface && r.scope === 'link'), `${h.name}: /32 of ${w.name}`);
      }
    }
  });

  it('the full matrix carries real traffic exactly as the sample policy says (ICMP and TCP, the right workload answers)', async () => {
    assert.equal(c.workloads.length, 8);
    assert.deepEqual(new Set(c.workloads.map((w) => w.namespace)), new Set(['prod', 'dev']));
    const icmp = await c.matrix({ protocol: 'icmp' });
    assert.equal(icmp.length, 56);
    assert.deepEqual(c.matrixViolations(icmp), []);
    // Two prod hosts, each with a backend that answers the two prod frontends only.
    assert.equal(icmp.filter((x) => !x.result.ok).length, 2 * (7 - 2));
    const tcp = await c.matrix({ protocol: 'tcp', port: 8080 });
    assert.deepEqual(c.matrixViolations(tcp), []);
    for (const x of tcp.filter((y) => y.result.ok)) assert.equal(x.result.reply, x.to);
  });

  it('a workload added through CNI is reachable from every host; the helper says when', async () => {
    const t = await c.addWorkloadTimed(c.host('host2'), 'timed-1', 'dev', { app: 'frontend' });
    assert.deepEqual(Object.keys(t.reachMs).sort(), c.nodes().map((h) => h.name).sort());
    assert.equal(t.allMs, Math.max(...Object.values(t.reachMs)));
    console.log(`      (new workload: CNI ADD ${t.addMs.toFixed(0)} ms, then reachable from all ${c.nodes().length} hosts after ${t.allMs.toFixed(0)} ms)`);
    assert.ok((await ping(c.workload('h1-frontend-1').netns, t.workload.ip)).ok);
  });

  it('kill -9 of one daemon: no ping lost between workloads of two other hosts; restarted, it converges', async () => {
    const a = c.workload('h1-frontend-1');
    const b = c.workload('h2-frontend-1');
    const stream = c.lab.startPing(a.netns, b.ip, { intervalS: 0.02 });
    await sleep(500);
    assert.ok(stream.process.alive, stream.process.logTail(5));
    await c.killDaemon('host4');
    assert.equal(c.daemons.get('host4')!.alive, false);
    await c.restartDaemon('host4');
    await c.waitBlockRoutesExact(60_000);
    const count = await stream.stop();
    assert.ok(count.sent > 20, `sent ${count.sent}`);
    assert.equal(count.lost, 0, JSON.stringify(count));
    assert.deepEqual(c.matrixViolations(await c.matrix()), []);
  });

  it('a node joins: every node peers with it, routes its block, and its workload answers everyone', async () => {
    const h5: ClusterHost = await c.joinNode({ workloads: 1 });
    assert.equal(h5.name, 'host5');
    for (const h of c.nodes()) {
      const st = await c.status(h);
      assert.equal(st.bgp.peers.length, 4, h.name);
      if (h !== h5) assert.ok(st.bgp.peers.some((p) => p.address === h5.address && p.state === 'Established'), `${h.name} peers with host5`);
    }
    await c.waitBlockRoutesExact(30_000);
    const pod = c.workload('host5-pod-1');
    const others = c.workloads.filter((w) => w.host !== 'host5' && !(w.namespace === 'prod' && w.labels.app === 'backend'));
    for (const w of others) {
      assert.ok((await ping(w.netns, pod.ip)).ok, `${w.name} -> host5-pod-1`);
      assert.ok((await ping(pod.netns, w.ip)).ok, `host5-pod-1 -> ${w.name}`);
    }
  });

  it('a node removed: its Node and affinities are gone, its blocks vanish from every host, the others keep their sessions', async () => {
    const { blocks } = await c.removeNode('host5');
    assert.ok(blocks.length >= 1);
    assert.equal(await c.store.get({ kind: 'Node', name: 'host5' }), undefined);
    const ipam = new Ipam({ store: c.store, pools: storePoolSource(c.store) });
    assert.deepEqual(await ipam.blocksOfNode('host5'), []);
    for (const h of c.nodes()) {
      const routes = await c.routes(h);
      for (const b of blocks) assert.ok(!routes.some((r) => r.dst === b), `${h.name} still routes ${b}`);
      const st = await c.status(h);
      assert.equal(st.bgp.peers.length, 3, h.name);
      assert.ok(st.bgp.peers.every((p) => p.state === 'Established'), h.name);
    }
    await c.waitBlockRoutesExact(30_000);
    assert.deepEqual(c.matrixViolations(await c.matrix()), []);
  });
});
