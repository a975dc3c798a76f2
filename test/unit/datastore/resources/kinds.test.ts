/**
 * Per kind: Calico's documented manifests parse with Calico's defaults, and
 * invalid documents are reported with file, line, column, document, key path
 * and why.
 */
import assert from 'node:assert/strict';
import {
  effectiveBGPConfiguration,
  type BGPConfiguration,
  type BGPPeer,
  type GlobalNetworkPolicy,
  type HostEndpoint,
  type IPPool,
  type NetworkPolicy,
  type Node,
  type Profile,
  type WorkloadEndpoint,
} from '../../../../src/datastore/resources/index.js';
import { parseOk, problemsOf, yaml } from './helpers.js';

interface BadCase {
  name: string;
  text: string;
  errors: string[];
}

function runBad(cases: BadCase[]): void {
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(problemsOf(c.text), c.errors));
  }
}

const head = (kind: string, name: string) => ['apiVersion: projectcalico.org/v3', `kind: ${kind}`, 'metadata:', `  name: ${name}`];

describe('IPPool', () => {
  it('a pool with ipipMode CrossSubnet and natOutgoing gets Calico\'s defaults', () => {
    const [p] = parseOk(yaml(...head('IPPool', 'ipv4-pool'), 'spec:', '  cidr: 10.65.0.0/16', '  ipipMode: CrossSubnet', '  natOutgoing: true')) as [IPPool];
    assert.deepEqual(p, {
      apiVersion: 'projectcalico.org/v3',
      kind: 'IPPool',
      metadata: { name: 'ipv4-pool' },
      spec: {
        cidr: '10.65.0.0/16',
        blockSize: 26,
        ipipMode: 'CrossSubnet',
        vxlanMode: 'Never',
        natOutgoing: true,
        disabled: false,
        disableBGPExport: false,
        nodeSelector: 'all()',
        allowedUses: ['Workload', 'Tunnel'],
        assignmentMode: 'Automatic',
      },
    });
  });

  it('an IPv6 pool defaults to /122 blocks and its CIDR is written canonically', () => {
    const [p] = parseOk(yaml(...head('IPPool', 'v6'), 'spec:', '  cidr: FD00:0010:0:0::/48', '  vxlanMode: Always')) as [IPPool];
    assert.equal(p.spec.blockSize, 122);
    assert.equal(p.spec.cidr, 'fd00:10::/48');
    assert.equal(p.spec.vxlanMode, 'Always');
  });

  it('accepts calicoctl output with status, uid and explicit defaults', () => {
    const [p] = parseOk(
      yaml(
        'apiVersion: projectcalico.org/v3',
        'kind: IPPool',
        'metadata:',
        '  name: default-ipv4-ippool',
        '  uid: 3b8a2c1e-0000-4000-8000-000000000000',
        '  creationTimestamp: "2024-05-01T10:00:00Z"',
        '  resourceVersion: "1234"',
        'spec:',
        '  cidr: 192.168.0.0/16',
        '  blockSize: 26',
        '  ipipMode: Always',
        '  vxlanMode: Never',
        '  natOutgoing: true',
        '  nodeSelector: all()',
        '  allowedUses: [Workload, Tunnel]',
        '  assignmentMode: Automatic',
        'status:',
        '  conditions: []',
      ),
    ) as [IPPool];
    assert.deepEqual(p.metadata, { name: 'default-ipv4-ippool', resourceVersion: '1234' });
    assert.equal(p.spec.ipipMode, 'Always');
  });

  runBad([
    {
      name: 'ipipMode outside its enum',
      text: yaml(...head('IPPool', 'p'), 'spec:', '  cidr: 10.65.0.0/16', '  ipipMode: Sometimes'),
      errors: ['r.yaml:7:13: document 1: spec.ipipMode: must be one of "Always", "CrossSubnet", "Never"; got "Sometimes"'],
    },
    {
      name: 'a CIDR with host bits set',
      text: yaml(...head('IPPool', 'p'), 'spec:', '  cidr: 10.65.3.0/16'),
      errors: ['r.yaml:6:9: document 1: spec.cidr: IPPool CIDR is not strictly masked: "10.65.3.0/16" has host bits set; did you mean 10.65.0.0/16?'],
    },
    {
      name: 'blockSize out of the IPv4 range',
      text: yaml(...head('IPPool', 'p'), 'spec:', '  cidr: 10.0.0.0/8', '  blockSize: 19'),
      errors: ['r.yaml:7:14: document 1: spec.blockSize: blockSize must be from 20 to 32 for an IPv4 pool (got 19)'],
    },
    {
      name: 'a pool smaller than one block',
      text: yaml(...head('IPPool', 'p'), 'spec:', '  cidr: 10.65.0.0/28'),
      errors: ['r.yaml:6:9: document 1: spec.cidr: the pool /28 is smaller than one block (/26); use a shorter prefix, a larger blockSize, or disable the pool'],
    },
    {
      name: 'IPIP on an IPv6 pool',
      text: yaml(...head('IPPool', 'p'), 'spec:', '  cidr: fd00::/48', '  ipipMode: Always'),
      errors: ['r.yaml:7:13: document 1: spec.ipipMode: IPIP is not supported on IPv6 pools: ipipMode must be Never'],
    },
    {
      name: 'IPIP and VXLAN both enabled, with an unknown key in the same document',
      text: yaml(...head('IPPool', 'p'), 'spec:', '  cidr: 10.65.0.0/16', '  ipipMode: Always', '  vxlanMode: CrossSubnet', '  natOutgoin: true'),
      errors: [
        'r.yaml:7:13: document 1: spec.ipipMode: ipipMode and vxlanMode cannot both be enabled on the same IP pool',
        'r.yaml:9:3: document 1: spec.natOutgoin: unknown key (did you mean "natOutgoing"?)',
      ],
    },
    {
      name: 'overlapping the link-local range',
      text: yaml(...head('IPPool', 'p'), 'spec:', '  cidr: 169.254.0.0/20'),
      errors: ['r.yaml:6:9: document 1: spec.cidr: IPPool CIDR overlaps the link-local range 169.254.0.0/16'],
    },
    {
      name: 'a nodeSelector that does not parse',
      text: yaml(...head('IPPool', 'p'), 'spec:', '  cidr: 10.65.0.0/16', "  nodeSelector: rack == "),
      errors: ['r.yaml:7:17: document 1: spec.nodeSelector: selector "rack ==" at column 7: expected a quoted string, found end of input'],
    },
    {
      name: 'a namespace on a cluster-scoped kind, and a name with capitals',
      text: yaml('apiVersion: projectcalico.org/v3', 'kind: IPPool', 'metadata:', '  name: Pool-A', '  namespace: default', 'spec:', '  cidr: 10.65.0.0/16'),
      errors: [
        'r.yaml:4:9: document 1: metadata.name: must be a DNS-1123 subdomain: lowercase letters, digits, "-" and ".", starting and ending with a letter or digit (got "Pool-A")',
        'r.yaml:5:14: document 1: metadata.namespace: must not be set: IPPool is cluster-scoped, not namespaced',
      ],
    },
    {
      name: 'no cidr',
      text: yaml(...head('IPPool', 'p'), 'spec:', '  natOutgoing: true'),
      errors: ['r.yaml:6:3: document 1: spec.cidr: required key is missing'],
    },
  ]);
});

