/**
 * NetworkPolicy (namespaced) and GlobalNetworkPolicy (cluster-wide).
 *
 * Defaults as Calico's client applies them (api/pkg/defaults): tier
 * "default", `types` from the rules present (Ingress when there are no
 * egress rules, Egress when there are only egress rules, both when both),
 * and the `projectcalico.org/tier` label. `order` has no default: a policy
 * without one comes last in its tier, as in Calico.
 */
import { z } from 'zod';
import { envelope } from './envelope.js';
import { globalNetworkPolicyName, labelName, networkPolicyName, report, selector } from './fields.js';
import { metadataSchema, type Metadata } from './metadata.js';
import { rulesSchema, type Rule } from './rule.js';
import { unimplemented } from './unimplemented.js';

export type PolicyType = 'Ingress' | 'Egress';
export const DEFAULT_TIER = 'default';
export const LABEL_TIER = 'projectcalico.org/tier';

interface PolicySpecCommon {
  tier: 'default';
  /** Lower first; absent means after every policy with an order. */
  order?: number;
  selector: string;
  types: PolicyType[];
  ingress: Rule[];
  egress: Rule[];
  performanceHints?: 'AssumeNeededOnEveryNode'[];
}

export type NetworkPolicySpec = PolicySpecCommon;

export interface GlobalNetworkPolicySpec extends PolicySpecCommon {
  /** Only workload endpoints in namespaces it matches; absent: every endpoint. */
  namespaceSelector?: string;
  applyOnForward: boolean;
}

export interface NetworkPolicy {
  apiVersion: 'projectcalico.org/v3';
  kind: 'NetworkPolicy';
  metadata: Metadata & { namespace: string };
  spec: NetworkPolicySpec;
}

export interface GlobalNetworkPolicy {
  apiVersion: 'projectcalico.org/v3';
  kind: 'GlobalNetworkPolicy';
  metadata: Metadata;
  spec: GlobalNetworkPolicySpec;
}

const policyTypes = z
  .array(z.enum(['Ingress', 'Egress']))
  .max(2)
  .superRefine((types, ctx) => {
    types.forEach((t, i) => {
      if (types.indexOf(t) !== i) report(ctx, `'${t}' type specified more than once`, [i]);
    });
  });

const order = z.number().refine((n) => Number.isFinite(n), { message: 'must be a finite number' });

const hints = z
  .array(z.enum(['AssumeNeededOnEveryNode']))
  .superRefine((h, ctx) => {
    if (new Set(h).size !== h.length) report(ctx, 'hints must not repeat');
  });

const commonShape = {
  tier: unimplemented('policyTier', labelName()),
  order: order.optional(),
  selector: selector().max(1024).default('all()'),
  types: policyTypes.optional(),
  ingress: rulesSchema(),
  egress: rulesSchema(),
  serviceAccountSelector: unimplemented('serviceAccountSelector', z.string()),
  performanceHints: hints.optional(),
};

/** Calico's defaultPolicyTypesField. */
export function defaultPolicyTypes(ingress: readonly unknown[], egress: readonly unknown[]): PolicyType[] {
  if (egress.length === 0) return ['Ingress'];
  if (ingress.length === 0) return ['Egress'];
  return ['Ingress', 'Egress'];
}

function commonOut(s: {
  order?: number;
  selector: string;
  types?: PolicyType[];
  ingress: Rule[];
  egress: Rule[];
  performanceHints?: 'AssumeNeededOnEveryNode'[];
}): PolicySpecCommon {
  const out: PolicySpecCommon = {
    tier: DEFAULT_TIER,
    selector: s.selector === '' ? 'all()' : s.selector,
    types: s.types && s.types.length > 0 ? s.types : defaultPolicyTypes(s.ingress, s.egress),
    ingress: s.ingress,
    egress: s.egress,
  };
  if (s.order !== undefined) out.order = s.order;
  if (s.performanceHints !== undefined) out.performanceHints = s.performanceHints;
  return out;
}

function withTierLabel<M extends Metadata>(m: M): M {
  return { ...m, labels: { ...(m.labels ?? {}), [LABEL_TIER]: DEFAULT_TIER } };
}

const networkPolicySpec = z
  .strictObject(commonShape)
  .prefault({})
  .transform((s): NetworkPolicySpec => commonOut(s));

export const networkPolicySchema = envelope(
  'NetworkPolicy',
  metadataSchema({ kind: 'NetworkPolicy', namespaced: true, name: networkPolicyName() }),
  networkPolicySpec,
).transform((r): NetworkPolicy => ({ ...r, metadata: withTierLabel({ ...r.metadata, namespace: r.metadata.namespace ?? 'default' }) }));

const globalNetworkPolicySpec = z
  .strictObject({
    ...commonShape,
    namespaceSelector: selector().max(1024).optional(),
    applyOnForward: z.boolean().default(false),
    doNotTrack: unimplemented('doNotTrack', z.boolean()),
    preDNAT: unimplemented('preDNAT', z.boolean()),
  })
  .prefault({})
  .transform((s): GlobalNetworkPolicySpec => {
    const out: GlobalNetworkPolicySpec = { ...commonOut(s), applyOnForward: s.applyOnForward };
    if (s.namespaceSelector !== undefined && s.namespaceSelector !== '') out.namespaceSelector = s.namespaceSelector;
    return out;
  });

export const globalNetworkPolicySchema = envelope(
  'GlobalNetworkPolicy',
  metadataSchema({ kind: 'GlobalNetworkPolicy', namespaced: false, name: globalNetworkPolicyName() }),
  globalNetworkPolicySpec,
).transform((r): GlobalNetworkPolicy => ({ ...r, metadata: withTierLabel(r.metadata) }));
