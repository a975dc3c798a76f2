/**
 * BGPConfiguration: cluster-wide BGP settings (name `default`) and per-node
 * overrides (name `node.<nodename>`).
 *
 * Calico documents that a `node.<nodename>` resource may only override
 * logSeverityScreen, listenPort and prefixAdvertisements (with the
 * communities they name), and ignores any other field there, as it ignores
 * BGPConfigurations with any other name. tabby rejects both instead of
 * ignoring them. Defaults are filled in for `default` only: a field left out
 * of a node override means "as in default", see effectiveBGPConfiguration.
 */
import { z } from 'zod';
import { envelope } from './envelope.js';
import { ALWAYS, asNumber, duration, ipNet, integer, isDnsSubdomain, report, subdomainName, type Ctx } from './fields.js';
import { port } from '../../config/validators.js';
import { metadataSchema, type Metadata } from './metadata.js';
import { unimplemented } from './unimplemented.js';
import { parseGoDuration } from './duration.js';

export const LOG_SEVERITIES = ['Trace', 'Debug', 'Info', 'Warning', 'Error', 'Fatal'] as const;
export type BindMode = 'None' | 'NodeIP';

export interface Community {
  name: string;
  value: string;
}

export interface PrefixAdvertisement {
  cidr: string;
  communities: string[];
}

export interface BGPConfigurationSpec {
  logSeverityScreen?: string;
  nodeToNodeMeshEnabled?: boolean;
  asNumber?: number;
  listenPort?: number;
  bindMode?: BindMode;
  nodeMeshMaxRestartTime?: string;
  communities?: Community[];
  prefixAdvertisements?: PrefixAdvertisement[];
  /** Service CIDRs every node advertises (Calico: Kubernetes Service ranges). */
  serviceClusterIPs?: { cidr: string }[];
  serviceExternalIPs?: { cidr: string }[];
  serviceLoadBalancerIPs?: { cidr: string }[];
  /** The node-to-node mesh's TCP MD5 password (RFC 2385), from a secret. */
  nodeMeshPassword?: { secretKeyRef: SecretKeyRef };
}

/** Calico's Kubernetes secret reference; tabby reads the secret from its secrets directory (`<dir>/<name>/<key>`, like a mounted Secret volume). */
export interface SecretKeyRef {
  name: string;
  key: string;
}

export interface BGPConfiguration {
  apiVersion: 'projectcalico.org/v3';
  kind: 'BGPConfiguration';
  metadata: Metadata;
  spec: BGPConfigurationSpec;
}

/** Calico's defaults, filled into the `default` resource and used when there is none. */
export const BGP_CONFIGURATION_DEFAULTS = {
  logSeverityScreen: 'Info',
  nodeToNodeMeshEnabled: true,
  asNumber: 64512,
  listenPort: 179,
  bindMode: 'None' as BindMode,
} as const;

export const GLOBAL_BGP_CONFIGURATION = 'default';
export const NODE_BGP_CONFIGURATION_PREFIX = 'node.';
/** Fields a node.<nodename> resource may set. */
export const NODE_OVERRIDABLE_FIELDS = ['logSeverityScreen', 'listenPort', 'prefixAdvertisements', 'communities'] as const;

const STANDARD_COMMUNITY = /^(\d+):(\d+)$/;
const LARGE_COMMUNITY = /^(\d+):(\d+):(\d+)$/;

/** Why `v` is not a community value, or undefined (RFC 1997 §3 and RFC 8092 §3 sizes). */
export function communityValueProblem(v: string): string | undefined {
  const std = STANDARD_COMMUNITY.exec(v);
  if (std) return std.slice(1).every((p) => Number(p) <= 0xffff) ? undefined : 'a standard community "aa:nn" has two 16-bit numbers (0-65535)';
  const large = LARGE_COMMUNITY.exec(v);
  if (large) return large.slice(1).every((p) => Number(p) <= 0xffffffff) ? undefined : 'a large community "aa:nn:mm" has three 32-bit numbers (0-4294967295)';
  return 'must be a standard community "aa:nn" or a large community "aa:nn:mm"';
}

const community = z.strictObject({
  name: subdomainName(),
  value: z
    .string()
    .max(40)
    .superRefine((v, ctx) => {
      const p = communityValueProblem(v);
      if (p) report(ctx, `${p} (got ${JSON.stringify(v)})`);
    }),
});

