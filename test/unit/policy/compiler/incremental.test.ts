/**
 * Incremental behaviour, proved by diffing compiled outputs:
 *   - a label change on a workload changes ipset members, not chains;
 *   - a change to one policy rewrites only that policy's chains;
 *   - any sequence of updates to a PolicyCalculator ends in exactly the
 *     ruleset a one-shot compile of the final state gives;
 *   - PolicyDataplane hands the drivers only what changed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { Resource } from '../../../../src/datastore/resources/index.js';
import { IptablesExecutor } from '../../../../src/felix/iptables/backend.js';
import type { CommandResult, CommandRunner } from '../../../../src/felix/iptables/runner.js';
import { IptablesTable } from '../../../../src/felix/iptables/table.js';
import { IpSets } from '../../../../src/felix/ipsets/ipsets.js';
import {
  compilePolicy,
  diffRulesets,
  formatRuleset,
  isEmptyDiff,
  namespaceProfile,
  policyChainName,
  PolicyCalculator,
  PolicyDataplane,
  policyResourcesFrom,
} from '../../../../src/policy/index.js';
import { manyEndpoints, parseDocs, policyDoc, syntheticCluster, workloadEndpointDoc } from './fixtures.js';

const NODES = ['n1', 'n2'];
const NS = 3;

function cluster(): Resource[] {
  return syntheticCluster({ endpoints: 40, policies: 12, nodes: NODES, namespaces: NS });
}

/** Replace the resource with the same kind/namespace/name. */
function replace(res: readonly Resource[], r: Resource): Resource[] {
  const same = (x: Resource) => x.kind === r.kind && x.metadata.name === r.metadata.name && (x.metadata as { namespace?: string }).namespace === (r.metadata as { namespace?: string }).namespace;
  return res.map((x) => (same(x) ? r : x));
}

function relabel(res: readonly Resource[], i: number, labels: Record<string, string>): Resource[] {
  return replace(res, parseDocs([workloadEndpointDoc(i, NODES[i % NODES.length]!, NS, labels)])[0]!);
}

