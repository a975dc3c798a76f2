/**
 * The kinds tabby knows: canonical name, list kind, plural, the names
 * `tabby get` accepts for it (calicoctl's aliases, lower case), whether it is
 * namespaced, its schema, and the table columns of `tabby get` (calicoctl's
 * default and `-o wide` columns; for namespaced kinds the caller puts a
 * NAMESPACE column first when listing several namespaces).
 */
import type { z } from 'zod';
import { bgpConfigurationSchema, type BGPConfiguration } from './bgp-configuration.js';
import { bgpPeerSchema, type BGPPeer } from './bgp-peer.js';
import { hostEndpointSchema, profileSchema, workloadEndpointSchema, type HostEndpoint, type Profile, type WorkloadEndpoint } from './endpoints.js';
import { ipPoolSchema, type IPPool } from './ippool.js';
import { nodeSchema, type Node } from './node.js';
import { globalNetworkPolicySchema, networkPolicySchema, type GlobalNetworkPolicy, type NetworkPolicy } from './policy.js';

export type Resource = IPPool | BGPConfiguration | BGPPeer | Node | NetworkPolicy | GlobalNetworkPolicy | WorkloadEndpoint | HostEndpoint | Profile;
export type ResourceKind = Resource['kind'];
export type ResourceOfKind<K extends ResourceKind> = Extract<Resource, { kind: K }>;

/** Context a column may need that is not in the resource itself. */
export interface ColumnContext {
  /** The cluster's default AS number, shown for nodes that have none of their own. */
  defaultASNumber?: number;
}

export interface Column<R> {
  header: string;
  value: (r: R, ctx: ColumnContext) => string;
}

export interface KindInfo<K extends ResourceKind = ResourceKind> {
  kind: K;
  listKind: `${K}List`;
  plural: string;
  namespaced: boolean;
  /** Lower-case names accepted for the kind, canonical first. */
  names: readonly string[];
  schema: z.ZodType<ResourceOfKind<K>>;
  columns: readonly Column<ResourceOfKind<K>>[];
  wideColumns: readonly Column<ResourceOfKind<K>>[];
}

const name: Column<Resource> = { header: 'NAME', value: (r) => r.metadata.name };
const join = (xs: readonly string[] | undefined) => (xs ?? []).join(',');
const str = (v: unknown) => (v === undefined ? '' : String(v));

function info<K extends ResourceKind>(i: KindInfo<K>): KindInfo<K> {
  return i;
}

const ippool = info({
  kind: 'IPPool',
  listKind: 'IPPoolList',
  plural: 'ippools',
  namespaced: false,
  names: ['ippool', 'ippools', 'ipp', 'ipps', 'pool', 'pools'],
  schema: ipPoolSchema,
  columns: [name, { header: 'CIDR', value: (r) => r.spec.cidr }, { header: 'SELECTOR', value: (r) => r.spec.nodeSelector }],
  wideColumns: [
    name,
    { header: 'CIDR', value: (r) => r.spec.cidr },
    { header: 'NAT', value: (r) => str(r.spec.natOutgoing) },
    { header: 'IPIPMODE', value: (r) => r.spec.ipipMode },
    { header: 'VXLANMODE', value: (r) => r.spec.vxlanMode },
    { header: 'DISABLED', value: (r) => str(r.spec.disabled) },
    { header: 'DISABLEBGPEXPORT', value: (r) => str(r.spec.disableBGPExport) },
    { header: 'SELECTOR', value: (r) => r.spec.nodeSelector },
  ],
});

const bgpConfigColumns: Column<BGPConfiguration>[] = [
  name,
  { header: 'LOGSEVERITY', value: (r) => r.spec.logSeverityScreen ?? '' },
  { header: 'MESHENABLED', value: (r) => (r.spec.nodeToNodeMeshEnabled === undefined ? '-' : String(r.spec.nodeToNodeMeshEnabled)) },
  { header: 'ASNUMBER', value: (r) => (r.spec.asNumber === undefined ? '-' : String(r.spec.asNumber)) },
];
const bgpconfig = info({
  kind: 'BGPConfiguration',
  listKind: 'BGPConfigurationList',
  plural: 'bgpconfigurations',
  namespaced: false,
  names: ['bgpconfiguration', 'bgpconfigurations', 'bgpconfig', 'bgpconfigs'],
  schema: bgpConfigurationSchema,
  columns: bgpConfigColumns,
  wideColumns: bgpConfigColumns,
});

