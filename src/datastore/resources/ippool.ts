/**
 * IPPool: a range of workload addresses, its block size, encapsulation and
 * NAT. Rules from Calico's IPPool CRD, validateIPPoolSpec and the IPPools
 * client (defaults, CIDR normalisation).
 */
import { z } from 'zod';
import { envelope } from './envelope.js';
import { ALWAYS, integer, report, selector, subdomainName, type Ctx } from './fields.js';
import { canonicalNetwork, cidrsOverlap, isStrictlyMasked, parseCidr, type Family, type IpNet } from './ip.js';
import { metadataSchema, type Metadata } from './metadata.js';
import { unimplemented } from './unimplemented.js';

export const ENCAP_MODES = ['Always', 'CrossSubnet', 'Never'] as const;
export type EncapMode = (typeof ENCAP_MODES)[number];
export type AllowedUse = 'Workload' | 'Tunnel';

export const DEFAULT_BLOCK_SIZE: Record<Family, number> = { 4: 26, 6: 122 };
export const BLOCK_SIZE_RANGE: Record<Family, [number, number]> = { 4: [20, 32], 6: [116, 128] };

export interface IPPoolSpec {
  /** Canonical network text ("10.65.0.0/16", "fd00:10::/48"). */
  cidr: string;
  blockSize: number;
  ipipMode: EncapMode;
  vxlanMode: EncapMode;
  natOutgoing: boolean;
  disabled: boolean;
  disableBGPExport: boolean;
  nodeSelector: string;
  allowedUses: AllowedUse[];
  assignmentMode: 'Automatic';
}

export interface IPPool {
  apiVersion: 'projectcalico.org/v3';
  kind: 'IPPool';
  metadata: Metadata;
  spec: IPPoolSpec;
}

const LINK_LOCAL: Record<Family, { net: IpNet; text: string }> = {
  4: { net: parseCidr('169.254.0.0/16')!, text: '169.254.0.0/16' },
  6: { net: parseCidr('fe80::/10')!, text: 'fe80::/10' },
};

const enabled = (m: unknown) => m === 'Always' || m === 'CrossSubnet';

function checkSpec(spec: Record<string, unknown>, ctx: Ctx): void {
  if (typeof spec.cidr !== 'string') return;
  const net = parseCidr(spec.cidr);
  if (!net) {
    report(ctx, `must be a CIDR such as 10.65.0.0/16 or fd00:10::/48 (got ${JSON.stringify(spec.cidr)})`, ['cidr']);
    return;
  }
  if (!isStrictlyMasked(net)) {
    report(ctx, `IPPool CIDR is not strictly masked: ${JSON.stringify(spec.cidr)} has host bits set; did you mean ${canonicalNetwork(net)}?`, ['cidr']);
  }
  const ll = LINK_LOCAL[net.family];
  if (cidrsOverlap(net, ll.net)) report(ctx, `IPPool CIDR overlaps the link-local range ${ll.text}`, ['cidr']);

  const [min, max] = BLOCK_SIZE_RANGE[net.family];
  const rawBlock = spec.blockSize;
  const blockSize = rawBlock === undefined || rawBlock === 0 ? DEFAULT_BLOCK_SIZE[net.family] : rawBlock;
  if (typeof blockSize === 'number') {
    if (blockSize < min || blockSize > max) {
      report(ctx, `blockSize must be from ${min} to ${max} for an IPv${net.family} pool (got ${blockSize})`, ['blockSize']);
    } else if (spec.disabled !== true && net.prefixLength > blockSize) {
      // Calico IPAM hands out whole blocks: the pool must hold at least one.
      report(ctx, `the pool /${net.prefixLength} is smaller than one block (/${blockSize}); use a shorter prefix, a larger blockSize, or disable the pool`, ['cidr']);
    }
  }
  if (net.family === 6 && enabled(spec.ipipMode)) report(ctx, 'IPIP is not supported on IPv6 pools: ipipMode must be Never', ['ipipMode']);
  else if (enabled(spec.ipipMode) && enabled(spec.vxlanMode)) {
    report(ctx, 'ipipMode and vxlanMode cannot both be enabled on the same IP pool', ['ipipMode']);
  }
}