const prefixAdvertisement = z.strictObject({
  cidr: ipNet({ strict: true, bareIp: true }),
  communities: z.array(z.string()).min(1).max(50),
});

const serviceBlocks = z.array(z.strictObject({ cidr: ipNet({ strict: true, bareIp: true }) })).max(100);

export const secretKeyRefSchema = z.strictObject({
  secretKeyRef: z.strictObject({
    name: subdomainName(),
    key: z.string().min(1).max(253).regex(/^[-._a-zA-Z0-9]+$/, { message: 'must be a Secret key: letters, digits, "-", "_" and "."' }),
  }),
});

function checkSpec(spec: Record<string, unknown>, ctx: Ctx): void {
  const communities = Array.isArray(spec.communities) ? (spec.communities as { name?: unknown }[]) : [];
  const names = new Set(communities.map((c) => c?.name));
  const ads = Array.isArray(spec.prefixAdvertisements) ? (spec.prefixAdvertisements as { communities?: unknown }[]) : [];
  ads.forEach((ad, i) => {
    if (!Array.isArray(ad?.communities)) return;
    ad.communities.forEach((c: unknown, j: number) => {
      if (typeof c === 'string' && communityValueProblem(c) !== undefined && !names.has(c)) {
        report(ctx, `${JSON.stringify(c)} is neither a community value ("aa:nn" or "aa:nn:mm") nor the name of one in spec.communities`, ['prefixAdvertisements', i, 'communities', j]);
      }
    });
  });
  if (communities.length > 0 && ads.length === 0) {
    report(ctx, 'communities are defined but not used in prefixAdvertisements', ['communities']);
  }
  if (spec.nodeMeshMaxRestartTime !== undefined && spec.nodeToNodeMeshEnabled === false) {
    report(ctx, 'cannot be set when nodeToNodeMeshEnabled is false', ['nodeMeshMaxRestartTime']);
  }
}

const bgpConfigurationSpec = z
  .strictObject({
    logSeverityScreen: z
      .string()
      .regex(/^(trace|debug|info|warning|error|fatal)?$/i, { message: `must be one of ${LOG_SEVERITIES.join(', ')}` })
      .optional(),
    nodeToNodeMeshEnabled: z.boolean().optional(),
    asNumber: asNumber().optional(),
    listenPort: port().optional(),
    bindMode: z.enum(['None', 'NodeIP']).optional(),
    nodeMeshMaxRestartTime: duration().optional(),
    communities: z.array(community).max(500).optional(),
    prefixAdvertisements: z.array(prefixAdvertisement).max(500).optional(),
    serviceClusterIPs: serviceBlocks.optional(),
    serviceExternalIPs: serviceBlocks.optional(),
    serviceLoadBalancerIPs: serviceBlocks.optional(),
    serviceLoadBalancerAggregation: unimplemented('serviceLoadBalancerAggregation', z.enum(['Enabled', 'Disabled'])),
    nodeMeshPassword: secretKeyRefSchema.optional(),
    ignoredInterfaces: unimplemented('ignoredInterfaces', z.array(z.string())),
    localWorkloadPeeringIPV4: unimplemented('localWorkloadPeeringIPV4', z.string()),
    localWorkloadPeeringIPV6: unimplemented('localWorkloadPeeringIPV6', z.string()),
    programClusterRoutes: unimplemented('programClusterRoutes', z.enum(['Enabled', 'Disabled', 'EnabledIPIPOnly', 'EnabledNoEncapOnly'])),
    ipv4NormalRoutePriority: unimplemented('ipv4NormalRoutePriority', integer(1, 2147483646)),
    ipv6NormalRoutePriority: unimplemented('ipv6NormalRoutePriority', integer(1, 2147483646)),
  })
  .superRefine((s, ctx) => checkSpec(s, ctx), ALWAYS)
  .transform((s): BGPConfigurationSpec => {
    const out: BGPConfigurationSpec = {};
    if (s.logSeverityScreen !== undefined && s.logSeverityScreen !== '') out.logSeverityScreen = s.logSeverityScreen;
    if (s.nodeToNodeMeshEnabled !== undefined) out.nodeToNodeMeshEnabled = s.nodeToNodeMeshEnabled;
    if (s.asNumber !== undefined) out.asNumber = s.asNumber;
    if (s.listenPort !== undefined) out.listenPort = s.listenPort;
    if (s.bindMode !== undefined) out.bindMode = s.bindMode;
    if (s.nodeMeshMaxRestartTime !== undefined) out.nodeMeshMaxRestartTime = s.nodeMeshMaxRestartTime;
    if (s.communities !== undefined) out.communities = s.communities;
    if (s.prefixAdvertisements !== undefined) out.prefixAdvertisements = s.prefixAdvertisements;
    for (const k of ['serviceClusterIPs', 'serviceExternalIPs', 'serviceLoadBalancerIPs'] as const) if (s[k] !== undefined && s[k].length > 0) out[k] = s[k];
    if (s.nodeMeshPassword !== undefined) out.nodeMeshPassword = s.nodeMeshPassword;
    return out;
  });