describe('BGPConfiguration', () => {
  it('the documented default configuration parses; defaults fill what is left out', () => {
    const [c] = parseOk(
      yaml(
        ...head('BGPConfiguration', 'default'),
        'spec:',
        '  nodeMeshMaxRestartTime: 120s',
        '  asNumber: 63400',
        '  listenPort: 178',
        '  bindMode: NodeIP',
        '  communities:',
        '  - name: bgp-large-community',
        '    value: 63400:300:100',
        '  prefixAdvertisements:',
        '  - cidr: 172.218.4.0/26',
        '    communities:',
        '    - bgp-large-community',
        '    - 63400:120',
      ),
    ) as [BGPConfiguration];
    assert.deepEqual(c.spec, {
      logSeverityScreen: 'Info',
      nodeToNodeMeshEnabled: true,
      asNumber: 63400,
      listenPort: 178,
      bindMode: 'NodeIP',
      nodeMeshMaxRestartTime: '120s',
      communities: [{ name: 'bgp-large-community', value: '63400:300:100' }],
      prefixAdvertisements: [{ cidr: '172.218.4.0/26', communities: ['bgp-large-community', '63400:120'] }],
    });
  });

  it('an empty default gets every default; asNumber may be in asdot notation', () => {
    const [c, d] = parseOk(yaml(...head('BGPConfiguration', 'default'), '---', ...head('BGPConfiguration', 'default'), 'spec:', '  asNumber: "1.10"')) as [BGPConfiguration, BGPConfiguration];
    assert.deepEqual(c.spec, { logSeverityScreen: 'Info', nodeToNodeMeshEnabled: true, asNumber: 64512, listenPort: 179, bindMode: 'None' });
    assert.equal(d.spec.asNumber, 65546);
  });

  it('a node override gets no defaults, and effectiveBGPConfiguration merges the three layers', () => {
    const [g, n] = parseOk(
      yaml(...head('BGPConfiguration', 'default'), 'spec:', '  nodeToNodeMeshEnabled: false', '  asNumber: 65000', '---', ...head('BGPConfiguration', 'node.rack1-host1'), 'spec:', '  listenPort: 1790', '  logSeverityScreen: Debug'),
    ) as [BGPConfiguration, BGPConfiguration];
    assert.deepEqual(n.spec, { listenPort: 1790, logSeverityScreen: 'Debug' });
    assert.deepEqual(effectiveBGPConfiguration(g, n), {
      logSeverityScreen: 'Debug',
      nodeToNodeMeshEnabled: false,
      asNumber: 65000,
      listenPort: 1790,
      bindMode: 'None',
      communities: [],
      prefixAdvertisements: [],
    });
    assert.deepEqual(effectiveBGPConfiguration(), { logSeverityScreen: 'Info', nodeToNodeMeshEnabled: true, asNumber: 64512, listenPort: 179, bindMode: 'None', communities: [], prefixAdvertisements: [] });
  });

  runBad([
    {
      name: 'a name Calico would ignore',
      text: yaml(...head('BGPConfiguration', 'global'), 'spec: {}'),
      errors: ['r.yaml:4:9: document 1: metadata.name: must be "default" (the cluster-wide settings) or "node.<nodename>" (one node\'s overrides); Calico ignores a BGPConfiguration with any other name (got "global")'],
    },
    {
      name: 'a cluster-wide field in a node override',
      text: yaml(...head('BGPConfiguration', 'node.host1'), 'spec:', '  asNumber: 65001'),
      errors: ['r.yaml:6:13: document 1: spec.asNumber: is only valid on the global "default" BGPConfiguration; a node.<nodename> resource may set only logSeverityScreen, listenPort, prefixAdvertisements, communities'],
    },
    {
      name: 'an unknown log severity',
      text: yaml(...head('BGPConfiguration', 'default'), 'spec:', '  logSeverityScreen: Verbose'),
      errors: ['r.yaml:6:22: document 1: spec.logSeverityScreen: must be one of Trace, Debug, Info, Warning, Error, Fatal (got "Verbose")'],
    },
    {
      name: 'a standard community with a number over 16 bits',
      text: yaml(...head('BGPConfiguration', 'default'), 'spec:', '  communities:', '  - name: big', '    value: 65536:1', '  prefixAdvertisements:', '  - cidr: 10.0.0.0/24', '    communities: [big]'),
      errors: ['r.yaml:8:12: document 1: spec.communities[0].value: a standard community "aa:nn" has two 16-bit numbers (0-65535) (got "65536:1")'],
    },
    {
      name: 'a prefix advertisement naming an undefined community',
      text: yaml(...head('BGPConfiguration', 'default'), 'spec:', '  prefixAdvertisements:', '  - cidr: 10.0.0.0/24', '    communities: [no-such]'),
      errors: ['r.yaml:8:19: document 1: spec.prefixAdvertisements[0].communities[0]: "no-such" is neither a community value ("aa:nn" or "aa:nn:mm") nor the name of one in spec.communities'],
    },
    {
      name: 'communities without prefix advertisements, and AS 0',
      text: yaml(...head('BGPConfiguration', 'default'), 'spec:', '  asNumber: 0', '  communities:', '  - {name: a, value: "1:1"}'),
      errors: [
        'r.yaml:6:13: document 1: spec.asNumber: AS number 0 is reserved (RFC 7607) and cannot be used',
        'r.yaml:8:3: document 1: spec.communities: communities are defined but not used in prefixAdvertisements',
      ],
    },
  ]);
});

