import assert from 'node:assert/strict';
import { join } from 'node:path';
import { bgpConfigSchema, loadBgpConfig, parsePrefixMatch } from '../../../src/bgp/config.js';
import { ConfigError, loadYamlFile } from '../../../src/config/yaml-validate.js';

const ROOT = new URL('../../../../', import.meta.url).pathname;
const base = 'asNumber: 65001\nrouterId: 10.0.0.1\n';

function errorOf(yaml: string): string {
  try {
    loadYamlFile('bgp.yaml', bgpConfigSchema, yaml);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  return 'no error';
}

describe('BGP-only config', () => {
  it('the documented example parses with the defaults of the contract', () => {
    const c = loadBgpConfig(join(ROOT, 'config', 'bgp.yaml'));
    assert.equal(c.asNumber, 65001);
    assert.equal(c.controlSocket, '/run/tabby/bgp.sock');
    assert.equal(c.fibInstall, false);
    const p = c.peers[0]!;
    assert.deepEqual(
      { passive: p.passive, holdTime: p.holdTime, keepaliveTime: p.keepaliveTime, rr: p.routeReflectorClient, nhs: p.nextHopSelf, afs: p.addressFamilies, gr: p.gracefulRestart, imp: p.import, exp: p.export, pw: p.password, max: p.maxPrefixes },
      { passive: false, holdTime: 90, keepaliveTime: 30, rr: false, nhs: false, afs: ['ipv4-unicast', 'ipv6-unicast'], gr: true, imp: 'all', exp: 'all', pw: undefined, max: undefined },
    );
  });

  it('the benchmark harness config parses', () => {
    const c = loadYamlFile('b.yaml', bgpConfigSchema, [
      'asNumber: 65002', 'routerId: 10.200.1.2', 'listen: { address: 0.0.0.0, port: 179 }', 'controlSocket: /tmp/bgpbench/r/ctl.sock', 'originate: []', 'fibInstall: false', 'peers:',
      '  - { address: 10.200.1.1, asNumber: 65001, localAddress: 10.200.1.2, passive: true, holdTime: 90, keepaliveTime: 30, addressFamilies: [ipv4-unicast] }',
      '  - { address: 10.200.2.1, asNumber: 65003, localAddress: 10.200.2.2, passive: true, holdTime: 90, keepaliveTime: 30, addressFamilies: [ipv4-unicast] }', '',
    ].join('\n'));
    assert.equal(c.peers.length, 2);
    assert.equal(c.peers[1]!.localAddress, '10.200.2.2');
  });

  const cases: [string, string, string][] = [
    ['missing routerId', 'asNumber: 65001\n', 'bgp.yaml:1:1: routerId: required key is missing'],
    ['routerId not IPv4', 'asNumber: 1\nrouterId: fd00::1\n', 'bgp.yaml:2:11: routerId: must be an IPv4 address such as 10.0.0.1 (got "fd00::1")'],
    ['hold time 2', `${base}peers:\n  - address: 10.0.0.2\n    asNumber: 2\n    holdTime: 2\n`, 'bgp.yaml:6:15: peers[0].holdTime: must be 0 or at least 3 (RFC 4271 §4.2) (got number 2)'],
    ['keepalive not below hold', `${base}peers:\n  - address: 10.0.0.2\n    asNumber: 2\n    holdTime: 9\n    keepaliveTime: 9\n`, 'bgp.yaml:7:20: peers[0].keepaliveTime: must be less than holdTime (9)'],
    ['unknown address family', `${base}peers:\n  - address: 10.0.0.2\n    asNumber: 2\n    addressFamilies: [ipv4-multicast]\n`, 'bgp.yaml:6:23: peers[0].addressFamilies[0]: must be one of "ipv4-unicast", "ipv6-unicast"; got "ipv4-multicast"'],
    ['duplicate peer', `${base}peers:\n  - { address: 10.0.0.2, asNumber: 2 }\n  - { address: 10.0.0.2, asNumber: 3 }\n`, 'bgp.yaml:5:16: peers[1].address: peer 10.0.0.2 is configured twice (also peers[0])'],
    ['unknown filter', `${base}peers:\n  - { address: 10.0.0.2, asNumber: 2, import: mine }\n`, 'bgp.yaml:4:47: peers[0].import: no filter named "mine" (use all, none, or a name under filters:)'],
    ['eBGP route reflector client', `${base}peers:\n  - { address: 10.0.0.2, asNumber: 2, routeReflectorClient: true }\n`, 'bgp.yaml:4:61: peers[0].routeReflectorClient: only iBGP peers (same asNumber) can be route reflector clients (RFC 4456)'],
    ['bad prefix-list entry', `${base}filters:\n  f:\n    terms:\n      - match: { prefix: ["10.0.0.0/8 le 7"] }\n        action: accept\n`, 'bgp.yaml:6:27: filters.f.terms[0].match.prefix[0]: le 7 must be between 8 and 32 (got "10.0.0.0/8 le 7")'],
    ['bad community', `${base}filters:\n  f:\n    terms:\n      - match: { community: ["65536:1"] }\n        action: reject\n`, 'bgp.yaml:6:30: filters.f.terms[0].match.community[0]: must be "ASN:VALUE" with 16-bit numbers (RFC 1997), or no-export, no-advertise, no-export-subconfed, no-peer (got "65536:1")'],
    ['bad AS path regex', `${base}filters:\n  f:\n    terms:\n      - match: { asPath: "(65001" }\n        action: reject\n`, 'bgp.yaml:6:26: filters.f.terms[0].match.asPath: not a valid regular expression: Invalid regular expression: /(65001/: Unterminated group (got "(65001")'],
    ['term without action', `${base}filters:\n  f:\n    terms:\n      - match: { origin: igp }\n`, 'bgp.yaml:6:9: filters.f.terms[0].action: required key is missing'],
    ['originate not a CIDR', `${base}originate: [10.0.0.0]\n`, 'bgp.yaml:3:13: originate[0]: must be a CIDR such as 10.10.0.0/24 (got "10.0.0.0")'],
    ['maxPrefixes bad action', `${base}peers:\n  - address: 10.0.0.2\n    asNumber: 2\n    maxPrefixes: { limit: 10, action: drop }\n`, 'bgp.yaml:6:39: peers[0].maxPrefixes.action: must be one of "warn", "teardown"; got "drop"'],
  ];
  for (const [name, yaml, want] of cases) {
    it(`rejects: ${name}`, () => assert.equal(errorOf(yaml), want));
  }

  it('parses prefix-list entries like BIRD/FRR', () => {
    assert.deepEqual(parsePrefixMatch('10.0.0.0/8'), { prefix: '10.0.0.0/8', family: 4, length: 8, ge: 8, le: 8 });
    assert.deepEqual(parsePrefixMatch('10.0.0.0/8 le 24'), { prefix: '10.0.0.0/8', family: 4, length: 8, ge: 8, le: 24 });
    assert.deepEqual(parsePrefixMatch('10.0.0.0/8 ge 16'), { prefix: '10.0.0.0/8', family: 4, length: 8, ge: 16, le: 32 });
    assert.deepEqual(parsePrefixMatch('fd00::/16 ge 48 le 64'), { prefix: 'fd00::/16', family: 6, length: 16, ge: 48, le: 64 });
    assert.equal(typeof parsePrefixMatch('10.0.0.0/8 ge 4'), 'string');
    assert.equal(typeof parsePrefixMatch('10.0.0.0/8 le 24 ge 16'), 'string');
  });
});