const bgpPeerColumns: Column<BGPPeer>[] = [
  name,
  { header: 'PEERIP', value: (r) => r.spec.peerIP ?? '' },
  { header: 'NODE', value: (r) => r.spec.node ?? r.spec.nodeSelector ?? '(global)' },
  { header: 'ASN', value: (r) => str(r.spec.asNumber ?? 0) },
];
const bgppeer = info({
  kind: 'BGPPeer',
  listKind: 'BGPPeerList',
  plural: 'bgppeers',
  namespaced: false,
  names: ['bgppeer', 'bgppeers', 'bgpp', 'bgpps', 'bp', 'bps'],
  schema: bgpPeerSchema,
  columns: bgpPeerColumns,
  wideColumns: bgpPeerColumns,
});

const node = info({
  kind: 'Node',
  listKind: 'NodeList',
  plural: 'nodes',
  namespaced: false,
  names: ['node', 'nodes', 'no', 'nos'],
  schema: nodeSchema,
  columns: [name],
  wideColumns: [
    name,
    {
      header: 'ASN',
      value: (r, ctx) => {
        if (!r.spec.bgp) return '';
        if (r.spec.bgp.asNumber !== undefined) return String(r.spec.bgp.asNumber);
        return ctx.defaultASNumber !== undefined ? `(${ctx.defaultASNumber})` : '';
      },
    },
    { header: 'IPV4', value: (r) => r.spec.bgp?.ipv4Address ?? '' },
    { header: 'IPV6', value: (r) => r.spec.bgp?.ipv6Address ?? '' },
  ],
});

const networkpolicy = info({
  kind: 'NetworkPolicy',
  listKind: 'NetworkPolicyList',
  plural: 'networkpolicies',
  namespaced: true,
  names: ['networkpolicy', 'networkpolicies', 'policy', 'policies', 'np', 'pol', 'pols', 'netpol', 'netpols', 'cnp', 'caliconetworkpolicy', 'caliconetworkpolicies'],
  schema: networkPolicySchema,
  columns: [name, { header: 'TIER', value: (r) => r.spec.tier }],
  wideColumns: [
    name,
    { header: 'TIER', value: (r) => r.spec.tier },
    { header: 'ORDER', value: (r) => str(r.spec.order) },
    { header: 'SELECTOR', value: (r) => r.spec.selector },
  ],
});

const globalnetworkpolicy = info({
  kind: 'GlobalNetworkPolicy',
  listKind: 'GlobalNetworkPolicyList',
  plural: 'globalnetworkpolicies',
  namespaced: false,
  names: ['globalnetworkpolicy', 'globalnetworkpolicies', 'gnp', 'gnps', 'cgnp'],
  schema: globalNetworkPolicySchema,
  columns: [name, { header: 'TIER', value: (r) => r.spec.tier }],
  wideColumns: [
    name,
    { header: 'TIER', value: (r) => r.spec.tier },
    { header: 'ORDER', value: (r) => str(r.spec.order) },
    { header: 'SELECTOR', value: (r) => r.spec.selector },
  ],
});

const workloadendpoint = info({
  kind: 'WorkloadEndpoint',
  listKind: 'WorkloadEndpointList',
  plural: 'workloadendpoints',
  namespaced: true,
  names: ['workloadendpoint', 'workloadendpoints', 'wep', 'weps'],
  schema: workloadEndpointSchema,
  columns: [
    { header: 'WORKLOAD', value: (r) => r.spec.workload ?? r.spec.pod ?? '' },
    { header: 'NODE', value: (r) => r.spec.node },
    { header: 'NETWORKS', value: (r) => join(r.spec.ipNetworks) },
    { header: 'INTERFACE', value: (r) => r.spec.interfaceName },
  ],
  wideColumns: [
    name,
    { header: 'WORKLOAD', value: (r) => r.spec.workload ?? r.spec.pod ?? '' },
    { header: 'NODE', value: (r) => r.spec.node },
    { header: 'NETWORKS', value: (r) => join(r.spec.ipNetworks) },
    { header: 'INTERFACE', value: (r) => r.spec.interfaceName },
    { header: 'PROFILES', value: (r) => join(r.spec.profiles) },
  ],
});

