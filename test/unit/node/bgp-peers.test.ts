import assert from 'node:assert/strict';
import { parseResources, type BGPConfiguration, type BGPPeer, type IPPool, type Node, type Resource } from '../../../src/datastore/resources/index.js';
import { deriveBgpTopology, type BgpTopologyInput } from '../../../src/node/bgp-peers.js';

function resources(yaml: string): Resource[] {
  const r = parseResources(yaml, 't.yaml');
  if (r.problems.length) throw new Error(JSON.stringify(r.problems));
  return r.resources;
}

function node(name: string, ip: string, extra: { as?: number; rr?: string; labels?: Record<string, string> } = {}): string {
  return `
apiVersion: projectcalico.org/v3
kind: Node
metadata: { name: ${name}${extra.labels ? `, labels: ${JSON.stringify(extra.labels)}` : ''} }
spec: { bgp: { ipv4Address: ${ip}/24${extra.as ? `, asNumber: ${extra.as}` : ''}${extra.rr ? `, routeReflectorClusterID: ${extra.rr}` : ''} } }
---`;
}

const POOL = `
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: { name: p }
spec: { cidr: 10.65.0.0/16 }
---`;

function derive(self: string, yaml: string, more: Partial<BgpTopologyInput> = {}) {
  const rs = resources(yaml);
  const nodes = rs.filter((r): r is Node => r.kind === 'Node');
  const me = nodes.find((n) => n.metadata.name === self)!;
  return deriveBgpTopology({
    nodeName: self,
    address: me.spec.bgp!.ipv4Address!.split('/')[0]!,
    listenAddress: '0.0.0.0',
    listenPort: 179,
    controlSocket: '/run/tabby/x.sock',
    nodes,
    peers: rs.filter((r): r is BGPPeer => r.kind === 'BGPPeer'),
    configs: rs.filter((r): r is BGPConfiguration => r.kind === 'BGPConfiguration'),
    pools: rs.filter((r): r is IPPool => r.kind === 'IPPool'),
    localBlocks: ['10.65.1.0/26'],
    ...more,
  });
}

const summary = (t: ReturnType<typeof derive>) =>
  t.config.peers.map((p) => `${p.address} as${p.asNumber} ${t.types.get(p.address)}${p.passive ? ' passive' : ''}${p.routeReflectorClient ? ' rr-client' : ''}${p.password ? ` pw=${p.password}` : ''}${p.port !== 179 ? ` port=${p.port}` : ''}`);