function nameProblem(name: string): string | undefined {
  if (name === GLOBAL_BGP_CONFIGURATION) return undefined;
  if (name.startsWith(NODE_BGP_CONFIGURATION_PREFIX) && isDnsSubdomain(name.slice(NODE_BGP_CONFIGURATION_PREFIX.length))) return undefined;
  return `must be "default" (the cluster-wide settings) or "node.<nodename>" (one node's overrides); Calico ignores a BGPConfiguration with any other name (got ${JSON.stringify(name)})`;
}

export const bgpConfigurationSchema = envelope(
  'BGPConfiguration',
  metadataSchema({ kind: 'BGPConfiguration', namespaced: false, name: subdomainName() }),
  bgpConfigurationSpec.prefault({}),
)
  .superRefine((r, ctx) => {
    const p = nameProblem(r.metadata.name);
    if (p) report(ctx, p, ['metadata', 'name']);
    if (r.metadata.name.startsWith(NODE_BGP_CONFIGURATION_PREFIX)) {
      for (const key of Object.keys(r.spec)) {
        if (!(NODE_OVERRIDABLE_FIELDS as readonly string[]).includes(key)) {
          report(ctx, `is only valid on the global "default" BGPConfiguration; a node.<nodename> resource may set only ${NODE_OVERRIDABLE_FIELDS.join(', ')}`, ['spec', key]);
        }
      }
    }
  })
  .transform((r): BGPConfiguration => {
    if (r.metadata.name !== GLOBAL_BGP_CONFIGURATION) return r;
    return { ...r, spec: { ...BGP_CONFIGURATION_DEFAULTS, ...r.spec } };
  });

export interface EffectiveBGPConfiguration {
  logSeverityScreen: string;
  nodeToNodeMeshEnabled: boolean;
  asNumber: number;
  listenPort: number;
  bindMode: BindMode;
  /** Graceful restart time for mesh sessions in ms; undefined means the speaker's default (120 s). */
  nodeMeshMaxRestartTimeMs?: number;
  communities: Community[];
  prefixAdvertisements: PrefixAdvertisement[];
}

/**
 * The settings one node runs with: Calico's defaults, overridden by the
 * `default` resource, overridden by the node's `node.<nodename>` resource
 * (a field set there replaces the default's value, lists included).
 */
export function effectiveBGPConfiguration(global?: BGPConfiguration, node?: BGPConfiguration): EffectiveBGPConfiguration {
  const g = global?.spec ?? {};
  const n = node?.spec ?? {};
  const out: EffectiveBGPConfiguration = {
    logSeverityScreen: n.logSeverityScreen ?? g.logSeverityScreen ?? BGP_CONFIGURATION_DEFAULTS.logSeverityScreen,
    nodeToNodeMeshEnabled: g.nodeToNodeMeshEnabled ?? BGP_CONFIGURATION_DEFAULTS.nodeToNodeMeshEnabled,
    asNumber: g.asNumber ?? BGP_CONFIGURATION_DEFAULTS.asNumber,
    listenPort: n.listenPort ?? g.listenPort ?? BGP_CONFIGURATION_DEFAULTS.listenPort,
    bindMode: g.bindMode ?? BGP_CONFIGURATION_DEFAULTS.bindMode,
    communities: n.communities ?? g.communities ?? [],
    prefixAdvertisements: n.prefixAdvertisements ?? g.prefixAdvertisements ?? [],
  };
  if (g.nodeMeshMaxRestartTime !== undefined) out.nodeMeshMaxRestartTimeMs = parseGoDuration(g.nodeMeshMaxRestartTime);
  return out;
}
