/**
 * The cluster library with an encapsulated pool: VXLAN (remote blocks via
 * each node's tunnel address on vxlan.tabby, real traffic through the
 * tunnel).
 */
import assert from 'node:assert/strict';
import type { Node } from '../../../src/datastore/resources/index.js';
import { Cluster } from '../../../src/lab/cluster.js';
import { runOk } from '../../../src/lab/exec.js';
import { Lab } from '../../../src/lab/lab.js';
import { waitFor } from '../../../src/lab/wait.js';

describe('lab cluster: VXLAN pool, mesh of 3', function () {
  this.timeout(180_000);
  let c: Cluster;

  before(async () => {
    const lab = await Lab.create();
    c = await Cluster.build(lab, { hosts: 3, workloadsPerHost: 2, topology: 'mesh', encap: 'vxlan', datastore: 'embedded' });
  });

  after(async () => {
    await c?.destroy();
  });

  it('each node has a VXLAN tunnel address in the pool and a vxlan.tabby device (VNI 4096, port 4789, no learning)', async () => {
    for (const h of c.nodes()) {
      const tunnel = await waitFor(`${h.name}'s tunnel address`, async () => (await c.store.get<Node>({ kind: 'Node', name: h.name }))?.value.spec.ipv4VXLANTunnelAddr, { timeoutMs: 30_000, intervalMs: 200 });
      assert.match(tunnel, /^10\.65\./);
      const link = JSON.parse(await runOk('ip', ['-d', '-j', 'link', 'show', 'vxlan.tabby'], { ns: h.netns })) as { linkinfo: { info_data: { id: number; port: number; learning: boolean } } }[];
      assert.equal(link[0]!.linkinfo.info_data.id, 4096);
      assert.equal(link[0]!.linkinfo.info_data.port, 4789);
      assert.equal(link[0]!.linkinfo.info_data.learning, false);
    }
  });

  it('every remote block is routed via the owner\'s tunnel address on vxlan.tabby; own blocks are blackholes', async () => {
    await c.waitBlockRoutesExact(30_000);
    const want = await c.expectedBlockRoutes();
    for (const h of c.nodes()) for (const l of want.get(h.name)!) if (!l.startsWith('blackhole')) assert.match(l, / via 10\.65\.[\d.]+ dev vxlan\.tabby$/);
  });

  it('the full matrix is as the sample policy says, through the tunnel', async () => {
    const cells = await c.matrix();
    assert.equal(cells.length, 30);
    assert.deepEqual(c.matrixViolations(cells), []);
    // Cross-host packets really leave as VXLAN: the device counts them.
    const stats = JSON.parse(await runOk('ip', ['-s', '-j', 'link', 'show', 'vxlan.tabby'], { ns: c.host('host1').netns })) as { stats64: { tx: { packets: number } } }[];
    assert.ok(stats[0]!.stats64.tx.packets > 0);
  });
});