describe('daemon: BGP topology from resources (Calico semantics)', () => {
  const mesh4 = POOL + node('n1', '172.31.0.1') + node('n2', '172.31.0.2') + node('n3', '172.31.0.3') + node('n4', '172.31.0.4') + node('nip', '172.31.0.9').replace(/spec: .*$/m, 'spec: {}');

  it('full mesh by default: every other node with an address, AS 64512, passive towards higher addresses, self and address-less nodes skipped', () => {
    const t = derive('n2', mesh4);
    assert.equal(t.config.asNumber, 64512);
    assert.equal(t.config.routerId, '172.31.0.2');
    assert.deepEqual(summary(t), ['172.31.0.1 as64512 mesh', '172.31.0.3 as64512 mesh passive', '172.31.0.4 as64512 mesh passive']);
    assert.deepEqual(t.config.originate, ['10.65.1.0/26']);
    assert.deepEqual(t.problems, []);
  });

  it('exports only prefixes inside the pools (and service CIDRs), originating the service CIDRs too', () => {
    const t = derive('n1', mesh4 + `
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: { name: default }
spec: { serviceClusterIPs: [{ cidr: 10.96.0.0/12 }], serviceExternalIPs: [{ cidr: 198.51.100.0/24 }] }
`);
    assert.deepEqual(t.config.originate, ['10.65.1.0/26', '10.96.0.0/12', '198.51.100.0/24']);
    assert.deepEqual(t.config.filters.calico_export, { terms: [{ match: { prefix: ['10.65.0.0/16 le 32', '10.96.0.0/12 le 32', '198.51.100.0/24 le 32'] }, action: 'accept' }], default: 'reject' });
    assert.ok(t.config.peers.every((p) => p.export === 'calico_export'));
  });

  it('mesh off, a global BGPPeer to a ToR: every node peers with the ToR only, type tor, with the port of peerIP', () => {
    const t = derive('n3', mesh4 + `
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: { name: default }
spec: { nodeToNodeMeshEnabled: false, asNumber: 65000 }
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: { name: tor }
spec: { peerIP: "172.31.0.254:1179", asNumber: 65100 }
`);
    assert.equal(t.config.asNumber, 65000);
    assert.deepEqual(summary(t), ['172.31.0.254 as65100 tor port=1179']);
  });

  it('an AS per rack: nodeSelector picks the rack, each node peers with its own ToR with its own AS', () => {
    const y = POOL + node('a1', '172.31.0.1', { as: 65001, labels: { rack: 'a' } }) + node('a2', '172.31.0.2', { as: 65001, labels: { rack: 'a' } }) + node('b1', '172.31.0.3', { as: 65002, labels: { rack: 'b' } }) + `
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: { name: default }
spec: { nodeToNodeMeshEnabled: false }
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: { name: tor-a }
spec: { nodeSelector: rack == 'a', peerIP: 172.31.0.250, asNumber: 65101 }
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: { name: tor-b }
spec: { nodeSelector: rack == 'b', peerIP: 172.31.0.251, asNumber: 65102 }
`;
    const a2 = derive('a2', y);
    assert.equal(a2.config.asNumber, 65001);
    assert.deepEqual(summary(a2), ['172.31.0.250 as65101 tor']);
    const b1 = derive('b1', y);
    assert.equal(b1.config.asNumber, 65002);
    assert.deepEqual(summary(b1), ['172.31.0.251 as65102 tor']);
  });

  const rrTopo = POOL +
    node('rr1', '172.31.0.1', { rr: '244.0.0.1', labels: { 'route-reflector': 'true' } }) +
    node('rr2', '172.31.0.2', { rr: '244.0.0.1', labels: { 'route-reflector': 'true' } }) +
    node('c1', '172.31.0.3') + node('c2', '172.31.0.4') + node('c3', '172.31.0.5') + node('c4', '172.31.0.6') + `
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: { name: default }
spec: { nodeToNodeMeshEnabled: false }
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: { name: peer-with-rrs }
spec: { nodeSelector: all(), peerSelector: route-reflector == 'true' }
`;

  it('route reflectors by peerSelector: a client peers with both RRs (type rr)', () => {
    const t = derive('c2', rrTopo);
    assert.deepEqual(summary(t), ['172.31.0.1 as64512 rr', '172.31.0.2 as64512 rr']);
    assert.equal(t.config.clusterId, undefined);
  });

  it('route reflectors: an RR peers with the other RR as a non-client (same cluster) and with every client as rr-client (reverse peering)', () => {
    const t = derive('rr1', rrTopo);
    assert.equal(t.config.clusterId, '244.0.0.1');
    assert.deepEqual(summary(t), [
      '172.31.0.2 as64512 rr',
      '172.31.0.3 as64512 rr rr-client',
      '172.31.0.4 as64512 rr rr-client',
      '172.31.0.5 as64512 rr rr-client',
      '172.31.0.6 as64512 rr rr-client',
    ]);
  });

  it('reversePeering: Manual leaves the reverse side to the operator', () => {
    const t = derive('rr1', rrTopo.replace("peerSelector: route-reflector == 'true' }", "peerSelector: route-reflector == 'true', reversePeering: Manual }"));
    assert.deepEqual(summary(t), ['172.31.0.2 as64512 rr']);
  });

  it('a node-specific BGPPeer applies to that node only, and an explicit peering to a node wins over the mesh', () => {
    const y = mesh4 + `
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: { name: n1-to-n3 }
spec: { node: n1, peerIP: 172.31.0.3, asNumber: 64512, password: { secretKeyRef: { name: bgp, key: n1n3 } } }
`;
    const t1 = derive('n1', y, { secret: (n, k) => (n === 'bgp' && k === 'n1n3' ? 's3cret' : undefined) });
    assert.deepEqual(summary(t1), ['172.31.0.2 as64512 mesh passive', '172.31.0.3 as64512 node pw=s3cret', '172.31.0.4 as64512 mesh passive']);
    const t2 = derive('n2', y);
    assert.ok(!summary(t2).some((s) => s.includes('pw=')), 'n2 is not the node of that BGPPeer');
  });

  it('a password secret that cannot be read leaves that session out and says so', () => {
    const t = derive('n3', mesh4 + `
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: { name: default }
spec: { nodeToNodeMeshEnabled: false }
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: { name: tor }
spec: { peerIP: 172.31.0.254, asNumber: 65100, password: { secretKeyRef: { name: bgp, key: missing } } }
`, { secret: () => undefined });
    assert.deepEqual(t.config.peers, []);
    assert.match(t.problems.join('\n'), /BGPPeer tor: password secret bgp\/missing cannot be read/);
  });

  it('the mesh password applies to every mesh session', () => {
    const t = derive('n1', mesh4 + `
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: { name: default }
spec: { nodeMeshPassword: { secretKeyRef: { name: mesh, key: pw } } }
`, { secret: () => 'meshpw' });
    assert.ok(t.config.peers.length === 3 && t.config.peers.every((p) => p.password === 'meshpw'));
  });

  it('prefixAdvertisements add their communities to the matching prefixes (named or literal, standard and large)', () => {
    const t = derive('n1', mesh4 + `
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: { name: default }
spec:
  communities: [{ name: gold, value: "65000:100" }]
  prefixAdvertisements: [{ cidr: 10.65.0.0/16, communities: [gold, "65000:1:2"] }]
`);
    assert.deepEqual(t.config.filters.calico_export!.terms[0], { match: { prefix: ['10.65.0.0/16 le 32'] }, action: 'accept', set: { addCommunities: ['65000:100'], addLargeCommunities: ['65000:1:2'] } });
  });
});

describe('daemon: BGP topology, allowas-in', () => {
  it('numAllowedLocalASNumbers becomes the peer\'s allowOwnAs (nodes of one rack share an AS behind one ToR)', () => {
    const t = derive('a1', POOL + node('a1', '172.31.0.1', { as: 65001 }) + `
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: { name: tor }
spec: { peerIP: 172.31.0.250, asNumber: 65101, numAllowedLocalASNumbers: 1 }
`);
    assert.equal(t.config.peers[0]!.allowOwnAs, 1);
    assert.equal(t.config.peers[0]!.nextHopKeep, false);
  });
});

describe('daemon: BGP topology, next hop keep', () => {
  it('keepOriginalNextHop (or nextHopMode Keep) becomes the peer\'s nextHopKeep', () => {
    for (const field of ['keepOriginalNextHop: true', 'nextHopMode: Keep']) {
      const t = derive('a1', POOL + node('a1', '172.31.0.1', { as: 65001 }) + `
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: { name: tor }
spec: { peerIP: 172.31.0.250, asNumber: 65101, ${field} }
`);
      assert.equal(t.config.peers[0]!.nextHopKeep, true, field);
      assert.deepEqual(t.problems, []);
    }
  });
});
