/**
 * Benchmark of the policy engine against the kernel.
 *
 *   node dist/bench/policy.js      (env: ENDPOINTS=1000 POLICIES=500 CHANGES=40 REPS=3 IPERF_SECONDS=5)
 *
 * One lab host namespace `r` with two real workloads (cl, sv) and ENDPOINTS
 * synthetic workload endpoints, all local to `r` (the worst case: every
 * endpoint gets chains), plus POLICIES policies (label, namespace, port,
 * CIDR and named-port rules; fixtures.ts). Measured:
 *
 *   full       first compile + apply into empty tables;
 *   policy     one policy's rules change: PolicyCalculator update, ruleset,
 *              PolicyDataplane.setRuleset and apply (iptables-restore and
 *              ipset restore returned): p50 / p99 over CHANGES changes;
 *   label      one endpoint's labels change (it moves between rule-selector
 *              sets): the same path, p50 / p99;
 *   size       chains, rules, ipsets, members, bytes of restore text;
 *   iperf3     one TCP stream cl -> sv through r's FORWARD chain, with the
 *              full ruleset against no tabby rules at all, REPS alternating
 *              pairs; the ratio of medians (target >= 0.90: the conntrack
 *              accept comes first and selectors are ipsets, so an established
 *              flow does not walk the rules).
 */
import { performance } from 'node:perf_hooks';
import { ProcessRunner } from '../src/felix/iptables/runner.js';
import { Lab } from '../src/lab/lab.js';
import { run } from '../src/lab/exec.js';
import { waitFor } from '../src/lab/wait.js';
import { formatRuleset, PolicyCalculator, PolicyDataplane, policyResourcesFrom } from '../src/policy/index.js';
import { parseDocs, policyDoc, syntheticCluster, workloadEndpointDoc } from '../test/unit/policy/compiler/fixtures.js';

const ENDPOINTS = Number(process.env.ENDPOINTS ?? 1000);
const POLICIES = Number(process.env.POLICIES ?? 500);
const CHANGES = Number(process.env.CHANGES ?? 40);
const REPS = Number(process.env.REPS ?? 3);
const IPERF_SECONDS = Number(process.env.IPERF_SECONDS ?? 5);
const NS = 10;
const NODE = 'r';

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
const ms = (x: number) => `${x.toFixed(1)} ms`;
const median = (xs: number[]) => pct(xs, 50);

async function iperf(lab: Lab, serverIp: string): Promise<number> {
  const r = await run('iperf3', ['-c', serverIp, '-t', String(IPERF_SECONDS), '-J'], { ns: lab.workload('cl').netns, timeoutMs: (IPERF_SECONDS + 20) * 1000 });
  if (r.code !== 0) throw new Error(`iperf3 failed: ${r.stderr || r.stdout.slice(0, 300)}`);
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return j.end.sum_received.bits_per_second / 1e9;
}