const allowedUses = z
  .array(z.enum(['Workload', 'Tunnel', 'LoadBalancer']))
  .max(10)
  .superRefine((uses, ctx) => {
    uses.forEach((u, i) => {
      if (uses.indexOf(u) !== i) report(ctx, `${JSON.stringify(u)} is listed twice`, [i]);
    });
  });

const ipPoolSpec = z
  .strictObject({
    cidr: z.string().max(48),
    blockSize: integer(0, 128).optional(),
    ipipMode: z.enum(ENCAP_MODES).default('Never'),
    vxlanMode: z.enum(ENCAP_MODES).default('Never'),
    natOutgoing: z.boolean().default(false),
    disabled: z.boolean().default(false),
    disableBGPExport: z.boolean().default(false),
    nodeSelector: selector().max(1024).default('all()'),
    namespaceSelector: unimplemented('poolNamespaceSelector', z.string()),
    allowedUses: unimplemented('poolLoadBalancer', allowedUses),
    assignmentMode: unimplemented('poolAssignmentMode', z.enum(['Automatic', 'Manual'])),
  })
  .superRefine((s, ctx) => checkSpec(s, ctx), ALWAYS)
  .transform((s): IPPoolSpec => {
    const net = parseCidr(s.cidr)!;
    const uses = (s.allowedUses ?? []).filter((u): u is AllowedUse => u !== 'LoadBalancer');
    return {
      cidr: canonicalNetwork(net),
      blockSize: s.blockSize ? s.blockSize : DEFAULT_BLOCK_SIZE[net.family],
      ipipMode: s.ipipMode,
      vxlanMode: s.vxlanMode,
      natOutgoing: s.natOutgoing,
      disabled: s.disabled,
      disableBGPExport: s.disableBGPExport,
      nodeSelector: s.nodeSelector === '' ? 'all()' : s.nodeSelector,
      allowedUses: uses.length > 0 ? uses : ['Workload', 'Tunnel'],
      assignmentMode: 'Automatic',
    };
  });

export const ipPoolSchema = envelope(
  'IPPool',
  metadataSchema({ kind: 'IPPool', namespaced: false, name: subdomainName() }),
  ipPoolSpec,
  { status: true },
);

/**
 * Pairs of pools whose CIDRs overlap. Calico refuses to create a pool that
 * overlaps another; the apply layer checks new pools against stored ones
 * with this, and parseResources checks the pools of one file.
 */
export function overlappingPools(pools: readonly IPPool[]): [IPPool, IPPool][] {
  const nets = pools.map((p) => parseCidr(p.spec.cidr)!);
  const out: [IPPool, IPPool][] = [];
  for (let i = 0; i < pools.length; i++) {
    for (let j = i + 1; j < pools.length; j++) {
      if (pools[i]!.metadata.name !== pools[j]!.metadata.name && cidrsOverlap(nets[i]!, nets[j]!)) out.push([pools[i]!, pools[j]!]);
    }
  }
  return out;
}

/**
 * Why an update from `old` to `next` is refused, or undefined. Calico does
 * not allow a pool's CIDR or block size to change (blocks already handed out
 * would no longer fit): the migration is a new pool.
 */
export function ipPoolChangeProblem(old: IPPool, next: IPPool): string | undefined {
  if (old.spec.cidr !== next.spec.cidr) return `IPPool ${old.metadata.name}: cidr cannot be changed (from ${old.spec.cidr} to ${next.spec.cidr}); create a new pool and disable this one`;
  if (old.spec.blockSize !== next.spec.blockSize) return `IPPool ${old.metadata.name}: blockSize cannot be changed (from ${old.spec.blockSize} to ${next.spec.blockSize})`;
  return undefined;
}
