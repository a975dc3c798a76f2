/**
 * explainFlow: the policy and rule that decide a flow, read off a walk of
 * the compiled chains (the same ones the kernel gets).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'mocha';
import { parseResources, type Resource } from '../../../../src/datastore/resources/index.js';
import { compilePolicy, ExplainError, explainFlow, formatExplanation, Simulator, type Decision } from '../../../../src/policy/index.js';

const MANIFEST = `
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {namespace: prod, labels: {app: web}}
spec: {orchestrator: k8s, node: h1, pod: a, endpoint: eth0, ipNetworks: [10.65.1.1/32], profiles: [kns.prod], interfaceName: cali00000000001}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {namespace: dev, labels: {app: db}}
spec: {orchestrator: k8s, node: h1, pod: b, endpoint: eth0, ipNetworks: [10.65.1.2/32], profiles: [kns.dev], interfaceName: cali00000000002}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {namespace: prod, labels: {app: db}}
spec:
  orchestrator: k8s
  node: h2
  pod: c
  endpoint: eth0
  ipNetworks: [10.65.2.1/32]
  profiles: [kns.prod]
  interfaceName: cali00000000003
  ports: [{name: http, protocol: TCP, port: 8080}]
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {namespace: dev, labels: {app: tool}}
spec: {orchestrator: k8s, node: h2, pod: e, endpoint: eth0, ipNetworks: [10.65.2.2/32], interfaceName: cali00000000004}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {namespace: prod, labels: {app: x}}
spec: {orchestrator: k8s, node: h2, pod: x, endpoint: eth0, ipNetworks: [10.65.2.3/32], profiles: [kns.prod], interfaceName: cali00000000005}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {namespace: dev, labels: {app: x}}
spec: {orchestrator: k8s, node: h2, pod: x, endpoint: eth0, ipNetworks: [10.65.2.4/32], profiles: [kns.dev], interfaceName: cali00000000006}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  order: 10
  selector: app == 'db'
  ingress:
  - action: Deny
    protocol: TCP
    destination: {ports: [22]}
  - action: Allow
    protocol: TCP
    source: {selector: app == 'web'}
    destination: {ports: [5432, http]}
  - action: Log
    protocol: TCP
  - action: Allow
    protocol: UDP
    destination: {notPorts: [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 35, 37, 39]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: pass-from-h2}
spec:
  order: 1
  namespaceSelector: projectcalico.org/name == 'dev'
  selector: app == 'db'
  ingress:
  - action: Pass
    source: {nets: [10.65.2.0/24]}
`;

function resources(): Resource[] {
  const r = parseResources(MANIFEST, 'explain.yaml');
  assert.deepEqual(r.problems, []);
  return r.resources;
}

const RES = resources();
const ex = (from: string, to: string, protocol: 'tcp' | 'udp' | 'icmp', port?: number) =>
  explainFlow(RES, { from, to, protocol, ...(port !== undefined ? { port } : {}) });

function decision(d: Decision): string {
  switch (d.kind) {
    case 'rule':
      return `${d.owner.kind === 'NetworkPolicy' ? `${d.owner.namespace}/` : ''}${d.owner.name}#${d.index}:${d.action}`;
    case 'end-of-tier':
      return `end-of-tier(${d.policies.map((p) => p.name).join(',')})`;
    case 'no-profile-matched':
      return `no-profile(${d.profiles.join(',')})`;
    default:
      return d.kind;
  }
}

describe('policy explain', () => {
  it('names the profile rule of the source egress and the policy rule of the destination ingress', () => {
    const x = ex('prod/a', 'prod/c', 'tcp', 5432);
    assert.equal(x.allowed, true);
    assert.deepEqual(
      x.hops.map((h) => [h.node, h.direction, h.endpoint, h.allowed, decision(h.decision)]),
      [
        ['h1', 'egress', 'prod/a', true, 'kns.prod#0:Allow'],
        ['h2', 'ingress', 'prod/c', true, 'prod/db#1:Allow'],
      ],
    );
    assert.equal(x.hops[1]!.chain, 'tabby-pi-prod_db');
  });

  it('a Deny rule', () => {
    const x = ex('a', 'c', 'tcp', 22);
    assert.equal(x.allowed, false);
    assert.equal(decision(x.hops[1]!.decision), 'prod/db#0:Deny');
  });

  it('default deny at the end of the tier, with the Log rule that saw the packet', () => {
    const x = ex('a', 'c', 'tcp', 80);
    assert.equal(x.allowed, false);
    assert.equal(decision(x.hops[1]!.decision), 'end-of-tier(db)');
    assert.deepEqual(x.hops[1]!.logged.map((l) => l.index), [2]);
    assert.match(formatExplanation(x), /DENIED[\s\S]*NetworkPolicy prod\/db selects the endpoint and no rule allowed or passed the packet[\s\S]*logged by NetworkPolicy prod\/db, ingress rule 2 \(Log\)/);
  });

  it('a named port resolves to the endpoint port of that name', () => {
    assert.equal(ex('a', 'c', 'tcp', 8080).allowed, true);
    assert.equal(ex('a', 'c', 'tcp', 8081).allowed, false);
  });

  it('a negated port list longer than one multiport match (scratch mark)', () => {
    for (const p of [1, 21, 39]) assert.equal(ex('a', 'c', 'udp', p).allowed, false, `udp ${p} is excluded`);
    for (const p of [2, 22, 40, 53]) assert.equal(ex('a', 'c', 'udp', p).allowed, true, `udp ${p} is not excluded`);
    assert.equal(decision(ex('a', 'c', 'udp', 2).hops[1]!.decision), 'prod/db#3:Allow');
  });

  it('Pass: the decision comes from the profile and the passing policy is named', () => {
    const x = ex('prod/c', 'dev/b', 'tcp', 9999);
    assert.equal(x.allowed, true);
    const h = x.hops.find((y) => y.endpoint === 'dev/b')!;
    assert.equal(decision(h.decision), 'kns.dev#0:Allow');
    assert.deepEqual(h.passedBy.map((p) => p.name), ['pass-from-h2']);
    // From h1 the global policy selects b but does not pass: end of tier.
    assert.equal(decision(ex('prod/a', 'dev/b', 'tcp', 9999).hops.at(-1)!.decision), 'end-of-tier(pass-from-h2)');
  });

  it('an endpoint without profiles and without policy denies', () => {
    const x = ex('dev/e', 'prod/a', 'icmp');
    assert.equal(x.allowed, false);
    assert.deepEqual(x.hops.map((h) => decision(h.decision)), ['no-profile()']);
    assert.match(formatExplanation(x), /no policy applies and the endpoint has no profile/);
  });

  it('same-host flows cross one node, outside addresses only the workload side', () => {
    assert.deepEqual(ex('prod/a', 'dev/b', 'icmp').hops.map((h) => [h.node, h.direction]), [['h1', 'egress'], ['h1', 'ingress']]);
    const inbound = ex('192.0.2.10', 'prod/c', 'tcp', 5432);
    assert.deepEqual(inbound.hops.map((h) => [h.node, h.direction, decision(h.decision)]), [['h2', 'ingress', 'end-of-tier(db)']]);
    assert.equal(inbound.from.kind, 'address');
    const outbound = ex('prod/c', '192.0.2.10', 'udp', 53);
    assert.deepEqual(outbound.hops.map((h) => [h.node, h.direction, decision(h.decision)]), [['h2', 'egress', 'kns.prod#0:Allow']]);
    assert.match(formatExplanation(outbound), /^udp\/53 from prod\/c \(10\.65\.2\.1, node h2\) to 192\.0\.2\.10 \(outside the cluster\): ALLOWED/);
  });

  it('an address that belongs to an endpoint is that endpoint', () => {
    assert.equal(ex('10.65.1.1', '10.65.2.1', 'tcp', 22).to.name, 'prod/c');
  });

  it('errors name the problem', () => {
    assert.throws(() => ex('nobody', 'c', 'tcp', 1), (e: unknown) => e instanceof ExplainError && /no workload or host endpoint/.test(e.message));
    assert.throws(() => ex('x', 'c', 'tcp', 1), (e: unknown) => e instanceof ExplainError && /ambiguous: dev\/x, prod\/x/.test(e.message));
    assert.throws(() => ex('a', 'c', 'tcp'), (e: unknown) => e instanceof ExplainError && /--port is required/.test(e.message));
    assert.throws(() => ex('a', 'c', 'tcp', 70000), (e: unknown) => e instanceof ExplainError && /--port 70000/.test(e.message));
    assert.throws(() => explainFlow(RES, { from: 'a', to: 'c', protocol: 'gre' as never, port: 1 }), (e: unknown) => e instanceof ExplainError && /must be tcp, udp, sctp or icmp/.test(e.message));
    assert.equal(explainFlow(RES, { from: 'a', to: 'c', protocol: 'TCP' as never, port: 5432 }).allowed, true, 'protocol names are case-insensitive');
    assert.throws(() => ex('192.0.2.1', '192.0.2.2', 'icmp'), (e: unknown) => e instanceof ExplainError && /no tabby policy applies/.test(e.message));
  });

  it('the simulator fails closed on a workload interface tabby does not know', () => {
    const rs = compilePolicy(RES, { nodeName: 'h1' });
    const sim = new Simulator(rs, []);
    const r = sim.run('FORWARD', { src: '10.65.1.9', dst: '10.65.2.1', protocol: 'tcp', srcPort: 1, dstPort: 80, inIface: 'califfffffffff', outIface: 'eth0' });
    assert.equal(r.verdict, 'drop');
    assert.equal(r.trace.at(-1)!.origin?.kind, 'unknown-interface');
    // Established traffic is accepted before any policy.
    assert.equal(sim.run('FORWARD', { src: '10.65.1.9', dst: '10.65.2.1', protocol: 'tcp', srcPort: 1, dstPort: 80, inIface: 'califfffffffff', ctState: 'ESTABLISHED' }).verdict, 'accept');
    // Traffic that touches no workload interface is not tabby's: it falls through.
    assert.equal(sim.run('FORWARD', { src: '172.31.0.9', dst: '172.31.0.8', protocol: 'udp', srcPort: 1, dstPort: 53, inIface: 'eth0', outIface: 'eth1' }).verdict, 'return');
  });

  it('host endpoints: failsafe, profile, policy, and applyOnForward policies on forwarded traffic', () => {
    const text = readFileSync(new URL('../../../../../test/unit/policy/compiler/golden/hostendpoint.yaml', import.meta.url), 'utf8');
    const r = parseResources(text, 'hostendpoint.yaml');
    assert.deepEqual(r.problems, []);
    const hx = (from: string, to: string, port: number) => explainFlow(r.resources, { from, to, protocol: 'tcp', port });
    const d = (x: ReturnType<typeof hx>) => x.hops.map((h) => `${h.endpoint}:${h.direction}:${decision(h.decision)}`);
    assert.deepEqual(d(hx('198.51.100.7', 'n1-eth0', 22)), ['n1-eth0:ingress:failsafe']);
    assert.deepEqual(d(hx('198.51.100.7', 'n1-eth0', 80)), ['n1-eth0:ingress:forward-guard#0:Deny']);
    assert.deepEqual(d(hx('203.0.113.1', 'n1-eth0', 443)), ['n1-eth0:ingress:forward-guard#1:Allow']);
    assert.deepEqual(d(hx('192.168.10.5', 'n1-eth0', 8443)), ['n1-eth0:ingress:node-ssh-from-admin#0:Allow']);
    // Forwarded to a workload: the host endpoint's applyOnForward policy, then the workload's ingress.
    assert.deepEqual(d(hx('198.51.100.7', 'default/api', 80)), ['n1-eth0:ingress:forward-guard#0:Deny']);
    assert.deepEqual(d(hx('203.0.113.1', 'default/api', 80)), ['n1-eth0:ingress:forward-guard#1:Allow', 'default/api:ingress:kns.default#0:Allow']);
    // Out of the host: the profile's egress rule.
    assert.deepEqual(d(hx('n1-eth0', '203.0.113.1', 80)), ['n1-eth0:egress:host-default#0:Allow']);
  });
});
