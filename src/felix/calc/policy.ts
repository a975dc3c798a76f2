/**
 * The seam between the agent and the policy compiler (`src/policy/`).
 *
 * The agent tells the compiler which endpoints and policy resources exist
 * (Felix's calc-graph style: upsert / remove by key, no history) and asks
 * for the filter table it should program: chains, tabby's rules in the
 * built-in chains, and the ipsets those chains match on. The compiler is
 * also where the filter table's frame comes from: `tabby-FORWARD` with the
 * conntrack accept first, dispatch by interface, and the fail-closed drop
 * for a `cali*` interface nobody described.
 *
 * `PolicyCalculator` of `src/policy/calc.ts` fits this interface as it is;
 * `defaultPolicyCompiler` builds it. A test or another compiler can be
 * passed to the agent instead.
 */
import type {
  GlobalNetworkPolicy,
  HostEndpoint,
  NetworkPolicy,
  Profile,
  WorkloadEndpoint,
} from '../../datastore/resources/index.js';
import { PolicyCalculator } from '../../policy/calc.js';
import type { Chain, Rule } from '../iptables/model.js';
import type { IpSetType } from '../ipsets/members.js';

export type PolicyResource = WorkloadEndpoint | HostEndpoint | NetworkPolicy | GlobalNetworkPolicy | Profile;
export type PolicyResourceKind = PolicyResource['kind'];

/** The compiled filter table of this node. */
export interface PolicyRuleset {
  /** The IP version it was compiled for (absent: 4). */
  readonly ipVersion?: 4 | 6;
  /** Filter-table chains (all `tabby-`), sorted by name. */
  readonly chains: readonly Chain[];
  /** tabby's rules at the top of each built-in chain. */
  readonly hooks: Readonly<Partial<Record<'INPUT' | 'FORWARD' | 'OUTPUT', readonly Rule[]>>>;
  readonly ipsets: readonly { name: string; type: IpSetType; family: 'inet' | 'inet6'; members: readonly string[] }[];
  /** What the compiler could not honour exactly. */
  readonly warnings: readonly string[];
}

export interface PolicyCompiler {
  /** Create or replace one resource (endpoints of every node: remote ones fill ipsets). */
  upsert(r: PolicyResource): void;
  /** Delete one resource; `namespace` for namespaced kinds. */
  remove(kind: PolicyResourceKind, name: string, namespace?: string): void;
  /** The ruleset of the current state; deterministic, and cheap when little changed. */
  ruleset(): PolicyRuleset;
}

/**
 * Builds the compiler of one node. `ipVersion` 6 asks for the ip6tables
 * ruleset; a factory that cannot compile IPv6 returns a compiler whose
 * ruleset says `ipVersion` 4 (or nothing), and the agent then leaves IPv6
 * unprogrammed and says so.
 */
export type PolicyCompilerFactory = (nodeName: string, interfacePrefix: string, ipVersion?: 4 | 6) => PolicyCompiler;

/** The real compiler: Calico's defaults (endpoint-to-host Drop, Calico's failsafe ports), IPv4 or IPv6. */
export const defaultPolicyCompiler: PolicyCompilerFactory = (nodeName, interfacePrefix, ipVersion = 4) =>
  new PolicyCalculator({ nodeName, ipVersion, workloadInterfacePrefix: interfacePrefix });
