import assert from 'node:assert/strict';
import { parseResources, type BGPConfiguration, type BGPPeer, type IPPool, type Node, type Resource } from '../../../src/datastore/resources/index.js';
import { deriveBgpTopology, hashRouterId, type BgpTopology, type BgpTopologyInput } from '../../../src/node/bgp-topology.js';
import { intersectWithin } from '../../../src/node/bgp-topology/export-policy.js';
import { ip } from '../../../src/datastore/resources/index.js';
import { compileFilters } from '../../../src/bgp/policy/filter.js';

function resources(yaml: string): Resource[] {
  const r = parseResources(yaml, 't.yaml');
  if (r.problems.length) throw new Error(JSON.stringify(r.problems));
  return r.resources;
}

interface NodeOpts {
  as?: number;
  rr?: string;
  v6?: string;
  labels?: Record<string, string>;
}

function node(name: string, v4: string | undefined, o: NodeOpts = {}): string {
  const bgp = [v4 ? `ipv4Address: ${v4}/24` : '', o.v6 ? `ipv6Address: "${o.v6}/64"` : '', o.as ? `asNumber: ${o.as}` : '', o.rr ? `routeReflectorClusterID: ${o.rr}` : ''].filter(Boolean).join(', ');
  return `
apiVersion: projectcalico.org/v3
kind: Node
metadata: { name: ${name}${o.labels ? `, labels: ${JSON.stringify(o.labels)}` : ''} }
spec: { ${bgp ? `bgp: { ${bgp} }` : ''} }
---`;
}

const doc = (kind: string, name: string, spec: string) => `
apiVersion: projectcalico.org/v3
kind: ${kind}
metadata: { name: ${name} }
spec: ${spec}
---`;

const POOL = doc('IPPool', 'p', '{ cidr: 10.65.0.0/16 }');
const MESH_OFF = doc('BGPConfiguration', 'default', '{ nodeToNodeMeshEnabled: false }');

function derive(self: string, yaml: string, more: Partial<BgpTopologyInput> = {}): BgpTopology {
  const rs = resources(yaml);
  return deriveBgpTopology({
    nodeName: self,
    nodes: rs.filter((r): r is Node => r.kind === 'Node'),
    bgpPeers: rs.filter((r): r is BGPPeer => r.kind === 'BGPPeer'),
    bgpConfigurations: rs.filter((r): r is BGPConfiguration => r.kind === 'BGPConfiguration'),
    ipPools: rs.filter((r): r is IPPool => r.kind === 'IPPool'),
    localBlocks: ['10.65.1.0/26'],
    listen: { address: '0.0.0.0', port: 179 },
    controlSocket: '/run/tabby/x.sock',
    ...more,
  });
}

/** One line per session: address, AS, type, and the flags that differ from the defaults. */
function sessions(t: BgpTopology): string[] {
  assert.ok(t.config, `no config: ${t.problems.join('; ')}`);
  return t.config.peers.map((p) =>
    [
      p.address,
      `as${p.asNumber}`,
      t.types.get(p.address),
      p.port !== 179 ? `port=${p.port}` : '',
      p.passive ? 'passive' : '',
      p.routeReflectorClient ? 'rr-client' : '',
      p.password ? `pw=${p.password}` : '',
      p.ttlSecurity ? `ttl=${p.ttlSecurity}` : '',
      p.nextHopSelf ? 'nh-self' : '',
      p.nextHopKeep ? 'nh-keep' : '',
      p.gracefulRestart ? '' : 'no-gr',
    ]
      .filter(Boolean)
      .join(' '),
  );
}

interface Case {
  name: string;
  yaml: string;
  self: string;
  more?: Partial<BgpTopologyInput>;
  asNumber: number;
  routerId: string;
  clusterId?: string;
  sessions: string[];
  names?: string[];
  problems?: string[];
}

const mesh4 = POOL + node('n1', '172.31.0.1') + node('n2', '172.31.0.2') + node('n3', '172.31.0.3') + node('n4', '172.31.0.4') + node('bare', undefined, { as: 65555 });

