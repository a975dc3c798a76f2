/**
 * One Calico rule to iptables rules (pure).
 *
 * Rules are literal in packet terms, as in Felix: `source` matches the
 * packet's source address/port, `destination` its destination, whatever the
 * direction of the policy. What one iptables rule cannot express is spread
 * over several:
 *   - more than one CIDR in `nets`/`notNets` becomes an ipset (`tabby-n-`);
 *   - a selector becomes an ipset of the matching endpoints' addresses
 *     (`tabby-s-`), a named port an ipset of address,proto:port (`tabby-p-`);
 *   - positive port lists longer than one multiport match (15 slots) and a
 *     mix of numeric and named ports become several rules (any may match);
 *   - a negated port list longer than 15 slots uses the SCRATCH mark bit:
 *     set it, clear it for each excluded chunk, then require it.
 * The action: Allow sets the ACCEPT mark and returns, Pass sets the PASS
 * mark and returns, Deny drops, Log logs and goes on (Felix's rendering).
 */
import type { Action as CalicoAction, EntityRule, Rule as CalicoRule } from '../datastore/resources/index.js';
import { parseRulePort, type Protocol as CalicoProtocol, type RulePort } from '../datastore/resources/fields.js';
import { canonicalNetwork, parseCidr } from '../datastore/resources/ip.js';
import type { MatchCriteria, PortSpec, Protocol, Rule, SetMatch } from '../felix/iptables/model.js';
import type { Direction, IpVersion, OwnerRef } from './model.js';
import { MARK_ACCEPT, MARK_PASS, MARK_SCRATCH, namedPortSetName, netSetName, selectorSetName } from './names.js';
import type { RuleOrigin } from './origin.js';
import { ruleEndpointSelectors, type Selector } from './selector/index.js';

/** The ipsets a compiled rule refers to; the calculator fills in members. */
export type SetDef =
  | { kind: 'selector'; name: string; ipVersion: IpVersion; selector: Selector }
  | { kind: 'nets'; name: string; ipVersion: IpVersion; nets: readonly string[] }
  | {
      kind: 'named-port';
      name: string;
      ipVersion: IpVersion;
      /** Endpoints whose port counts; undefined: every endpoint. */
      selector: Selector | undefined;
      /** Only ports of this protocol; undefined: any. */
      protocol: 'tcp' | 'udp' | 'sctp' | undefined;
      port: string;
    };

export interface CompiledRule {
  rules: Rule[];
  origins: RuleOrigin[];
  sets: SetDef[];
}

export interface RuleContext {
  owner: OwnerRef;
  direction: Direction;
  index: number;
  /** Namespace of a NetworkPolicy (limits rule selectors to it); undefined otherwise. */
  policyNamespace: string | undefined;
  ipVersion: IpVersion;
  logPrefix: string;
}

/** multiport holds 15 port slots; a range takes two. */
const MULTIPORT_SLOTS = 15;

const PROTOCOL_BY_NAME: Record<string, Protocol> = {
  TCP: 'tcp',
  UDP: 'udp',
  ICMP: 'icmp',
  ICMPv6: 'ipv6-icmp',
  SCTP: 'sctp',
  UDPLite: 'udplite',
};
const PROTOCOL_BY_NUMBER: Record<number, Protocol> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp', 132: 'sctp', 136: 'udplite' };

/** Calico protocol to the iptables model (well-known numbers by name, so port matches render). */
export function iptablesProtocol(p: CalicoProtocol): Protocol {
  if (typeof p === 'number') return PROTOCOL_BY_NUMBER[p] ?? p;
  const v = PROTOCOL_BY_NAME[p];
  if (v === undefined) throw new Error(`unknown protocol ${p}`);
  return v;
}

function isIcmpOf(p: CalicoProtocol | undefined, v: IpVersion): boolean {
  if (p === undefined) return false;
  const x = iptablesProtocol(p);
  return v === 4 ? x === 'ipv6-icmp' : x === 'icmp';
}

/**
 * Does the rule exist in this IP version's table? Felix leaves a rule out of
 * the other family's table when its ipVersion, its ICMP flavour or its CIDRs
 * say which family it is for.
 */
export function ruleAppliesTo(rule: CalicoRule, v: IpVersion): boolean {
  if (rule.ipVersion !== undefined && rule.ipVersion !== v) return false;
  if (isIcmpOf(rule.protocol, v)) return false;
  for (const side of [rule.source, rule.destination]) {
    for (const n of [...(side.nets ?? []), ...(side.notNets ?? [])]) {
      const c = parseCidr(n);
      if (c && c.family !== v) return false;
    }
  }
  return true;
}

