/**
 * The chains around the policy chains (pure): per-endpoint chains, dispatch
 * by interface, the top-level chains the built-in chains jump to, failsafes.
 *
 * Packet paths (filter table):
 *
 *   FORWARD -> tabby-FORWARD
 *     conntrack ESTABLISHED,RELATED: ACCEPT; INVALID: DROP   (first: the
 *       per-packet cost of an established flow stays flat at any rule count)
 *     clear tabby's mark bits
 *     [in on a host endpoint]  -> tabby-fhf-<if>   (applyOnForward policies)
 *     -i cali+ -> tabby-from-wl-dispatch -> tabby-fw-<if>  (workload egress)
 *     -o cali+ -> tabby-to-wl-dispatch   -> tabby-tw-<if>  (workload ingress)
 *     [out on a host endpoint] -> tabby-thf-<if>
 *     ACCEPT mark set: ACCEPT; else fall through (not tabby's traffic)
 *
 *   INPUT -> tabby-INPUT
 *     -i cali+ -> tabby-wl-to-host: conntrack, workload egress policy, then
 *                 the configured endpoint-to-host action (Felix's default: Drop)
 *     host endpoints -> tabby-fh-<if>: conntrack, failsafe-in, policy
 *   OUTPUT -> tabby-OUTPUT
 *     -o cali+: RETURN (host to its own workloads is not policed, as Felix)
 *     host endpoints -> tabby-th-<if>: conntrack, failsafe-out, policy
 *
 * Every endpoint chain either drops or returns with the ACCEPT mark set, so
 * the caller can tell "allowed" from "not ours" by the mark alone.
 */
import type { MatchCriteria, PortSpec, Protocol, Rule } from '../felix/iptables/model.js';
import type { Direction, EndpointEntry, OwnerRef } from './model.js';
import {
  CHAIN_FAILSAFE_IN,
  CHAIN_FAILSAFE_OUT,
  CHAIN_FORWARD,
  CHAIN_FROM_HEP_DISPATCH,
  CHAIN_FROM_HEP_FWD_DISPATCH,
  CHAIN_FROM_WL_DISPATCH,
  CHAIN_INPUT,
  CHAIN_OUTPUT,
  CHAIN_TO_HEP_DISPATCH,
  CHAIN_TO_HEP_FWD_DISPATCH,
  CHAIN_TO_WL_DISPATCH,
  CHAIN_WL_TO_HOST,
  dispatchSubChainName,
  endpointChainName,
  MARK_ACCEPT,
  MARK_MASK,
  MARK_PASS,
  policyChainName,
  type EndpointChainKind,
} from './names.js';
import { ChainBuilder, type CompiledChain } from './origin.js';
import { chunkPorts } from './rules.js';

export type EndpointToHostAction = 'Drop' | 'Accept' | 'Return';

/** A failsafe port: traffic to this destination port is always allowed on host endpoints. */
export interface FailsafePort {
  protocol: 'tcp' | 'udp' | 'sctp';
  port: number | readonly [number, number];
}

export interface FailsafeConfig {
  inbound: readonly FailsafePort[];
  outbound: readonly FailsafePort[];
}

/**
 * Calico's defaults (FelixConfiguration failsafeInboundHostPorts /
 * failsafeOutboundHostPorts): SSH, DHCP, BGP, etcd, Typha, the Kubernetes API.
 */
export const CALICO_FAILSAFE: FailsafeConfig = {
  inbound: [
    { protocol: 'tcp', port: 22 },
    { protocol: 'udp', port: 68 },
    { protocol: 'tcp', port: 179 },
    { protocol: 'tcp', port: [2379, 2380] },
    { protocol: 'tcp', port: 5473 },
    { protocol: 'tcp', port: 6443 },
    { protocol: 'tcp', port: 6666 },
    { protocol: 'tcp', port: 6667 },
  ],
  outbound: [
    { protocol: 'udp', port: 53 },
    { protocol: 'udp', port: 67 },
    { protocol: 'tcp', port: 179 },
    { protocol: 'tcp', port: [2379, 2380] },
    { protocol: 'tcp', port: 5473 },
    { protocol: 'tcp', port: 6443 },
    { protocol: 'tcp', port: 6666 },
    { protocol: 'tcp', port: 6667 },
  ],
};

const markIs = (bit: number): MatchCriteria => ({ mark: { value: bit, mask: bit } });
const markClear = (bit: number): MatchCriteria => ({ mark: { value: 0, mask: bit } });

/** Deep-frozen: rules shared by every endpoint chain are rendered once (renderRuleBody keeps frozen rules' text). */
function constant<T extends object>(x: T): T {
  for (const v of Object.values(x)) if (typeof v === 'object' && v !== null) constant(v as object);
  return Object.freeze(x);
}