const rrNodes =
  POOL +
  node('rr1', '172.31.0.1', { rr: '244.0.0.1', labels: { 'route-reflector': 'true' } }) +
  node('rr2', '172.31.0.2', { rr: '244.0.0.1', labels: { 'route-reflector': 'true' } }) +
  node('c1', '172.31.0.3') +
  node('c2', '172.31.0.4') +
  node('c3', '172.31.0.5') +
  node('c4', '172.31.0.6');
const PEER_WITH_RRS = doc('BGPPeer', 'peer-with-rrs', "{ nodeSelector: all(), peerSelector: route-reflector == 'true' }");

const racks =
  POOL +
  MESH_OFF +
  node('a1', '172.31.1.1', { as: 65001, labels: { rack: 'a' } }) +
  node('a2', '172.31.1.2', { as: 65001, labels: { rack: 'a' } }) +
  node('b1', '172.31.2.1', { as: 65002, labels: { rack: 'b' } }) +
  node('b2', '172.31.2.2', { as: 65002, labels: { rack: 'b' } }) +
  doc('BGPPeer', 'tor-a', "{ nodeSelector: rack == 'a', peerIP: 172.31.1.254, asNumber: 65101 }") +
  doc('BGPPeer', 'tor-b', "{ nodeSelector: rack == 'b', peerIP: 172.31.2.254, asNumber: 65102 }");

const roles =
  POOL +
  MESH_OFF +
  node('e1', '172.31.0.1', { labels: { role: 'edge' } }) +
  node('e2', '172.31.0.2', { labels: { role: 'edge' } }) +
  node('k1', '172.31.0.11', { labels: { role: 'core' } }) +
  node('k2', '172.31.0.12', { labels: { role: 'core' } });