describe('BGPPeer', () => {
  it('a route-reflector peering by peerSelector gets the defaults', () => {
    const [p] = parseOk(yaml(...head('BGPPeer', 'peer-with-route-reflectors'), 'spec:', "  nodeSelector: all()", '  peerSelector: route-reflector == \'true\'')) as [BGPPeer];
    assert.deepEqual(p.spec, {
      nodeSelector: 'all()',
      peerSelector: "route-reflector == 'true'",
      keepOriginalNextHop: false,
      sourceAddress: 'UseNodeIP',
      reversePeering: 'Auto',
    });
  });

  it('a ToR peer with port, node and timers', () => {
    const [p] = parseOk(
      yaml(...head('BGPPeer', 'rack1-tor'), 'spec:', '  peerIP: "[fd00::1]:1179"', '  asNumber: 64567', '  node: rack1-host1', '  maxRestartTime: 2m', '  keepaliveTime: 20s', '  ttlSecurity: 1', '  numAllowedLocalASNumbers: 2', '  sourceAddress: None', '  nextHopMode: Self'),
    ) as [BGPPeer];
    assert.equal(p.spec.peerIP, '[fd00::1]:1179');
    assert.equal(p.spec.asNumber, 64567);
    assert.equal(p.spec.sourceAddress, 'None');
    assert.equal(p.spec.nextHopMode, 'Self');
  });

  runBad([
    {
      name: 'peerIP and peerSelector together, asNumber with peerSelector',
      text: yaml(...head('BGPPeer', 'p'), 'spec:', '  peerIP: 10.0.0.1', '  asNumber: 65001', '  peerSelector: has(rr)'),
      errors: [
        'r.yaml:7:13: document 1: spec.asNumber: must not be set when peerSelector is set: the AS number of each selected node is used',
        'r.yaml:8:17: document 1: spec.peerSelector: peerIP and peerSelector cannot both be set',
      ],
    },
    {
      name: 'a port out of range in peerIP',
      text: yaml(...head('BGPPeer', 'p'), 'spec:', '  peerIP: 10.0.0.1:70000', '  asNumber: 65001'),
      errors: ['r.yaml:6:11: document 1: spec.peerIP: must be an IP address, optionally with a port as "<IPv4>:<port>" or "[<IPv6>]:<port>" (got "10.0.0.1:70000")'],
    },
    {
      name: 'a peerIP without asNumber',
      text: yaml(...head('BGPPeer', 'p'), 'spec:', '  peerIP: 10.0.0.1'),
      errors: ['r.yaml:6:3: document 1: spec.asNumber: is required when peerIP is set'],
    },
    {
      name: 'node and nodeSelector together, and neither peerIP nor peerSelector',
      text: yaml(...head('BGPPeer', 'p'), 'spec:', '  node: host1', '  nodeSelector: all()'),
      errors: [
        'r.yaml:6:3: document 1: spec: one of peerIP or peerSelector must be set',
        'r.yaml:7:17: document 1: spec.nodeSelector: node and nodeSelector cannot both be set',
      ],
    },
    {
      name: 'a bad duration and a bad asdot number',
      text: yaml(...head('BGPPeer', 'p'), 'spec:', '  peerIP: 10.0.0.1', '  asNumber: "1.70000"', '  maxRestartTime: 2 minutes'),
      errors: [
        'r.yaml:7:13: document 1: spec.asNumber: must be an AS number from 1 to 4294967295, in plain or "high.low" notation (got "1.70000")',
        'r.yaml:8:19: document 1: spec.maxRestartTime: must be a duration such as "120s", "2m" or "1h30m" (got "2 minutes")',
      ],
    },
  ]);
});

