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
 * `ruleset()` itself is incremental too (one workload among thousands is a
 * per-update cost of Felix's agent): only endpoints marked dirty since the
 * last call (their resource, their selection, a policy selecting them or a
 * profile they name changed) are described and get their chains again; the
 * others reuse their cached chain objects (so the agent's ChainSync skips
 * them by identity). Dispatch sub-chains are rebuilt only when their
 * interface list changed, the sorted chain list is kept and patched by
 * binary insertion, and an unchanged state returns the previous ruleset.
 * What remains per call is a linear walk with map lookups.
 *
 * `compilePolicy(resources, opts)` is the one-shot form; tests check that
 * any sequence of updates ends in the same ruleset as a one-shot compile.
 */
import type { Resource, Rule as CalicoRule } from '../datastore/resources/index.js';
import { canonicalMember } from '../felix/ipsets/members.js';
import type { IpSetType } from '../felix/ipsets/members.js';
import type { Rule } from '../felix/iptables/model.js';
import { renderRuleBody } from '../felix/iptables/render.js';
import { staticChains, endpointChain, hostEndpointDispatch, workloadDispatch, CALICO_FAILSAFE, type DispatchMemo, type EndpointPolicies, type EndpointToHostAction, type FailsafeConfig } from './chains.js';
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
  /** Synthesised `kns.` profiles by name (null: the name is not a namespace profile). */
  private readonly implicitProfiles = new Map<string, ProfileEntry | null>();

  // ---- incremental output state (see the header) ----
  /** Any update since the last ruleset(). */
  private changed = true;
  private last: CompiledRuleset | undefined;
  /** Local endpoints whose description and chains must be computed again. */
  private readonly dirtyEndpoints = new Set<string>();
  /** Keys of local endpoints, sorted; undefined: rebuild. */
  private localSorted: string[] | undefined;
  private sortedPoliciesCache: PolicyEntry[] | undefined;
  /** Per usable local endpoint: what it compiled to, reused until it is dirty. */
  private readonly endpointResults = new Map<string, EndpointResult>();
  private readonly dispatchMemo: DispatchMemo = new Map();
  private staticCache: { hasHostEndpoints: boolean; chains: CompiledChain[] } | undefined;
  private wlDispatch: { ifaces: string[]; chains: CompiledChain[] } | undefined;
  private hepDispatch: { ifaces: string[]; chains: CompiledChain[] } | undefined;
  /** The output chain names, sorted, and the set of them. */
  private outNames: string[] = [];
  private outNameSet = new Set<string>();
  private readonly ipsetOut = new Map<string, { key: unknown; set: CompiledIpSet }>();
  private readonly netSetMembers = new Map<string, { nets: readonly string[]; members: string[] }>();

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
      case 'WorkloadEndpoint':
        // The key workloadEndpointEntry gives it.
        return this.deleteEndpoint(`wep:${namespace ?? 'default'}/${name}`);
      case 'HostEndpoint':
        return this.deleteEndpoint(`hep:${name}`);
      default:
        return;
    }
  }

  setPolicy(p: PolicyEntry): void {
    const old = this.policies.get(p.key);
    this.policies.set(p.key, p);
    this.changed = true;
    this.sortedPoliciesCache = undefined;
    // Endpoint chains name the policy and depend on its order, directions and
    // applyOnForward, not on its rules (those are the policy's own chains).
    const sameShape =
      old !== undefined &&
      old.order === p.order &&
      (old.ingress === undefined) === (p.ingress === undefined) &&
      (old.egress === undefined) === (p.egress === undefined) &&
      old.applyOnForward === p.applyOnForward;
    if (old && old.selector.equals(p.selector)) {
      if (!sameShape) this.markDirty(this.selects.get(p.key));
      return;
    }
    this.markDirty(this.selects.get(p.key));
    const sel = new Set<string>();
    for (const e of this.endpoints.values()) if (this.isLocal(e) && this.matches(p.selector, e)) sel.add(e.key);
    this.selects.set(p.key, sel);
    this.markDirty(sel);
  }

  deletePolicy(key: string): void {
    this.markDirty(this.selects.get(key));
    if (this.policies.delete(key)) {
      this.changed = true;
      this.sortedPoliciesCache = undefined;
    }
    this.selects.delete(key);
    this.policyCache.delete(key);
  }

  setProfile(p: ProfileEntry): void {
    const old = this.profiles.get(p.name);
    this.profiles.set(p.name, p);
    this.changed = true;
    if (!old || !sameLabels(old.labels, p.labels)) this.profileLabelsChanged(p.name);
  }

  deleteProfile(name: string): void {
    if (this.profiles.delete(name)) {
      this.changed = true;
      this.profileLabelsChanged(name);
    }
    this.profileCache.delete(name);
  }

  setEndpoint(e: EndpointEntry): void {
    const old = this.endpoints.get(e.key);
    this.endpoints.set(e.key, e);
    this.localChanged(e.key, old !== undefined && this.isLocal(old), this.isLocal(e));
    this.endpointChanged(e.key);
  }

  deleteEndpoint(key: string): void {
    const old = this.endpoints.get(key);
    if (!old || !this.endpoints.delete(key)) return;
    this.parentsCache.delete(key);
    this.localChanged(key, this.isLocal(old), false);
    this.endpointChanged(key);
  }

  /** Keep the sorted list of local endpoint keys (binary insertion: one endpoint among thousands). */
  private localChanged(key: string, was: boolean, now: boolean): void {
    if (was === now || this.localSorted === undefined) return;
    const at = lowerBound(this.localSorted, key);
    if (now) this.localSorted.splice(at, 0, key);
    else if (this.localSorted[at] === key) this.localSorted.splice(at, 1);
  }

  private markDirty(keys: Iterable<string> | undefined): void {
    if (!keys) return;
    for (const k of keys) this.dirtyEndpoints.add(k);
  }

  // ---- derived state -----------------------------------------------------------

  private isLocal(e: EndpointEntry): boolean {
    return e.node === this.nodeName;
  }

  private profile(name: string): ProfileEntry | undefined {
    const p = this.profiles.get(name);
    if (p) return p;
    let i = this.implicitProfiles.get(name);
    if (i === undefined) {
      i = implicitProfileEntry(name) ?? null;
      this.implicitProfiles.set(name, i);
    }
    return i ?? undefined;
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
    this.changed = true;
    this.dirtyEndpoints.add(key);
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

  private sortedPolicies(): PolicyEntry[] {
    return (this.sortedPoliciesCache ??= [...this.policies.values()].sort(comparePolicies));
  }

  /** The policies selecting each of `keys`, in Calico's order. */
  private policiesSelecting(keys: ReadonlySet<string>): Map<string, PolicyEntry[]> {
    const out = new Map<string, PolicyEntry[]>();
    for (const p of this.sortedPolicies()) {
      const sel = this.selects.get(p.key);
      if (!sel || sel.size === 0) continue;
      const add = (k: string) => {
        const list = out.get(k);
        if (list) list.push(p);
        else out.set(k, [p]);
      };
      // Walk the smaller side: a few dirty endpoints, or a policy selecting few.
      if (keys.size < sel.size) {
        for (const k of keys) if (sel.has(k)) add(k);
      } else {
        for (const k of sel) if (keys.has(k)) add(k);
      }
    }
    return out;
  }

  /** Describe one usable local endpoint and build (or reuse) its chains. */
  private compileEndpoint(e: EndpointEntry, selecting: readonly PolicyEntry[]): EndpointResult {
    const policyKeys = new Set<string>();
    const profileNames = new Set<string>();
    const describe = (dir: Direction, forwardOnly: boolean, withProfiles: boolean): EndpointPolicies => {
      const pols = selecting.filter((p) => (dir === 'ingress' ? p.ingress : p.egress) !== undefined && (!forwardOnly || p.applyOnForward));
      for (const p of pols) policyKeys.add(p.key);
      const profiles: OwnerRef[] = [];
      if (withProfiles) {
        for (const n of e.profiles) {
          const p = this.profile(n);
          if (!p) continue;
          profileNames.add(n);
          profiles.push(p.owner);
        }
      }
      return { policies: pols.map((p) => p.owner), profiles, profileNames: withProfiles ? e.profiles : [] };
    };
    const iface = e.iface!;
    const ce: CompiledEndpoint = {
      key: e.key,
      kind: e.kind,
      displayName: e.displayName,
      iface,
      ingress: describe('ingress', false, true),
      egress: describe('egress', false, true),
    };
    const kinds: [EndpointChainKind, EndpointPolicies][] = e.kind === 'workload' ? [['tw', ce.ingress], ['fw', ce.egress]] : [['fh', ce.ingress], ['th', ce.egress]];
    if (e.kind === 'host') {
      ce.forwardIngress = describe('ingress', true, false);
      ce.forwardEgress = describe('egress', true, false);
      kinds.push(['fhf', ce.forwardIngress], ['thf', ce.forwardEgress]);
    }
    const keysOf = (ep: EndpointPolicies) => `${ep.policies.map(ownerLabel).join(',')}/${ep.profiles.map(ownerLabel).join(',')}/${ep.profileNames.join(',')}`;
    const sig = `${iface}|${kinds.map(([k, ep]) => `${k}:${keysOf(ep)}`).join('|')}`;
    const cached = this.endpointChainCache.get(e.key);
    let chains: CompiledChain[];
    if (cached && cached.sig === sig) chains = cached.chains;
    else {
      chains = kinds.map(([k, ep]) => endpointChain(k, iface, ep));
      this.endpointChainCache.set(e.key, { sig, chains });
    }
    return { entry: e, ce, chains, policyKeys: [...policyKeys], profileNames: [...profileNames] };
  }

  /** The compiled ruleset of the current state. */
  ruleset(): CompiledRuleset {
    if (this.last && !this.changed) return this.last;
    const warnings: string[] = [];
    this.localSorted ??= [...this.endpoints.values()]
      .filter((e) => this.isLocal(e))
      .map((e) => e.key)
      .sort();

    // Endpoints with a usable interface; one endpoint per interface (the first key wins).
    const weps: EndpointEntry[] = [];
    const heps: EndpointEntry[] = [];
    const ifaceOwner = new Map<string, string>();
    for (const key of this.localSorted) {
      const e = this.endpoints.get(key)!;
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

    // Per usable endpoint: the cached result unless it is dirty.
    const usable = [...weps, ...heps];
    const todo = new Set<string>();
    for (const e of usable) {
      const r = this.endpointResults.get(e.key);
      if (!r || r.entry !== e || this.dirtyEndpoints.has(e.key)) todo.add(e.key);
    }
    const selecting = todo.size ? this.policiesSelecting(todo) : new Map<string, PolicyEntry[]>();
    const compiledEndpoints: CompiledEndpoint[] = [];
    const chains: CompiledChain[] = [];
    const activePolicies = new Map<string, PolicyEntry>();
    const activeProfiles = new Map<string, ProfileEntry>();
    const live = new Set<string>();
    for (const e of usable) {
      let r = this.endpointResults.get(e.key)!;
      if (todo.has(e.key)) {
        r = this.compileEndpoint(e, selecting.get(e.key) ?? []);
        this.endpointResults.set(e.key, r);
      }
      live.add(e.key);
      compiledEndpoints.push(r.ce);
      for (const c of r.chains) chains.push(c);
      for (const k of r.policyKeys) if (!activePolicies.has(k)) activePolicies.set(k, this.policies.get(k)!);
      for (const n of r.profileNames) if (!activeProfiles.has(n)) activeProfiles.set(n, this.profile(n)!);
    }
    this.dirtyEndpoints.clear();
    if (this.endpointResults.size !== live.size) for (const k of [...this.endpointResults.keys()]) if (!live.has(k)) this.endpointResults.delete(k);
    if (this.endpointChainCache.size !== live.size) for (const k of [...this.endpointChainCache.keys()]) if (!live.has(k)) this.endpointChainCache.delete(k);

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

    // Dispatch: rebuilt only when the interface lists changed.
    this.wlDispatch = this.dispatchFor(this.wlDispatch, weps, (x) => workloadDispatch(x, this.prefix, this.dispatchMemo));
    this.hepDispatch = this.dispatchFor(this.hepDispatch, heps, (x) => (x.length ? hostEndpointDispatch(x, this.prefix, this.dispatchMemo) : []));
    chains.push(...this.wlDispatch.chains, ...this.hepDispatch.chains);
    const hasHostEndpoints = heps.length > 0;
    if (this.staticCache?.hasHostEndpoints !== hasHostEndpoints) {
      this.staticCache = {
        hasHostEndpoints,
        chains: staticChains({ workloadPrefix: this.prefix, endpointToHostAction: this.e2h, failsafe: this.failsafe, hasHostEndpoints, ipVersion: this.ipVersion }),
      };
    }
    chains.push(...this.staticCache.chains);
    const sortedChains = this.sortChains(chains);

    for (const k of [...this.sets.keys()]) if (!neededSets.has(k)) this.sets.delete(k);
    const ipsets = this.compiledIpsets(neededSets);

    this.last = {
      nodeName: this.nodeName,
      ipVersion: this.ipVersion,
      chains: sortedChains,
      hooks: HOOKS,
      ipsets,
      endpoints: compiledEndpoints,
      warnings: [...new Set(warnings)].sort(),
    };
    this.changed = false;
    return this.last;
  }

  private dispatchFor(
    prev: { ifaces: string[]; chains: CompiledChain[] } | undefined,
    eps: readonly EndpointEntry[],
    build: (eps: readonly EndpointEntry[]) => CompiledChain[],
  ): { ifaces: string[]; chains: CompiledChain[] } {
    const ifaces = eps.map((e) => e.iface!);
    if (prev && prev.ifaces.length === ifaces.length && prev.ifaces.every((x, i) => x === ifaces[i])) return prev;
    return { ifaces, chains: build(eps) };
  }

  /**
   * The chains sorted by name. The sorted name list of the previous call is
   * patched (binary insertion and removal) when a few names come and go,
   * rather than sorting every chain again.
   */
  private sortChains(chains: readonly CompiledChain[]): CompiledChain[] {
    const byName = new Map<string, CompiledChain>();
    for (const c of chains) {
      if (byName.has(c.name)) throw new PolicyCompileError(`two chains are named ${c.name}`);
      byName.set(c.name, c);
    }
    const gone: string[] = [];
    for (const n of this.outNameSet) if (!byName.has(n)) gone.push(n);
    const added: string[] = [];
    for (const n of byName.keys()) if (!this.outNameSet.has(n)) added.push(n);
    if (gone.length + added.length > 64 + this.outNames.length / 8) {
      this.outNames = [...byName.keys()].sort(compareStrings);
    } else {
      for (const n of gone) {
        const at = lowerBound(this.outNames, n);
        if (this.outNames[at] === n) this.outNames.splice(at, 1);
      }
      for (const n of added) this.outNames.splice(lowerBound(this.outNames, n), 0, n);
    }
    this.outNameSet = new Set(this.outNames);
    return this.outNames.map((n) => byName.get(n)!);
  }

  /** The ipsets the active chains name, sorted; a set whose members did not change is the same object as last time. */
  private compiledIpsets(neededSets: ReadonlyMap<string, SetDef>): CompiledIpSet[] {
    const family = this.ipVersion === 4 ? 'inet' : 'inet6';
    for (const k of [...this.ipsetOut.keys()]) if (!neededSets.has(k)) this.ipsetOut.delete(k);
    for (const k of [...this.netSetMembers.keys()]) if (!neededSets.has(k)) this.netSetMembers.delete(k);
    return [...neededSets.values()]
      .sort((a, b) => compareStrings(a.name, b.name))
      .map((def) => {
        if (def.kind === 'nets') {
          let m = this.netSetMembers.get(def.name);
          if (!m || m.nets.join() !== def.nets.join()) {
            m = { nets: def.nets, members: [...new Set(def.nets.flatMap((n) => canonicalMember('hash:net', family, n)))].sort() };
            this.netSetMembers.set(def.name, m);
          }
          return this.ipsetObject(def.name, m.members, () => ({ name: def.name, type: 'hash:net', family, members: m.members, purpose: `nets ${def.nets.join(',')}` }));
        }
        const s = this.setState(def);
        s.sorted ??= [...new Set([...s.byEndpoint.values()].flat().flatMap((m) => canonicalMember(def.kind === 'selector' ? 'hash:ip' : 'hash:ip,port', family, m)))].sort();
        const members = s.sorted;
        return this.ipsetObject(def.name, members, () =>
          def.kind === 'selector'
            ? { name: def.name, type: 'hash:ip', family, members, purpose: `selector ${def.selector.canonical()}` }
            : { name: def.name, type: 'hash:ip,port', family, members, purpose: `named port ${def.protocol ?? 'any'}/${def.port} of ${def.selector?.canonical() ?? 'all endpoints'}` },
        );
      });
  }

  private ipsetObject(name: string, key: unknown, make: () => CompiledIpSet): CompiledIpSet {
    const prev = this.ipsetOut.get(name);
    if (prev && prev.key === key) return prev.set;
    const set = make();
    this.ipsetOut.set(name, { key, set });
    return set;
  }
}

interface EndpointResult {
  entry: EndpointEntry;
  ce: CompiledEndpoint;
  chains: CompiledChain[];
  /** Keys of the policies and names of the profiles its chains jump to (looked up afresh each time). */
  policyKeys: string[];
  profileNames: string[];
}

const HOOKS: CompiledRuleset['hooks'] = {
  INPUT: [{ action: { type: 'jump', target: CHAIN_INPUT } }],
  FORWARD: [{ action: { type: 'jump', target: CHAIN_FORWARD } }],
  OUTPUT: [{ action: { type: 'jump', target: CHAIN_OUTPUT } }],
};

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** First index in sorted `xs` whose element is >= `x`. */
function lowerBound(xs: readonly string[], x: string): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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

