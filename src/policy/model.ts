/**
 * The policy model as the compiler sees it: Calico v3 resources reduced to
 * what decides traffic, with Calico's derived fields filled in.
 *
 * - Endpoints carry their own labels and the labels they inherit from their
 *   profiles (Felix's label inheritance), their addresses and named ports.
 * - Policies carry their endpoint selector already composed the way Calico
 *   composes it (`selector/compose.ts`), their `order` and `types`.
 * - Profiles: a `kns.<namespace>` profile an endpoint names but nobody
 *   created is synthesised as Calico's Kubernetes namespace profile (allow
 *   all in both directions, namespace labels `pcns.projectcalico.org/name`
 *   and `pcns.kubernetes.io/metadata.name`). A Profile resource of that name
 *   replaces it, so users can give namespaces labels for `namespaceSelector`.
 *
 * Pure: no I/O, no clocks.
 */
import type {
  GlobalNetworkPolicy,
  HostEndpoint,
  NetworkPolicy,
  Profile,
  Resource,
  Rule,
  WorkloadEndpoint,
} from '../datastore/resources/index.js';
import type { EndpointPort } from '../datastore/resources/endpoints.js';
import { parseCidr, parseIp, formatIp } from '../datastore/resources/ip.js';
import {
  globalNetworkPolicyEndpointSelector,
  LABEL_NAME,
  NAMESPACE_LABEL_PREFIX,
  networkPolicyEndpointSelector,
  type Selector,
} from './selector/index.js';

export type Direction = 'ingress' | 'egress';
export type IpVersion = 4 | 6;

/** Prefix of Calico's per-namespace profiles (Kubernetes' `kns.<namespace>`). */
export const NAMESPACE_PROFILE_PREFIX = 'kns.';
/** The label Kubernetes puts on every namespace: its name. */
export const K8S_NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** The resources the compiler reads; every other kind is ignored. */
export interface PolicyResources {
  networkPolicies: readonly NetworkPolicy[];
  globalNetworkPolicies: readonly GlobalNetworkPolicy[];
  profiles: readonly Profile[];
  workloadEndpoints: readonly WorkloadEndpoint[];
  hostEndpoints: readonly HostEndpoint[];
}

/** Sort a mixed list of resources into the kinds the compiler reads. */
export function policyResourcesFrom(resources: Iterable<Resource>): PolicyResources {
  const out = {
    networkPolicies: [] as NetworkPolicy[],
    globalNetworkPolicies: [] as GlobalNetworkPolicy[],
    profiles: [] as Profile[],
    workloadEndpoints: [] as WorkloadEndpoint[],
    hostEndpoints: [] as HostEndpoint[],
  };
  for (const r of resources) {
    switch (r.kind) {
      case 'NetworkPolicy':
        out.networkPolicies.push(r);
        break;
      case 'GlobalNetworkPolicy':
        out.globalNetworkPolicies.push(r);
        break;
      case 'Profile':
        out.profiles.push(r);
        break;
      case 'WorkloadEndpoint':
        out.workloadEndpoints.push(r);
        break;
      case 'HostEndpoint':
        out.hostEndpoints.push(r);
        break;
      default:
        break;
    }
  }
  return out;
}

// ---- policies --------------------------------------------------------------

/** Identifies a policy or profile: what `explain` names and chain names derive from. */
export type OwnerRef =
  | { kind: 'NetworkPolicy'; namespace: string; name: string }
  | { kind: 'GlobalNetworkPolicy'; name: string }
  | { kind: 'Profile'; name: string };

export function ownerText(o: OwnerRef): string {
  return o.kind === 'NetworkPolicy' ? `${o.kind} ${o.namespace}/${o.name}` : `${o.kind} ${o.name}`;
}