describe('Node', () => {
  it('the documented node parses unchanged', () => {
    const [n] = parseOk(
      yaml(...head('Node', 'node-hostname'), 'spec:', '  bgp:', '    asNumber: 64512', '    ipv4Address: 10.244.0.1/24', '    ipv6Address: 2001:db8:85a3::8a2e:370:7334/120', '    ipv4IPIPTunnelAddr: 192.168.0.1', '    routeReflectorClusterID: 224.0.0.1', '  ipv4VXLANTunnelAddr: 192.168.1.1', '  vxlanTunnelMACAddr: 66:f3:8d:2c:0e:1b', '  orchRefs:', '  - nodeName: node-hostname', '    orchestrator: k8s', 'status:', '  podCIDRs: [10.244.0.0/24]'),
    ) as [Node];
    assert.deepEqual(n.spec, {
      bgp: { asNumber: 64512, ipv4Address: '10.244.0.1/24', ipv6Address: '2001:db8:85a3::8a2e:370:7334/120', ipv4IPIPTunnelAddr: '192.168.0.1', routeReflectorClusterID: '224.0.0.1' },
      ipv4VXLANTunnelAddr: '192.168.1.1',
      vxlanTunnelMACAddr: '66:f3:8d:2c:0e:1b',
      orchRefs: [{ nodeName: 'node-hostname', orchestrator: 'k8s' }],
    });
  });

  runBad([
    {
      name: 'an empty bgp section',
      text: yaml(...head('Node', 'n1'), 'spec:', '  bgp: {}'),
      errors: ['r.yaml:6:8: document 1: spec.bgp: must not be empty: set at least one of asNumber, ipv4Address, ipv6Address, or leave bgp out'],
    },
    {
      name: 'an IPv6 address as ipv4Address and a bad cluster ID',
      text: yaml(...head('Node', 'n1'), 'spec:', '  bgp:', '    ipv4Address: fd00::5/64', '    routeReflectorClusterID: 1.2.3'),
      errors: [
        'r.yaml:7:18: document 1: spec.bgp.ipv4Address: must be an IPv4 CIDR such as 10.65.0.0/16 (or a single address) (got "fd00::5/64")',
        'r.yaml:8:30: document 1: spec.bgp.routeReflectorClusterID: must be an IPv4 address such as 10.0.0.1 (got "1.2.3")',
      ],
    },
    {
      name: 'a malformed VXLAN MAC',
      text: yaml(...head('Node', 'n1'), 'spec:', '  vxlanTunnelMACAddr: 66:f3:8d'),
      errors: ['r.yaml:6:23: document 1: spec.vxlanTunnelMACAddr: must be a MAC address such as ee:ee:ee:ee:ee:ee (got "66:f3:8d")'],
    },
  ]);
});

