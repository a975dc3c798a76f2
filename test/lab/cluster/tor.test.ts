/**
 * The cluster library in the top-of-rack topology on a real etcd: 2 racks
 * of 2 nodes, a BIRD ToR per rack (AS 65101/65102) in its own namespace on
 * the fabric, an AS per rack on the Nodes (65001/65002), eBGP node <-> ToR
 * and ToR <-> ToR. Then the etcd helpers (stopped for a few seconds:
 * forwarding goes on, the daemons notice; started again: a new workload is
 * reachable from every host) and a node joining and leaving a rack (BIRD
 * reconfigured each time).
 */
import assert from 'node:assert/strict';
import { Cluster } from '../../../src/lab/cluster.js';
import { runOk } from '../../../src/lab/exec.js';
import { Lab } from '../../../src/lab/lab.js';
import { ping } from '../../../src/lab/probe.js';
import { sleep, waitFor } from '../../../src/lab/wait.js';

describe('lab cluster: top of rack (BIRD) on etcd', function () {
  this.timeout(300_000);
  let c: Cluster;

  before(async () => {
    const lab = await Lab.create();
    c = await Cluster.build(lab, { hosts: 4, workloadsPerHost: 1, topology: 'tor', encap: 'none', datastore: 'etcd' });
  });

  after(async () => {
    await c?.destroy();
  });

  it('every node has one eBGP session, of type tor, to its rack\'s ToR, with its rack\'s AS', async () => {
    const tors = c.torRouters();
    assert.deepEqual(tors.map((t) => `${t.name} ${t.rack} ${t.asNumber}`), ['tora a 65101', 'torb b 65102']);
    for (const h of c.nodes()) {
      const st = (await c.status(h)) as Awaited<ReturnType<Cluster['status']>> & { node: { asNumber: number } };
      const tor = tors.find((t) => t.rack === h.rack)!;
      assert.equal(st.node.asNumber, h.rack === 'a' ? 65001 : 65002, h.name);
      assert.deepEqual(st.bgp.peers.map((p) => `${p.address} ${p.asNumber} ${p.type} ${p.state}`), [`${tor.address} ${tor.asNumber} tor Established`], h.name);
    }
    assert.deepEqual(c.nodes().map((h) => `${h.name}:${h.rack}`), ['host1:a', 'host2:a', 'host3:b', 'host4:b']);
  });

  it('the ToRs have every session up and every node block in their kernel; the nodes route all remote blocks', async () => {
    const blocks = [...(await c.blocksByNode()).values()].flat();
    for (const t of c.torRouters()) {
      const protos = await runOk('birdc', ['-s', t.socket, 'show', 'protocols']);
      const bgp = protos.split('\n').filter((l) => /\bBGP\b/.test(l));
      assert.equal(bgp.length, 3, protos);
      for (const l of bgp) assert.match(l, /Established/, `${t.name}: ${l}`);
      await waitFor(`${t.name} has every block in its kernel`, async () => {
        const k = await runOk('ip', ['-n', t.netns, 'route', 'show']);
        return blocks.every((b) => k.includes(b)) || { notYet: k };
      }, { timeoutMs: 30_000, intervalMs: 250 });
    }
    await c.waitRoutes(30_000);
  });

  it('workloads reach each other within and across racks', async () => {
    const cells = await c.matrix();
    assert.equal(cells.length, 12);
    assert.deepEqual(c.matrixViolations(cells), []);
  });

  it('etcd stopped: no ping lost across racks, the daemons say the datastore is unreachable; started: they reconnect and a new workload is reachable from every host', async () => {
    const a = c.workload('h1-frontend-1');
    const b = c.workload('h4-frontend-1');
    const stream = c.lab.startPing(a.netns, b.ip, { intervalS: 0.05 });
    await c.stopEtcd();
    assert.equal(await c.etcd!.healthy(), false);
    await waitFor('every daemon reports its datastore disconnected', async () => {
      for (const h of c.nodes()) if ((await c.status(h)).datastore.connected) return { notYet: `${h.name} still connected` };
      return true;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    await sleep(2000);
    await c.startEtcd();
    await waitFor('every daemon reconnected', async () => {
      for (const h of c.nodes()) if (!(await c.status(h)).datastore.connected) return { notYet: `${h.name} not yet` };
      return true;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    const count = await stream.stop();
    assert.ok(count.sent > 20, JSON.stringify(count));
    assert.equal(count.lost, 0, JSON.stringify(count));
    const t = await c.addWorkloadTimed(c.host('host3'), 'after-etcd', 'dev', { app: 'frontend' });
    assert.equal(Object.keys(t.reachMs).length, 4);
    assert.ok((await ping(a.netns, t.workload.ip)).ok);
  });

  it('a node joins rack a (its ToR reconfigured), is reachable from both racks, then leaves: its block vanishes everywhere', async () => {
    const h = await c.joinNode({ workloads: 1 });
    assert.equal(h.rack, 'a');
    const st = await c.status(h);
    assert.deepEqual(st.bgp.peers.map((p) => `${p.address} ${p.state}`), [`${c.torRouters()[0]!.address} Established`]);
    const pod = c.workload(`${h.name}-pod-1`);
    for (const from of ['h1-frontend-1', 'h4-frontend-1']) assert.ok((await ping(c.workload(from).netns, pod.ip, { timeoutMs: 2000 })).ok, `${from} -> ${pod.name}`);
    const { blocks } = await c.removeNode(h.name);
    const tora = c.torRouters()[0]!;
    await waitFor('tora forgot the block', async () => {
      const k = await runOk('ip', ['-n', tora.netns, 'route', 'show']);
      return blocks.every((bl) => !k.includes(bl)) || { notYet: k };
    }, { timeoutMs: 30_000, intervalMs: 250 });
    assert.doesNotMatch(await runOk('birdc', ['-s', tora.socket, 'show', 'protocols']), new RegExp(`node_${h.name}\\b`));
    assert.deepEqual(c.matrixViolations(await c.matrix()), []);
  });
});
