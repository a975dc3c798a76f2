/**
 * Conntrack cleanup: when a workload goes away, or its address moves, the
 * agent deletes the connection-tracking entries of that address (Felix
 * does, so that a workload given a reused address inherits no flow: an
 * ESTABLISHED entry is accepted before any policy is looked at). Flows of
 * other workloads stay.
 *
 *   h1: a, b, c (one host, the agent in-process); UDP flows b->a and b->c
 *   from real datagrams, seen in h1's conntrack table.
 */
import assert from 'node:assert/strict';
import { Lab, type LabHost, type LabWorkload } from '../../../src/lab/lab.js';
import { runOk, run } from '../../../src/lab/exec.js';
import { udpProbe } from '../../../src/lab/probe.js';
import { FelixInput } from '../../../src/felix/calc/input.js';
import { FelixAgent } from '../../../src/felix/agent/agent.js';
import { pool, wep } from '../../unit/felix/calc/fixtures.js';

describe('felix agent lab: conntrack flows of released workload addresses', function () {
  this.timeout(120_000);
  let lab: Lab;
  let h1: LabHost;
  let agent: FelixAgent;
  const input = new FelixInput();
  const w: Record<string, LabWorkload> = {};
  const wepOf = (x: LabWorkload, ip = x.ip) => wep({ node: x.host, pod: x.name, iface: x.hostIface, ips: [ip] });

  /** Flows in h1's conntrack table that involve `ip` (either end). */
  async function flows(ip: string): Promise<string[]> {
    const out: string[] = [];
    for (const dir of ['-s', '-d']) {
      const r = await run('conntrack', ['-L', '-f', 'ipv4', dir, ip], { ns: h1.netns });
      out.push(...r.stdout.split('\n').filter((l) => l.includes(ip)));
    }
    return out;
  }

  before(async () => {
    lab = await Lab.create();
    h1 = await lab.addHost('h1');
    for (const name of ['a', 'b', 'c']) w[name] = await lab.addWorkload('h1', { name, plumb: 'none' });
    await Promise.all(['a', 'c'].map((n) => lab.startEcho(n, { tcp: [8080], udp: [8081] })));
    input.setNode({ name: 'h1', address: `${h1.address}/${h1.prefixLength}` });
    input.setPools([pool('default-ipv4-ippool', '10.65.0.0/16')]);
    input.setLocalBlocks([h1.block]);
    for (const x of Object.values(w)) input.setWorkloadEndpoint(wepOf(x));
    input.markInSync();
    agent = await FelixAgent.create({ input, netns: h1.netns, resyncIntervalMs: 0 });
    const r = await agent.apply();
    assert.deepEqual(r.routes!.failed, []);
  });

  after(async () => {
    await agent?.stop();
    await lab.destroy();
  });

  it('the flows exist: b -> a and b -> c over UDP', async () => {
    for (const to of ['a', 'c']) {
      const p = await udpProbe(w.b!.netns, w[to]!.ip, 8081, { timeoutMs: 2000 });
      assert.equal(p.ok, true, p.detail);
      assert.equal(p.reply, to);
    }
    assert.ok((await flows(w.a!.ip)).length > 0, 'b -> a tracked');
    assert.ok((await flows(w.c!.ip)).length > 0, 'b -> c tracked');
  });

  it('removing a deletes the flows of its address, and only those', async () => {
    input.removeWorkloadEndpoint('default', wepOf(w.a!).metadata.name);
    const r = await agent.apply();
    assert.equal(r.routes!.deleted, 1);
    assert.deepEqual(r.conntrack?.flushed, [w.a!.ip]);
    assert.ok(r.conntrack!.entries >= 1, 'at least the b -> a entry');
    assert.deepEqual(await flows(w.a!.ip), []);
    assert.ok((await flows(w.c!.ip)).length > 0, 'b -> c kept');
  });

  it('an address that moves: the old address\'s flows go, the workload keeps working at the new one', async () => {
    const c = w.c!;
    const fresh = '10.65.1.50';
    const before = await flows(c.ip);
    assert.ok(before.length > 0);
    // The workload side changes address (as a re-created pod would).
    await runOk('ip', ['-n', c.netns, 'addr', 'add', `${fresh}/32`, 'dev', 'eth0']);
    await runOk('ip', ['-n', c.netns, 'addr', 'del', `${c.ip}/32`, 'dev', 'eth0']);
    input.setWorkloadEndpoint(wepOf(c, fresh));
    const r = await agent.apply();
    assert.deepEqual(r.conntrack?.flushed, [c.ip]);
    assert.deepEqual(await flows(c.ip), []);
    const p = await udpProbe(w.b!.netns, fresh, 8081, { timeoutMs: 2000 });
    assert.equal(p.ok, true, p.detail);
    assert.ok((await flows(fresh)).length > 0, 'the new address has its own flow');
  });

  it('a pass that releases nothing runs no conntrack command', async () => {
    input.setWorkloadEndpoint(wep({ node: 'h1', pod: 'b', iface: w.b!.hostIface, ips: [w.b!.ip], labels: { role: 'x' } }));
    const r = await agent.apply();
    assert.equal(r.conntrack, undefined);
  });

  it('a workload removed while the agent was down: the restarted agent removes its route and its flows', async () => {
    const c = w.c!;
    const now = '10.65.1.50'; // c's address since the previous test
    const p = await udpProbe(w.b!.netns, now, 8081, { timeoutMs: 2000 });
    assert.equal(p.ok, true, p.detail);
    assert.ok((await flows(now)).length > 0, 'b -> c tracked');
    await agent.stop();
    input.removeWorkloadEndpoint('default', wepOf(c, now).metadata.name);
    agent = await FelixAgent.create({ input, netns: h1.netns, resyncIntervalMs: 0 });
    const r = await agent.apply();
    assert.equal(r.routes!.repairCounts.removed, 1, JSON.stringify(r.routes!.repairs));
    assert.deepEqual(r.conntrack?.flushed, [now]);
    assert.deepEqual(await flows(now), []);
    // b itself was untouched: its route and its traffic to the host stay.
    const b = await run('ip', ['-n', h1.netns, 'route', 'show', `${w.b!.ip}/32`]);
    assert.match(b.stdout, new RegExp(w.b!.hostIface));
  });
});
