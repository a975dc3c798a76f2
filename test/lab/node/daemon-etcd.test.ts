/**
 * `tabby daemon` on etcd, and etcd stopped for 60 s: forwarding and policy
 * stay exactly as they were (no route lost, no hole opened), every daemon
 * says the datastore is unreachable, and after etcd is back the daemons
 * resume their watches: a policy deleted and a workload added afterwards
 * take effect.
 */
import assert from 'node:assert/strict';
import { ping, tcpProbe } from '../../../src/lab/probe.js';
import { sleep, waitFor } from '../../../src/lab/wait.js';
import { DaemonCluster, type DaemonHost } from './daemon-harness.js';

const POLICY = `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: { name: only-friends, namespace: default }
spec:
  selector: app == 'db'
  types: [Ingress]
  ingress:
    - action: Allow
      source: { selector: role == 'friend' }
`;

describe('tabby daemon on etcd: etcd stopped for 60 s', function () {
  this.timeout(300_000);
  let c: DaemonCluster;
  const hosts: DaemonHost[] = [];
  let stranger: { netns: string; ip: string };
  let friend: { netns: string; ip: string };
  let db: { netns: string; ip: string };

  async function reach(from: { netns: string }, to: { ip: string }): Promise<boolean> {
    return (await ping(from.netns, to.ip, { timeoutMs: 1500 })).ok;
  }

  before(async () => {
    c = await DaemonCluster.create({ datastore: 'etcd' });
    await c.h.addPool('default-ipv4', '10.72.0.0/16', 26);
    await c.apply(POLICY);
    for (const n of ['h1', 'h2']) hosts.push(await c.addHost(n));
    for (const h of hosts) c.startDaemon(h);
    await c.waitEstablished(hosts, 1);
    stranger = await c.addPod(hosts[0]!, 'default', 'stranger', { role: 'stranger' });
    friend = await c.addPod(hosts[0]!, 'default', 'friend', { role: 'friend' });
    db = await c.addPod(hosts[1]!, 'default', 'db', { app: 'db' });
    await waitFor('friend reaches db across hosts', () => reach(friend, db), { timeoutMs: 30_000, intervalMs: 250 });
  });

  after(async () => {
    await c?.destroy();
  });

  it('before the outage: the policy lets the friend in and keeps the stranger out', async () => {
    assert.ok(await reach(friend, db), 'friend -> db');
    assert.equal(await reach(stranger, db), false, 'stranger -> db must be denied');
    assert.ok(await reach(db, stranger), 'db -> stranger (no egress policy)');
  });

  it('while etcd is down for 60 s nothing changes: no ping lost, the stranger still denied, status says unreachable', async () => {
    const p = c.startPing('friend-db', friend.netns, db.ip);
    await c.h.etcd!.kill();
    const until = Date.now() + 60_000;
    let checks = 0;
    while (Date.now() < until) {
      await sleep(10_000);
      assert.equal(await reach(stranger, db), false, 'stranger -> db opened during the outage');
      assert.ok(await reach(db, stranger), 'db -> stranger lost during the outage');
      checks++;
    }
    for (const h of hosts) {
      const st = await c.status(h);
      assert.equal(st.datastore.connected, false, `${h.name} should report the datastore unreachable`);
      assert.ok(h.proc!.alive, `${h.name}'s daemon is still running`);
    }
    const r = await p.stop();
    assert.ok(checks >= 5);
    assert.ok(r.sent > 500, `ping ran (${r.sent})`);
    assert.equal(r.lost, 0, `${r.lost} of ${r.sent} pings lost during the etcd outage`);
    await c.h.etcd!.restart();
  });

  it('after etcd is back the daemons reconnect and follow changes again', async () => {
    for (const h of hosts) await waitFor(`${h.name} reconnected`, async () => (await c.status(h)).datastore.connected, { timeoutMs: 30_000, intervalMs: 250 });
    await c.h.store.delete({ kind: 'NetworkPolicy', namespace: 'default', name: 'only-friends' });
    await waitFor('the policy deletion reaches h2: stranger -> db allowed', () => reach(stranger, db), { timeoutMs: 30_000, intervalMs: 250 });
    const late = await c.addPod(hosts[0]!, 'default', 'late', {});
    await waitFor('a workload added after the outage is reachable from the other host', () => reach(db, late), { timeoutMs: 30_000, intervalMs: 250 });
    const tcp = await tcpProbe(friend.netns, db.ip, 9, { timeoutMs: 1500 });
    assert.ok(tcp.ok || tcp.error === 'refused', `TCP friend -> db reaches the pod: ${tcp.error ?? ''}`);
  });
});