const clearMarks: Rule = constant({ action: { type: 'setXmark', mark: 0, mask: MARK_MASK } });
const returnIfAccepted: Rule = constant({ match: markIs(MARK_ACCEPT), action: { type: 'return' } });
const dropUnlessPassed: Rule = constant({ match: markClear(MARK_PASS), action: { type: 'drop' } });
const dropAll: Rule = constant({ action: { type: 'drop' } });
const conntrackRules: Rule[] = [
  constant({ match: { ctState: ['RELATED', 'ESTABLISHED'] }, action: { type: 'accept' } } as Rule),
  constant({ match: { ctState: ['INVALID'] }, action: { type: 'drop' } } as Rule),
];

export interface EndpointPolicies {
  /** Policies selecting the endpoint for this direction, in Calico's order. */
  policies: readonly OwnerRef[];
  /** Profiles that exist (or are synthesised), in the endpoint's order. */
  profiles: readonly OwnerRef[];
  /** Profile names as the endpoint lists them (for explain, missing ones included). */
  profileNames: readonly string[];
}

/**
 * The body every endpoint chain shares: each policy in order (skipped once
 * one passed), end-of-tier drop when policies applied and none passed, then
 * the profiles, then "no profile matched" drop. Host-endpoint forward
 * chains have no profiles: with no policy they allow (Calico).
 */
function endpointBody(b: ChainBuilder, dir: Direction, ep: EndpointPolicies, forward: boolean): void {
  b.add(clearMarks);
  const pols = ep.policies;
  if (pols.length) {
    for (const p of pols) {
      b.add({ match: markClear(MARK_PASS), action: { type: 'jump', target: policyChainName(p, dir) } }, { kind: 'enter', owner: p, direction: dir });
      b.add(returnIfAccepted);
    }
    b.add(dropUnlessPassed, { kind: 'end-of-tier', direction: dir, policies: pols });
  }
  if (forward) {
    // No profiles on forwarded host-endpoint traffic: what no policy denied is allowed.
    b.add({ action: { type: 'setXmark', mark: MARK_ACCEPT, mask: MARK_ACCEPT } }, { kind: 'forward-default-allow', direction: dir });
    b.add({ action: { type: 'return' } });
    return;
  }
  for (const p of ep.profiles) {
    b.add({ action: { type: 'jump', target: policyChainName(p, dir) } }, { kind: 'enter', owner: p, direction: dir });
    b.add(returnIfAccepted);
  }
  b.add(dropAll, { kind: 'no-profile-matched', direction: dir, profiles: ep.profileNames });
}

/** The per-endpoint chain of one kind. */
export function endpointChain(kind: EndpointChainKind, iface: string, ep: EndpointPolicies): CompiledChain {
  const dir: Direction = kind === 'tw' || kind === 'fh' || kind === 'fhf' ? 'ingress' : 'egress';
  const b = new ChainBuilder(endpointChainName(kind, iface));
  if (kind === 'fh' || kind === 'th') {
    b.addAll(conntrackRules, [{ kind: 'conntrack' }, { kind: 'conntrack' }]);
    b.add({ action: { type: 'jump', target: kind === 'fh' ? CHAIN_FAILSAFE_IN : CHAIN_FAILSAFE_OUT } });
  }
  endpointBody(b, dir, ep, kind === 'fhf' || kind === 'thf');
  return b.build();
}

/**
 * A dispatch chain: `-i/-o <iface> -g <endpoint chain>` per interface.
 * Workload dispatch ends in DROP (fail closed: a `cali` interface tabby does
 * not know carries no traffic); host-endpoint dispatch falls through.
 * Past `TREE_MIN` interfaces the workload lists split by the first character
 * after the prefix, so a new flow walks ~1/16 of the rules (Felix does the
 * same with a deeper tree).
 */
const TREE_MIN = 32;

/**
 * Dispatch chains built before, by chain name, with the signature of what
 * they were built from: an unchanged sub-chain is returned as the very same
 * object (one workload among thousands rebuilds one sub-chain, and the
 * agent's ChainSync skips the others by identity).
 */
export type DispatchMemo = Map<string, { sig: string; chain: CompiledChain }>;

function memoised(memo: DispatchMemo | undefined, name: string, sig: string, build: () => CompiledChain): CompiledChain {
  const prev = memo?.get(name);
  if (prev && prev.sig === sig) return prev.chain;
  const chain = build();
  memo?.set(name, { sig, chain });
  return chain;
}