export interface PolicyEntry {
  /** `<namespace>/<name>` for a NetworkPolicy, `<name>` for a GlobalNetworkPolicy: unique among policies. */
  key: string;
  owner: OwnerRef;
  /** Namespace of a NetworkPolicy (rule selectors are limited to it); undefined for a global one. */
  namespace: string | undefined;
  /** Lower first; undefined sorts after every number. */
  order: number | undefined;
  /** The composed endpoint selector (Calico's conversion). */
  selector: Selector;
  ingress: readonly Rule[] | undefined;
  egress: readonly Rule[] | undefined;
  applyOnForward: boolean;
  /** Content fingerprint: equal fingerprints compile to equal chains. */
  fingerprint: string;
}

export function networkPolicyEntry(p: NetworkPolicy): PolicyEntry {
  const ns = p.metadata.namespace;
  const s = p.spec;
  return {
    key: `${ns}/${p.metadata.name}`,
    owner: { kind: 'NetworkPolicy', namespace: ns, name: p.metadata.name },
    namespace: ns,
    order: s.order,
    selector: networkPolicyEndpointSelector(ns, { selector: s.selector }),
    ingress: s.types.includes('Ingress') ? s.ingress : undefined,
    egress: s.types.includes('Egress') ? s.egress : undefined,
    // Calico: namespaced policies always apply to forwarded traffic of workloads.
    applyOnForward: true,
    fingerprint: JSON.stringify(['NP', ns, p.metadata.name, s.types, s.ingress, s.egress]),
  };
}

export function globalNetworkPolicyEntry(p: GlobalNetworkPolicy): PolicyEntry {
  const s = p.spec;
  return {
    key: p.metadata.name,
    owner: { kind: 'GlobalNetworkPolicy', name: p.metadata.name },
    namespace: undefined,
    order: s.order,
    selector: globalNetworkPolicyEndpointSelector({ selector: s.selector, ...(s.namespaceSelector !== undefined ? { namespaceSelector: s.namespaceSelector } : {}) }),
    ingress: s.types.includes('Ingress') ? s.ingress : undefined,
    egress: s.types.includes('Egress') ? s.egress : undefined,
    applyOnForward: s.applyOnForward,
    fingerprint: JSON.stringify(['GNP', p.metadata.name, s.types, s.ingress, s.egress]),
  };
}

/**
 * Calico's policy order within a tier: by `order` (absent = after all), then
 * by name. Felix compares the policy names; namespaced policies are named
 * `<namespace>/<name>` there too.
 */
export function comparePolicies(a: PolicyEntry, b: PolicyEntry): number {
  const oa = a.order ?? Number.POSITIVE_INFINITY;
  const ob = b.order ?? Number.POSITIVE_INFINITY;
  if (oa !== ob) return oa < ob ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

// ---- profiles --------------------------------------------------------------

export interface ProfileEntry {
  name: string;
  owner: OwnerRef;
  labels: Readonly<Record<string, string>>;
  ingress: readonly Rule[];
  egress: readonly Rule[];
  /** True when synthesised for a `kns.<ns>` name nobody created. */
  implicit: boolean;
  fingerprint: string;
}

export function profileEntry(p: Profile): ProfileEntry {
  return {
    name: p.metadata.name,
    owner: { kind: 'Profile', name: p.metadata.name },
    labels: p.spec.labelsToApply ?? {},
    ingress: p.spec.ingress,
    egress: p.spec.egress,
    implicit: false,
    fingerprint: JSON.stringify(['PR', p.metadata.name, p.spec.ingress, p.spec.egress]),
  };
}

const ALLOW_ALL: Rule = { action: 'Allow', source: {}, destination: {} };

/** Labels a namespace's endpoints inherit from its profile (Calico's `pcns.` prefix). */
export function namespaceProfileLabels(namespace: string, labels: Readonly<Record<string, string>> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) out[NAMESPACE_LABEL_PREFIX + k] = v;
  out[NAMESPACE_LABEL_PREFIX + K8S_NAMESPACE_NAME_LABEL] = namespace;
  out[NAMESPACE_LABEL_PREFIX + LABEL_NAME] = namespace;
  return out;
}