const CASES: Case[] = [
  {
    name: 'mesh of 4: every other node with an address, AS 64512, passive towards greater addresses; self and address-less nodes skipped',
    yaml: mesh4,
    self: 'n2',
    asNumber: 64512,
    routerId: '172.31.0.2',
    sessions: ['172.31.0.1 as64512 mesh', '172.31.0.3 as64512 mesh passive', '172.31.0.4 as64512 mesh passive'],
    names: ['Mesh_172_31_0_1', 'Mesh_172_31_0_3', 'Mesh_172_31_0_4'],
  },
  {
    name: 'mesh passivity follows the order of the address texts, as Calico (10.0.0.10 sorts before 10.0.0.9)',
    yaml: POOL + node('a', '10.0.0.9') + node('b', '10.0.0.10') + node('c', '10.0.0.100'),
    self: 'a',
    asNumber: 64512,
    routerId: '10.0.0.9',
    sessions: ['10.0.0.10 as64512 mesh', '10.0.0.100 as64512 mesh'],
  },
  {
    name: 'mesh off, a global BGPPeer to a ToR (eBGP): the only session, type tor',
    yaml: mesh4 + doc('BGPConfiguration', 'default', '{ nodeToNodeMeshEnabled: false, asNumber: 65000 }') + doc('BGPPeer', 'tor', '{ peerIP: 172.31.0.254, asNumber: 65100 }'),
    self: 'n3',
    asNumber: 65000,
    routerId: '172.31.0.3',
    sessions: ['172.31.0.254 as65100 tor'],
    names: ['Global_172_31_0_254'],
  },
  {
    name: 'an AS per rack: the nodeSelector picks the rack; a node peers with its own ToR with its own AS (rack a)',
    yaml: racks,
    self: 'a2',
    asNumber: 65001,
    routerId: '172.31.1.2',
    sessions: ['172.31.1.254 as65101 tor'],
    names: ['Node_172_31_1_254'],
  },
  {
    name: 'an AS per rack (rack b)',
    yaml: racks,
    self: 'b1',
    asNumber: 65002,
    routerId: '172.31.2.1',
    sessions: ['172.31.2.254 as65102 tor'],
  },
  {
    name: 'route reflectors, client side: both reflectors, type rr, no mesh (off)',
    yaml: rrNodes + MESH_OFF + PEER_WITH_RRS,
    self: 'c2',
    asNumber: 64512,
    routerId: '172.31.0.4',
    sessions: ['172.31.0.1 as64512 rr', '172.31.0.2 as64512 rr'],
    names: ['Node_172_31_0_1', 'Node_172_31_0_2'],
  },
  {
    name: 'route reflectors, reflector side: the other reflector (same cluster) as a non-client, every client (reverse peering) as rr-client',
    yaml: rrNodes + MESH_OFF + PEER_WITH_RRS,
    self: 'rr1',
    asNumber: 64512,
    routerId: '172.31.0.1',
    clusterId: '244.0.0.1',
    sessions: ['172.31.0.2 as64512 rr', '172.31.0.3 as64512 rr rr-client', '172.31.0.4 as64512 rr rr-client', '172.31.0.5 as64512 rr rr-client', '172.31.0.6 as64512 rr rr-client'],
    names: ['Node_172_31_0_2', 'Node_172_31_0_3', 'Node_172_31_0_4', 'Node_172_31_0_5', 'Node_172_31_0_6'],
  },
  {
    name: 'route reflectors with the mesh on: clients mesh among themselves, never with a reflector',
    yaml: rrNodes + PEER_WITH_RRS,
    self: 'c1',
    asNumber: 64512,
    routerId: '172.31.0.3',
    sessions: ['172.31.0.1 as64512 rr', '172.31.0.2 as64512 rr', '172.31.0.4 as64512 mesh passive', '172.31.0.5 as64512 mesh passive', '172.31.0.6 as64512 mesh passive'],
  },
  {
    name: 'route reflectors with the mesh on: a reflector takes no part in the mesh',
    yaml: rrNodes + PEER_WITH_RRS,
    self: 'rr2',
    asNumber: 64512,
    routerId: '172.31.0.2',
    clusterId: '244.0.0.1',
    sessions: ['172.31.0.1 as64512 rr', '172.31.0.3 as64512 rr rr-client', '172.31.0.4 as64512 rr rr-client', '172.31.0.5 as64512 rr rr-client', '172.31.0.6 as64512 rr rr-client'],
  },
  {
    name: 'reflectors of different clusters treat each other as clients (Calico: cluster ids differ)',
    yaml: POOL + MESH_OFF + node('rr1', '172.31.0.1', { rr: '244.0.0.1', labels: { rr: 'y' } }) + node('rr2', '172.31.0.2', { rr: '244.0.0.2', labels: { rr: 'y' } }) + doc('BGPPeer', 'rrs', "{ nodeSelector: all(), peerSelector: rr == 'y' }"),
    self: 'rr1',
    asNumber: 64512,
    routerId: '172.31.0.1',
    clusterId: '244.0.0.1',
    sessions: ['172.31.0.2 as64512 rr rr-client'],
  },
  {
    name: 'reversePeering: Manual leaves the reverse side to the operator',
    yaml: rrNodes + MESH_OFF + PEER_WITH_RRS.replace("peerSelector: route-reflector == 'true' }", "peerSelector: route-reflector == 'true', reversePeering: Manual }"),
    self: 'rr1',
    asNumber: 64512,
    routerId: '172.31.0.1',
    clusterId: '244.0.0.1',
    sessions: ['172.31.0.2 as64512 rr'],
  },
  {
    name: 'a reflector with a ToR in its own AS by peerIP: the ToR is its client (Calico knows no cluster id for a peerIP peer)',
    yaml: POOL + MESH_OFF + node('rr1', '172.31.0.1', { rr: '244.0.0.1' }) + doc('BGPPeer', 'tor', '{ node: rr1, peerIP: 172.31.0.254, asNumber: 64512 }'),
    self: 'rr1',
    asNumber: 64512,
    routerId: '172.31.0.1',
    clusterId: '244.0.0.1',
    sessions: ['172.31.0.254 as64512 rr rr-client'],
  },
  {
    name: 'a node-specific BGPPeer applies to its node only (n1) and wins over the mesh for that address',
    yaml: mesh4 + doc('BGPPeer', 'n1-ext', '{ node: n1, peerIP: 10.99.0.1, asNumber: 65009 }') + doc('BGPPeer', 'n1-n3', '{ node: n1, peerIP: 172.31.0.3, asNumber: 64512, reversePeering: Manual }'),
    self: 'n1',
    asNumber: 64512,
    routerId: '172.31.0.1',
    sessions: ['10.99.0.1 as65009 tor', '172.31.0.2 as64512 mesh passive', '172.31.0.3 as64512 node', '172.31.0.4 as64512 mesh passive'],
    names: ['Node_10_99_0_1', 'Mesh_172_31_0_2', 'Node_172_31_0_3', 'Mesh_172_31_0_4'],
  },
  {
    name: 'a node-specific BGPPeer: another node (n2) does not have it',
    yaml: mesh4 + doc('BGPPeer', 'n1-ext', '{ node: n1, peerIP: 10.99.0.1, asNumber: 65009 }'),
    self: 'n2',
    asNumber: 64512,
    routerId: '172.31.0.2',
    sessions: ['172.31.0.1 as64512 mesh', '172.31.0.3 as64512 mesh passive', '172.31.0.4 as64512 mesh passive'],
  },
  {
    name: 'peerSelector peers: an edge node peers with every core node, with their addresses and AS (forward)',
    yaml: roles + doc('BGPPeer', 'edge-core', "{ nodeSelector: role == 'edge', peerSelector: role == 'core' }"),
    self: 'e1',
    asNumber: 64512,
    routerId: '172.31.0.1',
    sessions: ['172.31.0.11 as64512 node', '172.31.0.12 as64512 node'],
    names: ['Node_172_31_0_11', 'Node_172_31_0_12'],
  },
  {
    name: 'peerSelector peers: a core node peers back with every edge node (reverse), not with the other core node',
    yaml: roles + doc('BGPPeer', 'edge-core', "{ nodeSelector: role == 'edge', peerSelector: role == 'core' }"),
    self: 'k2',
    asNumber: 64512,
    routerId: '172.31.0.12',
    sessions: ['172.31.0.1 as64512 node', '172.31.0.2 as64512 node'],
  },
  {
    name: 'a port in peerIP (IPv4 and [IPv6]:port)',
    yaml: POOL + MESH_OFF + node('n1', '172.31.0.1', { v6: 'fd00:31::1' }) + doc('BGPPeer', 'rs', '{ peerIP: "172.31.0.254:1179", asNumber: 65100 }') + doc('BGPPeer', 'rs6', '{ peerIP: "[fd00:31::fe]:1179", asNumber: 65100 }'),
    self: 'n1',
    asNumber: 64512,
    routerId: '172.31.0.1',
    sessions: ['172.31.0.254 as65100 tor port=1179', 'fd00:31::fe as65100 tor port=1179'],
    names: ['Global_172_31_0_254_port_1179', 'Global_fd00_31__fe_port_1179'],
  },
  {
    name: 'self-exclusion: a global BGPPeer to n1\'s own address is skipped on n1, which peers back with every node (reverse)',
    yaml: POOL + MESH_OFF + node('n1', '172.31.0.1') + node('n2', '172.31.0.2') + node('n3', '172.31.0.3') + doc('BGPPeer', 'to-n1', '{ peerIP: 172.31.0.1, asNumber: 64512 }'),
    self: 'n1',
    asNumber: 64512,
    routerId: '172.31.0.1',
    sessions: ['172.31.0.2 as64512 node', '172.31.0.3 as64512 node'],
  },
  {
    name: 'a global peering to a node address: passive from a node whose address is the lesser string (the node dials back by reverse peering)',
    yaml: POOL + MESH_OFF + node('n1', '172.31.0.1') + node('n2', '172.31.0.2') + node('n3', '172.31.0.3') + doc('BGPPeer', 'to-n2', '{ peerIP: 172.31.0.2, asNumber: 64512 }'),
    self: 'n1',
    asNumber: 64512,
    routerId: '172.31.0.1',
    sessions: ['172.31.0.2 as64512 global passive'],
  },
  {
    name: 'a global peering to a node address: active from a node whose address is the greater string',
    yaml: POOL + MESH_OFF + node('n1', '172.31.0.1') + node('n2', '172.31.0.2') + node('n3', '172.31.0.3') + doc('BGPPeer', 'to-n2', '{ peerIP: 172.31.0.2, asNumber: 64512 }'),
    self: 'n3',
    asNumber: 64512,
    routerId: '172.31.0.3',
    sessions: ['172.31.0.2 as64512 global'],
  },
  {
    name: 'dedupe: one session per address; a global BGPPeer beats a node-specific one and the mesh',
    yaml: mesh4 + doc('BGPPeer', 'a-node', '{ node: n1, peerIP: 172.31.0.4, asNumber: 64512, ttlSecurity: 1, reversePeering: Manual }') + doc('BGPPeer', 'b-global', '{ peerIP: 172.31.0.4, asNumber: 64512, reversePeering: Manual, keepaliveTime: 10s }'),
    self: 'n1',
    asNumber: 64512,
    routerId: '172.31.0.1',
    sessions: ['172.31.0.2 as64512 mesh passive', '172.31.0.3 as64512 mesh passive', '172.31.0.4 as64512 global passive'],
    names: ['Mesh_172_31_0_2', 'Mesh_172_31_0_3', 'Global_172_31_0_4'],
  },
  {
    name: 'IPv6: a mesh over each family the node has; a node without IPv6 gets IPv4 sessions only',
    yaml: POOL + node('n1', '172.31.0.1', { v6: 'fd00:31::1' }) + node('n2', '172.31.0.2', { v6: 'fd00:31::2' }) + node('n3', '172.31.0.3'),
    self: 'n2',
    asNumber: 64512,
    routerId: '172.31.0.2',
    sessions: ['172.31.0.1 as64512 mesh', '172.31.0.3 as64512 mesh passive', 'fd00:31::1 as64512 mesh'],
    names: ['Mesh_172_31_0_1', 'Mesh_172_31_0_3', 'Mesh_fd00_31__1'],
  },
  {
    name: 'per-peer options: password, ttlSecurity, nextHopMode Self, keepOriginalNextHop for eBGP, maxRestartTime 0',
    yaml:
      POOL +
      MESH_OFF +
      node('n1', '172.31.0.1', { as: 65001 }) +
      doc('BGPPeer', 'a', '{ peerIP: 10.99.0.1, asNumber: 65100, password: { secretKeyRef: { name: bgp, key: a } }, ttlSecurity: 1, keepOriginalNextHop: true }') +
      doc('BGPPeer', 'b', '{ peerIP: 10.99.0.2, asNumber: 65001, nextHopMode: Self, keepOriginalNextHop: false, maxRestartTime: 0s }') +
      doc('BGPPeer', 'c', '{ peerIP: 10.99.0.3, asNumber: 65001, keepOriginalNextHop: true }'),
    self: 'n1',
    more: { secret: (n, k) => (n === 'bgp' && k === 'a' ? 's3cret' : undefined) },
    asNumber: 65001,
    routerId: '172.31.0.1',
    sessions: ['10.99.0.1 as65100 tor pw=s3cret ttl=1 nh-keep', '10.99.0.2 as65001 global nh-self no-gr', '10.99.0.3 as65001 global'],
  },
  {
    name: 'an unreadable password secret: the session runs without one (as confd) and a problem says so',
    yaml: POOL + MESH_OFF + node('n1', '172.31.0.1') + doc('BGPPeer', 'tor', '{ peerIP: 10.99.0.1, asNumber: 65100, password: { secretKeyRef: { name: bgp, key: gone } } }'),
    self: 'n1',
    more: { secret: () => undefined },
    asNumber: 64512,
    routerId: '172.31.0.1',
    sessions: ['10.99.0.1 as65100 tor'],
    problems: ['BGPPeer tor: password secret bgp/gone cannot be read: its sessions run without a password'],
  },
  {
    name: 'problems: a peerSelector that matches nothing, localASNumber',
    yaml: POOL + MESH_OFF + node('n1', '172.31.0.1') + doc('BGPPeer', 'none', "{ peerSelector: role == 'nobody' }") + doc('BGPPeer', 'las', '{ peerIP: 10.99.0.1, asNumber: 65100, localASNumber: 65005 }'),
    self: 'n1',
    asNumber: 64512,
    routerId: '172.31.0.1',
    sessions: [],
    problems: ['BGPPeer none: peerSelector "role == \'nobody\'" matches no node', 'BGPPeer las: localASNumber is not supported: no session to 10.99.0.1'],
  },
  {
    name: 'router id: an explicit one (CALICO_ROUTER_ID) wins over the node address',
    yaml: mesh4,
    self: 'n1',
    more: { routerId: '192.168.77.1' },
    asNumber: 64512,
    routerId: '192.168.77.1',
    sessions: ['172.31.0.2 as64512 mesh passive', '172.31.0.3 as64512 mesh passive', '172.31.0.4 as64512 mesh passive'],
  },
];