export function dispatchChains(
  name: string,
  side: 'in' | 'out',
  targets: readonly { iface: string; chain: string }[],
  opts: { prefix: string; failClosed: boolean },
  memo?: DispatchMemo,
): CompiledChain[] {
  const key = side === 'in' ? 'inInterface' : 'outInterface';
  const sorted = [...targets].sort((a, b) => (a.iface < b.iface ? -1 : a.iface > b.iface ? 1 : 0));
  const wildcard = sorted.filter((t) => t.iface === '*');
  const exact = sorted.filter((t) => t.iface !== '*');
  const out: CompiledChain[] = [];
  const end = (b: ChainBuilder) => {
    if (opts.failClosed) b.add({ action: { type: 'drop' } }, { kind: 'unknown-interface' });
  };
  const sigOf = (list: readonly { iface: string; chain: string }[]) => `${side}|${opts.failClosed}|${list.map((t) => `${t.iface}>${t.chain}`).join(',')}`;
  // The top chain: its direct entries, then gotos to the sub-chains (or every entry when small).
  const topEntries: { iface: string; chain: string }[] = [];
  if (exact.length >= TREE_MIN) {
    const groups = new Map<string, { iface: string; chain: string }[]>();
    for (const t of exact) {
      if (t.iface.startsWith(opts.prefix) && t.iface.length > opts.prefix.length) {
        const ch = t.iface.charAt(opts.prefix.length);
        if (!/^[A-Za-z0-9]$/.test(ch)) topEntries.push(t);
        else (groups.get(ch) ?? groups.set(ch, []).get(ch)!).push(t);
      } else topEntries.push(t);
    }
    const subs: { iface: string; chain: string }[] = [];
    for (const [ch, list] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const subName = dispatchSubChainName(name, ch);
      out.push(
        memoised(memo, subName, sigOf(list), () => {
          const sub = new ChainBuilder(subName);
          for (const t of list) sub.add({ match: { [key]: t.iface }, action: { type: 'goto', target: t.chain } });
          end(sub);
          return sub.build();
        }),
      );
      subs.push({ iface: `${opts.prefix}${ch}+`, chain: subName });
    }
    topEntries.push(...subs);
  } else {
    topEntries.push(...exact);
  }
  const top = memoised(memo, name, `${sigOf(topEntries)}|${wildcard.length ? wildcard[0]!.chain : ''}`, () => {
    const b = new ChainBuilder(name);
    for (const t of topEntries) b.add({ match: { [key]: t.iface }, action: { type: 'goto', target: t.chain } });
    if (wildcard.length) {
      // An all-interfaces host endpoint: every interface but loopback and workloads.
      b.add({ match: { [key]: 'lo' }, action: { type: 'return' } });
      b.add({ match: { [key]: `${opts.prefix}+` }, action: { type: 'return' } });
      b.add({ action: { type: 'goto', target: wildcard[0]!.chain } });
    }
    end(b);
    return b.build();
  });
  return [top, ...out];
}

function failsafeChain(name: string, ports: readonly FailsafePort[], dir: Direction): CompiledChain {
  const b = new ChainBuilder(name);
  for (const proto of ['tcp', 'udp', 'sctp'] as const) {
    const list: PortSpec[] = ports.filter((p) => p.protocol === proto).map((p) => (typeof p.port === 'number' ? p.port : [p.port[0], p.port[1]] as const));
    for (const chunk of chunkPorts(list)) {
      b.add({ match: { protocol: proto as Protocol, dstPorts: chunk }, action: { type: 'accept' } }, { kind: 'failsafe', direction: dir });
    }
  }
  return b.build();
}

export interface StaticChainOptions {
  workloadPrefix: string;
  endpointToHostAction: EndpointToHostAction;
  failsafe: FailsafeConfig;
  /** Host endpoints on this node: adds their dispatch and failsafe chains. */
  hasHostEndpoints: boolean;
  /** 6: the workload-to-host chain lets neighbour discovery through (see below). Default 4. */
  ipVersion?: 4 | 6;
}

/**
 * ICMPv6 a workload sends its host as its router, accepted before the
 * workload's egress policy (Felix does the same, for the same reason: a
 * policy must not be able to cut a workload off its own gateway, which it
 * reaches at a link-local address through neighbour discovery):
 * 130-132 multicast listener query/report/done, 133 router solicitation,
 * 135/136 neighbour solicitation/advertisement (RFC 4861 §4, RFC 2710 §3).
 */
export const IPV6_HOST_ICMP_TYPES: readonly number[] = [130, 131, 132, 133, 135, 136];

