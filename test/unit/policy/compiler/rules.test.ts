/**
 * Rule translation details and the compiler's handling of odd input.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { parseResources, type Resource, type Rule as CalicoRule } from '../../../../src/datastore/resources/index.js';
import { renderRuleBody } from '../../../../src/felix/iptables/render.js';
import { chunkPorts, compilePolicy, compileRule, explainFlow, formatRuleset, iptablesProtocol, ruleAppliesTo, type RuleContext } from '../../../../src/policy/index.js';

function parse(text: string): Resource[] {
  const r = parseResources(text, 't.yaml');
  assert.deepEqual(r.problems, []);
  return r.resources;
}

const CTX: RuleContext = {
  owner: { kind: 'GlobalNetworkPolicy', name: 'g' },
  direction: 'ingress',
  index: 0,
  policyNamespace: undefined,
  ipVersion: 4,
  logPrefix: 'tabby-packet: ',
};
const rule = (r: Partial<CalicoRule>): CalicoRule => ({ action: 'Allow', source: {}, destination: {}, ...r });
const rendered = (r: CalicoRule, ctx = CTX) => compileRule(r, ctx)!.rules.map((x) => renderRuleBody(x, ctx.ipVersion));

const WEP = `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {namespace: ns, labels: {app: a}}
spec: {orchestrator: k8s, node: n1, pod: a, endpoint: eth0, ipNetworks: [10.65.1.1/32], profiles: [kns.ns], interfaceName: cali0000000000a, ports: [{name: web, protocol: TCP, port: 80}, {name: dns, protocol: UDP, port: 53}]}
---
`;

describe('policy rules', () => {
  it('chunks port lists into multiport-sized pieces (a range takes two slots)', () => {
    const ports = Array.from({ length: 20 }, (_, i) => i + 1);
    assert.deepEqual(chunkPorts(ports).map((c) => c.length), [15, 5]);
    assert.deepEqual(chunkPorts([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], 15, [16, 17]]), [
      [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], 15],
      [[16, 17]],
    ]);
    assert.deepEqual(chunkPorts([[5, 5]]), [[5]]);
  });

  it('maps Calico protocols, numbers of well-known ones by name', () => {
    assert.deepEqual(['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite', 6, 17, 47].map((p) => iptablesProtocol(p as never)), ['tcp', 'udp', 'icmp', 'ipv6-icmp', 'sctp', 'udplite', 'tcp', 'udp', 47]);
  });

  it('leaves a rule out of the other family: ipVersion, ICMP flavour, CIDRs', () => {
    assert.equal(ruleAppliesTo(rule({ ipVersion: 6 }), 4), false);
    assert.equal(ruleAppliesTo(rule({ protocol: 'ICMPv6' }), 4), false);
    assert.equal(ruleAppliesTo(rule({ protocol: 'ICMP' }), 6), false);
    assert.equal(ruleAppliesTo(rule({ source: { notNets: ['fd00::/8'] } }), 4), false);
    assert.equal(ruleAppliesTo(rule({ destination: { nets: ['10.0.0.0/8'] } }), 4), true);
    assert.equal(ruleAppliesTo(rule({}), 6), true);
  });

  it('Allow marks and returns, Pass marks PASS and returns, Deny drops, Log logs and goes on', () => {
    assert.deepEqual(rendered(rule({ action: 'Allow' })), ['-j MARK --set-xmark 0x10000/0x10000', '-m mark --mark 0x10000/0x10000 -j RETURN']);
    assert.deepEqual(rendered(rule({ action: 'Pass' })), ['-j MARK --set-xmark 0x20000/0x20000', '-m mark --mark 0x20000/0x20000 -j RETURN']);
    assert.deepEqual(rendered(rule({ action: 'Deny', protocol: 'TCP' })), ['-p tcp -j DROP']);
    assert.deepEqual(rendered(rule({ action: 'Log' })), ['-j LOG --log-prefix "tabby-packet: "']);
  });

  it('numeric and named ports of one list become alternative rules; named notPorts are negated set matches', () => {
    const c = compileRule(rule({ action: 'Deny', protocol: 'TCP', destination: { ports: [80, 'web'], notPorts: ['dns'] } }), CTX)!;
    const text = c.rules.map((r) => renderRuleBody(r));
    assert.equal(text.length, 2);
    assert.match(text[0]!, /^-p tcp -m set ! --match-set tabby-p-\S+ dst,dst -m multiport --dports 80 -j DROP$/);
    assert.match(text[1]!, /^-p tcp -m set ! --match-set tabby-p-\S+ dst,dst -m set --match-set tabby-p-\S+ dst,dst -j DROP$/);
    assert.deepEqual(c.sets.map((s) => [s.kind, s.kind === 'named-port' ? `${s.protocol}/${s.port}` : '']).sort(), [['named-port', 'tcp/dns'], ['named-port', 'tcp/web']]);
  });

  it('named port sets hold address,protocol:port of endpoints whose port has that name and protocol', () => {
    const res = parse(WEP + `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: g}
spec:
  ingress:
  - action: Allow
    destination: {ports: [web, dns]}
`);
    const sets = compilePolicy(res, { nodeName: 'n1' }).ipsets.filter((s) => s.type === 'hash:ip,port');
    assert.deepEqual(sets.map((s) => s.members).sort(), [['10.65.1.1,tcp:80'], ['10.65.1.1,udp:53']]);
    assert.equal(explainFlow(res, { from: '192.0.2.1', to: 'ns/a', protocol: 'udp', port: 53 }).allowed, true);
    assert.equal(explainFlow(res, { from: '192.0.2.1', to: 'ns/a', protocol: 'tcp', port: 53 }).allowed, false);
  });

  it('a rule the kernel cannot express fails closed: its policy drops there, with a warning, and the rest still compiles', () => {
    const res = parse(WEP + `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: bad}
spec:
  ingress:
  - action: Deny
    notICMP: {type: 8}
  - action: Allow
`);
    const rs = compilePolicy(res, { nodeName: 'n1' });
    assert.equal(rs.warnings.length, 1);
    assert.match(rs.warnings[0]!, /GlobalNetworkPolicy bad ingress rule 0: .*icmp.*traffic reaching it is dropped/i);
    assert.match(formatRuleset(rs), /-A tabby-pi-bad -j DROP {2}# GlobalNetworkPolicy bad ingress rule 0 \(Deny\)/);
    assert.equal(explainFlow(res, { from: '192.0.2.1', to: 'a', protocol: 'tcp', port: 1 }).allowed, false);
  });

  it('endpoints tabby cannot police are reported, never silently dropped', () => {
    const res = parse(`apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {namespace: ns}
spec: {orchestrator: k8s, node: n1, pod: odd, endpoint: eth0, ipNetworks: [10.65.1.2/32], interfaceName: veth123}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: by-ip}
spec: {node: n1, expectedIPs: [172.31.0.1]}
`);
    const w = compilePolicy(res, { nodeName: 'n1' }).warnings;
    assert.equal(w.length, 2);
    assert.match(w.join('\n'), /ns\/odd: interface veth123 does not start with cali/);
    assert.match(w.join('\n'), /HostEndpoint by-ip: no interfaceName/);
  });

  it('an all-interfaces host endpoint skips loopback and workload interfaces', () => {
    const res = parse(`apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: all}
spec: {node: n1, interfaceName: '*'}
`);
    const text = formatRuleset(compilePolicy(res, { nodeName: 'n1' }));
    assert.match(text, /-A tabby-from-hep-dispatch -i lo -j RETURN\n-A tabby-from-hep-dispatch -i cali\+ -j RETURN\n-A tabby-from-hep-dispatch -g tabby-fh-all-ifaces\n/);
    assert.match(text, /-A tabby-to-hep-dispatch -o lo -j RETURN\n/);
  });
});