describe('policy compiler: incremental updates', () => {
  it('a label change on a remote workload changes ipset members only', () => {
    const before = cluster();
    // w1 lives on n2; on n1 it only appears in ipsets.
    const after = relabel(before, 1, { app: 'cache', shard: 's0', version: 'v1' });
    const d = diffRulesets(compilePolicy(before, { nodeName: 'n1' }), compilePolicy(after, { nodeName: 'n1' }));
    assert.deepEqual([d.chainsAdded, d.chainsRemoved, d.chainsChanged, d.setsAdded, d.setsRemoved, d.hooksChanged], [[], [], [], [], [], false]);
    // It joins "app == cache in ns1", "shard == s0 in ns1" and that selector's named-port set.
    assert.equal(d.membersChanged.length, 3);
    for (const m of d.membersChanged) {
      assert.deepEqual(m.removed, [], m.set);
      assert.equal(m.added.length, 1, m.set);
      assert.match(m.added[0]!, /^10\.64\.0\.2(,tcp:8080)?$/, m.set);
    }
  });

  it('a label change on a local workload that only rule selectors read changes ipset members only', () => {
    const before = cluster();
    // w0 (n1) keeps app and version (read by policy selectors); shard is read only by rule selectors.
    const after = relabel(before, 0, { app: 'web', shard: 's6', version: 'v2' });
    const d = diffRulesets(compilePolicy(before, { nodeName: 'n1' }), compilePolicy(after, { nodeName: 'n1' }));
    assert.deepEqual([d.chainsAdded, d.chainsRemoved, d.chainsChanged, d.setsAdded, d.setsRemoved], [[], [], [], [], []]);
    // Leaves the shard s0 sets (address and named port), joins the shard s6 ones.
    assert.equal(d.membersChanged.length, 4);
    for (const m of d.membersChanged) for (const x of [...m.added, ...m.removed]) assert.match(x, /^10\.64\.0\.1(,tcp:8080)?$/, m.set);
  });

  it('a label change that changes which policies select a local workload rewrites only its endpoint chains', () => {
    const before = cluster();
    const after = relabel(before, 0, { app: 'db', shard: 's0', version: 'v2' });
    const rsB = compilePolicy(before, { nodeName: 'n1' });
    const rsA = compilePolicy(after, { nodeName: 'n1' });
    const d = diffRulesets(rsB, rsA);
    const iface = rsA.endpoints.find((e) => e.key.endsWith('/n1-k8s-w0-eth0'))!.iface;
    assert.deepEqual(d.chainsChanged, [`tabby-fw-${iface}`, `tabby-tw-${iface}`]);
    for (const c of [...d.chainsAdded, ...d.chainsRemoved]) assert.match(c, /^tabby-p[io]-/, 'only policy chains come or go');
  });

  it('a change to one policy rewrites only its own chains', () => {
    const before = cluster();
    const changed = parseDocs([policyDoc(3, NS, 1)])[0]!; // same name, other ports and peer
    const after = replace(before, changed);
    let checked = 0;
    for (const node of NODES) {
      const rsB = compilePolicy(before, { nodeName: node });
      const rsA = compilePolicy(after, { nodeName: node });
      const d = diffRulesets(rsB, rsA);
      const owner = { kind: 'NetworkPolicy' as const, namespace: 'ns0', name: 'p3' };
      const own = [policyChainName(owner, 'ingress'), policyChainName(owner, 'egress')];
      if (!rsA.chains.some((c) => own.includes(c.name))) continue; // the policy selects nothing on this node
      assert.deepEqual(d.chainsChanged, own.filter((n) => d.chainsChanged.includes(n)), node);
      assert.ok(d.chainsChanged.length > 0, `${node}: the policy's chain changed`);
      assert.deepEqual([d.chainsAdded, d.chainsRemoved], [[], []], node);
      checked++;
    }
    assert.ok(checked >= 1, 'the policy selects endpoints somewhere');
  });

  it('deleting a policy removes its chains and the jumps to it, nothing else', () => {
    const before = cluster();
    const after = before.filter((r) => !(r.kind === 'NetworkPolicy' && r.metadata.name === 'p0'));
    const rsB = compilePolicy(before, { nodeName: 'n1' });
    const rsA = compilePolicy(after, { nodeName: 'n1' });
    const d = diffRulesets(rsB, rsA);
    assert.deepEqual(d.chainsRemoved, ['tabby-pi-ns0_p0', 'tabby-po-ns0_p0']);
    for (const c of d.chainsChanged) assert.match(c, /^tabby-[ft]w-cali/);
  });

  it('the same input twice gives an empty diff', () => {
    const res = cluster();
    assert.ok(isEmptyDiff(diffRulesets(compilePolicy(res, { nodeName: 'n1' }), compilePolicy(res, { nodeName: 'n1' }))));
  });

  it('any sequence of updates ends in the ruleset a one-shot compile of the final state gives', () => {
    let state = cluster();
    const calc = new PolicyCalculator({ nodeName: 'n1' }).replaceAll(policyResourcesFrom(state));
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const apps = ['web', 'api', 'db', 'cache'];
    for (let step = 0; step < 150; step++) {
      const op = rnd(6);
      if (op <= 1) {
        const i = rnd(40);
        const r = parseDocs([workloadEndpointDoc(i, NODES[i % 2]!, NS, { app: apps[rnd(4)]!, shard: `s${rnd(10)}`, version: rnd(2) ? 'v1' : 'v2' })])[0]!;
        state = replace(state, r);
        calc.upsert(r);
      } else if (op === 2) {
        const r = parseDocs([policyDoc(rnd(12), NS, rnd(3))])[0]!;
        state = replace(state, r);
        calc.upsert(r);
      } else if (op === 3) {
        const victim = state.filter((x) => x.kind === 'NetworkPolicy')[0];
        if (victim) {
          state = state.filter((x) => x !== victim);
          calc.remove('NetworkPolicy', victim.metadata.name, (victim.metadata as { namespace: string }).namespace);
        }
      } else if (op === 4) {
        const q = namespaceProfile(`ns${rnd(NS)}`, { env: `e${rnd(4)}` });
        state = [...state.filter((x) => !(x.kind === 'Profile' && x.metadata.name === q.metadata.name)), q];
        calc.upsert(q);
      } else {
        const i = 100 + rnd(5);
        const r = parseDocs([workloadEndpointDoc(i, NODES[rnd(2)]!, NS)])[0]!;
        state = [...state.filter((x) => !(x.kind === 'WorkloadEndpoint' && x.metadata.name === r.metadata.name)), r];
        calc.upsert(r);
      }
      if (step % 10 === 9) assert.equal(formatRuleset(calc.ruleset()), formatRuleset(compilePolicy(state, { nodeName: 'n1' })), `after step ${step}`);
    }
  });
});