/** Split numeric ports into multiport-sized chunks, in the order given. */
export function chunkPorts(ports: readonly PortSpec[]): PortSpec[][] {
  const chunks: PortSpec[][] = [];
  let cur: PortSpec[] = [];
  let slots = 0;
  for (const p of ports) {
    const n = typeof p === 'number' ? 1 : p[0] === p[1] ? 1 : 2;
    if (slots + n > MULTIPORT_SLOTS) {
      chunks.push(cur);
      cur = [];
      slots = 0;
    }
    cur.push(typeof p !== 'number' && p[0] === p[1] ? p[0] : p);
    slots += n;
  }
  if (cur.length) chunks.push(cur);
  return chunks;
}

function splitPorts(ports: readonly RulePort[] | undefined): { numeric: PortSpec[]; named: string[] } {
  const numeric: PortSpec[] = [];
  const named: string[] = [];
  for (const p of ports ?? []) {
    const r = parseRulePort(p);
    if ('name' in r) named.push(r.name);
    else numeric.push(r.min === r.max ? r.min : [r.min, r.max]);
  }
  return { numeric, named: [...new Set(named)] };
}

/** One way a side's positive ports can match. */
type PortAlt = { ports: PortSpec[] } | { set: string } | undefined;

interface SideResult {
  match: MatchCriteria;
  sets: SetMatch[];
  alternatives: PortAlt[];
  /** Chunks of a negated port list too long for one match (needs the scratch mark). */
  bigNotPorts: PortSpec[][] | undefined;
}

function namedPortProtocol(p: Protocol | undefined): 'tcp' | 'udp' | 'sctp' | undefined {
  return p === 'tcp' || p === 'udp' || p === 'sctp' ? p : undefined;
}

function compileSide(
  side: 'src' | 'dst',
  e: EntityRule,
  ctx: RuleContext,
  protocol: Protocol | undefined,
  defs: SetDef[],
): SideResult {
  const v = ctx.ipVersion;
  const match: MatchCriteria = {};
  const sets: SetMatch[] = [];
  const dir = side;
  const twice = side === 'src' ? 'src,src' : 'dst,dst';

  const nets = (e.nets ?? []).map((n) => canonicalNetwork(parseCidr(n)!));
  const notNets = (e.notNets ?? []).map((n) => canonicalNetwork(parseCidr(n)!));
  const uniq = (xs: string[]) => [...new Set(xs)].sort();
  if (nets.length === 1) match[side === 'src' ? 'source' : 'destination'] = nets[0]!;
  else if (nets.length > 1) {
    const list = uniq(nets);
    const name = netSetName(list, v);
    defs.push({ kind: 'nets', name, ipVersion: v, nets: list });
    sets.push({ set: name, direction: dir });
  }
  // One -s/-d per rule: with a positive CIDR present the negated one goes into a set.
  if (notNets.length === 1 && nets.length !== 1) match[side === 'src' ? 'notSource' : 'notDestination'] = notNets[0]!;
  else if (notNets.length >= 1) {
    const list = uniq(notNets);
    const name = netSetName(list, v);
    defs.push({ kind: 'nets', name, ipVersion: v, nets: list });
    sets.push({ set: name, direction: dir, not: true });
  }

  const sel = ruleEndpointSelectors(
    {
      ...(e.selector !== undefined ? { selector: e.selector } : {}),
      ...(e.notSelector !== undefined ? { notSelector: e.notSelector } : {}),
      ...(e.namespaceSelector !== undefined ? { namespaceSelector: e.namespaceSelector } : {}),
    },
    ctx.policyNamespace,
  );
  if (sel.selector) {
    const name = selectorSetName(sel.selector.uniqueId(), v);
    defs.push({ kind: 'selector', name, ipVersion: v, selector: sel.selector });
    sets.push({ set: name, direction: dir });
  }
  if (sel.notSelector) {
    const name = selectorSetName(sel.notSelector.uniqueId(), v);
    defs.push({ kind: 'selector', name, ipVersion: v, selector: sel.notSelector });
    sets.push({ set: name, direction: dir, not: true });
  }

  const namedSet = (port: string): string => {
    const proto = namedPortProtocol(protocol);
    const name = namedPortSetName(sel.selector?.canonical() ?? '*', proto ?? '*', port, v);
    defs.push({ kind: 'named-port', name, ipVersion: v, selector: sel.selector, protocol: proto, port });
    return name;
  };

  const pos = splitPorts(e.ports);
  const alternatives: PortAlt[] = [
    ...chunkPorts(pos.numeric).map((ports) => ({ ports })),
    ...pos.named.map((n) => ({ set: namedSet(n) })),
  ];
  if (alternatives.length === 0) alternatives.push(undefined);

  const neg = splitPorts(e.notPorts);
  let bigNotPorts: PortSpec[][] | undefined;
  if (neg.numeric.length) {
    const chunks = chunkPorts(neg.numeric);
    if (chunks.length === 1) match[side === 'src' ? 'notSrcPorts' : 'notDstPorts'] = chunks[0]!;
    else bigNotPorts = chunks;
  }
  for (const n of neg.named) sets.push({ set: namedSet(n), direction: twice, not: true });
  return { match, sets, alternatives, bigNotPorts };
}