async function main(): Promise<void> {
  const lab = await Lab.create();
  try {
    const host = await lab.addHost(NODE);
    const cl = await lab.addWorkload(NODE, { name: 'cl', namespace: 'ns0', labels: { app: 'bench' } });
    const sv = await lab.addWorkload(NODE, { name: 'sv', namespace: 'ns0', labels: { app: 'bench' } });
    const srv = lab.startProcess(sv.netns, 'iperf3-server', 'iperf3', ['-s', '--forceflush']);
    await waitFor('iperf3 server', () => srv.logTail(5).includes('Server listening'), { timeoutMs: 10_000 });

    const real = parseDocs(
      [cl, sv].map((w) => ({
        apiVersion: 'projectcalico.org/v3',
        kind: 'WorkloadEndpoint',
        metadata: { namespace: 'ns0', labels: { app: 'bench' } },
        spec: { orchestrator: 'k8s', node: NODE, pod: w.name, endpoint: 'eth0', ipNetworks: [`${w.ip}/32`], profiles: ['kns.ns0'], interfaceName: w.hostIface },
      })),
    );
    const resources = [...syntheticCluster({ endpoints: ENDPOINTS, policies: POLICIES, nodes: [NODE], namespaces: NS }), ...real];
    const dp = await PolicyDataplane.create({ runner: new ProcessRunner({ netns: host.netns }), backend: 'auto' });
    const calc = new PolicyCalculator({ nodeName: NODE });

    // ---- full apply
    let t0 = performance.now();
    calc.replaceAll(policyResourcesFrom(resources));
    let rs = calc.ruleset();
    const compileFull = performance.now() - t0;
    dp.setRuleset(rs);
    await dp.apply();
    const full = performance.now() - t0;
    const rules = rs.chains.reduce((n, c) => n + c.rules.length, 0);
    const members = rs.ipsets.reduce((n, s) => n + s.members.length, 0);
    const text = formatRuleset(rs);
    console.log(`policy bench: ${ENDPOINTS + 2} endpoints (all local), ${POLICIES} policies, ${NS} namespaces`);
    console.log(`  ruleset: ${rs.chains.length} chains, ${rules} rules, ${rs.ipsets.length} ipsets with ${members} members, ${(text.length / 1024).toFixed(0)} KiB of restore text`);
    console.log(`  full compile ${ms(compileFull)}, full compile + apply ${ms(full)}`);

    // ---- policy changes
    const policyTimes: number[] = [];
    const policyCompile: number[] = [];
    for (let k = 0; k < CHANGES; k++) {
      const p = parseDocs([policyDoc((k * 37) % POLICIES, NS, 1 + (k % 2))])[0]!;
      t0 = performance.now();
      calc.upsert(p);
      rs = calc.ruleset();
      policyCompile.push(performance.now() - t0);
      dp.setRuleset(rs);
      const r = await dp.apply();
      policyTimes.push(performance.now() - t0);
      if (!r.iptables.restoreRan) throw new Error('a policy change must reach iptables');
    }
    // ---- label changes (endpoints move between rule-selector sets)
    const labelTimes: number[] = [];
    const labelCompile: number[] = [];
    for (let k = 0; k < CHANGES; k++) {
      const i = (k * 101) % ENDPOINTS;
      const wep = parseDocs([workloadEndpointDoc(i, NODE, NS, { app: ['web', 'api', 'db', 'cache', 'queue', 'auth', 'search', 'batch'][i % 8]!, shard: `s${(i + k + 1) % 10}`, version: i % 3 === 0 ? 'v2' : 'v1' })])[0]!;
      t0 = performance.now();
      calc.upsert(wep);
      rs = calc.ruleset();
      labelCompile.push(performance.now() - t0);
      dp.setRuleset(rs);
      const r = await dp.apply();
      labelTimes.push(performance.now() - t0);
      if (r.chainsSet.length) throw new Error(`a label change rewrote chains: ${r.chainsSet.join(',')}`);
    }
    console.log(`  policy change -> kernel: p50 ${ms(median(policyTimes))}, p99 ${ms(pct(policyTimes, 99))} (compile p50 ${ms(median(policyCompile))}); ${CHANGES} changes`);
    console.log(`  label change  -> kernel: p50 ${ms(median(labelTimes))}, p99 ${ms(pct(labelTimes, 99))} (compile p50 ${ms(median(labelCompile))}); ${CHANGES} changes, no chain rewritten`);

    // ---- throughput: full ruleset vs no tabby rules, alternating
    const withRules: number[] = [];
    const without: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      withRules.push(await iperf(lab, sv.ip));
      await dp.teardown();
      without.push(await iperf(lab, sv.ip));
      dp.setRuleset(calc.ruleset());
      await dp.apply();
    }
    const ratio = median(withRules) / median(without);
    console.log(`  iperf3 cl -> sv, ${IPERF_SECONDS} s x ${REPS}: ${rules} rules ${median(withRules).toFixed(2)} Gbit/s (${withRules.map((x) => x.toFixed(2)).join(', ')}), 0 rules ${median(without).toFixed(2)} Gbit/s (${without.map((x) => x.toFixed(2)).join(', ')}): ratio ${ratio.toFixed(3)} (target >= 0.90)`);
    await dp.teardown();
  } finally {
    await lab.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
