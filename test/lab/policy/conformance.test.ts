/**
 * Policy conformance with real traffic: each scenario applies Calico
 * manifests to two hosts through the real dataplane path and asserts the
 * full connectivity matrix among 4 workloads in 2 namespaces on 2 hosts
 * (and, where it matters, to and from a machine outside the cluster), for
 * ICMP, TCP and UDP. Every cell is also checked against `explainFlow`, so
 * the explanation and the kernel cannot disagree.
 *
 * Scenarios follow Kubernetes NetworkPolicy semantics (the classic recipes:
 * default deny, allow from a label, from a namespace, ports) and Calico's
 * documentation (order, Deny before Allow, Pass, Log, nets/notNets,
 * namespaceSelector on rules and on global policies, profiles).
 *
 *   h1: a (prod, app=web, tier=front)   b (dev, app=db)
 *   h2: c (prod, app=db)                d (dev, app=web)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import { runOk } from '../../../src/lab/exec.js';
import { tcpProbe } from '../../../src/lab/probe.js';
import { waitFor } from '../../../src/lab/wait.js';
import { compilePolicy, diffRulesets, namespaceProfile } from '../../../src/policy/index.js';
import type { Resource } from '../../../src/datastore/resources/index.js';
import { ALL, from, into, minus, NONE, pairs, parse, plus, PolicyLab, TOOLS, type MatrixCheck, type OutsideCheck } from './harness.js';

interface Scenario {
  name: string;
  /** Manifests (YAML); `ip(w)` gives a workload's address. */
  manifests: (ip: (w: 'a' | 'b' | 'c' | 'd' | 'out') => string) => string;
  /** Replace the namespace profiles (Profile resources in `manifests` are used instead). */
  ownProfiles?: boolean;
  checks: MatrixCheck[];
  outside?: OutsideCheck[];
}

const np = (name: string, ns: string, spec: string) => `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec.replace(/^/gm, '  ')}
---
`;
const gnp = (name: string, spec: string) => `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: ${name}}
spec:
${spec.replace(/^/gm, '  ')}
---
`;

const tcp80 = (allow: ReadonlySet<string>): MatrixCheck => ({ protocol: 'tcp', port: 80, allow });
const tcp = (port: number, allow: ReadonlySet<string>): MatrixCheck => ({ protocol: 'tcp', port, allow });
const udp = (allow: ReadonlySet<string>): MatrixCheck => ({ protocol: 'udp', port: 8081, allow });
const icmp = (allow: ReadonlySet<string>): MatrixCheck => ({ protocol: 'icmp', allow });
const intoProd = into('a', 'c');

