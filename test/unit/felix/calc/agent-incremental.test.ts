/**
 * The agent's incremental calc against the one-shot computation: after any
 * sequence of input changes, what the agent handed to each driver equals
 * computeDesiredState of the final input. Run against a fake kernel (no
 * namespace), with a seeded random sequence so a failure can be replayed.
 */
import assert from 'node:assert/strict';
import { FelixAgent } from '../../../../src/felix/agent/agent.js';
import { computeDesiredState } from '../../../../src/felix/calc/desired.js';
import { FelixInput } from '../../../../src/felix/calc/input.js';
import { renderRules } from '../../../../src/felix/iptables/hash.js';
import type { IptablesTable } from '../../../../src/felix/iptables/table.js';
import { normaliseRoute, routeKey, ROUTE_CLASS_PRECEDENCE } from '../../../../src/felix/routes/model.js';
import { fakeKernel, type FakeKernel } from './fake-kernel.js';
import { globalDenyAll, ingressPolicy, pool, wep } from './fixtures.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function assertSameAsOneShot(agent: FelixAgent, k: FakeKernel, input: FelixInput, where: string): void {
  const want = computeDesiredState(input, { ipv6: agent.stats().ipv6.enabled });
  const d = k.drivers;
  for (const cls of ROUTE_CLASS_PRECEDENCE) {
    const got = d.routes.routesOf(cls).map((r) => routeKey(r) + JSON.stringify(r.nextHops)).sort();
    const exp = want.routes[cls].map((s) => normaliseRoute(s, 80)).map((r) => routeKey(r) + JSON.stringify(r.nextHops)).sort();
    assert.deepEqual(got, exp, `${where}: ${cls} routes`);
  }
  assert.deepEqual(d.interfaces.interfaces().sort(), [...want.interfaces.keys()].sort(), `${where}: interfaces`);
  for (const [name, table] of [['filter', want.tables.filter], ['nat', want.tables.nat]] as const) {
    const t = d.tables[name];
    assert.deepEqual(t.desiredChainNames(), table.chains.map((c) => c.name).sort(), `${where}: ${name} chains`);
    for (const c of table.chains) assert.deepEqual(t.desiredHashes(c.name), renderRules(c.name, c.rules).hashes, `${where}: ${name} ${c.name}`);
  }
  if (d.tables6) {
    // ip6tables hold exactly the IPv6 ruleset while IPv6 is in use, nothing of tabby's otherwise.
    for (const name of ['filter', 'nat'] as const) {
      const t6: IptablesTable = d.tables6[name];
      const table = want.tables6?.[name];
      assert.deepEqual(t6.desiredChainNames(), (table?.chains ?? []).map((c) => c.name).sort(), `${where}: ip6tables ${name} chains`);
      for (const c of table?.chains ?? []) assert.deepEqual(t6.desiredHashes(c.name), renderRules(c.name, c.rules, 6).hashes, `${where}: ip6tables ${name} ${c.name}`);
    }
  }
  assert.deepEqual(d.ipsets.desiredNames(), want.ipsets.map((s) => s.name).sort(), `${where}: ipsets`);
  for (const s of want.ipsets) assert.deepEqual([...d.ipsets.desiredMembers(s.name)!].sort(), [...s.members].sort(), `${where}: members of ${s.name}`);
  const vx = d.vxlan.desired();
  assert.equal(vx.device?.address, want.encap.vxlan?.vxlanTunnelAddress, `${where}: vxlan device`);
  assert.deepEqual(vx.vteps.map((v) => v.node), want.encap.vxlanRemotes.filter((r) => r.vxlanTunnelAddress).map((r) => r.name), `${where}: vteps`);
  void agent;
}

