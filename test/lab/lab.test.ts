import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, LAB_ROUTE_PROTO } from '../../src/lab/lab.js';
import { listNetns, pidAlive } from '../../src/lab/netns.js';
import { ping, tcpProbe, udpProbe } from '../../src/lab/probe.js';
import { sweepDeadRuns } from '../../src/lab/sweep.js';
import { runOk } from '../../src/lab/exec.js';
import { waitFor } from '../../src/lab/wait.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

describe('lab library', () => {
  let lab: Lab;

  before(async () => {
    lab = await Lab.create();
    await lab.addHost('h1');
    await lab.addHost('h2');
    await lab.addWorkload('h1', { name: 'a', namespace: 'prod', labels: { app: 'web' } });
    await lab.addWorkload('h1', { name: 'b' });
    await lab.addWorkload('h2', { name: 'c', namespace: 'prod' });
    await lab.addWorkload('h2', { name: 'd' });
    await lab.routeBlocksStatically();
    await Promise.all(['a', 'b', 'c', 'd'].map((w) => lab.startEcho(w, { tcp: [8080, 80], udp: [8081] })));
  });

  after(async () => {
    const names = lab.namespaces();
    await lab.destroy();
    const left = listNetns().filter((n) => names.includes(n));
    assert.deepEqual(left, [], 'namespaces left after destroy');
  });

  it('names every namespace with the run prefix (owner PID first)', () => {
    const ns = lab.namespaces();
    assert.equal(ns.length, 1 + 2 + 4);
    for (const n of ns) assert.match(n, new RegExp(`^tby-${process.pid}-[0-9a-f]{4}-`));
  });

  it('hosts have their fabric address, a default route and forwarding on', async () => {
    const h1 = lab.host('h1');
    const addr = await runOk('ip', ['-n', h1.netns, '-j', 'addr', 'show', 'dev', 'eth0']);
    assert.match(addr, /"local":"172\.31\.0\.1","prefixlen":24/);
    const routes = await runOk('ip', ['-n', h1.netns, 'route', 'show', 'default']);
    assert.match(routes, /^default via 172\.31\.0\.254 dev eth0/);
    const fwd = await runOk('cat', ['/proc/sys/net/ipv4/ip_forward'], { ns: h1.netns });
    assert.equal(fwd, '1');
  });

  it('workloads have Calico\'s shape: cali<11 hex> on the host, /32 and default via 169.254.1.1 inside', async () => {
    const a = lab.workload('a');
    assert.match(a.hostIface, /^cali[0-9a-f]{11}$/);
    const inside = await runOk('ip', ['-n', a.netns, 'route', 'show']);
    assert.match(inside, /default via 169\.254\.1\.1 dev eth0/);
    const hostRoute = await runOk('ip', ['-n', lab.host('h1').netns, '-N', 'route', 'show', `${a.ip}/32`]);
    assert.match(hostRoute, new RegExp(`dev ${a.hostIface} proto ${LAB_ROUTE_PROTO} scope (link|253)`));
    assert.deepEqual(a.labels, { app: 'web', 'projectcalico.org/namespace': 'prod' });
  });

  it('the full matrix is reachable by ICMP, TCP and UDP, and the right workload answers', async () => {
    for (const protocol of ['icmp', 'tcp', 'udp'] as const) {
      const cells = await lab.matrix({ protocol });
      assert.equal(cells.length, 12);
      for (const c of cells) {
        assert.ok(c.result.ok, `${protocol} ${c.from} -> ${c.to}: ${c.result.error} ${c.result.detail ?? ''}`);
        if (protocol !== 'icmp') assert.equal(c.result.reply, c.to);
      }
    }
  });

  it('proxy ARP answers for 169.254.1.1 with ee:ee:ee:ee:ee:ee', async () => {
    const a = lab.workload('a');
    const neigh = await runOk('ip', ['-n', a.netns, 'neigh', 'show', '169.254.1.1']);
    assert.match(neigh, /lladdr ee:ee:ee:ee:ee:ee/);
  });

  it('probe failures are classified: refused, timeout', async () => {
    const a = lab.workload('a');
    const c = lab.workload('c');
    const refused = await tcpProbe(a.netns, c.ip, 9999);
    assert.equal(refused.ok, false);
    assert.equal(refused.error, 'refused');
    const udpRefused = await udpProbe(a.netns, c.ip, 9999);
    assert.equal(udpRefused.ok, false);
    assert.equal(udpRefused.error, 'refused');
    // 10.65.9.9 is routed nowhere (the fabric gateway has no route for it).
    const lost = await ping(a.netns, '10.65.9.9');
    assert.equal(lost.ok, false);
    const tcpLost = await tcpProbe(a.netns, '10.65.9.9', 80, { timeoutMs: 500 });
    assert.equal(tcpLost.ok, false);
    assert.ok(tcpLost.error === 'timeout' || tcpLost.error === 'unreachable', String(tcpLost.error));
  });

  it('traffic flows only where routes exist: an unplumbed workload is unreachable, a removed block route cuts only cross-host traffic', async () => {
    const e = await lab.addWorkload('h1', { name: 'e', plumb: 'none' });
    const a = lab.workload('a');
    assert.equal((await ping(a.netns, e.ip)).ok, false, 'unplumbed workload must not answer');
    const h1 = lab.host('h1');
    const h2 = lab.host('h2');
    await runOk('ip', ['-n', h1.netns, 'route', 'del', h2.block]);
    try {
      assert.equal((await ping(a.netns, lab.workload('c').ip)).ok, false, 'cross-host must fail without the block route');
      assert.equal((await ping(a.netns, lab.workload('b').ip)).ok, true, 'same-host must still work');
    } finally {
      await lab.routeBlocksStatically();
    }
    await lab.waitReachable('a', 'c');
  });

  it('processes run inside their namespace with logs captured, and stop by PID', async () => {
    const p = lab.startProcess(lab.host('h2').netns, 'addr-printer', 'sh', ['-c', 'ip -4 -o addr show dev eth0; echo started; exec sleep 300']);
    await waitFor('addr-printer started', () => p.logTail().includes('started'));
    assert.match(p.logTail(), /inet 172\.31\.0\.2\/24/);
    assert.match(lab.logsReport(), /--- addr-printer \(pid \d+, running\) ---/);
    await p.stop(1000);
    assert.equal(pidAlive(p.pid), false);
  });

  it('a test process killed with SIGKILL leaves its lab behind, and the sweep removes it all', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/test/lab/fixtures/orphan-lab.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
      });
      child.once('exit', (code) => reject(new Error(`fixture exited ${code}`)));
      setTimeout(() => reject(new Error('fixture did not report')), 20_000);
    });
    const made = JSON.parse(line) as { namespaces: string[]; pids: number[]; dir: string };
    assert.equal(made.namespaces.length, 3);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // Still there: nothing cleaned up after the kill...
    assert.deepEqual(listNetns().filter((n) => made.namespaces.includes(n)).sort(), [...made.namespaces].sort());
    assert.ok(made.pids.every(pidAlive));
    // ...until the sweep, which leaves this (live) run's namespaces alone.
    const mine = lab.namespaces();
    const swept = await sweepDeadRuns();
    for (const n of made.namespaces) assert.ok(swept.includes(n), `${n} swept`);
    assert.deepEqual(listNetns().filter((n) => made.namespaces.includes(n)), []);
    assert.ok(made.pids.every((p) => !pidAlive(p)), 'processes of the dead run must be killed');
    assert.deepEqual(lab.namespaces(), mine);
    assert.ok(existsSync(made.dir)); // logs of the dead run are kept for inspection
  });
});

