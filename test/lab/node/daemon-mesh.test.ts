/**
 * `tabby daemon` end to end: three hosts, one embedded datastore, workloads
 * attached through the CNI plugin; the daemons register their Nodes, form
 * the node-to-node mesh, advertise their blocks, install each other's, and
 * workloads reach each other across hosts.
 */
import assert from 'node:assert/strict';
import { ping } from '../../../src/lab/probe.js';
import { waitFor } from '../../../src/lab/wait.js';
import { DaemonCluster, type DaemonHost } from './daemon-harness.js';

describe('tabby daemon: node-to-node mesh of three hosts', function () {
  this.timeout(180_000);
  let c: DaemonCluster;
  const hosts: DaemonHost[] = [];
  const pods: { host: DaemonHost; netns: string; ip: string }[] = [];

  before(async () => {
    c = await DaemonCluster.create();
    await c.h.addPool('default-ipv4', '10.70.0.0/16', 26);
    for (const n of ['h1', 'h2', 'h3']) hosts.push(await c.addHost(n));
    for (const h of hosts) c.startDaemon(h);
    await c.waitEstablished(hosts, 2);
    for (const h of hosts) {
      const p = await c.addPod(h, 'default', `pod-${h.name}`);
      pods.push({ host: h, ...p });
    }
  });

  after(async () => {
    await c?.destroy();
  });

  it('every daemon registers its Node and peers with both others as mesh, Established', async () => {
    for (const h of hosts) {
      const st = await c.status(h);
      assert.equal(st.node.name, h.name);
      assert.deepEqual(st.bgp.peers.map((p) => [p.type, p.state]).sort(), [['mesh', 'Established'], ['mesh', 'Established']]);
    }
  });

  it('each host installs a route to every other host block via that host, and a blackhole for its own', async () => {
    await waitFor('routes to every remote block', async () => {
      for (const h of hosts) {
        const routes = await c.routes(h);
        for (const other of pods.filter((p) => p.host !== h)) {
          const block = routes.find((r) => r.gateway === other.host.host.address && r.dst.endsWith('/26'));
          if (!block) return false;
        }
        if (!routes.some((r) => r.type === 'blackhole')) return false;
      }
      return true;
    }, { timeoutMs: 30_000, intervalMs: 200 });
  });

  it('workloads ping each other across hosts', async () => {
    for (const a of pods) {
      for (const b of pods) {
        if (a === b) continue;
        const r = await ping(a.netns, b.ip, { timeoutMs: 3000 });
        assert.ok(r.ok, `${a.host.name} -> ${b.host.name} (${b.ip}): ${r.error ?? ''}`);
      }
    }
  });

  it('serves Prometheus metrics on loopback: sessions, prefixes, dataplane passes and counts, datastore', async () => {
    const h = hosts[0]!;
    const { status, body } = await c.http(h, '/metrics');
    assert.equal(status, 200);
    const value = (re: RegExp) => Number(re.exec(body)?.[1]);
    assert.equal(value(/^tabby_bgp_sessions\{state="Established",type="mesh"\} (\d+)$/m), 2);
    assert.equal(value(/^tabby_bgp_session_established\{peer="172\.31\.0\.2",type="mesh"\} (\d+)$/m), 1);
    assert.equal(value(/^tabby_bgp_prefixes\{peer="172\.31\.0\.2",kind="accepted"\} (\d+)$/m), 1);
    assert.ok(value(/^tabby_bgp_updates_total\{peer="172\.31\.0\.2",direction="out"\} (\d+)$/m) >= 1);
    assert.ok(value(/^tabby_dataplane_apply_seconds_count\{kind="apply",result="ok"\} (\d+)$/m) >= 1);
    assert.equal(value(/^tabby_dataplane_in_sync (\d+)$/m), 1);
    assert.equal(value(/^tabby_dataplane_workloads\{state="local"\} (\d+)$/m), 1);
    assert.equal(value(/^tabby_datastore_connected (\d+)$/m), 1);
    assert.match(body, /^tabby_process_resident_memory_bytes \d+/m);
    await waitFor('kernel counts read back', async () => {
      const b = (await c.http(h, '/metrics')).body;
      return Number(/^tabby_dataplane_iptables_rules\{table="filter"\} (\d+)$/m.exec(b)?.[1]) > 0;
    }, { timeoutMs: 40_000, intervalMs: 1000 });
  });

  it('answers /healthz and /readyz with 200 and a JSON body naming each check; 404 elsewhere', async () => {
    const h = hosts[1]!;
    const health = await c.http(h, '/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(Object.keys(JSON.parse(health.body).checks).sort(), ['bgp', 'dataplane']);
    const ready = await c.http(h, '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(JSON.parse(ready.body), { status: 'ready', checks: { datastore: { ok: true }, dataplane: { ok: true }, bgp: { ok: true } } });
    assert.equal((await c.http(h, '/nope')).status, 404);
  });
});
