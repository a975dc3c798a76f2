/**
 * PolicyCalculator: policies, profiles and endpoints in; the compiled
 * ruleset of one node out (chains, hooks, ipsets). Pure (no I/O) and
 * deterministic: the same state gives a byte-identical ruleset whatever the
 * order of the updates that led to it.
 *
 * It is incremental in the way Felix's calculation graph is:
 *   - a policy's chains depend only on the policy, so they are compiled once
 *     per content (fingerprint) and shared by every endpoint it selects;
 *   - which local endpoints a policy selects is kept per policy: a policy
 *     update re-evaluates its selector on the local endpoints only, an
 *     endpoint update evaluates every policy selector on that endpoint only;
 *   - ipset members are kept per set and per endpoint: a label change
 *     re-evaluates each set's selector on that one endpoint.
 * So a label change of a workload that no local selection depends on
 * changes ipset members and nothing else, and a policy change rewrites only
 * that policy's chains (plus the endpoint chains whose policy list changes).
 *
 * `compilePolicy(resources, opts)` is the one-shot form; tests check that
 * any sequence of updates ends in the same ruleset as a one-shot compile.
 */
import type { Resource, Rule as CalicoRule } from '../datastore/resources/index.js';
import { canonicalMember } from '../felix/ipsets/members.js';
import type { IpSetType } from '../felix/ipsets/members.js';
import type { Rule } from '../felix/iptables/model.js';
import { renderRuleBody } from '../felix/iptables/render.js';
import { staticChains, endpointChain, hostEndpointDispatch, workloadDispatch, CALICO_FAILSAFE, type EndpointPolicies, type EndpointToHostAction, type FailsafeConfig } from './chains.js';
import {
  addressesFor,
  comparePolicies,
  globalNetworkPolicyEntry,
  hostEndpointEntry,
  implicitProfileEntry,
  networkPolicyEntry,
  policyResourcesFrom,
  profileEntry,
  workloadEndpointEntry,
  type Direction,
  type EndpointEntry,
  type IpVersion,
  type OwnerRef,
  type PolicyEntry,
  type PolicyResources,
  type ProfileEntry,
} from './model.js';
import { CHAIN_FORWARD, CHAIN_INPUT, CHAIN_OUTPUT, policyChainName, type EndpointChainKind } from './names.js';
import { ChainBuilder, type CompiledChain } from './origin.js';
import { compileRule, type SetDef } from './rules.js';
import type { Selector } from './selector/index.js';

export interface CompileOptions {
  /** The node whose dataplane is compiled: its endpoints get chains; every node's endpoints fill ipsets. */
  nodeName: string;
  ipVersion?: IpVersion;
  /** Host-side interface prefix of workloads (Calico: `cali`). */
  workloadInterfacePrefix?: string;
  /** After a workload's egress policy allows traffic to the host itself (Felix's DefaultEndpointToHostAction, default Drop). */
  endpointToHostAction?: EndpointToHostAction;
  /** Ports host-endpoint policy can never close (default: Calico's). */
  failsafe?: FailsafeConfig;
  /** Prefix of the kernel log line of a Log rule. */
  logPrefix?: string;
}

export interface CompiledIpSet {
  name: string;
  type: IpSetType;
  family: 'inet' | 'inet6';
  /** Canonical, sorted. */
  members: readonly string[];
  /** What the set stands for (selector text, CIDRs, named port). */
  purpose: string;
}

/** A local endpoint as compiled: its chains and the policies that apply, for explain and status. */
export interface CompiledEndpoint {
  key: string;
  kind: 'workload' | 'host';
  displayName: string;
  iface: string;
  ingress: EndpointPolicies;
  egress: EndpointPolicies;
  /** Host endpoints: the applyOnForward policies. */
  forwardIngress?: EndpointPolicies;
  forwardEgress?: EndpointPolicies;
}