/** Compile rule `ctx.index` of a policy or profile; undefined when it does not exist in this IP version. */
export function compileRule(rule: CalicoRule, ctx: RuleContext): CompiledRule | undefined {
  if (!ruleAppliesTo(rule, ctx.ipVersion)) return undefined;
  const defs: SetDef[] = [];
  const base: MatchCriteria = {};
  const protocol = rule.protocol !== undefined ? iptablesProtocol(rule.protocol) : undefined;
  if (protocol !== undefined) base.protocol = protocol;
  if (rule.notProtocol !== undefined) base.notProtocol = iptablesProtocol(rule.notProtocol);

  const src = compileSide('src', rule.source, ctx, protocol, defs);
  const dst = compileSide('dst', rule.destination, ctx, protocol, defs);

  const icmpKey = ctx.ipVersion === 4 ? 'icmpType' : 'icmp6Type';
  const notIcmpKey = ctx.ipVersion === 4 ? 'notIcmpType' : 'notIcmp6Type';
  if (rule.icmp?.type !== undefined) base[icmpKey] = { type: rule.icmp.type, ...(rule.icmp.code !== undefined ? { code: rule.icmp.code } : {}) };
  if (rule.notICMP?.type !== undefined) {
    // A notICMP match needs the ICMP module, which needs the protocol.
    base[notIcmpKey] = { type: rule.notICMP.type, ...(rule.notICMP.code !== undefined ? { code: rule.notICMP.code } : {}) };
  }

  const origin: RuleOrigin = { kind: 'rule', owner: ctx.owner, direction: ctx.direction, index: ctx.index, action: rule.action };
  const rules: Rule[] = [];
  const origins: RuleOrigin[] = [];
  const push = (r: Rule) => {
    rules.push(r);
    origins.push(origin);
  };

  // Negated port lists too long for one multiport match: SCRATCH = "not excluded".
  const bigNot = [...(src.bigNotPorts ?? []).map((c) => ['src', c] as const), ...(dst.bigNotPorts ?? []).map((c) => ['dst', c] as const)];
  if (bigNot.length) {
    push({ action: { type: 'setXmark', mark: MARK_SCRATCH, mask: MARK_SCRATCH } });
    for (const [side, chunk] of bigNot) {
      push({
        match: { ...(protocol !== undefined ? { protocol } : {}), [side === 'src' ? 'srcPorts' : 'dstPorts']: chunk },
        action: { type: 'setXmark', mark: 0, mask: MARK_SCRATCH },
      });
    }
  }

  const action = ruleAction(rule.action, ctx);
  for (const sa of src.alternatives) {
    for (const da of dst.alternatives) {
      const m: MatchCriteria = { ...base, ...src.match, ...dst.match };
      const sets: SetMatch[] = [...src.sets, ...dst.sets];
      if (sa && 'ports' in sa) m.srcPorts = sa.ports;
      if (sa && 'set' in sa) sets.push({ set: sa.set, direction: 'src,src' });
      if (da && 'ports' in da) m.dstPorts = da.ports;
      if (da && 'set' in da) sets.push({ set: da.set, direction: 'dst,dst' });
      if (sets.length) m.sets = sets;
      if (bigNot.length) m.mark = { value: MARK_SCRATCH, mask: MARK_SCRATCH };
      push(Object.keys(m).length ? { match: m, action } : { action });
    }
  }
  if (rule.action === 'Allow') push({ match: { mark: { value: MARK_ACCEPT, mask: MARK_ACCEPT } }, action: { type: 'return' } });
  if (rule.action === 'Pass') push({ match: { mark: { value: MARK_PASS, mask: MARK_PASS } }, action: { type: 'return' } });
  return { rules, origins, sets: defs };
}

function ruleAction(a: CalicoAction, ctx: RuleContext): Rule['action'] {
  switch (a) {
    case 'Allow':
      return { type: 'setXmark', mark: MARK_ACCEPT, mask: MARK_ACCEPT };
    case 'Pass':
      return { type: 'setXmark', mark: MARK_PASS, mask: MARK_PASS };
    case 'Deny':
      return { type: 'drop' };
    case 'Log':
      return { type: 'log', prefix: ctx.logPrefix };
  }
}