describe('policy compiler: ruleset() reuses its work', () => {
  /** Host endpoint on n1 (interface eth-N), optionally clashing with another by interface. */
  function hostEndpoint(i: number, iface: string, labels: Record<string, string>): Resource {
    return parseDocs([{ apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name: `hep${i}`, labels }, spec: { node: 'n1', interfaceName: iface, profiles: [] } }])[0]!;
  }

  it('after every single update equals a fresh compile (workloads, clashes, host endpoints, policy order, profiles, deletes)', () => {
    // 70 workloads on n1 and n2: enough for the dispatch tree (>= 32 local).
    let state = syntheticCluster({ endpoints: 70, policies: 12, nodes: NODES, namespaces: NS });
    const calc = new PolicyCalculator({ nodeName: 'n1' }).replaceAll(policyResourcesFrom(state));
    let seed = 11;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const apps = ['web', 'api', 'db', 'cache'];
    const key = (x: Resource) => `${x.kind}|${(x.metadata as { namespace?: string }).namespace ?? ''}|${x.metadata.name}`;
    const put = (r: Resource) => {
      state = [...state.filter((x) => key(x) !== key(r)), r];
      calc.upsert(r);
    };
    let last = calc.ruleset();
    for (let step = 0; step < 300; step++) {
      const op = rnd(10);
      if (op <= 2) {
        const i = rnd(70);
        put(parseDocs([workloadEndpointDoc(i, NODES[rnd(2)]!, NS, { app: apps[rnd(4)]!, shard: `s${rnd(10)}`, version: rnd(2) ? 'v1' : 'v2' })])[0]!);
      } else if (op === 3) {
        if (rnd(2) === 0) {
          put(parseDocs([policyDoc(rnd(14), NS, rnd(3))])[0]!);
        } else {
          // A global policy selecting nearly everything: only its order, types or
          // applyOnForward change (endpoint chains change, its own chains may not).
          const types = [['Ingress'], ['Egress'], ['Ingress', 'Egress']][rnd(3)]!;
          put(
            parseDocs([
              {
                apiVersion: 'projectcalico.org/v3',
                kind: 'GlobalNetworkPolicy',
                metadata: { name: 'gall' },
                spec: { order: rnd(20), selector: 'has(app)', types, applyOnForward: rnd(2) === 0, ingress: [{ action: 'Pass' }], egress: [{ action: 'Pass' }] },
              },
            ])[0]!,
          );
        }
      } else if (op === 4) {
        const pols = state.filter((x) => x.kind === 'NetworkPolicy' || x.kind === 'GlobalNetworkPolicy');
        const victim = pols[rnd(Math.max(1, pols.length))];
        if (victim) {
          state = state.filter((x) => x !== victim);
          calc.remove(victim.kind, victim.metadata.name, (victim.metadata as { namespace?: string }).namespace);
        }
      } else if (op === 5) {
        put(namespaceProfile(`ns${rnd(NS)}`, { env: `e${rnd(4)}` }));
      } else if (op === 6) {
        // A workload removed (its interface, chains and set members go).
        const weps = state.filter((x) => x.kind === 'WorkloadEndpoint');
        const victim = weps[rnd(weps.length)]!;
        state = state.filter((x) => x !== victim);
        calc.remove('WorkloadEndpoint', victim.metadata.name, (victim.metadata as { namespace: string }).namespace);
      } else if (op === 7) {
        // A second endpoint claiming an existing workload's interface (the first key wins).
        const weps = state.filter((x) => x.kind === 'WorkloadEndpoint' && (x.spec as { node: string }).node === 'n1');
        const victim = weps[rnd(weps.length)];
        if (victim) {
          const doc = workloadEndpointDoc(200 + rnd(3), 'n1', NS);
          (doc.spec as { interfaceName: string }).interfaceName = (victim.spec as { interfaceName: string }).interfaceName;
          put(parseDocs([doc])[0]!);
        }
      } else if (op === 8) {
        put(hostEndpoint(rnd(3), rnd(4) === 0 ? '*' : `eth${rnd(3)}`, { app: apps[rnd(4)]! }));
      } else {
        const heps = state.filter((x) => x.kind === 'HostEndpoint');
        const victim = heps[rnd(Math.max(1, heps.length))];
        if (victim) {
          state = state.filter((x) => x !== victim);
          calc.remove('HostEndpoint', victim.metadata.name);
        }
      }
      const rs = calc.ruleset();
      assert.equal(formatRuleset(rs), formatRuleset(compilePolicy(state, { nodeName: 'n1' })), `after step ${step} (op ${op})`);
      assert.deepEqual(rs.endpoints, compilePolicy(state, { nodeName: 'n1' }).endpoints, `endpoints after step ${step}`);
      assert.deepEqual(rs.warnings, compilePolicy(state, { nodeName: 'n1' }).warnings, `warnings after step ${step}`);
      last = rs;
    }
    // Nothing changed: the very same ruleset object.
    assert.equal(calc.ruleset(), last);
  });

  it('one workload added among many: the other endpoints keep their chain objects', () => {
    const res = manyEndpoints(200, 6);
    const calc = new PolicyCalculator({ nodeName: 'n1' }).replaceAll(policyResourcesFrom(res));
    const before = calc.ruleset();
    const byName = new Map(before.chains.map((c) => [c.name, c]));
    const extra = parseDocs([workloadEndpointDoc(999, 'n1', 2)])[0]!;
    calc.upsert(extra);
    const after = calc.ruleset();
    const fresh = after.chains.filter((c) => byName.get(c.name) !== c).map((c) => c.name);
    const iface = after.endpoints.find((e) => e.key.endsWith('/n1-k8s-w999-eth0'))!.iface;
    // Its two endpoint chains, and the two dispatch sub-chains its interface falls in (plus nothing else).
    assert.deepEqual(fresh.filter((n) => n.includes(iface)).sort(), [`tabby-fw-${iface}`, `tabby-tw-${iface}`]);
    assert.equal(fresh.length, 4, fresh.join(', '));
    assert.equal(formatRuleset(after), formatRuleset(compilePolicy([...res, extra], { nodeName: 'n1' })));
  });
});

