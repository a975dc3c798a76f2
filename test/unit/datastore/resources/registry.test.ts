/** The kind registry: names `tabby get` accepts, scope, table columns, keys. */
import assert from 'node:assert/strict';
import {
  KINDS,
  describeKey,
  kindInfo,
  lookupKind,
  resourceKey,
  tableRows,
  type BGPPeer,
  type IPPool,
  type Node,
  type WorkloadEndpoint,
} from '../../../../src/datastore/resources/index.js';
import { BASE, manifest, parseOk, yaml } from './helpers.js';

describe('kind registry', () => {
  it('knows the nine kinds of the contract, two of them namespaced', () => {
    assert.deepEqual(KINDS.map((k) => k.kind), ['IPPool', 'BGPConfiguration', 'BGPPeer', 'Node', 'NetworkPolicy', 'GlobalNetworkPolicy', 'WorkloadEndpoint', 'HostEndpoint', 'Profile']);
    assert.deepEqual(KINDS.filter((k) => k.namespaced).map((k) => k.kind), ['NetworkPolicy', 'WorkloadEndpoint']);
    for (const k of KINDS) {
      assert.equal(k.listKind, `${k.kind}List`);
      assert.equal(k.names[0], k.kind.toLowerCase());
      assert.ok(k.names.includes(k.plural), `${k.kind} accepts its plural`);
    }
  });

  it('accepts calicoctl\'s names and short names, in any case', () => {
    const cases: [string, string][] = [
      ['ippool', 'IPPool'], ['ippools', 'IPPool'], ['ipp', 'IPPool'], ['pool', 'IPPool'], ['IPPool', 'IPPool'],
      ['bgpconfig', 'BGPConfiguration'], ['bgpconfigurations', 'BGPConfiguration'],
      ['bgppeer', 'BGPPeer'], ['bgpp', 'BGPPeer'], ['bp', 'BGPPeer'],
      ['node', 'Node'], ['no', 'Node'],
      ['networkpolicy', 'NetworkPolicy'], ['netpol', 'NetworkPolicy'], ['np', 'NetworkPolicy'], ['policy', 'NetworkPolicy'], ['pol', 'NetworkPolicy'],
      ['gnp', 'GlobalNetworkPolicy'], ['GlobalNetworkPolicies', 'GlobalNetworkPolicy'],
      ['wep', 'WorkloadEndpoint'], ['workloadendpoints', 'WorkloadEndpoint'],
      ['hep', 'HostEndpoint'], ['heps', 'HostEndpoint'],
      ['profile', 'Profile'], ['pro', 'Profile'],
    ];
    for (const [typed, kind] of cases) assert.equal(lookupKind(typed)?.kind, kind, typed);
    assert.equal(lookupKind('felixconfiguration'), undefined);
    assert.equal(lookupKind('ip'), undefined);
  });

  it('no name is claimed by two kinds', () => {
    const all = KINDS.flatMap((k) => k.names);
    assert.equal(new Set(all).size, all.length);
  });

  it('tables have calicoctl\'s columns', () => {
    const [p4, p6] = parseOk(manifest(BASE.IPPool, { ...BASE.IPPool, metadata: { name: 'v6' }, spec: { cidr: 'fd00:10::/48', nodeSelector: "rack == 'a'" } })) as IPPool[];
    assert.deepEqual(tableRows('IPPool', [p4!, p6!]), [
      ['NAME', 'CIDR', 'SELECTOR'],
      ['pool-a', '10.65.0.0/16', 'all()'],
      ['v6', 'fd00:10::/48', "rack == 'a'"],
    ]);
    assert.deepEqual(tableRows('IPPool', [p4!], { wide: true })[1], ['pool-a', '10.65.0.0/16', 'false', 'Never', 'Never', 'false', 'false', 'all()']);

    const peers = parseOk(
      yaml(
        'apiVersion: projectcalico.org/v3', 'kind: BGPPeer', 'metadata: {name: global-tor}', 'spec: {peerIP: 10.0.0.1, asNumber: 65001}', '---',
        'apiVersion: projectcalico.org/v3', 'kind: BGPPeer', 'metadata: {name: rack-tor}', "spec: {peerIP: 10.1.0.1, asNumber: 65002, nodeSelector: \"rack == 'a'\"}", '---',
        'apiVersion: projectcalico.org/v3', 'kind: BGPPeer', 'metadata: {name: one}', 'spec: {peerIP: 10.2.0.1, asNumber: 65003, node: host-1}',
      ),
    ) as BGPPeer[];
    assert.deepEqual(tableRows('BGPPeer', peers), [
      ['NAME', 'PEERIP', 'NODE', 'ASN'],
      ['global-tor', '10.0.0.1', '(global)', '65001'],
      ['rack-tor', '10.1.0.1', "rack == 'a'", '65002'],
      ['one', '10.2.0.1', 'host-1', '65003'],
    ]);

    const [wep] = parseOk(manifest(BASE.WorkloadEndpoint)) as [WorkloadEndpoint];
    assert.deepEqual(tableRows('WorkloadEndpoint', [wep], { namespace: true }), [
      ['NAMESPACE', 'WORKLOAD', 'NODE', 'NETWORKS', 'INTERFACE'],
      ['default', 'web', 'node-1', '', 'cali12345678901'],
    ]);

    const [node] = parseOk(manifest(BASE.Node)) as [Node];
    assert.deepEqual(tableRows('Node', [node], { wide: true, context: { defaultASNumber: 64512 } }), [
      ['NAME', 'ASN', 'IPV4', 'IPV6'],
      ['node-1', '(64512)', '10.0.0.5/24', ''],
    ]);
  });

  it('resourceKey has a namespace exactly for namespaced kinds', () => {
    const rs = parseOk(manifest(...Object.values(BASE)));
    const keys = rs.map(resourceKey);
    assert.deepEqual(keys, [
      { kind: 'IPPool', name: 'pool-a' },
      { kind: 'BGPConfiguration', name: 'default' },
      { kind: 'BGPPeer', name: 'tor' },
      { kind: 'Node', name: 'node-1' },
      { kind: 'NetworkPolicy', namespace: 'default', name: 'np' },
      { kind: 'GlobalNetworkPolicy', name: 'gnp' },
      { kind: 'WorkloadEndpoint', namespace: 'default', name: 'node--1-k8s-web-eth0' },
      { kind: 'HostEndpoint', name: 'node-1-eth0' },
      { kind: 'Profile', name: 'prof' },
    ]);
    for (const k of keys) assert.equal('namespace' in k, kindInfo(k.kind).namespaced);
    assert.equal(describeKey(keys[4]!), 'NetworkPolicy(default/np)');
    assert.equal(describeKey(keys[0]!), 'IPPool(pool-a)');
  });

  it('each kind\'s schema accepts only its own kind', () => {
    for (const k of KINDS) {
      const other = k.kind === 'IPPool' ? BASE.Profile : BASE.IPPool;
      assert.equal(k.schema.safeParse(BASE[k.kind]).success, true, k.kind);
      assert.equal(k.schema.safeParse(other).success, false, k.kind);
    }
  });
});