describe('daemon: BGP topology from resources, as Calico derives it', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const t = derive(c.self, c.yaml, c.more);
      assert.ok(t.config, t.problems.join('; '));
      assert.deepEqual(sessions(t), c.sessions);
      assert.equal(t.config.asNumber, c.asNumber);
      assert.equal(t.config.routerId, c.routerId);
      assert.equal(t.config.clusterId, c.clusterId);
      if (c.names) assert.deepEqual(t.config.peers.map((p) => p.description), c.names);
      assert.deepEqual(t.problems, c.problems ?? []);
      assert.deepEqual(t.config.originate, ['10.65.1.0/26']);
      // Every session: import all, export through the Calico export filter, one family, from the node's address.
      for (const p of t.config.peers) {
        assert.equal(p.import, 'all');
        assert.equal(p.export, 'calico_export');
        assert.deepEqual(p.addressFamilies, [p.address.includes(':') ? 'ipv6-unicast' : 'ipv4-unicast']);
        assert.ok(p.localAddress, `${p.address} has a source address`);
      }
      assert.deepEqual(t.peers.map((p) => p.address), t.config.peers.map((p) => p.address));
      assert.ok(compileFilters(t.config.filters)('calico_export'), 'the speaker compiles the export filter');
    });
  }

  it('the mesh uses the node-to-node password and restart time; sessions connect from the node address of their family', () => {
    const t = derive(
      'n2',
      POOL + node('n1', '172.31.0.1', { v6: 'fd00:31::1' }) + node('n2', '172.31.0.2', { v6: 'fd00:31::2' }) + doc('BGPConfiguration', 'default', '{ nodeMeshPassword: { secretKeyRef: { name: mesh, key: pw } }, nodeMeshMaxRestartTime: 300s }'),
      { secret: () => 'meshpw' },
    );
    assert.ok(t.config);
    assert.equal(t.config.gracefulRestartTime, 300);
    assert.deepEqual(
      t.config.peers.map((p) => [p.address, p.localAddress, p.password, p.gracefulRestart]),
      [
        ['172.31.0.1', '172.31.0.2', 'meshpw', true],
        ['fd00:31::1', 'fd00:31::2', 'meshpw', true],
      ],
    );
  });

  it('a peer address with a port of the node it belongs to: the node\'s BGPConfiguration listen port', () => {
    const t = derive('n1', POOL + MESH_OFF + node('n1', '172.31.0.1') + node('n2', '172.31.0.2') + doc('BGPConfiguration', 'node.n2', '{ listenPort: 1790 }') + doc('BGPPeer', 'to-n2', '{ node: n1, peerIP: 172.31.0.2, asNumber: 64512, reversePeering: Manual }'));
    assert.deepEqual(sessions(t), ['172.31.0.2 as64512 node port=1790']);
    assert.equal(t.config!.listen.port, 179);
    const t2 = derive('n2', POOL + MESH_OFF + node('n1', '172.31.0.1') + node('n2', '172.31.0.2') + doc('BGPConfiguration', 'node.n2', '{ listenPort: 1790 }'));
    assert.equal(t2.config!.listen.port, 1790, 'its own node.<name> listenPort wins over the node config');
  });

  it('origination: own blocks, borrowed workload addresses, service ranges (single addresses of external/LB IPs are per service, not global)', () => {
    const y =
      mesh4 +
      doc('BGPConfiguration', 'default', '{ serviceClusterIPs: [{ cidr: 10.96.0.0/12 }], serviceExternalIPs: [{ cidr: 198.51.100.0/24 }, { cidr: 198.51.101.7/32 }], serviceLoadBalancerIPs: [{ cidr: 203.0.113.0/28 }] }');
    const t = derive('n1', y, { localBlocks: ['10.65.1.0/26', '10.65.1.64/26'], workloadAddresses: ['10.65.1.5', '10.65.9.9', 'fd00:65::9'] });
    assert.deepEqual(t.config!.originate, ['10.65.1.0/26', '10.65.1.64/26', '10.65.9.9/32', 'fd00:65::9/128', '10.96.0.0/12', '198.51.100.0/24', '203.0.113.0/28']);
    assert.deepEqual(t.kernelReject, ['10.96.0.0/12', '198.51.100.0/24', '203.0.113.0/28']);
    // A node labelled out of load-balancing advertises no service range (but still keeps learned ones out of its kernel).
    const ex = derive('n1', y.replace('name: n1 }', `name: n1, labels: { "node.kubernetes.io/exclude-from-external-load-balancers": "true" } }`));
    assert.deepEqual(ex.config!.originate, ['10.65.1.0/26']);
    assert.deepEqual(ex.kernelReject, t.kernelReject);
  });

  it('export filter: pools without BGP export rejected, more specifics of own blocks rejected, then the block, service ranges and pools accepted', () => {
    const y =
      POOL +
      doc('IPPool', 'quiet', '{ cidr: 10.66.0.0/16, disableBGPExport: true }') +
      doc('IPPool', 'off', '{ cidr: 10.67.0.0/16, disabled: true }') +
      node('n1', '172.31.0.1') +
      doc('BGPConfiguration', 'default', '{ serviceClusterIPs: [{ cidr: 10.96.0.0/12 }] }');
    const t = derive('n1', y);
    assert.deepEqual(t.config!.filters.calico_export, {
      default: 'reject',
      terms: [
        { match: { prefix: ['10.66.0.0/16 le 32', '10.65.1.0/26 ge 27 le 32'] }, action: 'reject' },
        { match: { prefix: ['10.65.1.0/26', '10.96.0.0/12 le 32', '10.65.0.0/16 le 32', '10.67.0.0/16 le 32'] }, action: 'accept' },
      ],
    });
  });

  it('export filter on a route reflector: also the LoadBalancer and external IPv4 ranges (per-service /32s are reflected)', () => {
    const y = POOL + node('rr', '172.31.0.1', { rr: '244.0.0.1' }) + doc('BGPConfiguration', 'default', '{ nodeToNodeMeshEnabled: false, serviceExternalIPs: [{ cidr: 198.51.100.0/24 }], serviceLoadBalancerIPs: [{ cidr: 203.0.113.7/32 }] }');
    const t = derive('rr', y);
    const accept = t.config!.filters.calico_export!.terms.find((x) => x.action === 'accept')!;
    assert.deepEqual(accept.match.prefix, ['10.65.1.0/26', '198.51.100.0/24 le 32', '203.0.113.7/32', '10.65.0.0/16 le 32']);
  });

  it('prefixAdvertisements: communities on what is accepted, nested advertisements add up, most specific first', () => {
    const y =
      POOL +
      node('n1', '172.31.0.1') +
      doc(
        'BGPConfiguration',
        'default',
        `
  communities: [{ name: gold, value: "65000:100" }]
  prefixAdvertisements: [{ cidr: 10.65.0.0/16, communities: [gold, "65000:1:2"] }, { cidr: 10.65.1.0/24, communities: ["65000:200"] }, { cidr: 10.200.0.0/16, communities: ["65000:300"] }]`,
      );
    const t = derive('n1', y);
    assert.deepEqual(t.config!.filters.calico_export!.terms, [
      { match: { prefix: ['10.65.1.0/26 ge 27 le 32'] }, action: 'reject' },
      { match: { prefix: ['10.65.1.0/26', '10.65.1.0/24 le 32'] }, action: 'accept', set: { addCommunities: ['65000:200', '65000:100'], addLargeCommunities: ['65000:1:2'] } },
      { match: { prefix: ['10.65.1.0/26', '10.65.0.0/16 le 32'] }, action: 'accept', set: { addCommunities: ['65000:100'], addLargeCommunities: ['65000:1:2'] } },
      { match: { prefix: ['10.65.1.0/26', '10.65.0.0/16 le 32'] }, action: 'accept' },
    ]);
  });

  it('intersections of prefix ranges with an advertised CIDR', () => {
    const n = (c: string) => ip.parseCidr(c)!;
    const r = (c: string, ge: number, le: number) => ({ net: n(c), ge, le });
    assert.deepEqual(intersectWithin(r('10.0.0.0/8', 8, 32), n('10.1.0.0/16')), r('10.1.0.0/16', 16, 32));
    assert.deepEqual(intersectWithin(r('10.1.2.0/24', 24, 24), n('10.1.0.0/16')), r('10.1.2.0/24', 24, 24));
    assert.equal(intersectWithin(r('10.0.0.0/8', 8, 8), n('10.1.0.0/16')), undefined);
    assert.equal(intersectWithin(r('10.0.0.0/8', 8, 32), n('11.0.0.0/16')), undefined);
  });

  it('a node not registered yet: addresses and AS from `self`; with no IPv4 at all the router id is the hash of the name', () => {
    const t = derive('new', POOL + node('n1', '172.31.0.1'), { self: { ipv4: '172.31.0.9/24', asNumber: 65077 } });
    assert.deepEqual(sessions(t), ['172.31.0.1 as64512 mesh']);
    assert.equal(t.config!.asNumber, 65077);
    assert.equal(t.config!.routerId, '172.31.0.9');
    const v6only = derive('v6', POOL + node('v6', undefined, { v6: 'fd00:31::6' }) + node('n1', '172.31.0.1', { v6: 'fd00:31::1' }));
    assert.equal(v6only.config!.routerId, hashRouterId('v6'));
    assert.deepEqual(sessions(v6only), ['fd00:31::1 as64512 mesh']);
    assert.match(v6only.problems[0]!, /no IPv4 address: router id .* hash of the node name/);
  });

  it('hashRouterId: the first four bytes of SHA-256 of the name, first octet kept below 224', () => {
    assert.match(hashRouterId('node-a'), /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(hashRouterId('node-a'), hashRouterId('node-a'));
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l']) assert.ok(Number(hashRouterId(name).split('.')[0]) < 224);
  });

  it('bindMode NodeIP: the speaker listens on the node address', () => {
    const t = derive('n1', mesh4 + doc('BGPConfiguration', 'default', '{ bindMode: NodeIP }'));
    assert.deepEqual(t.config!.listen, { address: '172.31.0.1', port: 179, enabled: true });
  });
});