export interface CompiledRuleset {
  nodeName: string;
  ipVersion: IpVersion;
  /** Filter-table chains, sorted by name. */
  chains: readonly CompiledChain[];
  /** tabby's rules in each built-in chain of the filter table (insert mode). */
  hooks: Readonly<Record<'INPUT' | 'FORWARD' | 'OUTPUT', readonly Rule[]>>;
  /** ipsets, sorted by name. */
  ipsets: readonly CompiledIpSet[];
  endpoints: readonly CompiledEndpoint[];
  /** Things the compiler could not honour exactly (one line each). */
  warnings: readonly string[];
}

export class PolicyCompileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyCompileError';
  }
}

interface CompiledOwner {
  fingerprint: string;
  ingress: CompiledChain | undefined;
  egress: CompiledChain | undefined;
  sets: SetDef[];
  warnings: string[];
}

interface SetState {
  def: SetDef;
  /** endpoint key -> its members in this set. */
  byEndpoint: Map<string, string[]>;
  sorted: string[] | undefined;
}

const DEFAULT_LOG_PREFIX = 'tabby-packet: ';

export class PolicyCalculator {
  readonly nodeName: string;
  readonly ipVersion: IpVersion;
  private readonly prefix: string;
  private readonly e2h: EndpointToHostAction;
  private readonly failsafe: FailsafeConfig;
  private readonly logPrefix: string;

  private readonly policies = new Map<string, PolicyEntry>();
  private readonly profiles = new Map<string, ProfileEntry>();
  private readonly endpoints = new Map<string, EndpointEntry>();
  /** policy key -> local endpoint keys it selects. */
  private readonly selects = new Map<string, Set<string>>();
  /** Compiled chains per policy key / profile name. */
  private readonly policyCache = new Map<string, CompiledOwner>();
  private readonly profileCache = new Map<string, CompiledOwner>();
  private readonly sets = new Map<string, SetState>();
  /** Inherited labels per endpoint; dropped when the endpoint or one of its profiles changes. */
  private readonly parentsCache = new Map<string, { entry: EndpointEntry; parents: Record<string, string>[] }>();
  private readonly endpointChainCache = new Map<string, { sig: string; chains: CompiledChain[] }>();

  constructor(opts: CompileOptions) {
    this.nodeName = opts.nodeName;
    this.ipVersion = opts.ipVersion ?? 4;
    this.prefix = opts.workloadInterfacePrefix ?? 'cali';
    this.e2h = opts.endpointToHostAction ?? 'Drop';
    this.failsafe = opts.failsafe ?? CALICO_FAILSAFE;
    this.logPrefix = opts.logPrefix ?? DEFAULT_LOG_PREFIX;
  }

  // ---- updates ---------------------------------------------------------------

  /** Replace the whole state with these resources. */
  replaceAll(res: PolicyResources): this {
    const want = new Set<string>();
    const policies = [...res.networkPolicies.map(networkPolicyEntry), ...res.globalNetworkPolicies.map(globalNetworkPolicyEntry)];
    for (const p of policies) want.add(p.key);
    for (const k of [...this.policies.keys()]) if (!want.has(k)) this.deletePolicy(k);
    const profiles = res.profiles.map(profileEntry);
    const wantProfiles = new Set(profiles.map((p) => p.name));
    for (const k of [...this.profiles.keys()]) if (!wantProfiles.has(k)) this.deleteProfile(k);
    const eps = [...res.workloadEndpoints.map(workloadEndpointEntry), ...res.hostEndpoints.map(hostEndpointEntry)];
    const wantEps = new Set(eps.map((e) => e.key));
    for (const k of [...this.endpoints.keys()]) if (!wantEps.has(k)) this.deleteEndpoint(k);
    for (const p of profiles) this.setProfile(p);
    for (const e of eps) this.setEndpoint(e);
    for (const p of policies) this.setPolicy(p);
    return this;
  }

  /** Create or update one resource (kinds other than the five policy kinds are ignored). */
  upsert(r: Resource): void {
    switch (r.kind) {
      case 'NetworkPolicy':
        return this.setPolicy(networkPolicyEntry(r));
      case 'GlobalNetworkPolicy':
        return this.setPolicy(globalNetworkPolicyEntry(r));
      case 'Profile':
        return this.setProfile(profileEntry(r));
      case 'WorkloadEndpoint':
        return this.setEndpoint(workloadEndpointEntry(r));
      case 'HostEndpoint':
        return this.setEndpoint(hostEndpointEntry(r));
      default:
        return;
    }
  }

