/**
 * The BGP-only config of `tabby bgp --config FILE` (contract: architecture.md,
 * "BGP-only config"; `config/bgp.yaml` is the documented example). Loaded by
 * the same YAML machinery as the node config, so every error names the file,
 * line, key path and why.
 */
import { z } from 'zod';
import { absolutePath, asNumber, ipAddress, ipv4Address, port, seconds } from '../config/validators.js';
import { loadYamlFile } from '../config/yaml-validate.js';
import { parseCidr } from '../util/ip.js';

export const ADDRESS_FAMILIES = ['ipv4-unicast', 'ipv6-unicast'] as const;
export type AddressFamily = (typeof ADDRESS_FAMILIES)[number];

/** "10.0.0.0/8", "10.0.0.0/8 le 24", "10.0.0.0/8 ge 16 le 24" (BIRD/FRR prefix-list habits). */
export const PREFIX_MATCH_RE = /^(\S+)(?:\s+ge\s+(\d{1,3}))?(?:\s+le\s+(\d{1,3}))?$/;

export interface PrefixMatch {
  prefix: string;
  family: 4 | 6;
  length: number;
  ge: number;
  le: number;
}

/** Parse a prefix-list entry; returns a reason string when it is not valid. */
export function parsePrefixMatch(s: string): PrefixMatch | string {
  const m = PREFIX_MATCH_RE.exec(s.trim());
  if (!m) return 'must be "PREFIX", "PREFIX le N", "PREFIX ge N" or "PREFIX ge N le M"';
  const c = parseCidr(m[1]!);
  if (!c) return `"${m[1]}" is not a CIDR`;
  const max = c.family === 4 ? 32 : 128;
  const ge = m[2] !== undefined ? Number(m[2]) : c.prefixLength;
  const le = m[3] !== undefined ? Number(m[3]) : m[2] !== undefined ? max : c.prefixLength;
  if (ge < c.prefixLength || ge > max) return `ge ${ge} must be between the prefix length ${c.prefixLength} and ${max}`;
  if (le < ge || le > max) return `le ${le} must be between ${ge} and ${max}`;
  return { prefix: m[1]!, family: c.family, length: c.prefixLength, ge, le };
}

const prefixMatch = () =>
  z.string().superRefine((s, ctx) => {
    const r = parsePrefixMatch(s);
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
  });

const u32 = (n: string) => /^\d{1,10}$/.test(n) && Number(n) <= 0xffffffff;
const u16 = (n: string) => /^\d{1,5}$/.test(n) && Number(n) <= 0xffff;

/** RFC 1997 community "ASN:VALUE" (16:16) or a well-known name. */
export const WELL_KNOWN_COMMUNITIES = ['no-export', 'no-advertise', 'no-export-subconfed', 'no-peer'] as const;
const community = () =>
  z.string().refine((s) => (WELL_KNOWN_COMMUNITIES as readonly string[]).includes(s) || (/^\d+:\d+$/.test(s) && s.split(':').every(u16)), {
    message: 'must be "ASN:VALUE" with 16-bit numbers (RFC 1997), or no-export, no-advertise, no-export-subconfed, no-peer',
  });
/** RFC 8092 large community "GLOBAL:LOCAL1:LOCAL2" (32:32:32). */
const largeCommunity = () =>
  z.string().refine((s) => /^\d+:\d+:\d+$/.test(s) && s.split(':').every(u32), {
    message: 'must be "GLOBAL:LOCAL1:LOCAL2" with 32-bit numbers (RFC 8092)',
  });