describe('NetworkPolicy', () => {
  it('allowing TCP from a namespaceSelector on ports 80 and 8000:8100', () => {
    const [p] = parseOk(
      yaml(
        'apiVersion: projectcalico.org/v3',
        'kind: NetworkPolicy',
        'metadata:',
        '  name: allow-tcp-web',
        '  namespace: production',
        'spec:',
        "  selector: role == 'web'",
        '  ingress:',
        '  - action: Allow',
        '    protocol: TCP',
        '    source:',
        "      namespaceSelector: team == 'frontend'",
        '    destination:',
        '      ports: [80, 8000:8100]',
      ),
    ) as [NetworkPolicy];
    assert.deepEqual(p, {
      apiVersion: 'projectcalico.org/v3',
      kind: 'NetworkPolicy',
      metadata: { name: 'allow-tcp-web', namespace: 'production', labels: { 'projectcalico.org/tier': 'default' } },
      spec: {
        tier: 'default',
        selector: "role == 'web'",
        types: ['Ingress'],
        ingress: [{ action: 'Allow', protocol: 'TCP', source: { namespaceSelector: "team == 'frontend'" }, destination: { ports: [80, '8000:8100'] } }],
        egress: [],
      },
    });
  });

  it('defaults the namespace and the types from the rules present', () => {
    const rs = parseOk(
      yaml(
        ...head('NetworkPolicy', 'egress-only'), 'spec:', '  egress: [{action: Allow}]', '---',
        ...head('NetworkPolicy', 'both'), 'spec:', '  ingress: [{action: Deny}]', '  egress: [{action: Allow}]', '---',
        ...head('NetworkPolicy', 'none'),
      ),
    ) as NetworkPolicy[];
    assert.deepEqual(rs.map((r) => [r.metadata.namespace, r.spec.types]), [['default', ['Egress']], ['default', ['Ingress', 'Egress']], ['default', ['Ingress']]]);
  });

  it('named ports need no protocol; ICMP rules; notNets; order may be fractional or negative', () => {
    const [p] = parseOk(
      yaml(...head('NetworkPolicy', 'mixed'), 'spec:', '  order: -10.5', '  ingress:', '  - action: Allow', '    destination: {ports: [http-alt]}', '  - action: Deny', '    protocol: ICMP', '    notICMP: {type: 8, code: 0}', '    ipVersion: 4', '  - action: Log', '    source: {notNets: [10.0.0.0/8], notPorts: ["22"]}', '    protocol: 6'),
    ) as [NetworkPolicy];
    assert.equal(p.spec.order, -10.5);
    assert.deepEqual(p.spec.ingress[2], { action: 'Log', protocol: 6, source: { notNets: ['10.0.0.0/8'], notPorts: [22] }, destination: {} });
  });

  const np = (...spec: string[]) => yaml(...head('NetworkPolicy', 'p'), 'spec:', ...spec);
  runBad([
    {
      name: 'an action in the wrong case',
      text: np('  ingress:', '  - action: allow'),
      errors: ['r.yaml:7:13: document 1: spec.ingress[0].action: must be one of "Allow", "Deny", "Log", "Pass"; got "allow"'],
    },
    {
      name: 'ports with a protocol that has none',
      text: np('  ingress:', '  - action: Allow', '    protocol: ICMP', '    destination:', '      ports: [80]'),
      errors: ['r.yaml:10:14: document 1: spec.ingress[0].destination.ports: rules that specify ports must set protocol to TCP, UDP or SCTP'],
    },
    {
      name: 'numeric ports without a protocol',
      text: np('  egress:', '  - action: Allow', '    destination:', '      ports: ["443"]'),
      errors: ['r.yaml:9:14: document 1: spec.egress[0].destination.ports: rules with a numeric port or port range must set protocol to TCP, UDP or SCTP'],
    },
    {
      name: 'an ICMP code without a type, and icmp with protocol TCP',
      text: np('  ingress:', '  - action: Allow', '    protocol: TCP', '    icmp:', '      code: 3'),
      errors: [
        'r.yaml:10:7: document 1: spec.ingress[0].icmp: ICMP fields require protocol to be ICMP or ICMPv6',
        'r.yaml:10:13: document 1: spec.ingress[0].icmp.code: ICMP code specified without an ICMP type',
      ],
    },
    {
      name: 'a lower-case protocol name and an inverted port range',
      text: np('  ingress:', '  - action: Allow', '    protocol: tcp', '    destination: {ports: ["90:80"]}'),
      errors: [
        'r.yaml:8:15: document 1: spec.ingress[0].protocol: protocol name invalid: must be one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number from 1 to 255 (got "tcp"); names are case-sensitive, did you mean "TCP"?',
        'r.yaml:9:27: document 1: spec.ingress[0].destination.ports[0]: port range "90:80" is invalid: the first port must not be greater than the second',
      ],
    },
    {
      name: 'IPv4 and IPv6 CIDRs in one rule, and a CIDR of the other version than ipVersion',
      text: np('  ingress:', '  - action: Deny', '    source: {nets: [10.0.0.0/8]}', '    destination: {nets: ["fd00::/8"]}', '  - action: Deny', '    ipVersion: 6', '    source: {nets: [192.168.0.0/16]}'),
      errors: [
        'r.yaml:9:26: document 1: spec.ingress[0].destination.nets[0]: rule contains both IPv4 and IPv6 CIDRs',
        'r.yaml:12:21: document 1: spec.ingress[1].source.nets[0]: rule ipVersion is 6 but "192.168.0.0/16" is an IPv4 CIDR',
      ],
    },
    {
      name: 'global() in the policy selector, and a type given twice',
      text: np('  selector: global()', '  types: [Ingress, Ingress]'),
      errors: [
        'r.yaml:6:13: document 1: spec.selector: global() can only be used in a rule\'s namespaceSelector',
        'r.yaml:7:20: document 1: spec.types[1]: \'Ingress\' type specified more than once',
      ],
    },
    {
      name: 'a name with three labels and a namespace with capitals',
      text: yaml('apiVersion: projectcalico.org/v3', 'kind: NetworkPolicy', 'metadata:', '  name: a.b.c', '  namespace: Prod'),
      errors: [
        'r.yaml:4:9: document 1: metadata.name: must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit, or two such labels joined by "." (got "a.b.c")',
        'r.yaml:5:14: document 1: metadata.namespace: must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit (got "Prod")',
      ],
    },
  ]);
});

