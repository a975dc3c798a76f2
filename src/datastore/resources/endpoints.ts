/**
 * WorkloadEndpoint (a container's interface), HostEndpoint (a host's
 * interface) and Profile (rules and labels endpoints inherit by name).
 *
 * A WorkloadEndpoint's name is derived from its spec as Calico derives it
 * (libcalico-go lib/names): "<node>-<orchestrator>-<pod|containerID|workload>-<endpoint>"
 * with each "-" inside a part doubled. A manifest may leave the name out and
 * gets the derived one; a name that differs is an error. Like Calico, the
 * stored labels get projectcalico.org/namespace and
 * projectcalico.org/orchestrator.
 */
import { z } from 'zod';
import { envelope } from './envelope.js';
import {
  ALWAYS,
  containerId,
  interfaceName,
  ipAddr,
  ipNet,
  labelMap,
  macAddress,
  portName,
  protocol,
  protocolHasPorts,
  report,
  subdomainName,
  integer,
  type Ctx,
  type Protocol,
} from './fields.js';
import { parseCidr, familyBits } from './ip.js';
import { metadataSchema, type Metadata } from './metadata.js';
import { rulesSchema, type Rule } from './rule.js';
import { unimplemented } from './unimplemented.js';

export const LABEL_NAMESPACE = 'projectcalico.org/namespace';
export const LABEL_ORCHESTRATOR = 'projectcalico.org/orchestrator';

export interface EndpointPort {
  name: string;
  protocol: Protocol;
  port: number;
}

export interface WorkloadEndpointSpec {
  orchestrator: string;
  workload?: string;
  node: string;
  containerID?: string;
  pod?: string;
  endpoint: string;
  serviceAccountName?: string;
  ipNetworks: string[];
  ipv4Gateway?: string;
  ipv6Gateway?: string;
  profiles: string[];
  interfaceName: string;
  mac?: string;
  ports: EndpointPort[];
}

export interface WorkloadEndpoint {
  apiVersion: 'projectcalico.org/v3';
  kind: 'WorkloadEndpoint';
  metadata: Metadata & { namespace: string };
  spec: WorkloadEndpointSpec;
}

export interface HostEndpointSpec {
  node: string;
  interfaceName?: string;
  expectedIPs: string[];
  profiles: string[];
  ports: EndpointPort[];
}

export interface HostEndpoint {
  apiVersion: 'projectcalico.org/v3';
  kind: 'HostEndpoint';
  metadata: Metadata;
  spec: HostEndpointSpec;
}

export interface ProfileSpec {
  ingress: Rule[];
  egress: Rule[];
  labelsToApply?: Record<string, string>;
}

export interface Profile {
  apiVersion: 'projectcalico.org/v3';
  kind: 'Profile';
  metadata: Metadata;
  spec: ProfileSpec;
}

const portProtocol = protocol().superRefine((p, ctx) => {
  if (!protocolHasPorts(p)) report(ctx, `protocol ${JSON.stringify(p)} has no ports: must be TCP, UDP or SCTP`);
});

const endpointPort = z.strictObject({
  name: portName(),
  protocol: portProtocol,
  port: integer(1, 65535),
});

const workloadPort = z
  .strictObject({
    name: portName().optional(),
    protocol: portProtocol,
    port: integer(1, 65535),
    hostPort: unimplemented('hostPort', integer(0, 65535)),
    hostIP: unimplemented('hostIP', z.string()),
  })
  .superRefine((p, ctx) => {
    if ((p.name === undefined || p.name === '') && !p.hostPort) report(ctx, 'name must be set unless hostPort is', ['name']);
  }, ALWAYS)
  .transform((p): EndpointPort => ({ name: p.name ?? '', protocol: p.protocol, port: p.port }));

// ---- WorkloadEndpoint name (libcalico-go lib/names/workloadendpoint.go) ----

/** The name segments Calico requires for an orchestrator, as spec field names. */
function nameSegments(orchestrator: string): (keyof WorkloadEndpointSpec)[] {
  switch (orchestrator) {
    case 'k8s':
      return ['node', 'orchestrator', 'pod', 'endpoint'];
    case 'cni':
      return ['node', 'orchestrator', 'containerID', 'endpoint'];
    case 'libnetwork':
      return ['node', 'orchestrator', 'orchestrator', 'endpoint'];
    default:
      return ['node', 'orchestrator', 'workload', 'endpoint'];
  }
}

/** The derived name, or the field that prevents deriving it and why. */
export function workloadEndpointName(spec: Partial<Record<keyof WorkloadEndpointSpec, unknown>>): { name: string } | { field: string; problem: string } {
  const parts: string[] = [];
  const orch = typeof spec.orchestrator === 'string' ? spec.orchestrator : '';
  for (const field of nameSegments(orch)) {
    const v = spec[field];
    if (typeof v !== 'string' || v === '') return { field, problem: `is required: the endpoint's name is built from it` };
    if (v.startsWith('-') || v.endsWith('-')) return { field, problem: 'must not begin or end with "-" (it is part of the endpoint\'s name)' };
    parts.push(v.replaceAll('-', '--'));
  }
  return { name: parts.join('-') };
}