  /** Delete one resource by kind and name. */
  remove(kind: Resource['kind'], name: string, namespace?: string): void {
    switch (kind) {
      case 'NetworkPolicy':
        return this.deletePolicy(`${namespace ?? 'default'}/${name}`);
      case 'GlobalNetworkPolicy':
        return this.deletePolicy(name);
      case 'Profile':
        return this.deleteProfile(name);
      case 'WorkloadEndpoint': {
        for (const [k, e] of this.endpoints) if (e.kind === 'workload' && e.name === name && e.namespace === (namespace ?? 'default')) this.deleteEndpoint(k);
        return;
      }
      case 'HostEndpoint':
        return this.deleteEndpoint(`hep:${name}`);
      default:
        return;
    }
  }

  setPolicy(p: PolicyEntry): void {
    const old = this.policies.get(p.key);
    this.policies.set(p.key, p);
    if (old && old.selector.equals(p.selector)) return;
    const sel = new Set<string>();
    for (const e of this.endpoints.values()) if (this.isLocal(e) && this.matches(p.selector, e)) sel.add(e.key);
    this.selects.set(p.key, sel);
  }

  deletePolicy(key: string): void {
    this.policies.delete(key);
    this.selects.delete(key);
    this.policyCache.delete(key);
  }

  setProfile(p: ProfileEntry): void {
    const old = this.profiles.get(p.name);
    this.profiles.set(p.name, p);
    if (!old || !sameLabels(old.labels, p.labels)) this.profileLabelsChanged(p.name);
  }

  deleteProfile(name: string): void {
    if (this.profiles.delete(name)) this.profileLabelsChanged(name);
    this.profileCache.delete(name);
  }

  setEndpoint(e: EndpointEntry): void {
    this.endpoints.set(e.key, e);
    this.endpointChanged(e.key);
  }

  deleteEndpoint(key: string): void {
    if (!this.endpoints.delete(key)) return;
    this.parentsCache.delete(key);
    this.endpointChanged(key);
  }

  // ---- derived state -----------------------------------------------------------

  private isLocal(e: EndpointEntry): boolean {
    return e.node === this.nodeName;
  }

  private profile(name: string): ProfileEntry | undefined {
    return this.profiles.get(name) ?? implicitProfileEntry(name);
  }

  private parents(e: EndpointEntry): Record<string, string>[] {
    const cached = this.parentsCache.get(e.key);
    if (cached && cached.entry === e) return cached.parents;
    const out: Record<string, string>[] = [];
    for (const n of e.profiles) {
      const p = this.profile(n);
      if (p) out.push(p.labels as Record<string, string>);
    }
    this.parentsCache.set(e.key, { entry: e, parents: out });
    return out;
  }

  private matches(sel: Selector, e: EndpointEntry): boolean {
    return sel.evaluateWithParents(e.labels as Record<string, string>, this.parents(e));
  }

  private profileLabelsChanged(name: string): void {
    for (const e of this.endpoints.values()) {
      if (!e.profiles.includes(name)) continue;
      this.parentsCache.delete(e.key);
      this.endpointChanged(e.key);
    }
  }

  /** Re-evaluate one endpoint everywhere it counts: local policy selection, set membership. */
  private endpointChanged(key: string): void {
    const e = this.endpoints.get(key);
    for (const [pk, sel] of this.selects) {
      const p = this.policies.get(pk)!;
      if (e && this.isLocal(e) && this.matches(p.selector, e)) sel.add(key);
      else sel.delete(key);
    }
    for (const s of this.sets.values()) this.updateMembership(s, key, e);
  }

