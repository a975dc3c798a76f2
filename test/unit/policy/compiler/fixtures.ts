/**
 * Synthetic clusters for compiler tests and the policy benchmark:
 * deterministic (no randomness), valid Calico resources.
 */
import { parseResources, type Resource } from '../../../../src/datastore/resources/index.js';
import { workloadIfaceName } from '../../../../src/util/ifname.js';
import { namespaceProfile } from '../../../../src/policy/index.js';

export interface ClusterSpec {
  endpoints: number;
  policies: number;
  nodes: string[];
  namespaces: number;
}

const APPS = ['web', 'api', 'db', 'cache', 'queue', 'auth', 'search', 'batch'];

export function endpointName(i: number): string {
  return `w${i}`;
}

export function endpointIp(i: number): string {
  const k = i + 1;
  return `10.${64 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}`;
}

export function namespaceOf(i: number, namespaces: number): string {
  return `ns${i % namespaces}`;
}

export function endpointLabels(i: number): Record<string, string> {
  return { app: APPS[i % APPS.length]!, shard: `s${i % 10}`, version: i % 3 === 0 ? 'v2' : 'v1' };
}

export function workloadEndpointDoc(i: number, node: string, namespaces: number, labels = endpointLabels(i)): Record<string, unknown> {
  const ns = namespaceOf(i, namespaces);
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { namespace: ns, labels },
    spec: {
      orchestrator: 'k8s',
      node,
      pod: endpointName(i),
      endpoint: 'eth0',
      ipNetworks: [`${endpointIp(i)}/32`],
      profiles: [`kns.${ns}`],
      interfaceName: workloadIfaceName(`${node}/${ns}/${endpointName(i)}`),
      ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    },
  };
}

/** Policy i: a mix of the shapes real clusters have (label allow, namespace allow, ports, CIDRs, deny). */
export function policyDoc(i: number, namespaces: number, variant = 0): Record<string, unknown> {
  const app = APPS[i % APPS.length]!;
  const peer = APPS[(i + 1 + variant) % APPS.length]!;
  const ns = `ns${i % namespaces}`;
  const port = 1000 + (i % 50) + variant;
  const ingress = [
    { action: 'Allow', protocol: 'TCP', source: { selector: `app == '${peer}'` }, destination: { ports: [port, `${port + 100}:${port + 110}`] } },
    { action: 'Allow', protocol: 'UDP', source: { namespaceSelector: `env == 'e${i % 4}'` }, destination: { ports: [53] } },
    { action: 'Deny', source: { nets: [`192.168.${i % 256}.0/24`, '172.16.0.0/12'] } },
  ];
  const egress = [{ action: 'Allow', destination: { selector: `shard == 's${i % 10}'`, ports: ['http'] }, protocol: 'TCP' }, { action: 'Allow', protocol: 'UDP', destination: { ports: [53] } }];
  if (i % 5 === 4) {
    return { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: `gp${i}` }, spec: { order: i, selector: `app == '${app}' && version == 'v2'`, ingress, egress } };
  }
  return { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: `p${i}`, namespace: ns }, spec: { order: i, selector: `app == '${app}'`, ingress, egress } };
}

export function parseDocs(docs: readonly Record<string, unknown>[]): Resource[] {
  const r = parseResources(docs.map((d) => JSON.stringify(d)).join('\n---\n'), 'synthetic.yaml');
  if (r.problems.length) throw new Error(r.problems.map((p) => p.message).join('\n'));
  return r.resources;
}

export function namespaceProfiles(namespaces: number): Resource[] {
  return Array.from({ length: namespaces }, (_, i) => namespaceProfile(`ns${i}`, { env: `e${i % 4}` }));
}

/** `endpoints` workloads spread round-robin over `nodes`, `policies` policies, namespace profiles. */
export function syntheticCluster(spec: ClusterSpec): Resource[] {
  const docs: Record<string, unknown>[] = [];
  for (let i = 0; i < spec.endpoints; i++) docs.push(workloadEndpointDoc(i, spec.nodes[i % spec.nodes.length]!, spec.namespaces));
  for (let i = 0; i < spec.policies; i++) docs.push(policyDoc(i, spec.namespaces));
  return [...parseDocs(docs), ...namespaceProfiles(spec.namespaces)];
}

/** `n` workloads on node n1 (enough for the dispatch tree) and a few policies. */
export function manyEndpoints(n: number, policies: number): Resource[] {
  return syntheticCluster({ endpoints: n, policies, nodes: ['n1'], namespaces: 2 });
}