function checkWorkloadSpec(s: Record<string, unknown>, ctx: Ctx): void {
  const nets = Array.isArray(s.ipNetworks) ? s.ipNetworks : [];
  nets.forEach((text, i) => {
    const n = typeof text === 'string' ? parseCidr(text, { bareIp: true }) : undefined;
    if (n && n.prefixLength !== familyBits(n.family)) {
      report(ctx, `must be a single address (/${familyBits(n.family)}), not a network (got ${JSON.stringify(text)})`, ['ipNetworks', i]);
    }
  });
}

const workloadEndpointSpec = z
  .strictObject({
    orchestrator: subdomainName(),
    workload: subdomainName().optional(),
    node: subdomainName(),
    containerID: containerId().optional(),
    pod: subdomainName().optional(),
    endpoint: subdomainName(),
    serviceAccountName: subdomainName().optional(),
    ipNetworks: z.array(ipNet({ strict: true, bareIp: true })).default([]),
    ipv4Gateway: ipAddr(4).optional(),
    ipv6Gateway: ipAddr(6).optional(),
    profiles: z.array(subdomainName()).default([]),
    interfaceName: interfaceName({ star: true }),
    mac: macAddress().optional(),
    ports: z.array(workloadPort).default([]),
    ipNATs: unimplemented('ipNATs', z.array(z.unknown())),
    allowSpoofedSourcePrefixes: unimplemented('allowSpoofedSourcePrefixes', z.array(z.unknown())),
    qosControls: unimplemented('qosControls'),
  })
  .superRefine((s, ctx) => checkWorkloadSpec(s, ctx), ALWAYS)
  .transform(({ ipNATs: _n, allowSpoofedSourcePrefixes: _a, qosControls: _q, ...rest }): WorkloadEndpointSpec => rest);

export const workloadEndpointSchema = envelope(
  'WorkloadEndpoint',
  metadataSchema({ kind: 'WorkloadEndpoint', namespaced: true, name: subdomainName(), nameOptional: true }).prefault({ name: undefined }),
  workloadEndpointSpec,
)
  .superRefine((r, ctx) => {
    const derived = workloadEndpointName(r.spec);
    if ('field' in derived) {
      report(ctx, derived.problem, ['spec', derived.field]);
      return;
    }
    if (r.metadata.name !== '' && r.metadata.name !== derived.name) {
      report(ctx, `does not match the endpoint's node, orchestrator, workload and endpoint: expected ${JSON.stringify(derived.name)} (or leave the name out)`, ['metadata', 'name']);
    }
  })
  .transform((r): WorkloadEndpoint => {
    const derived = workloadEndpointName(r.spec) as { name: string };
    const namespace = r.metadata.namespace ?? 'default';
    return {
      ...r,
      metadata: {
        ...r.metadata,
        name: derived.name,
        namespace,
        labels: { ...(r.metadata.labels ?? {}), [LABEL_NAMESPACE]: namespace, [LABEL_ORCHESTRATOR]: r.spec.orchestrator },
      },
    };
  });

// ---- HostEndpoint --------------------------------------------------------

const hostEndpointSpec = z
  .strictObject({
    node: subdomainName(),
    interfaceName: interfaceName({ star: true }).optional(),
    expectedIPs: z.array(ipAddr()).default([]),
    profiles: z.array(subdomainName()).default([]),
    ports: z.array(endpointPort).default([]),
  })
  .superRefine((s, ctx) => {
    if ((s.interfaceName === undefined || s.interfaceName === '') && (!Array.isArray(s.expectedIPs) || s.expectedIPs.length === 0)) {
      report(ctx, 'at least one of interfaceName or expectedIPs must be specified');
    }
  }, ALWAYS)
  .transform((s): HostEndpointSpec => {
    const { interfaceName: ifname, ...rest } = s;
    return ifname ? { ...rest, interfaceName: ifname } : rest;
  });

export const hostEndpointSchema = envelope(
  'HostEndpoint',
  metadataSchema({ kind: 'HostEndpoint', namespaced: false, name: subdomainName() }),
  hostEndpointSpec,
);

// ---- Profile -------------------------------------------------------------

const profileSpec = z
  .strictObject({
    ingress: rulesSchema(),
    egress: rulesSchema(),
    labelsToApply: labelMap().optional(),
  })
  .prefault({})
  .transform((s): ProfileSpec => s);

export const profileSchema = envelope('Profile', metadataSchema({ kind: 'Profile', namespaced: false, name: subdomainName() }), profileSpec);