const SCENARIOS: Scenario[] = [
  {
    name: 'no policy: the namespace profiles allow every pair',
    manifests: () => '',
    checks: [icmp(ALL), tcp80(ALL), udp(ALL)],
    outside: [{ from: 'out', to: 'a', protocol: 'tcp', port: 80, allowed: true }, { from: 'c', to: 'out', protocol: 'udp', port: 8081, allowed: true }],
  },
  {
    name: 'default deny ingress in a namespace (Kubernetes deny-all)',
    manifests: () => np('default-deny', 'prod', `selector: all()\ntypes: [Ingress]`),
    checks: [icmp(minus(ALL, intoProd)), tcp80(minus(ALL, intoProd)), udp(minus(ALL, intoProd))],
    outside: [{ from: 'out', to: 'a', protocol: 'tcp', port: 80, allowed: false }, { from: 'out', to: 'b', protocol: 'tcp', port: 80, allowed: true }],
  },
  {
    name: 'default deny egress in a namespace',
    manifests: () => np('deny-egress', 'prod', `selector: all()\ntypes: [Egress]`),
    checks: [icmp(minus(ALL, from('a', 'c'))), tcp80(minus(ALL, from('a', 'c')))],
    outside: [{ from: 'a', to: 'out', protocol: 'tcp', port: 80, allowed: false }, { from: 'out', to: 'a', protocol: 'tcp', port: 80, allowed: true }],
  },
  {
    name: 'default deny ingress and egress everywhere (GlobalNetworkPolicy)',
    manifests: () => gnp('deny-all', `selector: all()\ntypes: [Ingress, Egress]`),
    checks: [icmp(NONE), tcp80(NONE), udp(NONE)],
  },
  {
    name: 'deny ingress to a label across namespaces (GlobalNetworkPolicy selector)',
    manifests: () => gnp('db-closed', `selector: app == 'db'\ntypes: [Ingress]`),
    checks: [tcp80(minus(ALL, into('b', 'c'))), icmp(minus(ALL, into('b', 'c')))],
  },
  {
    name: 'allow from a label: only the same namespace (namespaced rule selector)',
    manifests: () => np('db-from-web', 'prod', `selector: app == 'db'\ningress:\n- action: Allow\n  source: {selector: app == 'web'}`),
    checks: [tcp80(plus(minus(ALL, into('c')), pairs('a>c'))), icmp(plus(minus(ALL, into('c')), pairs('a>c')))],
  },
  {
    name: 'allow from a namespace (rule namespaceSelector)',
    manifests: () => np('db-from-dev', 'prod', `selector: app == 'db'\ningress:\n- action: Allow\n  source: {namespaceSelector: env == 'dev'}`),
    checks: [tcp80(minus(ALL, pairs('a>c'))), udp(minus(ALL, pairs('a>c')))],
  },
  {
    name: 'namespaceSelector and selector together: a label in another namespace',
    manifests: () => np('db-from-dev-web', 'prod', `selector: app == 'db'\ningress:\n- action: Allow\n  source: {namespaceSelector: env == 'dev', selector: app == 'web'}`),
    checks: [tcp80(minus(ALL, pairs('a>c b>c')))],
  },
  {
    name: "namespaceSelector all(): every namespaced endpoint, but not the outside",
    manifests: () => np('from-cluster', 'prod', `selector: all()\ningress:\n- action: Allow\n  source: {namespaceSelector: all()}`),
    checks: [tcp80(ALL)],
    outside: [{ from: 'out', to: 'a', protocol: 'tcp', port: 80, allowed: false }, { from: 'out', to: 'b', protocol: 'tcp', port: 80, allowed: true }],
  },
  {
    name: "Kubernetes' automatic namespace label kubernetes.io/metadata.name",
    manifests: () => np('db-from-dev', 'prod', `selector: app == 'db'\ningress:\n- action: Allow\n  source: {namespaceSelector: kubernetes.io/metadata.name == 'dev'}`),
    checks: [tcp80(minus(ALL, pairs('a>c')))],
  },
  {
    name: 'allow one TCP port: other ports, UDP and ICMP are denied',
    manifests: () => np('web-80', 'prod', `selector: all()\ningress:\n- action: Allow\n  protocol: TCP\n  destination: {ports: [80]}`),
    checks: [tcp80(ALL), tcp(8080, minus(ALL, intoProd)), udp(minus(ALL, intoProd)), icmp(minus(ALL, intoProd))],
  },
  {
    name: 'a port range',
    manifests: () => np('range', 'prod', `selector: all()\ningress:\n- action: Allow\n  protocol: TCP\n  destination: {ports: ['8000:8999']}`),
    checks: [tcp(8080, ALL), tcp80(minus(ALL, intoProd)), tcp(9000, minus(ALL, intoProd))],
  },
  {
    name: 'notPorts: every TCP port but one',
    manifests: () => np('not-80', 'prod', `selector: all()\ningress:\n- action: Allow\n  protocol: TCP\n  destination: {notPorts: [80]}`),
    checks: [tcp80(minus(ALL, intoProd)), tcp(8080, ALL), tcp(9000, ALL)],
  },
  {
    name: 'protocol UDP only',
    manifests: () => np('udp-only', 'prod', `selector: all()\ningress:\n- action: Allow\n  protocol: UDP`),
    checks: [udp(ALL), tcp80(minus(ALL, intoProd)), icmp(minus(ALL, intoProd))],
  },
  {
    name: 'notProtocol TCP',
    manifests: () => np('not-tcp', 'prod', `selector: all()\ningress:\n- action: Allow\n  notProtocol: TCP`),
    checks: [udp(ALL), icmp(ALL), tcp80(minus(ALL, intoProd))],
  },
  {
    name: 'ICMP type and code: echo request allowed, nothing else',
    manifests: () => np('ping', 'prod', `selector: all()\ningress:\n- action: Allow\n  protocol: ICMP\n  icmp: {type: 8, code: 0}`),
    checks: [icmp(ALL), tcp80(minus(ALL, intoProd))],
  },
  {
    name: 'notICMP: ICMP except echo request',
    manifests: () => np('no-ping', 'prod', `selector: all()\ningress:\n- action: Allow\n  protocol: ICMP\n  notICMP: {type: 8}`),
    checks: [icmp(minus(ALL, intoProd)), udp(minus(ALL, intoProd))],
  },
  {
    name: 'CIDR: allow from one address',
    manifests: (ip) => np('from-a', 'prod', `selector: app == 'db'\ningress:\n- action: Allow\n  source: {nets: ['${ip('a')}/32']}`),
    checks: [tcp80(minus(ALL, pairs('b>c d>c'))), icmp(minus(ALL, pairs('b>c d>c')))],
  },
  {
    name: 'CIDR with notNets: the cluster range except one host block',
    manifests: () => np('not-h1', 'prod', `selector: all()\ningress:\n- action: Allow\n  source: {nets: [10.65.0.0/16], notNets: [10.65.1.0/26]}`),
    checks: [tcp80(minus(ALL, pairs('a>c b>a b>c'))), icmp(minus(ALL, pairs('a>c b>a b>c')))],
    outside: [{ from: 'out', to: 'c', protocol: 'tcp', port: 80, allowed: false }],
  },
  {
    name: 'Deny before Allow by order',
    manifests: () =>
      np('deny-web', 'prod', `order: 10\nselector: all()\ningress:\n- action: Deny\n  source: {namespaceSelector: all(), selector: app == 'web'}`) +
      np('allow-all', 'prod', `order: 20\nselector: all()\ningress:\n- action: Allow`),
    checks: [tcp80(minus(ALL, pairs('a>c d>a d>c'))), udp(minus(ALL, pairs('a>c d>a d>c')))],
  },
  {
    name: 'Allow before Deny by order',
    manifests: () =>
      np('allow-web', 'prod', `order: 10\nselector: all()\ningress:\n- action: Allow\n  source: {namespaceSelector: all(), selector: app == 'web'}`) +
      np('deny-rest', 'prod', `order: 20\nselector: all()\ningress:\n- action: Deny`),
    checks: [tcp80(minus(ALL, pairs('b>a c>a b>c')))],
  },
  {
    name: 'a policy without order comes after every ordered one',
    manifests: () => np('deny-unordered', 'prod', `selector: all()\ningress:\n- action: Deny`) + np('allow-1000', 'prod', `order: 1000\nselector: all()\ningress:\n- action: Allow`),
    checks: [tcp80(ALL)],
  },
  {
    name: 'rules of one policy apply in order (Deny TCP 80, then Allow)',
    manifests: () => np('ordered-rules', 'prod', `selector: all()\ningress:\n- action: Deny\n  protocol: TCP\n  destination: {ports: [80]}\n- action: Allow`),
    checks: [tcp80(minus(ALL, intoProd)), tcp(8080, ALL), icmp(ALL)],
  },
  {
    name: 'Pass skips the remaining policies and goes on to the profiles',
    manifests: () =>
      gnp('pass-dev', `order: 1\nselector: all()\ningress:\n- action: Pass\n  source: {namespaceSelector: env == 'dev'}`) +
      np('deny-prod', 'prod', `order: 100\nselector: all()\ntypes: [Ingress]`),
    // prod endpoints: dev sources pass to the profile, prod sources hit the deny.
    // dev endpoints: the global policy selects them too, so only what it passes gets through.
    checks: [tcp80(pairs('b>a d>a b>c d>c b>d d>b')), icmp(pairs('b>a d>a b>c d>c b>d d>b'))],
  },
  {
    name: 'profile rules apply when no policy selects the endpoint',
    ownProfiles: true,
    manifests: () => `apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: kns.prod}
spec:
  labelsToApply: {pcns.env: prod, pcns.projectcalico.org/name: prod}
  ingress:
  - action: Allow
    source: {selector: projectcalico.org/namespace == 'prod'}
  egress:
  - action: Allow
---
apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: kns.dev}
spec:
  labelsToApply: {pcns.env: dev, pcns.projectcalico.org/name: dev}
  ingress: [{action: Allow}]
  egress: [{action: Allow}]
`,
    checks: [tcp80(minus(ALL, pairs('b>a d>a b>c d>c'))), icmp(minus(ALL, pairs('b>a d>a b>c d>c')))],
    outside: [{ from: 'out', to: 'a', protocol: 'tcp', port: 80, allowed: false }],
  },
  {
    name: 'Log logs and does not decide: the next rule does',
    manifests: () => np('log-then-80', 'prod', `selector: all()\ningress:\n- action: Log\n  protocol: TCP\n- action: Allow\n  protocol: TCP\n  destination: {ports: [80]}`),
    checks: [tcp80(ALL), tcp(8080, minus(ALL, intoProd))],
  },
  {
    name: 'egress only to an outside CIDR',
    manifests: (ip) => np('egress-out', 'prod', `selector: all()\ntypes: [Egress]\negress:\n- action: Allow\n  destination: {nets: ['${ip('out')}/32']}`),
    checks: [tcp80(minus(ALL, from('a', 'c'))), udp(minus(ALL, from('a', 'c')))],
    outside: [
      { from: 'a', to: 'out', protocol: 'tcp', port: 80, allowed: true },
      { from: 'c', to: 'out', protocol: 'udp', port: 8081, allowed: true },
      { from: 'c', to: 'out', protocol: 'icmp', allowed: true },
    ],
  },
  {
    name: 'egress anywhere but the cluster (nets 0.0.0.0/0 with notNets)',
    manifests: () => np('egress-world', 'prod', `selector: all()\ntypes: [Egress]\negress:\n- action: Allow\n  destination: {nets: [0.0.0.0/0], notNets: [10.65.0.0/16]}`),
    checks: [tcp80(minus(ALL, from('a', 'c'))), icmp(minus(ALL, from('a', 'c')))],
    outside: [{ from: 'a', to: 'out', protocol: 'tcp', port: 8080, allowed: true }],
  },
  {
    name: 'ingress from outside denied by CIDR, the cluster allowed',
    manifests: () => gnp('no-outside', `selector: all()\ningress:\n- action: Deny\n  source: {nets: [172.31.0.0/24]}\n- action: Allow`),
    checks: [tcp80(ALL)],
    outside: [
      { from: 'out', to: 'a', protocol: 'tcp', port: 80, allowed: false },
      { from: 'out', to: 'd', protocol: 'icmp', allowed: false },
      { from: 'b', to: 'out', protocol: 'tcp', port: 80, allowed: true },
    ],
  },
  {
    name: 'egress to a label: only that label in the own namespace',
    manifests: () => np('to-db', 'prod', `selector: all()\ntypes: [Egress]\negress:\n- action: Allow\n  destination: {selector: app == 'db'}`),
    checks: [tcp80(plus(minus(ALL, from('a', 'c')), pairs('a>c')))],
  },
  {
    name: 'GlobalNetworkPolicy namespaceSelector: policy for every endpoint of matching namespaces',
    manifests: () => gnp('dev-closed', `namespaceSelector: env == 'dev'\ntypes: [Ingress]`),
    checks: [tcp80(minus(ALL, into('b', 'd'))), udp(minus(ALL, into('b', 'd')))],
  },
  {
    name: 'several policies select an endpoint: their allows add up',
    manifests: (ip) =>
      np('allow-a', 'prod', `selector: app == 'db'\ningress:\n- action: Allow\n  source: {nets: ['${ip('a')}/32']}`) +
      np('allow-d', 'prod', `selector: app == 'db'\ningress:\n- action: Allow\n  source: {nets: ['${ip('d')}/32']}`),
    checks: [tcp80(minus(ALL, pairs('b>c')))],
  },
  {
    name: 'notSelector in a namespaced policy: the own namespace minus a label',
    manifests: () => np('not-web', 'prod', `selector: app == 'db'\ningress:\n- action: Allow\n  source: {notSelector: app == 'web'}`),
    checks: [tcp80(minus(ALL, into('c')))],
    outside: [{ from: 'out', to: 'c', protocol: 'tcp', port: 80, allowed: false }],
  },
  {
    name: 'notSelector in a global policy: everything but a label, the outside included',
    manifests: () => gnp('not-web', `selector: app == 'db'\ningress:\n- action: Allow\n  source: {notSelector: app == 'web'}`),
    checks: [tcp80(minus(ALL, pairs('a>b a>c d>b d>c')))],
    outside: [{ from: 'out', to: 'c', protocol: 'tcp', port: 80, allowed: true }],
  },
  {
    name: 'deny egress to one UDP port, allow the rest',
    manifests: () => np('no-udp-8081', 'prod', `selector: all()\negress:\n- action: Deny\n  protocol: UDP\n  destination: {ports: [8081]}\n- action: Allow`),
    checks: [udp(minus(ALL, from('a', 'c'))), tcp80(ALL)],
  },
  {
    name: 'set operators: tier in {front, back}',
    manifests: () => np('from-tiers', 'prod', `selector: app == 'db'\ningress:\n- action: Allow\n  source: {selector: "tier in {'front', 'back'}"}`),
    checks: [tcp80(minus(ALL, pairs('b>c d>c')))],
  },
  {
    name: 'types decide the directions: ingress rules of an Egress-only policy are ignored',
    manifests: () => np('egress-only', 'prod', `selector: all()\ntypes: [Egress]\ningress:\n- action: Deny\negress:\n- action: Allow`),
    checks: [tcp80(ALL), icmp(ALL)],
  },
  {
    name: 'types derived from the rules: egress rules only means an Egress policy (ingress stays open)',
    manifests: () => np('derived-egress', 'dev', `selector: all()\negress:\n- action: Deny\n  protocol: TCP\n- action: Allow\n  protocol: UDP`),
    checks: [tcp80(minus(ALL, from('b', 'd'))), udp(ALL), icmp(minus(ALL, from('b', 'd')))],
  },
];