/** A fake kernel: records restores, answers saves with what was restored so far (nothing). */
class RecordingRunner implements CommandRunner {
  readonly calls: { cmd: string; args: readonly string[]; input?: string }[] = [];
  async run(cmd: string, args: readonly string[], input?: string): Promise<CommandResult> {
    this.calls.push({ cmd, args, ...(input !== undefined ? { input } : {}) });
    if (cmd.endsWith('-save')) return { code: 0, stdout: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n', stderr: '' };
    return { code: 0, stdout: '', stderr: '' };
  }
  restores(kind: 'iptables' | 'ipset'): string[] {
    return this.calls.filter((c) => (kind === 'ipset' ? c.cmd === 'ipset' && c.args[0] === 'restore' : c.cmd.includes('restore') && c.cmd !== 'ipset')).map((c) => c.input ?? '');
  }
}

describe('PolicyDataplane: only changes reach the drivers', () => {
  function setup() {
    const runner = new RecordingRunner();
    const dp = new PolicyDataplane(new IptablesTable({ table: 'filter', executor: new IptablesExecutor(runner, 'nft') }), new IpSets({ runner }));
    return { runner, dp };
  }

  it('first apply: sets before the filter table, one restore each; the same ruleset again writes nothing', async () => {
    const { runner, dp } = setup();
    const res = cluster();
    dp.setRuleset(compilePolicy(res, { nodeName: 'n1' }));
    const r1 = await dp.apply();
    assert.ok(r1.chainsSet.length > 10);
    const order = runner.calls.filter((c) => c.args.includes('restore') || c.cmd.includes('restore')).map((c) => (c.cmd === 'ipset' ? 'ipset' : 'iptables'));
    assert.deepEqual(order, ['ipset', 'iptables']);
    const n = runner.calls.length;
    dp.setRuleset(compilePolicy(res, { nodeName: 'n1' }));
    const r2 = await dp.apply();
    assert.deepEqual([r2.chainsSet, r2.setsSet, r2.iptables.restoreRan], [[], [], false]);
    assert.equal(runner.restores('iptables').length, 1);
    assert.ok(runner.calls.length >= n);
  });

  it('a label change: ipset add/del lines only, no iptables-restore', async () => {
    const { runner, dp } = setup();
    const res = cluster();
    dp.setRuleset(compilePolicy(res, { nodeName: 'n1' }));
    await dp.apply();
    dp.setRuleset(compilePolicy(relabel(res, 1, { app: 'cache', shard: 's0', version: 'v1' }), { nodeName: 'n1' }));
    const r = await dp.apply();
    assert.deepEqual(r.chainsSet, []);
    assert.equal(r.iptables.restoreRan, false);
    assert.equal(runner.restores('iptables').length, 1, 'still only the first restore');
    const last = runner.restores('ipset').at(-1)!;
    const lines = last.trim().split('\n');
    assert.equal(lines.length, 3);
    for (const line of lines) assert.match(line, /^add tabby-[sp]-\S+ 10\.64\.0\.2(,tcp:8080)?$/);
  });

  it('a policy change: one restore that writes only the chain that changed', async () => {
    const { runner, dp } = setup();
    const res = cluster();
    dp.setRuleset(compilePolicy(res, { nodeName: 'n1' }));
    await dp.apply();
    dp.setRuleset(compilePolicy(replace(res, parseDocs([policyDoc(0, NS, 2)])[0]!), { nodeName: 'n1' }));
    const r = await dp.apply();
    // The variant changes the ingress rules only: the egress chain is left alone.
    assert.deepEqual(r.chainsSet, ['tabby-pi-ns0_p0']);
    const input = runner.restores('iptables').at(-1)!;
    const flushed = input.split('\n').filter((l) => l.startsWith(':')).map((l) => l.split(' ')[0]!.slice(1));
    assert.deepEqual(flushed, ['tabby-pi-ns0_p0']);
  });
});