/** tabby-FORWARD, tabby-INPUT, tabby-OUTPUT, tabby-wl-to-host and the failsafe chains. */
export function staticChains(o: StaticChainOptions): CompiledChain[] {
  const wl = `${o.workloadPrefix}+`;
  const accept: Rule = { match: markIs(MARK_ACCEPT), action: { type: 'accept' } };

  const fwd = new ChainBuilder(CHAIN_FORWARD);
  fwd.addAll(conntrackRules, [{ kind: 'conntrack' }, { kind: 'conntrack' }]);
  fwd.add(clearMarks);
  if (o.hasHostEndpoints) fwd.add({ match: { notInInterface: wl }, action: { type: 'jump', target: CHAIN_FROM_HEP_FWD_DISPATCH } });
  fwd.add({ match: { inInterface: wl }, action: { type: 'jump', target: CHAIN_FROM_WL_DISPATCH } });
  fwd.add({ match: { outInterface: wl }, action: { type: 'jump', target: CHAIN_TO_WL_DISPATCH } });
  if (o.hasHostEndpoints) fwd.add({ match: { notOutInterface: wl }, action: { type: 'jump', target: CHAIN_TO_HEP_FWD_DISPATCH } });
  fwd.add(accept);

  const wlToHost = new ChainBuilder(CHAIN_WL_TO_HOST);
  if (o.ipVersion === 6) {
    // First: neighbour discovery is INVALID to conntrack's eyes on some kernels.
    for (const type of IPV6_HOST_ICMP_TYPES) wlToHost.add({ match: { protocol: 'ipv6-icmp', icmp6Type: { type } }, action: { type: 'accept' } });
  }
  wlToHost.addAll(conntrackRules, [{ kind: 'conntrack' }, { kind: 'conntrack' }]);
  wlToHost.add({ action: { type: 'jump', target: CHAIN_FROM_WL_DISPATCH } });
  const e2h = { kind: 'endpoint-to-host', action: o.endpointToHostAction } as const;
  if (o.endpointToHostAction === 'Accept') wlToHost.add({ action: { type: 'accept' } }, e2h);
  else if (o.endpointToHostAction === 'Drop') wlToHost.add({ action: { type: 'drop' } }, e2h);
  else wlToHost.add(clearMarks, e2h);

  const input = new ChainBuilder(CHAIN_INPUT);
  input.add(clearMarks);
  input.add({ match: { inInterface: wl }, action: { type: 'jump', target: CHAIN_WL_TO_HOST } });
  if (o.hasHostEndpoints) {
    input.add({ action: { type: 'jump', target: CHAIN_FROM_HEP_DISPATCH } });
    input.add(accept);
  }

  const output = new ChainBuilder(CHAIN_OUTPUT);
  output.add({ match: { outInterface: wl }, action: { type: 'return' } });
  if (o.hasHostEndpoints) {
    output.add(clearMarks);
    output.add({ action: { type: 'jump', target: CHAIN_TO_HEP_DISPATCH } });
    output.add(accept);
  }

  const chains = [fwd.build(), wlToHost.build(), input.build(), output.build()];
  if (o.hasHostEndpoints) {
    chains.push(failsafeChain(CHAIN_FAILSAFE_IN, o.failsafe.inbound, 'ingress'));
    chains.push(failsafeChain(CHAIN_FAILSAFE_OUT, o.failsafe.outbound, 'egress'));
  }
  return chains;
}

/** The four host-endpoint dispatch chains (only when the node has host endpoints). */
export function hostEndpointDispatch(heps: readonly EndpointEntry[], workloadPrefix: string, memo?: DispatchMemo): CompiledChain[] {
  const t = (kind: EndpointChainKind) => heps.map((h) => ({ iface: h.iface!, chain: endpointChainName(kind, h.iface!) }));
  const opts = { prefix: workloadPrefix, failClosed: false };
  return [
    ...dispatchChains(CHAIN_FROM_HEP_DISPATCH, 'in', t('fh'), opts, memo),
    ...dispatchChains(CHAIN_TO_HEP_DISPATCH, 'out', t('th'), opts, memo),
    ...dispatchChains(CHAIN_FROM_HEP_FWD_DISPATCH, 'in', t('fhf'), opts, memo),
    ...dispatchChains(CHAIN_TO_HEP_FWD_DISPATCH, 'out', t('thf'), opts, memo),
  ];
}

export function workloadDispatch(weps: readonly EndpointEntry[], workloadPrefix: string, memo?: DispatchMemo): CompiledChain[] {
  const t = (kind: EndpointChainKind) => weps.map((w) => ({ iface: w.iface!, chain: endpointChainName(kind, w.iface!) }));
  const opts = { prefix: workloadPrefix, failClosed: true };
  return [...dispatchChains(CHAIN_FROM_WL_DISPATCH, 'in', t('fw'), opts, memo), ...dispatchChains(CHAIN_TO_WL_DISPATCH, 'out', t('tw'), opts, memo)];
}