describe('GlobalNetworkPolicy', () => {
  it('a default-deny policy for every endpoint outside the system namespaces', () => {
    const [p] = parseOk(
      yaml(...head('GlobalNetworkPolicy', 'default-deny'), 'spec:', "  selector: projectcalico.org/namespace not in {'kube-system', 'calico-system'}", '  types:', '  - Ingress', '  - Egress'),
    ) as [GlobalNetworkPolicy];
    assert.deepEqual(p.spec, {
      tier: 'default',
      selector: "projectcalico.org/namespace not in {'kube-system', 'calico-system'}",
      types: ['Ingress', 'Egress'],
      ingress: [],
      egress: [],
      applyOnForward: false,
    });
    assert.deepEqual(p.metadata, { name: 'default-deny', labels: { 'projectcalico.org/tier': 'default' } });
  });

  it('accepts explicit off values of unimplemented fields, global() alone in a rule namespaceSelector, performance hints', () => {
    const [p] = parseOk(
      yaml(...head('GlobalNetworkPolicy', 'sec.allow-dns'), 'spec:', '  tier: default', '  doNotTrack: false', '  preDNAT: false', '  applyOnForward: true', '  order: 10', '  namespaceSelector: has(projectcalico.org/name)', '  performanceHints: [AssumeNeededOnEveryNode]', '  egress:', '  - action: Allow', '    protocol: UDP', '    destination:', '      namespaceSelector: global()', '      ports: [53]'),
    ) as [GlobalNetworkPolicy];
    assert.equal(p.spec.applyOnForward, true);
    assert.equal(p.spec.namespaceSelector, 'has(projectcalico.org/name)');
    assert.deepEqual(p.spec.types, ['Egress']);
  });

  const gnp = (...spec: string[]) => yaml(...head('GlobalNetworkPolicy', 'g'), 'spec:', ...spec);
  runBad([
    {
      name: 'a name with two dots',
      text: yaml(...head('GlobalNetworkPolicy', 'a.b.c')),
      errors: ['r.yaml:4:9: document 1: metadata.name: must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit, or two such labels joined by "." (got "a.b.c")'],
    },
    {
      name: 'global() in namespaceSelector of the policy, and an order that is not a number',
      text: gnp('  namespaceSelector: global()', '  order: first'),
      errors: [
        'r.yaml:6:22: document 1: spec.namespaceSelector: global() can only be used in a rule\'s namespaceSelector',
        'r.yaml:7:10: document 1: spec.order: expected a number, got "first"',
      ],
    },
    {
      name: 'global() combined with another selector in a rule',
      text: gnp('  ingress:', '  - action: Allow', "    source: {namespaceSelector: global() && a == 'b'}"),
      errors: ['r.yaml:8:33: document 1: spec.ingress[0].source.namespaceSelector: global() cannot be combined with other selectors'],
    },
    {
      name: 'a catch-all notNets and doNotTrack',
      text: gnp('  doNotTrack: true', '  applyOnForward: true', '  egress:', '  - action: Deny', '    destination: {notNets: [0.0.0.0/0]}'),
      errors: [
        'r.yaml:6:15: document 1: spec.doNotTrack: is a Calico field tabby does not implement (untracked (raw table) policy is not implemented); it may only be false',
        'r.yaml:10:29: document 1: spec.egress[0].destination.notNets[0]: "0.0.0.0/0" in notNets matches every address, so the rule would match no traffic',
      ],
    },
  ]);
});

