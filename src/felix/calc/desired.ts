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
import type { PolicyCompiler, PolicyCompilerFactory } from './policy.js';
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
  const workloads = assembleWorkloads(local.map((w) => workloadPlumbing(w, prefix)));
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
  const nat = natOutgoing(input.pools, opts.nat);
  const policy = loadPolicyCompiler((opts.policyCompiler ?? defaultPolicyCompiler)(node.name, prefix), input).ruleset();
  const ipsets: DesiredIpSet[] = [...policy.ipsets.map((s) => ({ name: s.name, type: s.type, family: s.family, members: s.members })), ...nat.ipsets].sort((a, b) =>
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
    ipsets,
    problems: [...workloads.problems, ...blocks.problems, ...learned.problems, ...policy.warnings],
  };
}

/** The hooks a ruleset names, without absent entries. */
export function definedHooks(hooks: Readonly<Partial<Record<string, readonly Rule[]>>>): Record<string, readonly Rule[]> {
  const out: Record<string, readonly Rule[]> = {};
  for (const [k, v] of Object.entries(hooks)) if (v !== undefined) out[k] = v;
  return out;
}
