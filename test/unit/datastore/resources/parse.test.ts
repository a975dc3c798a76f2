/**
 * parseResources: files with several documents, List wrappers, JSON,
 * problems of every document at once, and what comes back.
 */
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError } from '../../../../src/config/yaml-validate.js';
import {
  KINDS,
  loadResources,
  parseResources,
  resourceKey,
  validateResource,
  type IPPool,
  type NetworkPolicy,
} from '../../../../src/datastore/resources/index.js';
import { BASE, manifest, parseOk, problemsOf, withValue, yaml } from './helpers.js';

const pool = (name: string, cidr: string, ...extra: string[]) => [
  'apiVersion: projectcalico.org/v3',
  'kind: IPPool',
  'metadata:',
  `  name: ${name}`,
  'spec:',
  `  cidr: ${cidr}`,
  ...extra,
];

describe('parseResources', () => {
  it('a file of three documents whose second is invalid: document 2 is reported, no resource returned', () => {
    const text = yaml(...pool('a', '10.1.0.0/16'), '---', ...pool('b', '10.2.0.0/16', '  ipipMode: always'), '---', ...pool('c', '10.3.0.0/16'));
    const r = parseResources(text, 'pools.yaml');
    assert.deepEqual(r.resources, []);
    assert.deepEqual(r.origins, []);
    assert.deepEqual(
      r.problems.map((p) => [p.file, p.line, p.col, p.document, p.path]),
      [['pools.yaml', 14, 13, 2, ['spec', 'ipipMode']]],
    );
    assert.deepEqual(problemsOf(text, 'pools.yaml'), ['pools.yaml:14:13: document 2: spec.ipipMode: must be one of "Always", "CrossSubnet", "Never"; got "always"']);
  });

  it('the same file made valid returns every resource in order, with where each came from', () => {
    const text = yaml(...pool('a', '10.1.0.0/16'), '---', ...pool('b', '10.2.0.0/16', '  ipipMode: Always'), '---', ...pool('c', '10.3.0.0/16'));
    const r = parseResources(text, 'pools.yaml');
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.resources.map((x) => x.metadata.name), ['a', 'b', 'c']);
    assert.deepEqual(r.origins.map((o) => [o.document, o.line, o.col]), [[1, 1, 1], [2, 8, 1], [3, 16, 1]]);
  });

  it('reports every problem of every document at once, sorted by document and line', () => {
    const text = yaml(
      ...pool('a', '10.1.0.0/33'),
      '---',
      'apiVersion: projectcalico.org/v3',
      'kind: BGPPeer',
      'metadata: {name: p}',
      'spec: {peerIP: 10.0.0.1, asNumber: 65001, colour: blue}',
      '---',
      ...pool('Bad_Name', '10.9.0.0/16', '  blockSize: 40'),
    );
    assert.deepEqual(problemsOf(text), [
      'r.yaml:6:9: document 1: spec.cidr: must be a CIDR such as 10.65.0.0/16 or fd00:10::/48 (got "10.1.0.0/33")',
      'r.yaml:11:43: document 2: spec.colour: unknown key (allowed: node, nodeSelector, peerIP, asNumber, localASNumber, peerSelector, keepOriginalNextHop, nextHopMode, sourceAddress, maxRestartTime, keepaliveTime, numAllowedLocalASNumbers, ttlSecurity, reversePeering, password, filters, localWorkloadSelector, reachableBy)',
      'r.yaml:16:9: document 3: metadata.name: must be a DNS-1123 subdomain: lowercase letters, digits, "-" and ".", starting and ending with a letter or digit (got "Bad_Name")',
      'r.yaml:19:14: document 3: spec.blockSize: blockSize must be from 20 to 32 for an IPv4 pool (got 40)',
    ]);
  });

  it('kind: List with items of several kinds; errors in items name the item path and its own line', () => {
    const ok = yaml(
      'apiVersion: v1',
      'kind: List',
      'items:',
      '- apiVersion: projectcalico.org/v3',
      '  kind: IPPool',
      '  metadata: {name: p1}',
      '  spec: {cidr: 10.1.0.0/16}',
      '- apiVersion: projectcalico.org/v3',
      '  kind: GlobalNetworkPolicy',
      '  metadata: {name: deny}',
    );
    const rs = parseOk(ok);
    assert.deepEqual(rs.map((r) => `${r.kind}/${r.metadata.name}`), ['IPPool/p1', 'GlobalNetworkPolicy/deny']);
    const r = parseResources(ok, 'l.yaml');
    assert.deepEqual(r.origins.map((o) => [o.document, o.path, o.line]), [[1, ['items', 0], 4], [1, ['items', 1], 8]]);

    const bad = ok.replace('spec: {cidr: 10.1.0.0/16}', 'spec: {cidr: 10.1.0.0/16, vxlanMod: Always}').replace('kind: GlobalNetworkPolicy', 'kind: GlobalNetworkPolicies');
    assert.deepEqual(problemsOf(bad), [
      'r.yaml:7:29: document 1: items[0].spec.vxlanMod: unknown key (did you mean "vxlanMode"?)',
      'r.yaml:9:9: document 1: items[1].kind: "GlobalNetworkPolicies" is not a kind tabby knows (tabby knows IPPool, BGPConfiguration, BGPPeer, Node, NetworkPolicy, GlobalNetworkPolicy, WorkloadEndpoint, HostEndpoint, Profile)',
    ]);
  });

  it('a typed <Kind>List: items may leave out apiVersion and kind, but may not name another kind', () => {
    const text = yaml(
      'apiVersion: projectcalico.org/v3',
      'kind: IPPoolList',
      'metadata: {resourceVersion: "77"}',
      'items:',
      '- metadata: {name: p1}',
      '  spec: {cidr: 10.1.0.0/16}',
      '- apiVersion: projectcalico.org/v3',
      '  kind: IPPool',
      '  metadata: {name: p2}',
      '  spec: {cidr: 10.2.0.0/16}',
    );
    const rs = parseOk(text) as IPPool[];
    assert.deepEqual(rs.map((p) => [p.kind, p.metadata.name, p.spec.blockSize]), [['IPPool', 'p1', 26], ['IPPool', 'p2', 26]]);
    assert.deepEqual(problemsOf(text.replace('  kind: IPPool', '  kind: BGPPeer')), ['r.yaml:8:9: document 1: items[1].kind: must be "IPPool" in a IPPoolList (got "BGPPeer")']);
    assert.deepEqual(problemsOf(text.replace('apiVersion: projectcalico.org/v3\nkind: IPPoolList', 'apiVersion: v1\nkind: IPPoolList')), [
      'r.yaml:1:13: document 1: apiVersion: must be "projectcalico.org/v3", got "v1"',
    ]);
    assert.deepEqual(problemsOf(yaml('apiVersion: projectcalico.org/v3', 'kind: List', 'itemz: []')), [
      'r.yaml:1:1: document 1: items: required key is missing',
      'r.yaml:3:1: document 1: itemz: unknown key (did you mean "items"?)',
    ]);
  });

  it('JSON input, with positions', () => {
    const json = JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { peerIP: '10.0.0.1', asNumber: 65001 } }, null, 2);
    const [p] = parseOk(json, 'peer.json');
    assert.equal(p!.kind, 'BGPPeer');
    const bad = JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'p' }, spec: { cidr: '10.0.0.0/16', natOutgoing: 'yes' } }, null, 2);
    assert.deepEqual(problemsOf(bad, 'pool.json'), ['pool.json:9:20: document 1: spec.natOutgoing: expected a boolean (true or false), got "yes"']);
    // A JSON list wrapper on one line.
    const list = JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'List', items: [BASE.IPPool, BASE.Profile] });
    assert.deepEqual(parseOk(list).map((r) => r.kind), ['IPPool', 'Profile']);
  });

  it('a document that is a sequence of resources (as calicoctl accepts)', () => {
    const text = yaml('- ' + JSON.stringify(BASE.IPPool), '- ' + JSON.stringify(BASE.HostEndpoint), '- 42');
    assert.deepEqual(problemsOf(text), ['r.yaml:3:3: document 1: [2]: expected a Calico resource: a mapping with apiVersion, kind, metadata and spec']);
    assert.deepEqual(parseOk(text.split('\n').slice(0, 2).join('\n')).map((r) => r.kind), ['IPPool', 'HostEndpoint']);
  });

  it('empty documents are skipped but still counted; an empty file has no resources and no problems', () => {
    // The comment and the first "---" open document 1, which is empty; the pool is document 2.
    const text = yaml('# leading comment', '---', '---', ...pool('a', '10.1.0.0/16', '  blockSize: 33'));
    assert.deepEqual(problemsOf(text), ['r.yaml:10:14: document 2: spec.blockSize: blockSize must be from 20 to 32 for an IPv4 pool (got 33)']);
    assert.deepEqual(parseResources('', 'e.yaml'), { resources: [], origins: [], problems: [] });
    assert.deepEqual(parseResources('# nothing\n', 'e.yaml'), { resources: [], origins: [], problems: [] });
  });

  it('YAML syntax errors and duplicate keys name their document', () => {
    const text = yaml(...pool('a', '10.1.0.0/16'), '---', 'apiVersion: projectcalico.org/v3', 'kind: IPPool', 'kind: IPPool', '---', 'spec: [unclosed');
    const problems = problemsOf(text);
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /^r\.yaml:10:1: document 2: YAML syntax error: Map keys must be unique/);
    assert.match(problems[1]!, /^r\.yaml:\d+:\d+: document 3: YAML syntax error: /);
  });

  it('wrong or missing apiVersion and kind are clear errors', () => {
    const cases: [string, string[]][] = [
      [yaml('apiVersion: projectcalico.org/v1', 'kind: IPPool', 'metadata: {name: a}', 'spec: {cidr: 10.0.0.0/16}'), ['r.yaml:1:13: document 1: apiVersion: must be "projectcalico.org/v3", got "projectcalico.org/v1"']],
      [yaml('kind: IPPool', 'metadata: {name: a}', 'spec: {cidr: 10.0.0.0/16}'), ['r.yaml:1:1: document 1: apiVersion: required key is missing']],
      [yaml('apiVersion: projectcalico.org/v3', 'metadata: {name: a}'), ['r.yaml:1:1: document 1: kind: required key is missing']],
      [yaml('apiVersion: projectcalico.org/v3', 'kind: ippool'), ['r.yaml:2:7: document 1: kind: "ippool" is not a kind tabby knows (kinds are case-sensitive: did you mean "IPPool"?)']],
      [yaml('apiVersion: projectcalico.org/v3', 'kind: FelixConfiguration'), ['r.yaml:2:7: document 1: kind: FelixConfiguration is a Calico kind tabby does not implement (tabby knows IPPool, BGPConfiguration, BGPPeer, Node, NetworkPolicy, GlobalNetworkPolicy, WorkloadEndpoint, HostEndpoint, Profile)']],
      [
        yaml('apiVersion: v1', 'kind: Pod'),
        [
          'r.yaml:1:13: document 1: apiVersion: must be "projectcalico.org/v3" (got "v1")',
          'r.yaml:2:7: document 1: kind: "Pod" is not a kind tabby knows (tabby knows IPPool, BGPConfiguration, BGPPeer, Node, NetworkPolicy, GlobalNetworkPolicy, WorkloadEndpoint, HostEndpoint, Profile)',
        ],
      ],
      [yaml('apiVersion: projectcalico.org/v3', 'kind: ippoollist', 'items: []'), ['r.yaml:2:7: document 1: kind: "ippoollist" is not a kind tabby knows (kinds are case-sensitive: did you mean "IPPoolList"?)']],
      [yaml('apiVersion: projectcalico.org/v3', 'kind: TierList', 'items: []'), ['r.yaml:2:7: document 1: kind: TierList is a Calico kind tabby does not implement (tabby knows IPPool, BGPConfiguration, BGPPeer, Node, NetworkPolicy, GlobalNetworkPolicy, WorkloadEndpoint, HostEndpoint, Profile)']],
      [yaml('just a string'), ['r.yaml:1:1: document 1: (top level): expected a Calico resource: a mapping with apiVersion, kind, metadata and spec']],
    ];
    for (const [text, want] of cases) assert.deepEqual(problemsOf(text), want, text);
  });

  it('pools of one file must not overlap', () => {
    const text = yaml(...pool('a', '10.1.0.0/16'), '---', ...pool('b', '10.1.128.0/18'));
    assert.deepEqual(problemsOf(text), ['r.yaml:13:9: document 2: spec.cidr: 10.1.128.0/18 overlaps IPPool "a" (10.1.0.0/16) in this file; IP pools must not overlap']);
  });

  it('loadResources throws one ConfigError carrying every problem', () => {
    const text = yaml(...pool('a', '10.1.0.0/16', '  ipipMode: no'), '---', ...pool('b', '10.2.0.0/16', '  vxlanMode: no'));
    assert.throws(
      () => loadResources(text, 'f.yaml'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.message, 'f.yaml:7:13: document 1: spec.ipipMode: must be one of "Always", "CrossSubnet", "Never"; got "no"');
        assert.deepEqual(err.details, ['f.yaml:15:14: document 2: spec.vxlanMode: must be one of "Always", "CrossSubnet", "Never"; got "no"']);
        assert.equal(err.problems.length, 2);
        return true;
      },
    );
    assert.deepEqual(loadResources(yaml(...pool('a', '10.1.0.0/16')), 'f.yaml').map(resourceKey), [{ kind: 'IPPool', name: 'a' }]);
  });

  it('validateResource checks a value without a file and names the key path', () => {
    const np = validateResource(BASE.NetworkPolicy) as NetworkPolicy;
    assert.deepEqual(np.spec.types, ['Ingress', 'Egress']);
    assert.throws(() => validateResource({ ...BASE.IPPool, spec: { cidr: '10.0.0.0/16', natOutgoing: 1 } }, 'stored IPPool/pool-a'), {
      message: 'stored IPPool/pool-a: spec.natOutgoing: expected a boolean (true or false), got number 1',
    });
  });

  it('every kind: parsing a parsed resource again gives the same resource', () => {
    const text = manifest(...Object.values(BASE));
    const first = parseOk(text);
    assert.equal(first.length, 9);
    for (const r of first) assert.deepEqual(validateResource(JSON.parse(JSON.stringify(r))), r);
    assert.deepEqual(parseOk(manifest(...first)), first);
  });

  it('never throws, whatever odd value a spec field holds', () => {
    // Cross-field checks run even when fields failed (ALWAYS): they must cope with any input.
    const unwrap = (t: z.ZodType): z.ZodType => {
      let cur = t;
      for (let i = 0; i < 10; i++) {
        const def = (cur as unknown as { _zod: { def: { innerType?: z.ZodType; in?: z.ZodType } } })._zod.def;
        const next = def.innerType ?? def.in;
        if (!next) break;
        cur = next;
      }
      return cur;
    };
    const odd: unknown[] = [null, 0, -1, 1.5, 'x', '', [], [null], [{}], {}, { a: 1 }, true];
    let checked = 0;
    for (const k of KINDS) {
      const spec = unwrap((unwrap(k.schema) as z.ZodObject).shape.spec as z.ZodType) as z.ZodObject;
      for (const key of Object.keys(spec.shape)) {
        for (const v of odd) {
          const doc = { ...BASE[k.kind], spec: { ...(BASE[k.kind].spec as object), [key]: v } };
          const r = parseResources(manifest(doc), 'odd.yaml');
          assert.ok(r.problems.length > 0 || r.resources.length === 1, `${k.kind}.spec.${key} = ${JSON.stringify(v)}`);
          checked++;
        }
      }
    }
    // One level down: rule fields, entity-rule fields, list items of other kinds.
    const nested: [Record<string, unknown>, (string | number)[], string[]][] = [
      [BASE.NetworkPolicy, ['spec', 'ingress', 0], ['action', 'ipVersion', 'protocol', 'notProtocol', 'icmp', 'notICMP', 'source', 'destination', 'http', 'metadata']],
      [BASE.NetworkPolicy, ['spec', 'ingress', 0, 'source'], ['nets', 'notNets', 'selector', 'notSelector', 'namespaceSelector', 'ports', 'notPorts', 'serviceAccounts', 'services']],
      [BASE.WorkloadEndpoint, ['spec', 'ports', 0], ['name', 'protocol', 'port', 'hostPort', 'hostIP']],
      [BASE.BGPConfiguration, ['spec', 'prefixAdvertisements', 0], ['cidr', 'communities']],
      [BASE.Node, ['spec', 'bgp'], ['asNumber', 'ipv4Address', 'routeReflectorClusterID']],
    ];
    for (const [base, path, keys] of nested) {
      for (const key of keys) {
        for (const v of odd) {
          const doc = withValue(base, [...path, key], v);
          const r = parseResources(manifest(doc), 'odd.yaml');
          assert.ok(r.problems.length > 0 || r.resources.length === 1, `${path.join('.')}.${key} = ${JSON.stringify(v)}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 1000, `checked ${checked} cases`);
  });
});
