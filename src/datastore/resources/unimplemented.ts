/**
 * The Calico fields tabby does not implement, in one table.
 *
 * The contract: a Calico field tabby does not implement is rejected with an
 * error that says so, never silently ignored. Each row names where the field
 * is, what is still accepted (the value that means "feature off", so that a
 * manifest written by calicoctl with explicit defaults applies unchanged), and
 * why the feature is missing. The schemas attach the rows with
 * `unimplemented(row)`; README.md renders the same table and a test checks
 * that every row rejects its example.
 *
 * Fields Kubernetes or Calico write and never act on (uid,
 * creationTimestamp, status, ...) are a different matter: see metadata.ts.
 */
import { z } from 'zod';
import { report } from './fields.js';

export interface UnimplementedField {
  /** The kinds whose manifests can carry the field. */
  kinds: readonly string[];
  /** Where it sits, for people ("[]" marks any list item). */
  path: string;
  /**
   * What is still accepted, for people ("absent", "empty", "false", ...): it
   * completes "it may only be ..."; `accepts` is the rule.
   */
  accepted: string;
  accepts: (v: unknown) => boolean;
  why: string;
  /** For the table test: where to put `example` in a valid manifest of `kinds[0]`. */
  examplePath: (string | number)[];
  example: unknown;
}

const absent = (v: unknown) => v === undefined;
const absentOrEmpty = (v: unknown) => v === undefined || v === '' || (Array.isArray(v) && v.length === 0);
const absentOr = (ok: unknown) => (v: unknown) => v === undefined || v === ok;

const POLICY_KINDS = ['NetworkPolicy', 'GlobalNetworkPolicy', 'Profile'] as const;
const ALL_KINDS = ['IPPool', 'BGPConfiguration', 'BGPPeer', 'Node', 'NetworkPolicy', 'GlobalNetworkPolicy', 'WorkloadEndpoint', 'HostEndpoint', 'Profile'] as const;

