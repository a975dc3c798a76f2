/**
 * The plugin with its node config pointing at etcd (a throwaway etcd inside
 * the lab, see lab-etcd.ts): ADD, CHECK, DEL as with the embedded store.
 */
import assert from 'node:assert/strict';
import type { WorkloadEndpoint } from '../../../src/datastore/resources/endpoints.js';
import { ping } from '../../../src/lab/probe.js';
import { existsSync } from 'node:fs';
import { CniHarness, resultOf, type HostSetup } from './harness.js';
import { ETCD_BINARY } from './lab-etcd.js';

describe('CNI plugin with an etcd datastore', function () {
  this.timeout(120_000);
  if (!existsSync(ETCD_BINARY)) {
    it.skip(`needs ${ETCD_BINARY}`, () => undefined);
    return;
  }
  let h: CniHarness;
  let h1: HostSetup;

  before(async () => {
    h = await CniHarness.create({ datastore: 'etcd' });
    h1 = await h.addHost('h1');
    await h.addPool('pool-a', '10.66.0.0/16', 26);
  });

  after(async () => {
    await h?.destroy();
  });

  it('ADD writes the endpoint to etcd and the workload answers ping; CHECK passes; DEL removes it', async () => {
    const c = await h.newContainer('etcd1');
    const att = { containerId: 'etcd01', netns: c.path, ifname: 'eth0', args: { K8S_POD_NAMESPACE: 'db', K8S_POD_NAME: 'pg-0' } };
    const result = resultOf(await h.call(h1, 'ADD', att)) as { ips: { address: string }[] };
    const ip = result.ips[0]!.address.split('/')[0]!;
    assert.match(ip, /^10\.66\./);
    const wep = (await h.store.get<WorkloadEndpoint>({ kind: 'WorkloadEndpoint', namespace: 'db', name: 'h1-k8s-pg--0-eth0' }))?.value;
    assert.equal(wep?.spec.containerID, 'etcd01');
    assert.ok((await ping(h1.host.netns, ip, { timeoutMs: 5000 })).ok);
    assert.equal((await h.call(h1, 'CHECK', att, { prevResult: result })).code, 0);
    assert.equal((await h.call(h1, 'DEL', att, { prevResult: result })).code, 0);
    assert.equal((await h.store.list('WorkloadEndpoint')).items.length, 0);
  });
});
