/** Building blocks: addresses, durations, selectors, ports, protocols, AS numbers, names. */
import assert from 'node:assert/strict';
import { z } from 'zod';
import { asNumber, protocol, qualifiedNameProblem, portNameProblem, rulePort } from '../../../../src/datastore/resources/fields.js';
import { checkSelectorSyntax, ip, parseGoDuration, parsePeerIP, parseRulePort, workloadEndpointName } from '../../../../src/datastore/resources/index.js';

const ok = <S extends z.ZodType>(s: S, v: unknown) => {
  const r = s.safeParse(v);
  assert.ok(r.success, `${JSON.stringify(v)}: ${r.success ? '' : r.error.issues[0]?.message}`);
  return r.data;
};
const bad = (s: z.ZodType, v: unknown) => {
  const r = s.safeParse(v);
  assert.ok(!r.success, `${JSON.stringify(v)} should be rejected`);
  return r.error.issues[0]!.message;
};

describe('resource field validators', () => {
  it('IPv6 text is read per RFC 4291 and written per RFC 5952', () => {
    const cases: [string, string][] = [
      ['fd00:0:0:0:0:0:0:1', 'fd00::1'],
      ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['::', '::'],
      ['::ffff:10.1.2.3', '::ffff:a01:203'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ];
    for (const [text, canonical] of cases) assert.equal(ip.formatIp(ip.parseIp(text)!), canonical, text);
    assert.equal(ip.parseIp('fe80::1%eth0'), undefined);
    assert.equal(ip.parseIp('10.0.0.256'), undefined);
    assert.equal(ip.parseIp('010.0.0.1'), undefined);
  });

  it('CIDRs: masking, containment, overlap', () => {
    const n = ip.parseCidr('10.65.3.7/16')!;
    assert.equal(ip.isStrictlyMasked(n), false);
    assert.equal(ip.canonicalNetwork(n), '10.65.0.0/16');
    assert.equal(ip.parseCidr('10.0.0.1'), undefined);
    assert.equal(ip.formatCidr(ip.parseCidr('10.0.0.1', { bareIp: true })!), '10.0.0.1/32');
    assert.equal(ip.parseCidr('10.0.0.0/33'), undefined);
    assert.equal(ip.parseCidr('fd00::/129'), undefined);
    const overlap = (a: string, b: string) => ip.cidrsOverlap(ip.parseCidr(a)!, ip.parseCidr(b)!);
    assert.equal(overlap('10.0.0.0/8', '10.200.0.0/16'), true);
    assert.equal(overlap('10.200.0.0/16', '10.0.0.0/8'), true);
    assert.equal(overlap('10.0.0.0/16', '10.1.0.0/16'), false);
    assert.equal(overlap('fd00::/8', 'fd12::/16'), true);
    assert.equal(overlap('0.0.0.0/0', '::/0'), false);
  });

  it('Go durations', () => {
    assert.equal(parseGoDuration('120s'), 120_000);
    assert.equal(parseGoDuration('2m'), 120_000);
    assert.equal(parseGoDuration('1h30m'), 5_400_000);
    assert.equal(parseGoDuration('1.5s'), 1500);
    assert.equal(parseGoDuration('300ms'), 300);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('-5s'), -5000);
    for (const badText of ['', '5', 's', '2 m', '1d', '1h 30m']) assert.equal(parseGoDuration(badText), undefined, badText);
  });

  it('selector syntax goes through the policy engine\'s parser', () => {
    assert.equal(checkSelectorSyntax(''), undefined);
    assert.equal(checkSelectorSyntax("app == 'web' && has(tier)"), undefined);
    assert.equal(checkSelectorSyntax("role in {'a', 'b'}"), undefined);
    assert.equal(checkSelectorSyntax('app == '), 'selector "app == " at column 7: expected a quoted string, found end of input');
    assert.match(checkSelectorSyntax('x'.repeat(1025))!, /longer than 1024/);
  });

  it('rule ports: numbers, ranges and names, written back as Calico writes them', () => {
    const p = rulePort();
    assert.equal(ok(p, 80), 80);
    assert.equal(ok(p, '80'), 80);
    assert.equal(ok(p, '8000:8100'), '8000:8100');
    assert.equal(ok(p, '443:443'), 443);
    assert.equal(ok(p, 'http-alt'), 'http-alt');
    assert.equal(bad(p, 0), 'port number must be from 1 to 65535 (got 0)');
    assert.equal(bad(p, 65536), 'port number must be from 1 to 65535 (got 65536)');
    assert.equal(bad(p, '0:10'), 'port numbers in a range must be from 1 to 65535 (got "0:10")');
    assert.equal(bad(p, 'a b'), 'must be a port number, a range "lo:hi" or a port name of letters, digits, "_", "." and "-" (got "a b")');
    assert.deepEqual(parseRulePort('8000:8100'), { min: 8000, max: 8100 });
    assert.deepEqual(parseRulePort(22), { min: 22, max: 22 });
    assert.deepEqual(parseRulePort('http'), { name: 'http' });
  });

  it('protocols: Calico\'s names or 1-255, numeric strings read as numbers', () => {
    const p = protocol();
    assert.equal(ok(p, 'TCP'), 'TCP');
    assert.equal(ok(p, 'UDPLite'), 'UDPLite');
    assert.equal(ok(p, 6), 6);
    assert.equal(ok(p, '17'), 17);
    assert.equal(bad(p, 0), 'protocol number must be from 1 to 255 (got 0)');
    assert.equal(bad(p, 256), 'protocol number must be from 1 to 255 (got 256)');
    assert.match(bad(p, 'GRE'), /^protocol name invalid/);
  });

  it('AS numbers: plain, numeric string and asdot (RFC 5396)', () => {
    const a = asNumber();
    assert.equal(ok(a, 64512), 64512);
    assert.equal(ok(a, '4294967295'), 4294967295);
    assert.equal(ok(a, '1.10'), 65546);
    assert.equal(ok(a, '65535.65535'), 4294967295);
    assert.match(bad(a, 4294967296), /from 1 to 4294967295/);
    assert.match(bad(a, 1.5), /from 1 to 4294967295/);
    assert.match(bad(a, '1.2.3'), /from 1 to 4294967295/);
    assert.match(bad(a, 0), /RFC 7607/);
  });

  it('peerIP: an address, a.b.c.d:port or [v6]:port', () => {
    assert.deepEqual(parsePeerIP('10.0.0.1'), { ip: { family: 4, value: 0x0a000001n } });
    assert.equal(parsePeerIP('10.0.0.1:179')?.port, 179);
    assert.equal(parsePeerIP('[fd00::1]:1179')?.port, 1179);
    assert.equal(parsePeerIP('fd00::1')?.ip.family, 6);
    assert.equal(parsePeerIP('10.0.0.1:0'), undefined);
    assert.equal(parsePeerIP('fd00::1:179')?.port, undefined, 'an IPv6 address without brackets has no port');
    assert.equal(parsePeerIP('host:179'), undefined);
  });

  it('Kubernetes names: qualified label keys, port names', () => {
    assert.equal(qualifiedNameProblem('app'), undefined);
    assert.equal(qualifiedNameProblem('projectcalico.org/namespace'), undefined);
    assert.match(qualifiedNameProblem('a/b/c')!, /at most one "\/"/);
    assert.match(qualifiedNameProblem('Bad_Prefix/x')!, /prefix/);
    assert.match(qualifiedNameProblem('x'.repeat(64))!, /63/);
    assert.equal(portNameProblem('http'), undefined);
    assert.match(portNameProblem('8080')!, /at least one letter/);
    assert.match(portNameProblem('a--b')!, /--/);
    assert.match(portNameProblem('a-very-long-port-name')!, /1 to 15/);
  });

  it('WorkloadEndpoint names escape dashes as Calico does', () => {
    assert.deepEqual(workloadEndpointName({ node: 'node-1', orchestrator: 'k8s', pod: 'web-7d9', endpoint: 'eth0' }), { name: 'node--1-k8s-web--7d9-eth0' });
    assert.deepEqual(workloadEndpointName({ node: 'n', orchestrator: 'libnetwork', endpoint: 'e' }), { name: 'n-libnetwork-libnetwork-e' });
    assert.deepEqual(workloadEndpointName({ node: 'n', orchestrator: 'openstack', workload: 'vm1', endpoint: 'tap' }), { name: 'n-openstack-vm1-tap' });
    assert.deepEqual(workloadEndpointName({ node: 'n', orchestrator: 'k8s', pod: '-x', endpoint: 'e' }), { field: 'pod', problem: 'must not begin or end with "-" (it is part of the endpoint\'s name)' });
  });
});