export const UNIMPLEMENTED = {
  generateName: {
    kinds: ALL_KINDS, path: 'metadata.generateName', accepted: 'absent', accepts: absent,
    why: 'names are always given in full', examplePath: ['metadata', 'generateName'], example: 'pool-',
  },
  ownerReferences: {
    kinds: ALL_KINDS, path: 'metadata.ownerReferences', accepted: 'empty', accepts: absentOrEmpty,
    why: 'there is no garbage collection of dependent objects', examplePath: ['metadata', 'ownerReferences'], example: [{ kind: 'Node', name: 'a' }],
  },
  finalizers: {
    kinds: ALL_KINDS, path: 'metadata.finalizers', accepted: 'empty', accepts: absentOrEmpty,
    why: 'deletion is immediate, there are no finalizers', examplePath: ['metadata', 'finalizers'], example: ['x/y'],
  },
  poolNamespaceSelector: {
    kinds: ['IPPool'], path: 'spec.namespaceSelector', accepted: 'empty', accepts: absentOrEmpty,
    why: 'IPAM chooses pools by node only', examplePath: ['spec', 'namespaceSelector'], example: 'team == "a"',
  },
  poolLoadBalancer: {
    kinds: ['IPPool'], path: 'spec.allowedUses', accepted: 'a list of "Workload" and "Tunnel"',
    accepts: (v) => !Array.isArray(v) || !v.includes('LoadBalancer'),
    why: 'there are no LoadBalancer Services to allocate addresses for', examplePath: ['spec', 'allowedUses'], example: ['LoadBalancer'],
  },
  poolAssignmentMode: {
    kinds: ['IPPool'], path: 'spec.assignmentMode', accepted: '"Automatic"', accepts: absentOr('Automatic'),
    why: 'every pool is used for automatic assignment', examplePath: ['spec', 'assignmentMode'], example: 'Manual',
  },
  serviceLoadBalancerAggregation: {
    kinds: ['BGPConfiguration'], path: 'spec.serviceLoadBalancerAggregation', accepted: '"Enabled"', accepts: absentOr('Enabled'),
    why: 'tabby has no Kubernetes Services to advertise', examplePath: ['spec', 'serviceLoadBalancerAggregation'], example: 'Disabled',
  },
  ignoredInterfaces: {
    kinds: ['BGPConfiguration'], path: 'spec.ignoredInterfaces', accepted: 'empty', accepts: absentOrEmpty,
    why: 'tabby does not export device routes', examplePath: ['spec', 'ignoredInterfaces'], example: ['eth9'],
  },
  localWorkloadPeeringIPV4: {
    kinds: ['BGPConfiguration'], path: 'spec.localWorkloadPeeringIPV4', accepted: 'empty', accepts: absentOrEmpty,
    why: 'BGP peering with local workloads is not implemented', examplePath: ['spec', 'localWorkloadPeeringIPV4'], example: '169.254.0.1',
  },
  localWorkloadPeeringIPV6: {
    kinds: ['BGPConfiguration'], path: 'spec.localWorkloadPeeringIPV6', accepted: 'empty', accepts: absentOrEmpty,
    why: 'BGP peering with local workloads is not implemented', examplePath: ['spec', 'localWorkloadPeeringIPV6'], example: 'fe80::1',
  },
  programClusterRoutes: {
    kinds: ['BGPConfiguration'], path: 'spec.programClusterRoutes', accepted: '"EnabledNoEncapOnly"', accepts: absentOr('EnabledNoEncapOnly'),
    why: 'route ownership is fixed: BGP installs routes of unencapsulated pools, the dataplane those of IPIP and VXLAN pools',
    examplePath: ['spec', 'programClusterRoutes'], example: 'Enabled',
  },
  ipv4NormalRoutePriority: {
    kinds: ['BGPConfiguration'], path: 'spec.ipv4NormalRoutePriority', accepted: '1024', accepts: absentOr(1024),
    why: 'workload live migration is not implemented', examplePath: ['spec', 'ipv4NormalRoutePriority'], example: 512,
  },
  ipv6NormalRoutePriority: {
    kinds: ['BGPConfiguration'], path: 'spec.ipv6NormalRoutePriority', accepted: '1024', accepts: absentOr(1024),
    why: 'workload live migration is not implemented', examplePath: ['spec', 'ipv6NormalRoutePriority'], example: 512,
  },
  peerFilters: {
    kinds: ['BGPPeer'], path: 'spec.filters', accepted: 'empty', accepts: absentOrEmpty,
    why: 'BGPFilter resources are not implemented', examplePath: ['spec', 'filters'], example: ['only-default'],
  },
  peerLocalWorkloadSelector: {
    kinds: ['BGPPeer'], path: 'spec.localWorkloadSelector', accepted: 'empty', accepts: absentOrEmpty,
    why: 'BGP peering with local workloads is not implemented', examplePath: ['spec', 'localWorkloadSelector'], example: 'app == "bgp"',
  },
  peerReachableBy: {
    kinds: ['BGPPeer'], path: 'spec.reachableBy', accepted: 'empty', accepts: absentOrEmpty,
    why: 'static routes towards peers are not implemented', examplePath: ['spec', 'reachableBy'], example: '10.0.0.254',
  },
  nodeWireguard: {
    kinds: ['Node'], path: 'spec.wireguard', accepted: 'absent', accepts: absent,
    why: 'WireGuard encryption is not implemented', examplePath: ['spec', 'wireguard'], example: { interfaceIPv4Address: '10.65.0.1' },
  },
  policyTier: {
    kinds: ['NetworkPolicy', 'GlobalNetworkPolicy'], path: 'spec.tier', accepted: '"default"', accepts: absentOr('default'),
    why: 'policy tiers other than "default" are not implemented', examplePath: ['spec', 'tier'], example: 'security',
  },
  serviceAccountSelector: {
    kinds: ['NetworkPolicy', 'GlobalNetworkPolicy'], path: 'spec.serviceAccountSelector', accepted: 'empty', accepts: absentOrEmpty,
    why: 'tabby has no Kubernetes service accounts', examplePath: ['spec', 'serviceAccountSelector'], example: 'role == "db"',
  },
  doNotTrack: {
    kinds: ['GlobalNetworkPolicy'], path: 'spec.doNotTrack', accepted: 'false', accepts: absentOr(false),
    why: 'untracked (raw table) policy is not implemented', examplePath: ['spec', 'doNotTrack'], example: true,
  },
  preDNAT: {
    kinds: ['GlobalNetworkPolicy'], path: 'spec.preDNAT', accepted: 'false', accepts: absentOr(false),
    why: 'pre-DNAT (mangle table) policy is not implemented', examplePath: ['spec', 'preDNAT'], example: true,
  },
  ruleHttp: {
    kinds: POLICY_KINDS, path: 'spec.ingress[].http, spec.egress[].http', accepted: 'absent', accepts: absent,
    why: 'application-layer (HTTP) policy needs a proxy tabby does not have', examplePath: ['spec', 'ingress', 0, 'http'],
    example: { methods: ['GET'] },
  },
  ruleServiceAccounts: {
    kinds: POLICY_KINDS, path: 'spec.ingress[].source.serviceAccounts (and destination, egress)', accepted: 'absent', accepts: absent,
    why: 'tabby has no Kubernetes service accounts', examplePath: ['spec', 'ingress', 0, 'source', 'serviceAccounts'], example: { names: ['api'] },
  },
  ruleServices: {
    kinds: POLICY_KINDS, path: 'spec.ingress[].source.services (and destination, egress)', accepted: 'absent', accepts: absent,
    why: 'tabby has no Kubernetes Services', examplePath: ['spec', 'egress', 0, 'destination', 'services'], example: { name: 'web', namespace: 'default' },
  },
  ipNATs: {
    kinds: ['WorkloadEndpoint'], path: 'spec.ipNATs', accepted: 'empty', accepts: absentOrEmpty,
    why: 'floating IPs (1:1 NAT) are not implemented', examplePath: ['spec', 'ipNATs'], example: [{ internalIP: '10.65.0.5', externalIP: '172.16.0.5' }],
  },
  allowSpoofedSourcePrefixes: {
    kinds: ['WorkloadEndpoint'], path: 'spec.allowSpoofedSourcePrefixes', accepted: 'empty', accepts: absentOrEmpty,
    why: 'source-address spoofing exceptions are not implemented', examplePath: ['spec', 'allowSpoofedSourcePrefixes'], example: ['10.70.0.0/16'],
  },
  qosControls: {
    kinds: ['WorkloadEndpoint'], path: 'spec.qosControls', accepted: 'absent', accepts: absent,
    why: 'bandwidth and packet-rate limits are not implemented', examplePath: ['spec', 'qosControls'], example: { ingressBandwidth: 1000000 },
  },
  hostPort: {
    kinds: ['WorkloadEndpoint'], path: 'spec.ports[].hostPort', accepted: '0', accepts: absentOr(0),
    why: 'host port forwarding is not implemented', examplePath: ['spec', 'ports', 0, 'hostPort'], example: 8080,
  },
  hostIP: {
    kinds: ['WorkloadEndpoint'], path: 'spec.ports[].hostIP', accepted: 'empty', accepts: absentOr(''),
    why: 'host port forwarding is not implemented', examplePath: ['spec', 'ports', 0, 'hostIP'], example: '10.0.0.1',
  },
} as const satisfies Record<string, UnimplementedField>;

export type UnimplementedId = keyof typeof UNIMPLEMENTED;

export const NOT_IMPLEMENTED = 'is a Calico field tabby does not implement';

export function unimplementedMessage(row: UnimplementedField): string {
  const acceptedNote = row.accepted === 'absent' ? '' : `; it may only be ${row.accepted}`;
  return `${NOT_IMPLEMENTED} (${row.why})${acceptedNote}`;
}

/**
 * A field from the table. With a `schema`, the value must first be valid
 * Calico (so a typo is reported as such); without one any value that is not
 * accepted is reported as not implemented.
 */
export function unimplemented<S extends z.ZodType>(id: UnimplementedId, schema?: S) {
  const row: UnimplementedField = UNIMPLEMENTED[id];
  const base = (schema ?? z.unknown()) as S;
  return base.optional().superRefine((v, ctx) => {
    if (!row.accepts(v)) report(ctx, unimplementedMessage(row));
  });
}