  private membersOf(def: SetDef, e: EndpointEntry): string[] {
    switch (def.kind) {
      case 'nets':
        return [];
      case 'selector':
        return this.matches(def.selector, e) ? [...addressesFor(e, def.ipVersion)] : [];
      case 'named-port': {
        if (def.selector && !this.matches(def.selector, e)) return [];
        const out: string[] = [];
        for (const p of e.ports) {
          const proto = p.protocol === 'TCP' ? 'tcp' : p.protocol === 'UDP' ? 'udp' : p.protocol === 'SCTP' ? 'sctp' : undefined;
          if (p.name !== def.port || proto === undefined) continue;
          if (def.protocol !== undefined && def.protocol !== proto) continue;
          for (const ip of addressesFor(e, def.ipVersion)) out.push(`${ip},${proto}:${p.port}`);
        }
        return out;
      }
    }
  }

  private updateMembership(s: SetState, key: string, e: EndpointEntry | undefined): void {
    if (s.def.kind === 'nets') return;
    const now = e ? this.membersOf(s.def, e) : [];
    const before = s.byEndpoint.get(key);
    if (now.length === 0) {
      if (before) {
        s.byEndpoint.delete(key);
        s.sorted = undefined;
      }
    } else if (!before || before.join() !== now.join()) {
      s.byEndpoint.set(key, now);
      s.sorted = undefined;
    }
  }

  private compileOwner(owner: OwnerRef, fingerprint: string, namespace: string | undefined, ingress: readonly CalicoRule[] | undefined, egress: readonly CalicoRule[] | undefined): CompiledOwner {
    const sets: SetDef[] = [];
    const warnings: string[] = [];
    const one = (dir: Direction, rules: readonly CalicoRule[] | undefined): CompiledChain | undefined => {
      if (rules === undefined) return undefined;
      const b = new ChainBuilder(policyChainName(owner, dir));
      rules.forEach((rule, index) => {
        try {
          const c = compileRule(rule, { owner, direction: dir, index, policyNamespace: namespace, ipVersion: this.ipVersion, logPrefix: this.logPrefix });
          if (!c) return;
          // Render now: a rule the kernel would refuse must fail this policy, not the whole table's apply.
          for (const r of c.rules) renderRuleBody(r, this.ipVersion);
          b.addAll(c.rules, c.origins);
          sets.push(...c.sets);
        } catch (err) {
          // Fail closed: a rule that cannot be expressed drops what it would have matched and everything after it.
          warnings.push(`${ownerLabel(owner)} ${dir} rule ${index}: ${(err as Error).message}; traffic reaching it is dropped`);
          b.add({ action: { type: 'drop' } }, { kind: 'rule', owner, direction: dir, index, action: 'Deny' });
        }
      });
      return b.build();
    };
    return { fingerprint, ingress: one('ingress', ingress), egress: one('egress', egress), sets, warnings };
  }

  private compiledPolicy(p: PolicyEntry): CompiledOwner {
    const c = this.policyCache.get(p.key);
    if (c && c.fingerprint === p.fingerprint) return c;
    const fresh = this.compileOwner(p.owner, p.fingerprint, p.namespace, p.ingress, p.egress);
    this.policyCache.set(p.key, fresh);
    return fresh;
  }

  private compiledProfile(p: ProfileEntry): CompiledOwner {
    const c = this.profileCache.get(p.name);
    if (c && c.fingerprint === p.fingerprint) return c;
    const fresh = this.compileOwner(p.owner, p.fingerprint, undefined, p.ingress, p.egress);
    this.profileCache.set(p.name, fresh);
    return fresh;
  }

  private setState(def: SetDef): SetState {
    let s = this.sets.get(def.name);
    if (!s) {
      s = { def, byEndpoint: new Map(), sorted: undefined };
      this.sets.set(def.name, s);
      for (const e of this.endpoints.values()) this.updateMembership(s, e.key, e);
    }
    return s;
  }

  // ---- output --------------------------------------------------------------------

