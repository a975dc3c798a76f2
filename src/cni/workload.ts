/**
 * Who an attachment is, and the WorkloadEndpoint that records it. Pure.
 *
 * Identity (as Calico's CNI plugin derives it):
 * - CNI_ARGS with K8S_POD_NAMESPACE and K8S_POD_NAME: a Kubernetes pod,
 *   orchestrator `k8s`, WorkloadEndpoint `<node>-k8s-<pod>-<ifname>` in the
 *   pod's namespace;
 * - otherwise: orchestrator `cni`, namespace `default`, the container id as
 *   the workload: `<node>-cni-<containerid>-<ifname>`.
 * ("-" inside a part is doubled, libcalico-go's rule: workloadEndpointName.)
 *
 * Host interface: `cali` + 11 hex of SHA-1 of `<namespace>/<endpoint name>`
 * (util/ifname.ts). The endpoint name already holds node, pod and
 * CNI_IFNAME, and the namespace makes it unique in the cluster, so two
 * interfaces of one pod (two CNI_IFNAMEs) get two host interfaces. Calico
 * hashes `<namespace>.<pod>` instead, which cannot tell those apart; nothing
 * outside the plugin depends on the choice, since Felix reads the name from
 * `spec.interfaceName`.
 *
 * IPAM handle: `<network name>.<container id>` (Calico's
 * `k8s-pod-network.<id>`), with `.<ifname>` appended for any CNI_IFNAME but
 * eth0, because the spec keys an attachment by (network, container, ifname).
 */
import {
  LABEL_NAMESPACE,
  LABEL_ORCHESTRATOR,
  workloadEndpointName,
  workloadEndpointSchema,
  type WorkloadEndpoint,
} from '../datastore/resources/endpoints.js';
import { isDnsLabel, isDnsSubdomain } from '../datastore/resources/fields.js';
import { workloadIfaceName } from '../util/ifname.js';
import type { CniEnv } from './env.js';
import { CniError, ErrorCode } from './spec.js';

export const WEP_KIND = 'WorkloadEndpoint';
export const DEFAULT_NAMESPACE = 'default';
/** Calico's profile per Kubernetes namespace. */
export const NAMESPACE_PROFILE_PREFIX = 'kns.';

export interface WorkloadIdentity {
  orchestrator: 'k8s' | 'cni';
  namespace: string;
  /** Kubernetes pod name (orchestrator k8s). */
  pod?: string;
  containerId: string;
  /** CNI_IFNAME: the WorkloadEndpoint's `endpoint`. */
  endpoint: string;
  node: string;
  /** The WorkloadEndpoint's metadata.name. */
  name: string;
  /** Host side of the veth. */
  hostIface: string;
  /** IPAM handle: DEL releases by it. */
  handleId: string;
}

/** The store key of a WorkloadEndpoint. */
export function wepKey(namespace: string, name: string): { kind: string; namespace: string; name: string } {
  return { kind: WEP_KIND, namespace, name };
}

const WEP_CONTAINER_ID = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

/**
 * Derives the identity from CNI_ARGS, CNI_CONTAINERID and CNI_IFNAME.
 * Values a WorkloadEndpoint cannot hold are code 4 naming the variable.
 */
export function workloadIdentity(env: CniEnv, networkName: string, node: string): WorkloadIdentity {
  const ns = env.args.get('K8S_POD_NAMESPACE');
  const pod = env.args.get('K8S_POD_NAME');
  const problems: string[] = [];
  const k8s = (ns !== undefined && ns !== '') || (pod !== undefined && pod !== '');
  if (k8s) {
    if (!ns) problems.push('CNI_ARGS has K8S_POD_NAME but no K8S_POD_NAMESPACE');
    else if (!isDnsLabel(ns)) problems.push(`CNI_ARGS K8S_POD_NAMESPACE ${JSON.stringify(ns)} must be a DNS-1123 label`);
    if (!pod) problems.push('CNI_ARGS has K8S_POD_NAMESPACE but no K8S_POD_NAME');
    else if (!isDnsSubdomain(pod)) problems.push(`CNI_ARGS K8S_POD_NAME ${JSON.stringify(pod)} must be a DNS-1123 subdomain`);
  }
  if (!WEP_CONTAINER_ID.test(env.containerId)) {
    problems.push(`CNI_CONTAINERID ${JSON.stringify(env.containerId)} cannot be a WorkloadEndpoint's containerID: use letters, digits and "-" only`);
  } else if (!k8s && !isDnsSubdomain(env.containerId)) {
    problems.push(`CNI_CONTAINERID ${JSON.stringify(env.containerId)} names the WorkloadEndpoint when CNI_ARGS has no K8S_POD_NAME, so it must be lowercase`);
  }
  if (!isDnsSubdomain(env.ifname)) problems.push(`CNI_IFNAME ${JSON.stringify(env.ifname)} is a WorkloadEndpoint's endpoint and must be lowercase letters, digits, "-" and "."`);
  if (problems.length > 0) {
    throw new CniError(ErrorCode.InvalidEnvironment, `invalid environment variables: ${[...new Set(problems.map((p) => p.split(' ')[0]))].join(', ')}`, problems.join('; '));
  }
  const namespace = k8s ? ns! : DEFAULT_NAMESPACE;
  const orchestrator = k8s ? 'k8s' : 'cni';
  const derived = workloadEndpointName(k8s ? { node, orchestrator, pod, endpoint: env.ifname } : { node, orchestrator, containerID: env.containerId, endpoint: env.ifname });
  if ('field' in derived) {
    throw new CniError(ErrorCode.InvalidEnvironment, 'invalid environment variables: cannot name the WorkloadEndpoint', `${derived.field} ${derived.problem}`);
  }
  const id: WorkloadIdentity = {
    orchestrator,
    namespace,
    containerId: env.containerId,
    endpoint: env.ifname,
    node,
    name: derived.name,
    hostIface: workloadIfaceName(`${namespace}/${derived.name}`),
    handleId: `${networkName}.${env.containerId}${env.ifname === 'eth0' ? '' : `.${env.ifname}`}`,
  };
  if (k8s) id.pod = pod!;
  return id;
}

export interface EndpointDetails {
  /** Addresses in CIDR form, /32 and /128. */
  ipNetworks: string[];
  /** MAC of the container side. */
  mac: string;
  labels: Record<string, string>;
}

/**
 * The WorkloadEndpoint in Calico's shape, validated by the resource schema
 * every other reader uses (so `tabby get` and the dataplane accept it).
 */
export function buildWorkloadEndpoint(id: WorkloadIdentity, d: EndpointDetails): WorkloadEndpoint {
  const spec: Record<string, unknown> = {
    orchestrator: id.orchestrator,
    node: id.node,
    containerID: id.containerId,
    endpoint: id.endpoint,
    ipNetworks: d.ipNetworks,
    profiles: [`${NAMESPACE_PROFILE_PREFIX}${id.namespace}`],
    interfaceName: id.hostIface,
    mac: d.mac,
  };
  if (id.orchestrator === 'k8s') spec.pod = id.pod;
  else spec.workload = id.containerId;
  const candidate = {
    apiVersion: 'projectcalico.org/v3',
    kind: WEP_KIND,
    metadata: {
      name: id.name,
      namespace: id.namespace,
      labels: { ...d.labels, [LABEL_NAMESPACE]: id.namespace, [LABEL_ORCHESTRATOR]: id.orchestrator },
    },
    spec,
  };
  const parsed = workloadEndpointSchema.safeParse(candidate);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new CniError(ErrorCode.InvalidConfig, 'cannot build the WorkloadEndpoint', why);
  }
  return parsed.data;
}