describe('daemon: BGP topology, allowas-in and next-hop keep', () => {
  const rackNode = POOL + MESH_OFF + node('a1', '172.31.0.1', { as: 65001 });
  it("numAllowedLocalASNumbers becomes the peer's allowOwnAs (nodes of one rack share an AS behind one ToR)", () => {
    const t = derive('a1', rackNode + doc('BGPPeer', 'tor', '{ peerIP: 172.31.0.250, asNumber: 65101, numAllowedLocalASNumbers: 1 }'));
    assert.ok(t.config, t.problems.join('; '));
    assert.equal(t.config.peers[0]!.allowOwnAs, 1);
    assert.equal(t.config.peers[0]!.nextHopKeep, false);
    assert.equal(t.types.get('172.31.0.250'), 'tor');
  });

  it("keepOriginalNextHop (or nextHopMode Keep) becomes the eBGP peer's nextHopKeep", () => {
    for (const field of ['keepOriginalNextHop: true', 'nextHopMode: Keep']) {
      const t = derive('a1', rackNode + doc('BGPPeer', 'tor', `{ peerIP: 172.31.0.250, asNumber: 65101, ${field} }`));
      assert.ok(t.config, t.problems.join('; '));
      assert.equal(t.config.peers[0]!.nextHopKeep, true, field);
      assert.deepEqual(t.problems, []);
    }
  });
});
