/**
 * How Calico turns the selectors of a v3 policy into the endpoint selectors
 * Felix evaluates (libcalico-go `backend/syncersv1/updateprocessors`:
 * `rules.go`, `networkpolicyprocessor.go`, `globalnetworkpolicyprocessor.go`,
 * `selectors.go`). Calico does it by splicing strings; here the same
 * rewrites are done on trees, which gives the same result for every
 * selector Calico handles correctly and avoids its string-level accidents
 * (a quoted value containing "all()" is not rewritten here).
 *
 * Endpoints must carry the labels these selectors read (README.md,
 * "What the policy compiler needs"): `projectcalico.org/namespace` on every
 * namespaced endpoint, namespace labels under `pcns.` via a parent profile,
 * service-account labels under `pcsa.` and `projectcalico.org/serviceaccount`.
 */
import { ALL, and, compare, has, inSet, mapLeaves, not, type SelectorNode } from './ast.js';
import { Selector } from './selector.js';

/** Label Calico puts on every namespaced endpoint: its namespace's name. */
export const LABEL_NAMESPACE = 'projectcalico.org/namespace';
/** Label Calico puts on an endpoint that runs as a service account: its name. */
export const LABEL_SERVICE_ACCOUNT = 'projectcalico.org/serviceaccount';
/** Label of a namespace (or service account) profile holding its own name. */
export const LABEL_NAME = 'projectcalico.org/name';
/** Prefix of namespace labels as endpoints inherit them (conversion.NamespaceLabelPrefix). */
export const NAMESPACE_LABEL_PREFIX = 'pcns.';
/** Prefix of service-account labels as endpoints inherit them (conversion.ServiceAccountLabelPrefix). */
export const SERVICE_ACCOUNT_LABEL_PREFIX = 'pcsa.';

/**
 * Prefixes every label key (Calico's PrefixVisitor): `k == 'v'` becomes
 * `pcns.k == 'v'`. all() and global() are unchanged. Calico does not check
 * the 512-character key limit after prefixing, and neither does this.
 */
export function prefixKeys(node: SelectorNode, prefix: string): SelectorNode {
  return mapLeaves(node, (n) => ('key' in n ? { ...n, key: prefix + n.key } : n));
}

/** Replaces every all() in the tree. */
function replaceAll(node: SelectorNode, by: SelectorNode): SelectorNode {
  return mapLeaves(node, (n) => (n.kind === 'all' ? by : n));
}

/**
 * A rule's `namespaceSelector` as an endpoint selector: keys get `pcns.`,
 * all() means "any namespaced endpoint" (`has(projectcalico.org/namespace)`)
 * and global() means "any endpoint that is not namespaced" (host endpoints,
 * global network sets: `!has(projectcalico.org/namespace)`).
 */
export function ruleNamespaceSelector(namespaceSelector: SelectorNode): SelectorNode {
  return mapLeaves(namespaceSelector, (n) => {
    if (n.kind === 'all') return has(LABEL_NAMESPACE);
    if (n.kind === 'global') return not(has(LABEL_NAMESPACE));
    return 'key' in n ? { ...n, key: NAMESPACE_LABEL_PREFIX + n.key } : n;
  });
}

/** Parses an optional selector field; absent, "" and blanks mean "not given". */
function optional(text: string | undefined): SelectorNode | undefined {
  if (text === undefined) return undefined;
  const sel = Selector.parse(text);
  return sel.empty ? undefined : sel.ast;
}

export interface ServiceAccountMatch {
  readonly names?: readonly string[];
  readonly selector?: string;
}

/** The selector-related fields of a v3 EntityRule (a rule's `source` or `destination`). */
export interface EntityRuleSelectors {
  readonly selector?: string;
  readonly notSelector?: string;
  readonly namespaceSelector?: string;
  readonly serviceAccounts?: ServiceAccountMatch;
}

export interface RuleEndpointSelectors {
  /** Endpoints the rule side must match; undefined: no selector constraint. */
  readonly selector: Selector | undefined;
  /** Endpoints the rule side must NOT match; undefined: none. Not namespace-scoped (as Calico). */
  readonly notSelector: Selector | undefined;
}

/** `serviceAccounts` as a selector (rules.go parseServiceAccounts). */
function serviceAccountSelector(sa: ServiceAccountMatch | undefined): SelectorNode | undefined {
  if (sa === undefined) return undefined;
  const parts: SelectorNode[] = [];
  const sel = optional(sa.selector);
  if (sel !== undefined) parts.push(prefixKeys(sel, SERVICE_ACCOUNT_LABEL_PREFIX));
  if (sa.names !== undefined && sa.names.length > 0) parts.push(inSet('in', LABEL_SERVICE_ACCOUNT, sa.names));
  return parts.length === 0 ? undefined : and(...parts);
}