describe('policy conformance with real traffic (2 hosts, 4 workloads, 2 namespaces)', function () {
  this.timeout(120_000);
  const pl = new PolicyLab();

  before(async function () {
    this.timeout(120_000);
    await pl.setUp();
  });

  after(async () => {
    await pl.tearDown();
  });

  it(`has at least 30 scenarios (${SCENARIOS.length})`, () => {
    assert.ok(SCENARIOS.length >= 30);
  });

  for (const s of SCENARIOS) {
    it(s.name, async () => {
      const extra = parse(s.manifests((w) => pl.ip(w)));
      const base = s.ownProfiles ? pl.workloadEndpoints() : pl.baseResources;
      await pl.apply([...base, ...extra]);
      for (const c of s.checks) await pl.checkMatrix(c);
      for (const o of s.outside ?? []) await pl.checkOutside(o);
    });
  }

  it('Log: the LOG rule counts the packets it saw', async () => {
    const extra = parse(np('log-all', 'prod', `selector: all()\ningress:\n- action: Log\n- action: Allow`));
    await pl.apply([...pl.baseResources, ...extra]);
    await pl.checkMatrix(tcp80(ALL));
    const save = await runOk('iptables-nft-save', ['-c', '-t', 'filter'], { ns: pl.lab.host('h2').netns });
    const line = save.split('\n').find((l) => l.includes('-A tabby-pi-prod_log-all') && l.includes('-j LOG'));
    assert.ok(line, `LOG rule in:\n${save}`);
    const m = /^\[(\d+):\d+\]/.exec(line!);
    assert.ok(m && Number(m[1]) >= 3, `LOG rule counted ${m?.[1]} packets: ${line}`);
  });

  it('a label change moves a workload into an allowed set: only ipset members change, no chain is rewritten', async () => {
    const policy = parse(np('db-from-clients', 'prod', `selector: app == 'db'\ningress:\n- action: Allow\n  source: {namespaceSelector: all(), selector: role == 'client'}`));
    await pl.apply([...pl.baseResources, ...policy]);
    await pl.checkMatrix(tcp80(minus(ALL, into('c'))));
    const before = pl.current;
    const relabelled = [...pl.workloadEndpoints({ d: { app: 'web', role: 'client' } }), ...pl.namespaceProfiles(), ...policy];
    for (const h of ['h1', 'h2']) {
      const d = diffRulesets(compilePolicy(before, { nodeName: h }), compilePolicy(relabelled, { nodeName: h }));
      assert.deepEqual([d.chainsAdded, d.chainsRemoved, d.chainsChanged, d.setsAdded, d.setsRemoved], [[], [], [], [], []], h);
    }
    await pl.apply(relabelled);
    const r2 = pl.lastReports.get('h2')!;
    assert.deepEqual(r2.chainsSet, [], 'no chain handed to the driver');
    assert.equal(r2.iptables.restoreRan, false, 'no iptables-restore at all');
    assert.equal(r2.setsSet.length, 1);
    assert.deepEqual(r2.ipsetUpdate.changes.map((c) => [c.kind, c.added, c.removed]), [['incremental', 1, 0]]);
    await pl.checkMatrix(tcp80(minus(ALL, pairs('a>c b>c'))));
  });

  it('a policy applied after connections exist: established flows go on, new ones are denied', async () => {
    await pl.apply(pl.baseResources);
    const server = pl.lab.startProcess(pl.netns('c'), 'hold-server', process.execPath, [TOOLS, 'hold-server', '9100']);
    await waitFor('hold server', () => server.logTail(3).includes('ready'), { timeoutMs: 10_000 });
    const client = pl.lab.startProcess(pl.netns('a'), 'hold-client', process.execPath, [TOOLS, 'hold-client', pl.ip('c'), '9100']);
    const replies = () => client.logTail(100_000).split('\n').filter((l) => l.startsWith('reply')).length;
    try {
      await waitFor('replies before the policy', () => replies() >= 3, { timeoutMs: 10_000 });
      await pl.apply([...pl.baseResources, ...parse(np('lockdown', 'prod', `selector: all()\ntypes: [Ingress, Egress]`))], { keepConntrack: true });
      const n0 = replies();
      await waitFor('replies after the policy', () => replies() >= n0 + 5, { timeoutMs: 10_000 });
      assert.ok(!client.logTail(5).includes('closed'), 'the established connection survived');
      // New connections, same pair and same port: denied.
      const fresh = await pl.probe('a', 'c', 'tcp', 80);
      assert.equal(fresh.ok, false, 'a new connection is denied');
      await pl.checkMatrix(tcp80(minus(ALL, into('a', 'c'), from('a', 'c'))));
    } finally {
      await client.stop(2000);
      await server.stop(2000);
    }
  });

  it('host endpoint: default deny to the host, failsafe ports stay open whatever the policy, forwarded traffic unaffected', async () => {
    const h2 = pl.lab.host('h2');
    const srv = pl.lab.startProcess(h2.netns, 'echo-h2', process.execPath, [new URL('../../../src/lab/echo-server.js', import.meta.url).pathname, 'h2', '--tcp', '22,179,7777', '--udp', '']);
    await waitFor('echo server on h2', () => srv.logTail(3).includes('ready h2'), { timeoutMs: 10_000 });
    const hep = parse(`apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h2-eth0, labels: {role: node}}
spec: {node: h2, interfaceName: eth0, expectedIPs: ['${h2.address}']}
`);
    const toHost = (port: number) => tcpProbe(pl.out.netns, h2.address, port, { timeoutMs: 1000 });
    try {
      await pl.apply([...pl.baseResources]);
      assert.equal((await toHost(7777)).ok, true, 'no host endpoint: host reachable');
      await pl.apply([...pl.baseResources, ...hep]);
      assert.equal((await toHost(7777)).ok, false, 'host endpoint without policy or profile: default deny');
      assert.equal((await toHost(22)).ok, true, 'failsafe SSH');
      assert.equal((await toHost(179)).ok, true, 'failsafe BGP');
      await pl.checkMatrix(tcp80(ALL)); // forwarded workload traffic is not host-endpoint policy's business
      const closeAll = parse(gnp('close-host', `selector: role == 'node'\ntypes: [Ingress, Egress]\ningress:\n- action: Deny`));
      await pl.apply([...pl.baseResources, ...hep, ...closeAll]);
      assert.equal((await toHost(22)).ok, true, 'failsafe SSH survives a deny-all policy');
      assert.equal((await toHost(179)).ok, true, 'failsafe BGP survives a deny-all policy');
      assert.equal((await toHost(7777)).ok, false);
      const open7777 = parse(gnp('open-7777', `order: 1\nselector: role == 'node'\ningress:\n- action: Allow\n  protocol: TCP\n  destination: {ports: [7777]}`));
      await pl.apply([...pl.baseResources, ...hep, ...closeAll, ...open7777]);
      assert.equal((await toHost(7777)).ok, true, 'policy opens a port on the host');
    } finally {
      await pl.apply([...pl.baseResources]);
      await srv.stop(2000);
    }
  });

  it('no window: while one deny policy replaces another, no packet that neither allows gets through', async function () {
    this.timeout(90_000);
    const cNs = pl.netns('c');
    // Count what reaches c, per destination port, in c's own namespace.
    for (const port of [7001, 7002, 7003]) await runOk('iptables-nft', ['-A', 'INPUT', '-p', 'udp', '--dport', String(port), '-j', 'ACCEPT'], { ns: cNs });
    const counts = async () => {
      const save = await runOk('iptables-nft-save', ['-c', '-t', 'filter'], { ns: cNs });
      const out: Record<number, number> = {};
      for (const port of [7001, 7002, 7003]) {
        const line = save.split('\n').find((l) => l.includes(`--dport ${port} `));
        out[port] = Number(/^\[(\d+):/.exec(line ?? '')?.[1] ?? NaN);
      }
      return out;
    };
    // A denies 7001 and 7003, B denies 7002 and 7003; each allows the rest.
    // A and B use different selector ipsets, so sets are created and destroyed on every swap too.
    const policyA = (name: string) => np(name, 'prod', `selector: app == 'db'\ningress:\n- action: Deny\n  protocol: UDP\n  source: {selector: app == 'web'}\n  destination: {ports: [7001, 7003]}\n- action: Deny\n  protocol: UDP\n  destination: {ports: [7003]}\n- action: Allow`);
    const policyB = (name: string) => np(name, 'prod', `selector: app == 'db'\ningress:\n- action: Deny\n  protocol: UDP\n  source: {selector: tier == 'front'}\n  destination: {ports: [7002, 7003]}\n- action: Deny\n  protocol: UDP\n  destination: {ports: [7003]}\n- action: Allow`);
    const versions = [
      parse(policyA('swap')), // the same policy updated in place
      parse(policyB('swap')),
      parse(policyA('swap-a')), // one policy deleted and another created in the same apply
      parse(policyB('swap-b')),
    ];
    try {
      await pl.apply([...pl.baseResources, ...versions[0]!]);
      const before = await counts();
      const gen = pl.lab.startProcess(pl.netns('a'), 'udp-gen', process.execPath, [TOOLS, 'udp-gen', pl.ip('c'), '7001,7002,7003', '8000']);
      let swaps = 0;
      const deadline = Date.now() + 7000;
      while (Date.now() < deadline && gen.alive) {
        const v = versions[(swaps + 1) % versions.length]!;
        await pl.apply([...pl.baseResources, ...v], { keepConntrack: true });
        swaps++;
        await new Promise((r) => setTimeout(r, 150));
      }
      await waitFor('generator done', () => gen.logTail(3).includes('sent'), { timeoutMs: 20_000 });
      const sent = Number(/sent (\d+)/.exec(gen.logTail(3))?.[1]);
      const after = await counts();
      const got = (p: number) => after[p]! - before[p]!;
      assert.ok(swaps >= 10, `only ${swaps} swaps`);
      assert.ok(sent > 1000, `generator sent only ${sent}`);
      assert.equal(got(7003), 0, `${got(7003)} packets to a port neither policy allows got through (sent ${sent}, ${swaps} swaps)`);
      assert.ok(got(7001) > 0 && got(7002) > 0, `both policies were in force at some time: 7001 ${got(7001)}, 7002 ${got(7002)}`);
    } finally {
      await runOk('iptables-nft', ['-F', 'INPUT'], { ns: cNs });
      await pl.apply(pl.baseResources);
    }
  });

  it('namespace labels come from the namespace profile: relabelling a namespace changes ipsets only', async () => {
    const policy = parse(np('from-blue', 'prod', `selector: app == 'db'\ningress:\n- action: Allow\n  source: {namespaceSelector: team == 'blue'}`));
    await pl.apply([...pl.baseResources, ...policy]);
    await pl.checkMatrix(tcp80(minus(ALL, pairs('b>c d>c'))));
    const profiles: Resource[] = [namespaceProfile('prod', { env: 'prod', team: 'blue' }), namespaceProfile('dev', { env: 'dev', team: 'blue' })];
    await pl.apply([...pl.workloadEndpoints(), ...profiles, ...policy]);
    assert.deepEqual(pl.lastReports.get('h2')!.chainsSet, []);
    await pl.checkMatrix(tcp80(ALL));
  });
});