  /** The compiled ruleset of the current state. */
  ruleset(): CompiledRuleset {
    const warnings: string[] = [];
    const sortedPolicies = [...this.policies.values()].sort(comparePolicies);
    const local = [...this.endpoints.values()].filter((e) => this.isLocal(e)).sort((a, b) => (a.key < b.key ? -1 : 1));

    // Endpoints with a usable interface; one host endpoint per interface.
    const weps: EndpointEntry[] = [];
    const heps: EndpointEntry[] = [];
    const ifaceOwner = new Map<string, string>();
    for (const e of local) {
      if (e.iface === undefined || e.iface === '') {
        warnings.push(`${e.kind === 'host' ? 'HostEndpoint' : 'WorkloadEndpoint'} ${e.displayName}: no interfaceName; tabby resolves endpoints by interface only, so no policy is enforced for it`);
        continue;
      }
      if (e.kind === 'workload' && (!e.iface.startsWith(this.prefix) || e.iface === '*')) {
        warnings.push(`WorkloadEndpoint ${e.displayName}: interface ${e.iface} does not start with ${this.prefix}; its traffic is not policed`);
        continue;
      }
      const prev = ifaceOwner.get(e.iface);
      if (prev !== undefined) {
        warnings.push(`${e.displayName}: interface ${e.iface} already belongs to ${prev}; ignored`);
        continue;
      }
      ifaceOwner.set(e.iface, e.displayName);
      (e.kind === 'workload' ? weps : heps).push(e);
    }

    const activePolicies = new Map<string, PolicyEntry>();
    const activeProfiles = new Map<string, ProfileEntry>();
    const compiledEndpoints: CompiledEndpoint[] = [];
    const chains: CompiledChain[] = [];

    // Per local endpoint, the policies selecting it, already in Calico's order.
    const perEndpoint = new Map<string, PolicyEntry[]>();
    for (const p of sortedPolicies) {
      for (const k of this.selects.get(p.key) ?? []) {
        const list = perEndpoint.get(k);
        if (list) list.push(p);
        else perEndpoint.set(k, [p]);
      }
    }
    const policiesFor = (e: EndpointEntry, dir: Direction, forwardOnly: boolean): PolicyEntry[] =>
      (perEndpoint.get(e.key) ?? []).filter((p) => (dir === 'ingress' ? p.ingress : p.egress) !== undefined && (!forwardOnly || p.applyOnForward));
    const keysOf = (ep: EndpointPolicies) => `${ep.policies.map(ownerLabel).join(',')}/${ep.profiles.map(ownerLabel).join(',')}/${ep.profileNames.join(',')}`;

    const describe = (e: EndpointEntry, dir: Direction, forwardOnly: boolean, withProfiles: boolean): EndpointPolicies => {
      const pols = policiesFor(e, dir, forwardOnly);
      for (const p of pols) activePolicies.set(p.key, p);
      const profiles: OwnerRef[] = [];
      if (withProfiles) {
        for (const n of e.profiles) {
          const p = this.profile(n);
          if (!p) continue;
          activeProfiles.set(n, p);
          profiles.push(p.owner);
        }
      }
      return { policies: pols.map((p) => p.owner), profiles, profileNames: withProfiles ? e.profiles : [] };
    };

    for (const e of [...weps, ...heps]) {
      const iface = e.iface!;
      const ce: CompiledEndpoint = {
        key: e.key,
        kind: e.kind,
        displayName: e.displayName,
        iface,
        ingress: describe(e, 'ingress', false, true),
        egress: describe(e, 'egress', false, true),
      };
      const kinds: [EndpointChainKind, EndpointPolicies][] = e.kind === 'workload' ? [['tw', ce.ingress], ['fw', ce.egress]] : [['fh', ce.ingress], ['th', ce.egress]];
      if (e.kind === 'host') {
        ce.forwardIngress = describe(e, 'ingress', true, false);
        ce.forwardEgress = describe(e, 'egress', true, false);
        kinds.push(['fhf', ce.forwardIngress], ['thf', ce.forwardEgress]);
      }
      compiledEndpoints.push(ce);
      const sig = `${iface}|${kinds.map(([k, ep]) => `${k}:${keysOf(ep)}`).join('|')}`;
      const cached = this.endpointChainCache.get(e.key);
      if (cached && cached.sig === sig) chains.push(...cached.chains);
      else {
        const built = kinds.map(([k, ep]) => endpointChain(k, iface, ep));
        this.endpointChainCache.set(e.key, { sig, chains: built });
        chains.push(...built);
      }
    }
    const liveKeys = new Set(compiledEndpoints.map((e) => e.key));
    for (const k of [...this.endpointChainCache.keys()]) if (!liveKeys.has(k)) this.endpointChainCache.delete(k);

    const neededSets = new Map<string, SetDef>();
    const addOwner = (c: CompiledOwner) => {
      if (c.ingress) chains.push(c.ingress);
      if (c.egress) chains.push(c.egress);
      for (const d of c.sets) neededSets.set(d.name, d);
      warnings.push(...c.warnings);
    };
    for (const p of activePolicies.values()) addOwner(this.compiledPolicy(p));
    for (const p of activeProfiles.values()) addOwner(this.compiledProfile(p));
    for (const k of [...this.policyCache.keys()]) if (!activePolicies.has(k)) this.policyCache.delete(k);
    for (const k of [...this.profileCache.keys()]) if (!activeProfiles.has(k)) this.profileCache.delete(k);

    chains.push(...workloadDispatch(weps, this.prefix));
    if (heps.length) chains.push(...hostEndpointDispatch(heps, this.prefix));
    chains.push(...staticChains({ workloadPrefix: this.prefix, endpointToHostAction: this.e2h, failsafe: this.failsafe, hasHostEndpoints: heps.length > 0 }));
    chains.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (let i = 1; i < chains.length; i++) {
      if (chains[i]!.name === chains[i - 1]!.name) throw new PolicyCompileError(`two chains are named ${chains[i]!.name}`);
    }

    for (const k of [...this.sets.keys()]) if (!neededSets.has(k)) this.sets.delete(k);
    const family = this.ipVersion === 4 ? 'inet' : 'inet6';
    const ipsets: CompiledIpSet[] = [...neededSets.values()]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((def) => {
        if (def.kind === 'nets') {
          const members = [...new Set(def.nets.flatMap((n) => canonicalMember('hash:net', family, n)))].sort();
          return { name: def.name, type: 'hash:net', family, members, purpose: `nets ${def.nets.join(',')}` };
        }
        const s = this.setState(def);
        s.sorted ??= [...new Set([...s.byEndpoint.values()].flat().flatMap((m) => canonicalMember(def.kind === 'selector' ? 'hash:ip' : 'hash:ip,port', family, m)))].sort();
        return def.kind === 'selector'
          ? { name: def.name, type: 'hash:ip', family, members: s.sorted, purpose: `selector ${def.selector.canonical()}` }
          : { name: def.name, type: 'hash:ip,port', family, members: s.sorted, purpose: `named port ${def.protocol ?? 'any'}/${def.port} of ${def.selector?.canonical() ?? 'all endpoints'}` };
      });

    const hook = (target: string): Rule[] => [{ action: { type: 'jump', target } }];
    return {
      nodeName: this.nodeName,
      ipVersion: this.ipVersion,
      chains,
      hooks: { INPUT: hook(CHAIN_INPUT), FORWARD: hook(CHAIN_FORWARD), OUTPUT: hook(CHAIN_OUTPUT) },
      ipsets,
      endpoints: compiledEndpoints,
      warnings: [...new Set(warnings)].sort(),
    };
  }
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => b[k] === a[k]);
}

function ownerLabel(o: OwnerRef): string {
  return o.kind === 'NetworkPolicy' ? `NetworkPolicy ${o.namespace}/${o.name}` : `${o.kind} ${o.name}`;
}

/** One-shot compile of a node's ruleset. */
export function compilePolicy(resources: PolicyResources | Iterable<Resource>, opts: CompileOptions): CompiledRuleset {
  const res = isPolicyResources(resources) ? resources : policyResourcesFrom(resources);
  return new PolicyCalculator(opts).replaceAll(res).ruleset();
}

function isPolicyResources(x: PolicyResources | Iterable<Resource>): x is PolicyResources {
  return typeof x === 'object' && x !== null && 'networkPolicies' in x && 'workloadEndpoints' in x;
}

/** The chain of a compiled ruleset by name. */
export function chainOf(rs: CompiledRuleset, name: string): CompiledChain | undefined {
  return rs.chains.find((c) => c.name === name);
}