/**
 * The endpoint selector of one side of a rule (rules.go GetEntityRuleSelector).
 * `policyNamespace` is the namespace of a NetworkPolicy, undefined for a
 * GlobalNetworkPolicy or Profile.
 *
 * - namespaceSelector given: the side is limited to the selected namespaces
 *   (ruleNamespaceSelector);
 * - else in a namespaced policy: limited to the policy's own namespace, but
 *   only when selector, notSelector or serviceAccounts is used (a rule with
 *   only nets/ports keeps matching any source);
 * - selector and serviceAccounts are ANDed with that.
 */
export function ruleEndpointSelectors(entity: EntityRuleSelectors, policyNamespace?: string): RuleEndpointSelectors {
  const nsGiven = optional(entity.namespaceSelector);
  let nsPart: SelectorNode | undefined;
  if (nsGiven !== undefined) nsPart = ruleNamespaceSelector(nsGiven);
  else if (policyNamespace !== undefined && policyNamespace !== '') {
    nsPart = compare('eq', LABEL_NAMESPACE, policyNamespace);
  }

  const own: SelectorNode[] = [];
  const sa = serviceAccountSelector(entity.serviceAccounts);
  if (sa !== undefined) own.push(sa);
  const sel = optional(entity.selector);
  if (sel !== undefined) own.push(sel);
  const notSel = optional(entity.notSelector);

  let result: SelectorNode | undefined = own.length > 0 ? and(...own) : undefined;
  if (nsPart !== undefined && (result !== undefined || notSel !== undefined || nsGiven !== undefined)) {
    result = result === undefined ? nsPart : and(nsPart, result);
  }
  return {
    selector: result === undefined ? undefined : Selector.fromAst(result),
    notSelector: notSel === undefined ? undefined : Selector.fromAst(notSel),
  };
}

export interface PolicySelectors {
  readonly selector?: string;
  readonly serviceAccountSelector?: string;
}

/**
 * The endpoints a NetworkPolicy applies to (networkpolicyprocessor.go):
 * `(selector) && projectcalico.org/namespace == '<ns>'`, ANDed with the
 * `pcsa.`-prefixed serviceAccountSelector when given.
 */
export function networkPolicyEndpointSelector(namespace: string, spec: PolicySelectors): Selector {
  const parts: SelectorNode[] = [];
  const sel = optional(spec.selector);
  if (sel !== undefined) parts.push(sel);
  parts.push(compare('eq', LABEL_NAMESPACE, namespace));
  const sa = optional(spec.serviceAccountSelector);
  if (sa !== undefined) parts.push(prefixKeys(sa, SERVICE_ACCOUNT_LABEL_PREFIX));
  return Selector.fromAst(and(...parts));
}

export interface GlobalPolicySelectors extends PolicySelectors {
  readonly namespaceSelector?: string;
}

/**
 * The endpoints a GlobalNetworkPolicy applies to
 * (globalnetworkpolicyprocessor.go). Mirrors Calico exactly, quirks included:
 *
 * - a namespaceSelector is `pcns.`-prefixed and ANDed, and then every all()
 *   in the combined selector (the policy's own `selector` too) becomes
 *   `has(projectcalico.org/namespace)`; global() is NOT rewritten at this
 *   level, so it matches everything, as in Calico;
 * - a serviceAccountSelector is `pcsa.`-prefixed and ANDed, and then every
 *   remaining all() becomes `has(projectcalico.org/serviceaccount)`.
 */
export function globalNetworkPolicyEndpointSelector(spec: GlobalPolicySelectors): Selector {
  let tree = optional(spec.selector);
  const ns = optional(spec.namespaceSelector);
  if (ns !== undefined) {
    const prefixed = prefixKeys(ns, NAMESPACE_LABEL_PREFIX);
    tree = replaceAll(tree === undefined ? prefixed : and(tree, prefixed), has(LABEL_NAMESPACE));
  }
  const sa = optional(spec.serviceAccountSelector);
  if (sa !== undefined) {
    const prefixed = prefixKeys(sa, SERVICE_ACCOUNT_LABEL_PREFIX);
    tree = replaceAll(tree === undefined ? prefixed : and(tree, prefixed), has(LABEL_SERVICE_ACCOUNT));
  }
  return Selector.fromAst(tree ?? ALL);
}