const asPathRegex = () =>
  z.string().superRefine((s, ctx) => {
    try {
      new RegExp(s);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(err as Error).message}` });
    }
  });

const matchSchema = z.strictObject({
  /** Any of these prefix-list entries. */
  prefix: z.array(prefixMatch()).min(1).optional(),
  /** Carries every one of these communities. */
  community: z.array(community()).min(1).optional(),
  largeCommunity: z.array(largeCommunity()).min(1).optional(),
  /** Regex over the AS path written as space-separated numbers, e.g. "^65001 ". */
  asPath: asPathRegex().optional(),
  /** The AS path contains any of these AS numbers. */
  asPathContains: z.array(asNumber()).min(1).optional(),
  origin: z.enum(['igp', 'egp', 'incomplete']).optional(),
  family: z.enum(ADDRESS_FAMILIES).optional(),
});

const setSchema = z.strictObject({
  localPref: z.number().int().min(0).max(0xffffffff).optional(),
  med: z.number().int().min(0).max(0xffffffff).optional(),
  addCommunities: z.array(community()).min(1).optional(),
  removeCommunities: z.array(community()).min(1).optional(),
  addLargeCommunities: z.array(largeCommunity()).min(1).optional(),
  /** Prepend our own AS this many extra times (eBGP export). */
  prepend: z.number().int().min(1).max(16).optional(),
});

const termSchema = z.strictObject({
  match: matchSchema.prefault({}),
  action: z.enum(['accept', 'reject']),
  set: setSchema.optional(),
});

/** A filter: terms tried in order, the first that matches decides; else `default`. */
const filterSchema = z.strictObject({
  terms: z.array(termSchema).default([]),
  default: z.enum(['accept', 'reject']).default('reject'),
});

/** A peer's import/export: "all", "none", or the name of a filter. */
const policyRef = () => z.string().min(1).default('all');

const maxPrefixesSchema = z.union([
  z.number().int().min(1),
  z.strictObject({
    limit: z.number().int().min(1),
    /** warn: log and count; teardown: Cease/Maximum Number of Prefixes Reached (RFC 4486). */
    action: z.enum(['warn', 'teardown']).default('teardown'),
    /** Seconds before reconnecting after a teardown (0: stay down until reconfigured). */
    restartAfter: seconds(0, 86400).default(60),
  }),
]);

const peerSchema = z
  .strictObject({
    address: ipAddress(),
    asNumber: asNumber(),
    description: z.string().max(80).optional(),
    localAddress: ipAddress().optional(),
    port: port().default(179),
    passive: z.boolean().default(false),
    holdTime: z.number().int().min(0).max(65535).refine((n) => n === 0 || n >= 3, { message: 'must be 0 or at least 3 (RFC 4271 §4.2)' }).default(90),
    keepaliveTime: z.number().int().min(0).max(21845).optional(),
    connectRetryTime: seconds(1, 3600).default(5),
    routeReflectorClient: z.boolean().default(false),
    nextHopSelf: z.boolean().default(false),
    /** eBGP: advertise learned routes with their original next hop (BIRD `next hop keep`; Calico keepOriginalNextHop). */
    nextHopKeep: z.boolean().default(false),
    addressFamilies: z.array(z.enum(ADDRESS_FAMILIES)).min(1).default(['ipv4-unicast', 'ipv6-unicast']),
    maxPrefixes: maxPrefixesSchema.optional(),
    password: z.string().min(1).max(80).optional(),
    /** GTSM (RFC 5082): the peer is this many hops away; we send TTL 255 and accept only TTL >= 256 - hops. */
    ttlSecurity: z.number().int().min(1).max(254).optional(),
    gracefulRestart: z.boolean().default(true),
    /** RFC 9687: end the session when the peer reads nothing of ours for this long (seconds; default max(480, 2 x hold time); 0: off). */
    sendHoldTime: z.number().int().min(0).max(65535).optional(),
    /** eBGP: drop (treat as withdrawn) a route whose first AS is not the peer's (RFC 4271 §6.3). */
    enforceFirstAs: z.boolean().default(true),
    /**
     * Keep every received route unfiltered, accepted or not, so an import
     * change (filter, enforceFirstAs, allowOwnAs) is re-evaluated locally
     * instead of asking the peer for a ROUTE-REFRESH (RFC 2918). Default off,
     * as BIRD and FRR: it costs memory per route (a benchmark target) and
     * every peer tabby meets supports route refresh.
     */
    softReconfigInbound: z.boolean().default(false),
    /** Accept routes carrying our own AS up to this many times ("allowas-in"; BIRD `allow local as`), for designs where several sites share one AS. */
    allowOwnAs: z.number().int().min(0).max(10).default(0),
    import: policyRef(),
    export: policyRef(),
  })
  .transform((p) => ({ ...p, keepaliveTime: p.keepaliveTime ?? Math.floor(p.holdTime / 3) }))
  .superRefine((p, ctx) => {
    if (p.holdTime > 0 && p.keepaliveTime >= p.holdTime) {
      ctx.addIssue({ code: 'custom', path: ['keepaliveTime'], message: `must be less than holdTime (${p.holdTime})` });
    }
  });

export const bgpConfigSchema = z
  .strictObject({
    asNumber: asNumber(),
    routerId: ipv4Address(),
    listen: z
      .strictObject({
        address: ipAddress().default('0.0.0.0'),
        port: port().default(179),
        /** false: no listening socket at all (every peer active). */
        enabled: z.boolean().default(true),
      })
      .prefault({}),
    controlSocket: absolutePath().default('/run/tabby/bgp.sock'),
    fibInstall: z.boolean().default(false),
    /** Route protocol number of installed routes (fibInstall). */
    fibProtocol: z.number().int().min(18).max(252).default(80),
    /** Route reflector cluster id (RFC 4456); default: the router id. */
    clusterId: ipv4Address().optional(),
    /** Seconds a restarting peer's routes are kept (RFC 4724 Restart Time we advertise). */
    gracefulRestartTime: seconds(1, 4095).default(120),
    /**
     * After our own graceful restart (RFC 4724 §4.1): the longest route
     * selection, advertisement and FIB changes wait for End-of-RIB from every
     * graceful-restart peer (the Selection_Deferral_Timer).
     */
    selectionDeferralTime: seconds(1, 3600).default(60),
    /** Equal-cost paths to install/report per prefix (1 disables multipath). */
    multipath: z.number().int().min(1).max(64).default(1),
    /** Compare MED between routes from different neighbouring ASes too (RFC 4271 §9.1.2.2 c compares it only within one). */
    alwaysCompareMed: z.boolean().default(false),
    originate: z
      .array(z.string().superRefine((s, ctx) => {
        if (!parseCidr(s)) ctx.addIssue({ code: 'custom', message: 'must be a CIDR such as 10.10.0.0/24' });
      }))
      .default([]),
    filters: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, { message: 'filter names: letters, digits, "_" and "-"' }), filterSchema).default({}),
    peers: z.array(peerSchema).default([]),
    log: z
      .strictObject({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
        format: z.enum(['auto', 'json', 'text']).default('auto'),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    const seen = new Map<string, number>();
    c.peers.forEach((p, i) => {
      const prev = seen.get(p.address);
      if (prev !== undefined) ctx.addIssue({ code: 'custom', path: ['peers', i, 'address'], message: `peer ${p.address} is configured twice (also peers[${prev}])` });
      seen.set(p.address, i);
      for (const dir of ['import', 'export'] as const) {
        const ref = p[dir];
        if (ref !== 'all' && ref !== 'none' && !(ref in c.filters)) {
          ctx.addIssue({ code: 'custom', path: ['peers', i, dir], message: `no filter named "${ref}" (use all, none, or a name under filters:)` });
        }
      }
      if (p.routeReflectorClient && p.asNumber !== c.asNumber) {
        ctx.addIssue({ code: 'custom', path: ['peers', i, 'routeReflectorClient'], message: 'only iBGP peers (same asNumber) can be route reflector clients (RFC 4456)' });
      }
    });
  });

export type BgpConfig = z.output<typeof bgpConfigSchema>;
export type BgpPeerConfig = BgpConfig['peers'][number];
export type BgpFilterConfig = BgpConfig['filters'][string];

export function loadBgpConfig(file: string): BgpConfig {
  return loadYamlFile(file, bgpConfigSchema);
}
