/**
 * The whole desired host state of one input, in one call (pure). The agent
 * computes the same pieces incrementally (only what changed); this one-shot
 * form is for status output, tests and the benchmark's floor, and a test
 * checks that both agree.
 */
import type { Rule } from '../iptables/model.js';
import type { FelixInput } from './input.js';
import { encapDesired } from './encap.js';
import { natOutgoing, type NatOptions } from './nat.js';
import type { PolicyCompiler, PolicyCompilerFactory, PolicyRuleset } from './policy.js';
import { defaultPolicyCompiler } from './policy.js';
import { learnedRoutes, localBlockRoutes, remoteBlockRoutes } from './routes.js';
import type { DesiredHostState, DesiredIpSet, UnencapsulatedRouteSource } from './types.js';
import { assembleWorkloads, workloadPlumbing } from './workloads.js';

export interface CalcOptions {
  /** Workload interface prefix (Felix InterfacePrefix), default `cali`. */
  interfacePrefix?: string;
  unencapsulated?: UnencapsulatedRouteSource;
  /** tunl0 works on this kernel (the IPIP manager's status); default true. */
  ipipSupported?: boolean;
  nat?: NatOptions;
  policyCompiler?: PolicyCompilerFactory;
  /** Program IPv6 (the agent's `ipv6`, once it found the compiler able to); default false. */
  ipv6?: boolean;
}

/** Whether the input uses IPv6 on this node: a local workload with an IPv6 address, a local host endpoint, or an IPv6 pool. */
export function usesIpv6(input: FelixInput, local: readonly { ipv6: readonly string[] }[]): boolean {
  const node = input.node?.name;
  if (local.some((p) => p.ipv6.length > 0)) return true;
  for (const h of input.hostEndpoints()) if (h.spec.node === node) return true;
  return input.pools.some((p) => p.spec.cidr.includes(':'));
}

/** Hand every endpoint and policy resource of `input` to a compiler. */
export function loadPolicyCompiler(compiler: PolicyCompiler, input: FelixInput): PolicyCompiler {
  for (const p of input.profiles()) compiler.upsert(p);
  for (const w of input.workloadEndpoints()) compiler.upsert(w);
  for (const h of input.hostEndpoints()) compiler.upsert(h);
  for (const p of input.policies()) compiler.upsert(p);
  return compiler;
}

export function computeDesiredState(input: FelixInput, opts: CalcOptions = {}): DesiredHostState {
  const node = input.node;
  if (!node) throw new Error('FelixInput has no node yet');
  const prefix = opts.interfacePrefix ?? 'cali';
  const local = [...input.workloadEndpoints()].filter((w) => w.spec.node === node.name);
  const plumbing = local.map((w) => workloadPlumbing(w, prefix, { ipv6: opts.ipv6 === true }));
  const workloads = assembleWorkloads(plumbing);
  const blocks = localBlockRoutes(input.localBlocks);
  const encap = encapDesired(node, input.pools, input.remoteNodes);
  const remote = remoteBlockRoutes({
    node,
    pools: input.pools,
    remotes: input.remoteNodes,
    ipipUsable: encap.ipip !== undefined && opts.ipipSupported !== false,
    vxlanUsable: encap.vxlan !== undefined,
    unencapsulated: opts.unencapsulated ?? 'bgp',
  });
  const learned = learnedRoutes(input.learnedRoutes);
  const nat = natOutgoing(input.pools, { ...opts.nat, ipVersion: 4 });
  const factory = opts.policyCompiler ?? defaultPolicyCompiler;
  const policy = loadPolicyCompiler(factory(node.name, prefix), input).ruleset();
  const sets = (rs: PolicyRuleset) => rs.ipsets.map((s) => ({ name: s.name, type: s.type, family: s.family, members: s.members }));
  const v6 = opts.ipv6 === true && usesIpv6(input, plumbing);
  const policy6 = v6 ? loadPolicyCompiler(factory(node.name, prefix, 6), input).ruleset() : undefined;
  const nat6 = v6 ? natOutgoing(input.pools, { ...opts.nat, ipVersion: 6 }) : undefined;
  const ipsets: DesiredIpSet[] = [...sets(policy), ...nat.ipsets, ...(policy6 ? sets(policy6) : []), ...(nat6?.ipsets ?? [])].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  return {
    interfaces: workloads.interfaces,
    routes: { 'local-workload': workloads.routes, 'local-block': blocks.routes, 'remote-block': remote.routes, 'bgp-learned': learned.routes },
    shapes: remote.shapes,
    unrouted: remote.unrouted,
    encap,
    tables: {
      filter: { chains: policy.chains, hooks: definedHooks(policy.hooks) },
      nat: nat.table,
    },
    ...(policy6 && nat6 ? { tables6: { filter: { chains: policy6.chains, hooks: definedHooks(policy6.hooks) }, nat: nat6.table } } : {}),
    ipsets,
    problems: [...workloads.problems, ...blocks.problems, ...learned.problems, ...policy.warnings, ...(policy6?.warnings.map((w) => `IPv6: ${w}`) ?? [])],
  };
}

/** The hooks a ruleset names, without absent entries. */
export function definedHooks(hooks: Readonly<Partial<Record<string, readonly Rule[]>>>): Record<string, readonly Rule[]> {
  const out: Record<string, readonly Rule[]> = {};
  for (const [k, v] of Object.entries(hooks)) if (v !== undefined) out[k] = v;
  return out;
}