describe('tabby lab up/status/down', () => {
  const name = `t${process.pid.toString(36).slice(-5)}`;
  const TABBY = join(ROOT, 'bin', 'tabby');
  const tabby = (args: string[]) => spawnSync(TABBY, [...args, '--name', name], { encoding: 'utf8', timeout: 120_000 });

  after(() => {
    tabby(['lab', 'down']);
  });

  it('up builds 3 hosts running tabby daemon in a full mesh, 2 workloads each attached through CNI, and a matrix that matches the sample policy', () => {
    const r = tabby(['lab', 'up']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /host1 +node +172\.31\.0\.1 +tbl-/);
    for (const h of ['host1', 'host2', 'host3']) assert.match(r.stdout, new RegExp(`${h} +2/2 Established: .*mesh Established.*mesh Established`));
    // 6 workloads, 30 pairs: the two prod backends each answer only the two prod frontends.
    assert.match(r.stdout, /24\/30 pairs reachable; every cell is as the sample policy says/);
  });

  it('status -o json follows the contract schema', () => {
    const r = tabby(['lab', 'status', '-o', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { hosts: Record<string, unknown>[]; workloads: Record<string, unknown>[] };
    assert.equal(s.hosts.length, 3);
    assert.equal(s.workloads.length, 6);
    for (const h of s.hosts) {
      assert.deepEqual(Object.keys(h).sort(), ['address', 'config', 'name', 'netns']);
      assert.ok(existsSync(String(h.config)), `config ${String(h.config)} exists`);
      assert.ok(listNetns().includes(String(h.netns)));
    }
    for (const w of s.workloads) assert.deepEqual(Object.keys(w).sort(), ['host', 'ip', 'labels', 'name', 'namespace', 'netns']);
    assert.deepEqual(new Set(s.workloads.map((w) => w.namespace)), new Set(['prod', 'dev']));
  });

  it('up again is idempotent', () => {
    const r = tabby(['lab', 'up']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /is already up/);
    assert.match(r.stdout, /24\/30 pairs reachable; every cell is as the sample policy says/);
  });

  it('up on a lab whose daemon was killed starts it again (same command line, new PID in the state file) and says so', async () => {
    const file = `/run/tabby/lab/${name}/state.json`;
    const before = JSON.parse(readFileSync(file, 'utf8')) as { processes: { name: string; pid: number; cmd: string; args: string[] }[] };
    const d2 = before.processes.find((p) => p.name === 'daemon-host2')!;
    assert.deepEqual(d2.args.slice(-3), ['daemon', '--config', `/run/tabby/lab/${name}/host2/node.yaml`]);
    process.kill(d2.pid, 'SIGKILL');
    await waitFor('the killed daemon is gone', () => !pidAlive(d2.pid), { timeoutMs: 5000 });
    const r = tabby(['lab', 'up']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /is already up \(restarted what had stopped: daemon-host2\)/);
    for (const h of ['host1', 'host2', 'host3']) assert.match(r.stdout, new RegExp(`${h} +2/2 Established`));
    const after = JSON.parse(readFileSync(file, 'utf8')) as typeof before;
    const n2 = after.processes.find((p) => p.name === 'daemon-host2')!;
    assert.notEqual(n2.pid, d2.pid);
    assert.ok(pidAlive(n2.pid));
  });

  it('down removes every namespace and process; down again is a no-op', () => {
    const s = JSON.parse(tabby(['lab', 'status', '-o', 'json']).stdout) as { hosts: { netns: string }[] };
    const pidsBefore = spawnSync('ip', ['netns', 'pids', s.hosts[0]!.netns], { encoding: 'utf8' }).stdout;
    const r = tabby(['lab', 'down']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(listNetns().filter((n) => n.startsWith(`tbl-${name}-`)), []);
    for (const pid of pidsBefore.split(/\s+/).filter(Boolean).map(Number)) assert.equal(pidAlive(pid), false);
    const again = tabby(['lab', 'down']);
    assert.equal(again.status, 0);
    assert.match(again.stdout, /not up/);
    const st = tabby(['lab', 'status']);
    assert.equal(st.status, 1);
  });
});

describe('tabby lab up --encap ipip (this kernel has no ipip)', () => {
  const name = `i${process.pid.toString(36).slice(-5)}`;
  const TABBY = join(ROOT, 'bin', 'tabby');
  const tabby = (args: string[]) => spawnSync(TABBY, [...args, '--name', name], { encoding: 'utf8', timeout: 120_000 });

  after(() => {
    tabby(['lab', 'down']);
  });

  it('still comes up, and says once, clearly, that no host can make tunl0', () => {
    const r = tabby(['lab', 'up', '--encap', 'ipip', '--hosts', '2', '--workloads', '1']);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /encapsulation ipip/);
    for (const h of ['host1', 'host2']) assert.match(r.stdout, new RegExp(`${h} +1/1 Established`));
    const warnings = r.stdout.split('\n').filter((l) => l.startsWith('WARNING'));
    assert.equal(warnings.length, 1, r.stdout);
    assert.match(warnings[0]!, /the pool asks for IPIP \(--encap ipip\) but no host can provide it: .*tunl0/);
    assert.equal(tabby(['lab', 'down']).status, 0);
  });
});

describe('tabby lab up --topology tor --encap vxlan --datastore etcd', () => {
  const name = `u${process.pid.toString(36).slice(-5)}`;
  const TABBY = join(ROOT, 'bin', 'tabby');
  const tabby = (args: string[]) => spawnSync(TABBY, [...args, '--name', name], { encoding: 'utf8', timeout: 240_000 });

  after(() => {
    tabby(['lab', 'down']);
  });

  it('builds two racks behind BIRD ToRs over VXLAN on a real etcd, the matrix as the policy says; down removes it all, the etcd bridge too', () => {
    const r = tabby(['lab', 'up', '--topology', 'tor', '--encap', 'vxlan', '--datastore', 'etcd']);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /topology tor, encapsulation vxlan, datastore etcd/);
    assert.match(r.stdout, /tora +BIRD ToR a/);
    for (const h of ['host1', 'host2', 'host3', 'host4']) assert.match(r.stdout, new RegExp(`${h} +1/1 Established: .* tor Established`));
    assert.match(r.stdout, /46\/56 pairs reachable; every cell is as the sample policy says/);
    const state = JSON.parse(readFileSync(`/run/tabby/lab/${name}/state.json`, 'utf8')) as { bridgePid: number; cliConfig: string };
    assert.ok(pidAlive(state.bridgePid));
    const get = spawnSync(TABBY, ['get', 'nodes', '-o', 'json', '--config', state.cliConfig], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(get.status, 0, get.stderr);
    assert.match(get.stdout, /ipv4VXLANTunnelAddr/);
    const d = tabby(['lab', 'down']);
    assert.equal(d.status, 0, d.stderr);
    assert.deepEqual(listNetns().filter((n) => n.startsWith(`tbl-${name}-`)), []);
    assert.equal(pidAlive(state.bridgePid), false, 'the socat bridge to etcd is gone');
  });
});
