/**
 * BGPPeer: a BGP session to configure, for all nodes, one node, or the
 * nodes a selector picks; to an address (a ToR router, an external peer) or
 * to the Calico nodes a peerSelector picks (route reflection).
 *
 * Two rules are stricter than Calico, which accepts and then ignores such a
 * peer: one of peerIP or peerSelector must be set, and a peerIP needs an
 * asNumber (Calico would configure a session to AS 0).
 */
import { z } from 'zod';
import { envelope } from './envelope.js';
import { ALWAYS, asNumber, duration, integer, report, selector, subdomainName, type Ctx } from './fields.js';
import { parseIp, type IpAddr } from './ip.js';
import { metadataSchema, type Metadata } from './metadata.js';
import { unimplemented } from './unimplemented.js';
import { secretKeyRefSchema, type SecretKeyRef } from './bgp-configuration.js';

export type SourceAddress = 'UseNodeIP' | 'None';
export type NextHopMode = 'Auto' | 'Self' | 'Keep';
export type ReversePeering = 'Auto' | 'Manual';

export interface BGPPeerSpec {
  node?: string;
  nodeSelector?: string;
  /** "ip", "ipv4:port" or "[ipv6]:port", as written; see parsePeerIP. */
  peerIP?: string;
  asNumber?: number;
  localASNumber?: number;
  peerSelector?: string;
  keepOriginalNextHop: boolean;
  nextHopMode?: NextHopMode;
  sourceAddress: SourceAddress;
  maxRestartTime?: string;
  keepaliveTime?: string;
  numAllowedLocalASNumbers?: number;
  ttlSecurity?: number;
  reversePeering: ReversePeering;
  /** TCP MD5 password (RFC 2385) from a secret. */
  password?: { secretKeyRef: SecretKeyRef };
}

export interface BGPPeer {
  apiVersion: 'projectcalico.org/v3';
  kind: 'BGPPeer';
  metadata: Metadata;
  spec: BGPPeerSpec;
}

const IPV4_PORT = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/;
const IPV6_PORT = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/;

/** Split Calico's peerIP: "ip", "a.b.c.d:port" or "[v6]:port" (validateIPPort). */
export function parsePeerIP(text: string): { ip: IpAddr; port?: number } | undefined {
  const m = IPV4_PORT.exec(text) ?? IPV6_PORT.exec(text);
  const ip = parseIp(m ? m[1]! : text);
  if (!ip) return undefined;
  if (!m) return { ip };
  const port = Number(m[2]);
  if (!/^\d{1,5}$/.test(m[2]!) || port < 1 || port > 65535) return undefined;
  return { ip, port };
}

const peerIP = z
  .string()
  .max(64)
  .superRefine((s, ctx) => {
    if (s !== '' && !parsePeerIP(s)) {
      report(ctx, `must be an IP address, optionally with a port as "<IPv4>:<port>" or "[<IPv6>]:<port>" (got ${JSON.stringify(s)})`);
    }
  });

const set = (v: unknown) => v !== undefined && v !== '';

function checkSpec(s: Record<string, unknown>, ctx: Ctx): void {
  if (set(s.node) && set(s.nodeSelector)) report(ctx, 'node and nodeSelector cannot both be set', ['nodeSelector']);
  if (set(s.peerIP) && set(s.peerSelector)) report(ctx, 'peerIP and peerSelector cannot both be set', ['peerSelector']);
  if (set(s.peerSelector) && s.asNumber !== undefined) {
    report(ctx, 'must not be set when peerSelector is set: the AS number of each selected node is used', ['asNumber']);
  }
  if (!set(s.peerIP) && !set(s.peerSelector)) report(ctx, 'one of peerIP or peerSelector must be set');
  if (set(s.peerIP) && s.asNumber === undefined) report(ctx, 'is required when peerIP is set', ['asNumber']);
  if (s.keepOriginalNextHop === true && s.nextHopMode !== undefined) {
    report(ctx, 'keepOriginalNextHop and nextHopMode cannot both be set; keepOriginalNextHop is deprecated, use nextHopMode', ['nextHopMode']);
  }
}

const bgpPeerSpec = z
  .strictObject({
    node: subdomainName().optional(),
    nodeSelector: selector().max(1024).optional(),
    peerIP: peerIP.optional(),
    asNumber: asNumber().optional(),
    localASNumber: asNumber().optional(),
    peerSelector: selector().max(1024).optional(),
    keepOriginalNextHop: z.boolean().default(false),
    nextHopMode: z.enum(['Auto', 'Self', 'Keep']).optional(),
    sourceAddress: z.enum(['UseNodeIP', 'None']).default('UseNodeIP'),
    maxRestartTime: duration().optional(),
    keepaliveTime: duration().optional(),
    numAllowedLocalASNumbers: integer(0, 2147483647).optional(),
    ttlSecurity: integer(0, 255).optional(),
    reversePeering: z.enum(['Auto', 'Manual']).default('Auto'),
    password: secretKeyRefSchema.optional(),
    filters: unimplemented('peerFilters', z.array(subdomainName())),
    localWorkloadSelector: unimplemented('peerLocalWorkloadSelector', z.string()),
    reachableBy: unimplemented('peerReachableBy', z.string()),
  })
  .superRefine((s, ctx) => checkSpec(s, ctx), ALWAYS)
  .transform((s): BGPPeerSpec => {
    const { filters: _f, localWorkloadSelector: _l, reachableBy: _r, ...rest } = s;
    // Calico treats "" as unset for these strings.
    const out: BGPPeerSpec = { ...rest };
    for (const k of ['node', 'nodeSelector', 'peerIP', 'peerSelector'] as const) if (out[k] === '') delete out[k];
    return out;
  });

export const bgpPeerSchema = envelope(
  'BGPPeer',
  metadataSchema({ kind: 'BGPPeer', namespaced: false, name: subdomainName() }),
  bgpPeerSpec,
);