const hostendpoint = info({
  kind: 'HostEndpoint',
  listKind: 'HostEndpointList',
  plural: 'hostendpoints',
  namespaced: false,
  names: ['hostendpoint', 'hostendpoints', 'hep', 'heps'],
  schema: hostEndpointSchema,
  columns: [name, { header: 'NODE', value: (r) => r.spec.node }],
  wideColumns: [
    name,
    { header: 'NODE', value: (r) => r.spec.node },
    { header: 'INTERFACE', value: (r) => r.spec.interfaceName ?? '' },
    { header: 'IPS', value: (r) => join(r.spec.expectedIPs) },
    { header: 'PROFILES', value: (r) => join(r.spec.profiles) },
  ],
});

const profile = info({
  kind: 'Profile',
  listKind: 'ProfileList',
  plural: 'profiles',
  namespaced: false,
  names: ['profile', 'profiles', 'pro', 'pros'],
  schema: profileSchema,
  columns: [name],
  wideColumns: [
    name,
    { header: 'LABELS', value: (r) => Object.entries(r.spec.labelsToApply ?? {}).map(([k, v]) => `${k}=${v}`).join(',') },
  ],
});

/** Every kind, in the order `tabby get` help lists them. */
export const KINDS = [ippool, bgpconfig, bgppeer, node, networkpolicy, globalnetworkpolicy, workloadendpoint, hostendpoint, profile] as const;

const byKind = new Map<string, KindInfo>(KINDS.map((k) => [k.kind, k as unknown as KindInfo]));
const byName = new Map<string, KindInfo>();
for (const k of KINDS) for (const n of k.names) byName.set(n, k as unknown as KindInfo);

/** The kind with exactly this canonical name ("IPPool"). */
export function kindInfo<K extends ResourceKind>(kind: K): KindInfo<K>;
export function kindInfo(kind: string): KindInfo | undefined;
export function kindInfo(kind: string): KindInfo | undefined {
  return byKind.get(kind);
}

/** The kind a user typed: canonical name, plural or alias, any case ("ipp", "GNP", "NetworkPolicies"). */
export function lookupKind(typed: string): KindInfo | undefined {
  return byName.get(typed.toLowerCase());
}

/**
 * Calico v3 kinds tabby does not implement, so that applying one says so
 * instead of "unknown kind".
 */
export const CALICO_KINDS_NOT_IMPLEMENTED = [
  'BGPFilter',
  'BlockAffinity',
  'CalicoNodeStatus',
  'ClusterInformation',
  'FelixConfiguration',
  'GlobalNetworkSet',
  'IPAMConfiguration',
  'IPReservation',
  'KubeControllersConfiguration',
  'NetworkSet',
  'StagedGlobalNetworkPolicy',
  'StagedKubernetesNetworkPolicy',
  'StagedNetworkPolicy',
  'Tier',
] as const;

/** Rows of a `tabby get` table for resources of one kind: header, then one row per resource. */
export function tableRows<K extends ResourceKind>(kind: K, resources: readonly ResourceOfKind<K>[], opts: { wide?: boolean; namespace?: boolean; context?: ColumnContext } = {}): string[][] {
  const k = kindInfo(kind);
  const cols = (opts.wide ? k.wideColumns : k.columns) as readonly Column<ResourceOfKind<K>>[];
  const withNs = opts.namespace && k.namespaced;
  const header = [...(withNs ? ['NAMESPACE'] : []), ...cols.map((c) => c.header)];
  const rows = resources.map((r) => [...(withNs ? [r.metadata.namespace ?? ''] : []), ...cols.map((c) => c.value(r, opts.context ?? {}))]);
  return [header, ...rows];
}
