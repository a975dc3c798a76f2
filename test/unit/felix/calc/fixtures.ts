/**
 * Builders of the Calico resources the Felix calc reads, with Calico's
 * defaults filled in (as the resource schemas store them). Shared by the
 * calc unit tests, the agent lab tests and the benchmarks.
 */
import type { EncapMode, GlobalNetworkPolicy, HostEndpoint, IPPool, NetworkPolicy, Rule, WorkloadEndpoint } from '../../../../src/datastore/resources/index.js';
import { workloadEndpointName } from '../../../../src/datastore/resources/index.js';

export interface WepOptions {
  node: string;
  /** Pod name. */
  pod: string;
  namespace?: string;
  iface: string;
  ips: string[];
  labels?: Record<string, string>;
  /** Default: the namespace's `kns.<namespace>` profile (Calico's allow-all namespace profile). */
  profiles?: string[];
}

export function wep(o: WepOptions): WorkloadEndpoint {
  const namespace = o.namespace ?? 'default';
  const spec = {
    orchestrator: 'k8s',
    node: o.node,
    pod: o.pod,
    endpoint: 'eth0',
    ipNetworks: o.ips.map((ip) => (ip.includes('/') ? ip : ip.includes(':') ? `${ip}/128` : `${ip}/32`)),
    profiles: o.profiles ?? [`kns.${namespace}`],
    interfaceName: o.iface,
    ports: [],
  };
  const derived = workloadEndpointName(spec);
  if (!('name' in derived)) throw new Error(`cannot name endpoint: ${derived.field} ${derived.problem}`);
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { name: derived.name, namespace, labels: { ...(o.labels ?? {}), 'projectcalico.org/namespace': namespace, 'projectcalico.org/orchestrator': 'k8s' } },
    spec,
  };
}

export interface PoolOptions {
  ipipMode?: EncapMode;
  vxlanMode?: EncapMode;
  natOutgoing?: boolean;
  disabled?: boolean;
  blockSize?: number;
}

export function pool(name: string, cidr: string, o: PoolOptions = {}): IPPool {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name },
    spec: {
      cidr,
      blockSize: o.blockSize ?? (cidr.includes(':') ? 122 : 26),
      ipipMode: o.ipipMode ?? 'Never',
      vxlanMode: o.vxlanMode ?? 'Never',
      natOutgoing: o.natOutgoing ?? false,
      disabled: o.disabled ?? false,
      disableBGPExport: false,
      nodeSelector: 'all()',
      allowedUses: ['Workload', 'Tunnel'],
      assignmentMode: 'Automatic',
    },
  };
}

export function hostEndpoint(name: string, node: string, iface: string, labels: Record<string, string> = {}): HostEndpoint {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name, labels },
    spec: { node, interfaceName: iface, expectedIPs: [], profiles: [], ports: [] },
  };
}

/** A namespaced policy selecting `selector`, with ingress rules only. */
export function ingressPolicy(namespace: string, name: string, selector: string, ingress: Rule[], order?: number): NetworkPolicy {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'NetworkPolicy',
    metadata: { name, namespace, labels: { 'projectcalico.org/tier': 'default' } },
    spec: { tier: 'default', ...(order !== undefined ? { order } : {}), selector, types: ['Ingress'], ingress, egress: [] },
  };
}

export function globalDenyAll(name: string, selector: string): GlobalNetworkPolicy {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name, labels: { 'projectcalico.org/tier': 'default' } },
    spec: { tier: 'default', selector, types: ['Ingress'], ingress: [{ action: 'Deny', source: {}, destination: {} }], egress: [], applyOnForward: false },
  };
}