describe('WorkloadEndpoint', () => {
  it('the documented endpoint parses; the name is derived and Calico\'s labels added', () => {
    const [w] = parseOk(
      yaml(
        'apiVersion: projectcalico.org/v3',
        'kind: WorkloadEndpoint',
        'metadata:',
        '  name: node1-k8s-my--nginx--b1337a-eth0',
        '  namespace: default',
        '  labels:',
        '    app: frontend',
        'spec:',
        '  node: node1',
        '  orchestrator: k8s',
        '  endpoint: eth0',
        '  containerID: 1337495556942031415926535',
        '  pod: my-nginx-b1337a',
        '  ipNetworks: [192.168.0.0/32]',
        '  profiles: [profile1]',
        '  interfaceName: cali0ef24ba',
        '  mac: ca:fe:1d:52:bb:e9',
        '  ports:',
        '  - name: some-port',
        '    port: 1234',
        '    protocol: TCP',
        '  - name: another-port',
        '    port: 5432',
        '    protocol: UDP',
      ).replace('containerID: 1337495556942031415926535', 'containerID: "1337495556942031415926535"'),
    ) as [WorkloadEndpoint];
    assert.deepEqual(w.metadata, {
      name: 'node1-k8s-my--nginx--b1337a-eth0',
      namespace: 'default',
      labels: { app: 'frontend', 'projectcalico.org/namespace': 'default', 'projectcalico.org/orchestrator': 'k8s' },
    });
    assert.deepEqual(w.spec.ports, [{ name: 'some-port', protocol: 'TCP', port: 1234 }, { name: 'another-port', protocol: 'UDP', port: 5432 }]);
    assert.deepEqual(w.spec.ipNetworks, ['192.168.0.0/32']);
  });

  it('a cni endpoint without metadata gets its name from the container ID', () => {
    const [w] = parseOk(yaml('apiVersion: projectcalico.org/v3', 'kind: WorkloadEndpoint', 'spec:', '  node: host-a', '  orchestrator: cni', '  containerID: abc123', '  endpoint: eth0', '  interfaceName: cali1', '  ipNetworks: [10.65.0.7]')) as [WorkloadEndpoint];
    assert.equal(w.metadata.name, 'host--a-cni-abc123-eth0');
    assert.equal(w.metadata.namespace, 'default');
    assert.deepEqual(w.spec.profiles, []);
  });

  const wep = (...spec: string[]) => yaml('apiVersion: projectcalico.org/v3', 'kind: WorkloadEndpoint', 'metadata:', '  name: n1-k8s-web-eth0', 'spec:', ...spec);
  runBad([
    {
      name: 'a name that does not match the spec',
      text: wep('  node: n1', '  orchestrator: k8s', '  pod: api', '  endpoint: eth0', '  interfaceName: cali1'),
      errors: ['r.yaml:4:9: document 1: metadata.name: does not match the endpoint\'s node, orchestrator, workload and endpoint: expected "n1-k8s-api-eth0" (or leave the name out)'],
    },
    {
      name: 'a network instead of an address, and no interfaceName',
      text: wep('  node: n1', '  orchestrator: k8s', '  pod: web', '  endpoint: eth0', '  ipNetworks: [10.65.0.0/24]'),
      errors: [
        'r.yaml:6:3: document 1: spec.interfaceName: required key is missing',
        'r.yaml:10:16: document 1: spec.ipNetworks[0]: must be a single address (/32), not a network (got "10.65.0.0/24")',
      ],
    },
    {
      name: 'a port with a protocol that has no ports',
      text: wep('  node: n1', '  orchestrator: k8s', '  pod: web', '  endpoint: eth0', '  interfaceName: cali1', '  ports: [{name: ping, port: 1, protocol: ICMP}]'),
      errors: ['r.yaml:11:43: document 1: spec.ports[0].protocol: protocol "ICMP" has no ports: must be TCP, UDP or SCTP'],
    },
    {
      name: 'a k8s endpoint without a pod',
      text: wep('  node: n1', '  orchestrator: k8s', '  endpoint: eth0', '  interfaceName: cali1'),
      errors: ['r.yaml:6:3: document 1: spec.pod: is required: the endpoint\'s name is built from it'],
    },
  ]);
});