/**
 * Calico's Kubernetes namespace profile `kns.<namespace>`: allow everything
 * in both directions (the default when no policy selects an endpoint) and
 * hand the namespace's labels to its endpoints under `pcns.`.
 */
export function namespaceProfile(namespace: string, labels: Readonly<Record<string, string>> = {}): Profile {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'Profile',
    metadata: { name: NAMESPACE_PROFILE_PREFIX + namespace },
    spec: { ingress: [ALLOW_ALL], egress: [ALLOW_ALL], labelsToApply: namespaceProfileLabels(namespace, labels) },
  };
}

/** The synthesised profile for a `kns.<ns>` name without a Profile resource. */
export function implicitProfileEntry(name: string): ProfileEntry | undefined {
  if (!name.startsWith(NAMESPACE_PROFILE_PREFIX) || name.length === NAMESPACE_PROFILE_PREFIX.length) return undefined;
  const e = profileEntry(namespaceProfile(name.slice(NAMESPACE_PROFILE_PREFIX.length)));
  return { ...e, implicit: true, fingerprint: `implicit:${e.fingerprint}` };
}

// ---- endpoints -------------------------------------------------------------

export interface EndpointEntry {
  /** `wep:<namespace>/<name>` or `hep:<name>`. */
  key: string;
  kind: 'workload' | 'host';
  /** For people: `<namespace>/<pod or workload>` or the host endpoint's name. */
  displayName: string;
  name: string;
  namespace: string | undefined;
  node: string;
  /** Host-side interface; `*` for an all-interfaces host endpoint; undefined when unknown. */
  iface: string | undefined;
  /** Addresses without prefix length, canonical text. */
  ipv4: readonly string[];
  ipv6: readonly string[];
  labels: Readonly<Record<string, string>>;
  profiles: readonly string[];
  ports: readonly EndpointPort[];
}

function addressesOf(texts: readonly string[]): { ipv4: string[]; ipv6: string[] } {
  const ipv4: string[] = [];
  const ipv6: string[] = [];
  for (const t of texts) {
    const n = parseCidr(t, { bareIp: true });
    const text = n ? formatIp({ family: n.family, value: n.addr }) : undefined;
    if (!n || text === undefined) continue;
    (n.family === 4 ? ipv4 : ipv6).push(text);
  }
  return { ipv4: [...new Set(ipv4)].sort(), ipv6: [...new Set(ipv6)].sort() };
}

export function workloadEndpointEntry(w: WorkloadEndpoint): EndpointEntry {
  const s = w.spec;
  const short = s.pod ?? s.workload ?? s.containerID ?? w.metadata.name;
  return {
    key: `wep:${w.metadata.namespace}/${w.metadata.name}`,
    kind: 'workload',
    displayName: `${w.metadata.namespace}/${short}`,
    name: w.metadata.name,
    namespace: w.metadata.namespace,
    node: s.node,
    iface: s.interfaceName,
    ...addressesOf(s.ipNetworks),
    labels: w.metadata.labels ?? {},
    profiles: s.profiles,
    ports: s.ports,
  };
}

export function hostEndpointEntry(h: HostEndpoint): EndpointEntry {
  const s = h.spec;
  return {
    key: `hep:${h.metadata.name}`,
    kind: 'host',
    displayName: h.metadata.name,
    name: h.metadata.name,
    namespace: undefined,
    node: s.node,
    iface: s.interfaceName,
    ...addressesOf(s.expectedIPs),
    labels: h.metadata.labels ?? {},
    profiles: s.profiles,
    ports: s.ports,
  };
}

export function addressesFor(e: EndpointEntry, v: IpVersion): readonly string[] {
  return v === 4 ? e.ipv4 : e.ipv6;
}

/** True when `ip` parses; used by explain to accept raw addresses. */
export function isAddress(text: string): boolean {
  return parseIp(text) !== undefined;
}
