/**
 * Every Calico field tabby does not implement is rejected with a message
 * saying so (never silently ignored), its "off" value is still accepted, and
 * the README's table lists every row.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { formatPath } from '../../../../src/config/yaml-validate.js';
import { NOT_IMPLEMENTED, UNIMPLEMENTED, parseResources, type Resource, type UnimplementedId } from '../../../../src/datastore/resources/index.js';
import { BASE, manifest, withValue } from './helpers.js';

const README = new URL('../../../../../src/datastore/resources/README.md', import.meta.url);

/** For rows that accept more than absence: a value meaning "off" that must parse. */
const OFF_VALUES: Partial<Record<UnimplementedId, unknown>> = {
  ownerReferences: [],
  finalizers: [],
  poolNamespaceSelector: '',
  poolLoadBalancer: ['Tunnel'],
  poolAssignmentMode: 'Automatic',
  serviceLoadBalancerAggregation: 'Enabled',
  ignoredInterfaces: [],
  localWorkloadPeeringIPV4: '',
  localWorkloadPeeringIPV6: '',
  programClusterRoutes: 'EnabledNoEncapOnly',
  ipv4NormalRoutePriority: 1024,
  ipv6NormalRoutePriority: 1024,
  peerFilters: [],
  peerLocalWorkloadSelector: '',
  peerReachableBy: '',
  policyTier: 'default',
  serviceAccountSelector: '',
  doNotTrack: false,
  preDNAT: false,
  ipNATs: [],
  allowSpoofedSourcePrefixes: [],
  hostPort: 0,
  hostIP: '',
};

describe('Calico fields tabby does not implement', () => {
  for (const [id, row] of Object.entries(UNIMPLEMENTED) as [UnimplementedId, (typeof UNIMPLEMENTED)[UnimplementedId]][]) {
    for (const kind of row.kinds) {
      it(`${kind} ${row.path} is rejected, never ignored`, () => {
        const doc = withValue(BASE[kind as Resource['kind']], row.examplePath, row.example);
        const r = parseResources(manifest(doc), 'u.yaml');
        assert.equal(r.resources.length, 0);
        assert.deepEqual(
          r.problems.map((p) => `${formatPath(p.path)}: ${p.message}`),
          [`${formatPath(row.examplePath)}: ${NOT_IMPLEMENTED} (${row.why})${row.accepted === 'absent' ? '' : `; it may only be ${row.accepted}`}`],
        );
        assert.ok(r.problems[0]!.line > 1, 'the problem has a position');
      });
    }
    if (row.accepted !== 'absent') {
      it(`${row.kinds[0]} ${row.path}: ${row.accepted} is accepted`, () => {
        assert.ok(id in OFF_VALUES, `OFF_VALUES lacks ${id}`);
        const doc = withValue(BASE[row.kinds[0] as Resource['kind']], row.examplePath, OFF_VALUES[id]);
        assert.deepEqual(parseResources(manifest(doc), 'u.yaml').problems, []);
      });
    }
  }

  it('an "off" value is dropped, so consumers never see the field', () => {
    const gnpDoc = withValue(BASE.GlobalNetworkPolicy, ['spec', 'doNotTrack'], false);
    const wepDoc = withValue(withValue(BASE.WorkloadEndpoint, ['spec', 'ipNATs'], []), ['spec', 'ports', 0, 'hostPort'], 0);
    const [gnp, wep] = parseResources(manifest(gnpDoc, wepDoc), 'u.yaml').resources;
    assert.ok(gnp?.kind === 'GlobalNetworkPolicy' && wep?.kind === 'WorkloadEndpoint');
    assert.ok(!('doNotTrack' in gnp.spec));
    assert.ok(!('ipNATs' in wep.spec));
    assert.deepEqual(wep.spec.ports, [{ name: 'http', protocol: 'TCP', port: 80 }]);
  });

  it('the README table lists every row of UNIMPLEMENTED', () => {
    const readme = readFileSync(README, 'utf8');
    for (const row of Object.values(UNIMPLEMENTED)) {
      assert.ok(readme.includes(`\`${row.path}\``), `README lacks ${row.path}`);
    }
  });

  it('a field that is neither Calico\'s nor implemented is an unknown key', () => {
    const r = parseResources(manifest(withValue(BASE.IPPool, ['spec', 'encapsulation'], 'IPIP')), 'u.yaml');
    assert.deepEqual(r.problems.map((p) => p.message), [
      'unknown key (allowed: cidr, blockSize, ipipMode, vxlanMode, natOutgoing, disabled, disableBGPExport, nodeSelector, namespaceSelector, allowedUses, assignmentMode)',
    ]);
  });
});