describe('HostEndpoint', () => {
  it('the documented host endpoint parses', () => {
    const [h] = parseOk(
      yaml(...head('HostEndpoint', 'some.name'), '  labels:', '    type: production', 'spec:', '  interfaceName: eth0', '  node: myhost', '  expectedIPs:', '  - 192.168.0.1', '  - 192.168.0.2', '  profiles:', '  - profile1', '  - profile2', '  ports:', '  - name: some-port', '    port: 1234', '    protocol: TCP', '  - name: another-port', '    port: 5432', '    protocol: UDP'),
    ) as [HostEndpoint];
    assert.deepEqual(h.spec, {
      node: 'myhost',
      interfaceName: 'eth0',
      expectedIPs: ['192.168.0.1', '192.168.0.2'],
      profiles: ['profile1', 'profile2'],
      ports: [{ name: 'some-port', port: 1234, protocol: 'TCP' }, { name: 'another-port', port: 5432, protocol: 'UDP' }],
    });
  });

  runBad([
    {
      name: 'neither interfaceName nor expectedIPs',
      text: yaml(...head('HostEndpoint', 'h'), 'spec:', '  node: host1'),
      errors: ['r.yaml:6:3: document 1: spec: at least one of interfaceName or expectedIPs must be specified'],
    },
    {
      name: 'no node, and an expected IP that is not an address',
      text: yaml(...head('HostEndpoint', 'h'), 'spec:', '  expectedIPs: [10.0.0.300]'),
      errors: [
        'r.yaml:6:3: document 1: spec.node: required key is missing',
        'r.yaml:6:17: document 1: spec.expectedIPs[0]: must be an address (got "10.0.0.300")',
      ],
    },
    {
      name: 'a port name with capitals and a port 0',
      text: yaml(...head('HostEndpoint', 'h'), 'spec:', '  node: host1', '  interfaceName: eth0', '  ports: [{name: HTTP, port: 0, protocol: TCP}]'),
      errors: [
        'r.yaml:8:18: document 1: spec.ports[0].name: port names may contain only lowercase letters, digits and "-" (got "HTTP")',
        'r.yaml:8:30: document 1: spec.ports[0].port: must be >= 1, got number 0',
      ],
    },
  ]);
});

describe('Profile', () => {
  it('the documented profile parses', () => {
    const [p] = parseOk(
      yaml(...head('Profile', 'dev-apps'), 'spec:', '  ingress:', '  - action: Deny', '    source:', '      nets:', '      - 10.0.20.0/24', '  - action: Allow', '    source:', "      selector: stage == 'development'", '  egress:', '  - action: Allow', '  labelsToApply:', '    stage: development'),
    ) as [Profile];
    assert.deepEqual(p.spec, {
      ingress: [
        { action: 'Deny', source: { nets: ['10.0.20.0/24'] }, destination: {} },
        { action: 'Allow', source: { selector: "stage == 'development'" }, destination: {} },
      ],
      egress: [{ action: 'Allow', source: {}, destination: {} }],
      labelsToApply: { stage: 'development' },
    });
  });

  runBad([
    {
      name: 'a label key that is not a qualified name',
      text: yaml(...head('Profile', 'p'), 'spec:', '  labelsToApply:', '    "-bad": x'),
      errors: ['r.yaml:7:13: document 1: spec.labelsToApply.-bad: label key "-bad": the name (after any "/") must consist of letters, digits, "-", "_" and ".", starting and ending with a letter or digit'],
    },
    {
      name: 'ipVersion 5',
      text: yaml(...head('Profile', 'p'), 'spec:', '  egress:', '  - action: Allow', '    ipVersion: 5'),
      errors: ['r.yaml:8:16: document 1: spec.egress[0].ipVersion: expected 4 or 6, got number 5'],
    },
    {
      name: 'rules that are not a list, and a label value too long',
      text: yaml(...head('Profile', 'p'), '  labels:', `    tier: ${'x'.repeat(64)}`, 'spec:', '  ingress: {action: Allow}'),
      errors: [
        'r.yaml:6:11: document 1: metadata.labels.tier: label values must be at most 63 characters (got "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...")',
        'r.yaml:8:12: document 1: spec.ingress: expected a list, got a mapping',
      ],
    },
  ]);
});