describe('felix agent (fake kernel): incremental calc', () => {
  it('nothing runs before the input is in sync, and an idle pass runs nothing', async () => {
    const k = fakeKernel();
    const input = new FelixInput();
    input.setNode({ name: 'h1', address: '172.31.0.1/24' });
    input.setWorkloadEndpoint(wep({ node: 'h1', pod: 'a', iface: 'cali0000000000a', ips: ['10.65.1.1'] }));
    const agent = await FelixAgent.create({ input, drivers: k.drivers, resyncIntervalMs: 0 });
    assert.equal((await agent.apply()).skipped, 'not-in-sync');
    assert.deepEqual(k.calls, []);
    input.markInSync();
    await agent.apply();
    assert.ok(k.calls.length > 0);
    const n = k.calls.length;
    const idle = await agent.apply();
    assert.equal(idle.skipped, undefined);
    assert.deepEqual(k.calls.slice(n), [], 'an idle pass spawns no process');
  });

  for (const ipv6 of [false, true]) it(`after any sequence of changes the drivers hold exactly the one-shot desired state${ipv6 ? ' (IPv6 workloads come and go)' : ''}`, async function () {
    this.timeout(60_000);
    const rand = rng(ipv6 ? 20261123 : 20261122);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const k = fakeKernel({ ipv6 });
    const seen = new Set<boolean>();
    const input = new FelixInput();
    const agent = await FelixAgent.create({ input, drivers: k.drivers, resyncIntervalMs: 0 });
    input.setNode({ name: 'h1', address: '172.31.0.1/24', vxlanTunnelAddress: '10.65.1.0' });
    input.setLocalBlocks(['10.65.1.0/26']);
    input.setPools([pool('p', '10.65.0.0/16', { vxlanMode: 'Always' })]);
    input.markInSync();
    const labels: Record<string, string>[] = [{}, { app: 'web' }, { role: 'client' }, { role: 'client', app: 'web' }];
    const nodes = ['h1', 'h1', 'h2'];
    for (let step = 0; step < 300; step++) {
      const op = rand();
      const i = Math.floor(rand() * 40);
      const node = pick(nodes);
      if (op < 0.45) {
        const v4 = `10.65.${node === 'h1' ? 1 : 2}.${i + 1}`;
        const ips = ipv6 && rand() < 0.4 ? [v4, `fd00:65:${node === 'h1' ? 1 : 2}::${(i + 1).toString(16)}`] : [v4];
        input.setWorkloadEndpoint(wep({ node, pod: `w${i}`, iface: `cali${String(i).padStart(11, '0')}`, ips, labels: pick(labels) }));
      } else if (op < 0.65) {
        input.removeWorkloadEndpoint('default', `${node}-k8s-w${i}-eth0`);
      } else if (op < 0.72) {
        input.setPolicy(ingressPolicy('default', `p${i % 3}`, pick(["app == 'web'", 'all()', "role == 'client'"]), [{ action: 'Allow', source: { selector: pick(["role == 'client'", "app == 'web'"]) }, destination: {} }], i));
      } else if (op < 0.76) {
        input.removePolicy('NetworkPolicy', `p${i % 3}`, 'default');
      } else if (op < 0.79) {
        if (rand() < 0.5) input.setPolicy(globalDenyAll('deny', "app == 'web'"));
        else input.removePolicy('GlobalNetworkPolicy', 'deny');
      } else if (op < 0.84) {
        input.setPools([pool('p', '10.65.0.0/16', { vxlanMode: pick(['Always', 'Never', 'CrossSubnet'] as const), natOutgoing: rand() < 0.5 })]);
      } else if (op < 0.9) {
        const n = 1 + Math.floor(rand() * 3);
        input.setRemoteNodes(Array.from({ length: n }, (_, j) => ({ name: `h${j + 2}`, address: `172.31.${j % 2}.${j + 2}`, ...(rand() < 0.8 ? { vxlanTunnelAddress: `10.65.${j + 2}.0` } : {}), blocks: [`10.65.${j + 2}.0/26`], borrowed: rand() < 0.3 ? [`10.65.1.${50 + j}`] : [] })));
      } else if (op < 0.95) {
        input.setLearnedRoutes(rand() < 0.5 ? [] : [{ dst: '10.70.0.0/24', via: ['172.31.0.9'] }, { dst: '10.65.2.0/26', via: ['172.31.0.2'] }]);
      } else {
        input.setLocalBlocks(rand() < 0.5 ? ['10.65.1.0/26'] : ['10.65.1.0/26', '10.65.1.64/26', '10.65.1.200/32']);
      }
      // Apply after a random number of changes (coalescing), and always at the end.
      if (rand() < 0.4 || step === 299) {
        const r = await agent.apply();
        assert.equal(r.skipped, undefined);
        assertSameAsOneShot(agent, k, input, `step ${step}`);
        seen.add(agent.stats().ipv6.active);
      }
    }
    // The IPv6 run went through IPv6 coming into use and going out of it.
    assert.deepEqual([...seen].sort(), ipv6 ? [false, true] : [false]);
  });
});
