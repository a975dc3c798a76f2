/**
 * `tabby policy explain`: which policy and rule decide a flow.
 *
 * The answer comes from the compiled rulesets of the nodes the flow crosses
 * (the source's node for its egress, the destination's node for its
 * ingress), walked rule by rule by `Simulator` with the same ipset members
 * the kernel gets. The origin tags the compiler attaches to each iptables
 * rule turn the walk back into policy names and rule indexes.
 *
 * Ends of a flow are named as `namespace/pod` (or `namespace/<endpoint
 * name>`), a bare pod or endpoint name when unique, a HostEndpoint name, or
 * an IP address (an address no endpoint has is "outside the cluster").
 */
import type { Resource } from '../datastore/resources/index.js';
import { compilePolicy, type CompileOptions, type CompiledRuleset } from './calc.js';
import {
  hostEndpointEntry,
  isAddress,
  ownerText,
  policyResourcesFrom,
  workloadEndpointEntry,
  type Direction,
  type EndpointEntry,
  type OwnerRef,
  type PolicyResources,
} from './model.js';
import { endpointChainName, type EndpointChainKind } from './names.js';
import type { RuleOrigin } from './origin.js';
import { Simulator, type Hook, type Packet, type TraceStep } from './simulate.js';

export type ExplainProtocol = 'tcp' | 'udp' | 'sctp' | 'icmp';

export interface ExplainQuery {
  from: string;
  to: string;
  protocol?: ExplainProtocol;
  /** Destination port (tcp/udp/sctp). */
  port?: number;
  /** ICMP type and code (default: echo request, 8/0). */
  icmpType?: number;
  icmpCode?: number;
  /** Source port (default 40000: an ephemeral port). */
  srcPort?: number;
}

export interface FlowEnd {
  kind: 'workload' | 'host' | 'address';
  /** `namespace/pod`, host endpoint name, or the address. */
  name: string;
  ip: string;
  node?: string;
  iface?: string;
}

export type Decision =
  | { kind: 'rule'; owner: OwnerRef; direction: Direction; index: number; action: 'Allow' | 'Deny' }
  | { kind: 'end-of-tier'; policies: readonly OwnerRef[] }
  | { kind: 'no-profile-matched'; profiles: readonly string[] }
  | { kind: 'forward-default-allow' }
  | { kind: 'failsafe' }
  | { kind: 'unknown-interface' }
  | { kind: 'endpoint-to-host'; action: 'Drop' | 'Accept' | 'Return' }
  /** The packet did not cross any tabby endpoint chain on this node. */
  | { kind: 'not-policed' };

export interface HopVerdict {
  node: string;
  /** Whose policy: the source endpoint's egress or the destination's ingress (or a host endpoint's). */
  direction: Direction | undefined;
  endpoint: string | undefined;
  allowed: boolean;
  decision: Decision;
  /** The iptables chain and rule index that decided (for `iptables-save` readers). */
  chain: string | undefined;
  chainRule: number | undefined;
  /** Policies whose Pass rule matched (the decision then came from profiles). */
  passedBy: OwnerRef[];
  /** Log rules the packet hit. */
  logged: { owner: OwnerRef; direction: Direction; index: number }[];
}

export interface FlowExplanation {
  from: FlowEnd;
  to: FlowEnd;
  protocol: ExplainProtocol;
  port: number | undefined;
  allowed: boolean;
  hops: HopVerdict[];
  warnings: string[];
}

export class ExplainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExplainError';
  }
}

/** Stand-in name of a node's uplink when no host endpoint names it. */
const UPLINK = 'eth0';

interface Resolved {
  end: FlowEnd;
  endpoint: EndpointEntry | undefined;
}

function resolve(text: string, eps: readonly EndpointEntry[], what: string): Resolved {
  const t = text.trim();
  if (isAddress(t)) {
    const ep = eps.find((e) => e.ipv4.includes(t) || e.ipv6.includes(t));
    if (ep) return { end: endOf(ep, t), endpoint: ep };
    return { end: { kind: 'address', name: t, ip: t }, endpoint: undefined };
  }
  const candidates = eps.filter((e) => {
    if (e.kind === 'host') return e.name === t;
    const names = [e.displayName, `${e.namespace}/${e.name}`];
    if (!t.includes('/')) names.push(e.displayName.slice(e.displayName.indexOf('/') + 1), e.name);
    return names.includes(t);
  });
  if (candidates.length === 0) throw new ExplainError(`--${what} ${JSON.stringify(text)}: no workload or host endpoint of that name (use namespace/pod, an endpoint name or an IP address)`);
  if (candidates.length > 1) {
    throw new ExplainError(`--${what} ${JSON.stringify(text)} is ambiguous: ${candidates.map((c) => c.displayName).sort().join(', ')} (use namespace/pod)`);
  }
  const ep = candidates[0]!;
  const ip = ep.ipv4[0] ?? ep.ipv6[0];
  if (ip === undefined) throw new ExplainError(`--${what} ${ep.displayName} has no address`);
  return { end: endOf(ep, ip), endpoint: ep };
}

function endOf(ep: EndpointEntry, ip: string): FlowEnd {
  return { kind: ep.kind, name: ep.displayName, ip, node: ep.node, ...(ep.iface !== undefined ? { iface: ep.iface } : {}) };
}

/** Endpoint chain name -> who and which direction, for one compiled node. */
function endpointChainIndex(rs: CompiledRuleset): Map<string, { endpoint: string; direction: Direction }> {
  const m = new Map<string, { endpoint: string; direction: Direction }>();
  for (const e of rs.endpoints) {
    const kinds: [EndpointChainKind, Direction][] =
      e.kind === 'workload' ? [['tw', 'ingress'], ['fw', 'egress']] : [['fh', 'ingress'], ['th', 'egress'], ['fhf', 'ingress'], ['thf', 'egress']];
    for (const [k, d] of kinds) m.set(endpointChainName(k, e.iface), { endpoint: e.displayName, direction: d });
  }
  return m;
}

/** Turn a trace into one verdict per endpoint chain crossed. */
export function hopsFromTrace(node: string, trace: readonly TraceStep[], verdict: 'accept' | 'drop' | 'return', index: Map<string, { endpoint: string; direction: Direction }>): HopVerdict[] {
  const hops: HopVerdict[] = [];
  let cur: HopVerdict | undefined;
  let curChain: string | undefined;
  const open = (chain: string | undefined) => {
    const who = chain ? index.get(chain) : undefined;
    cur = {
      node,
      direction: who?.direction,
      endpoint: who?.endpoint,
      allowed: true,
      decision: { kind: 'not-policed' },
      chain: undefined,
      chainRule: undefined,
      passedBy: [],
      logged: [],
    };
    curChain = chain;
    hops.push(cur);
  };
  for (const step of trace) {
    const o: RuleOrigin | undefined = step.origin;
    if (step.endpointChain !== curChain || !cur) {
      if (step.endpointChain !== undefined || (o && (o.kind === 'unknown-interface' || o.kind === 'endpoint-to-host'))) open(step.endpointChain);
      else continue;
    }
    if (!o) continue;
    const h: HopVerdict = cur!;
    const decide = (d: Decision, allowed: boolean) => {
      h.decision = d;
      h.allowed = allowed;
      h.chain = step.chain;
      h.chainRule = step.index;
    };
    switch (o.kind) {
      case 'rule':
        if (o.action === 'Allow' || o.action === 'Deny') decide({ kind: 'rule', owner: o.owner, direction: o.direction, index: o.index, action: o.action }, o.action === 'Allow');
        else if (o.action === 'Pass') {
          if (!h.passedBy.some((p) => ownerText(p) === ownerText(o.owner))) h.passedBy.push(o.owner);
        } else if (step.action === 'log') h.logged.push({ owner: o.owner, direction: o.direction, index: o.index });
        break;
      case 'end-of-tier':
        decide({ kind: 'end-of-tier', policies: o.policies }, false);
        break;
      case 'no-profile-matched':
        decide({ kind: 'no-profile-matched', profiles: o.profiles }, false);
        break;
      case 'forward-default-allow':
        decide({ kind: 'forward-default-allow' }, true);
        break;
      case 'failsafe':
        decide({ kind: 'failsafe' }, true);
        break;
      case 'unknown-interface':
        decide({ kind: 'unknown-interface' }, false);
        break;
      case 'endpoint-to-host':
        decide({ kind: 'endpoint-to-host', action: o.action }, o.action !== 'Drop');
        break;
      default:
        break;
    }
  }
  if (verdict === 'drop' && hops.length && hops[hops.length - 1]!.allowed) {
    // Dropped by something without a policy origin (cannot happen with the compiler's chains).
    hops[hops.length - 1]!.allowed = false;
  }
  if (hops.length === 0) {
    hops.push({ node, direction: undefined, endpoint: undefined, allowed: verdict !== 'drop', decision: { kind: 'not-policed' }, chain: undefined, chainRule: undefined, passedBy: [], logged: [] });
  }
  return hops;
}

/** Explain a flow over resources (all of them: policies, profiles, endpoints of every node). */
export function explainFlow(resources: PolicyResources | Iterable<Resource>, query: ExplainQuery, opts: Omit<CompileOptions, 'nodeName'> = {}): FlowExplanation {
  const res: PolicyResources = 'networkPolicies' in (resources as object) ? (resources as PolicyResources) : policyResourcesFrom(resources as Iterable<Resource>);
  const eps = [...res.workloadEndpoints.map(workloadEndpointEntry), ...res.hostEndpoints.map(hostEndpointEntry)];
  const from = resolve(query.from, eps, 'from');
  const to = resolve(query.to, eps, 'to');
  const protocol = (query.protocol ?? 'tcp').toLowerCase() as ExplainProtocol;
  if (!(['tcp', 'udp', 'sctp', 'icmp'] as const).includes(protocol)) throw new ExplainError(`--protocol ${JSON.stringify(query.protocol)}: must be tcp, udp, sctp or icmp`);
  if (query.port !== undefined && (!Number.isInteger(query.port) || query.port < 1 || query.port > 65535)) throw new ExplainError(`--port ${query.port}: must be a number from 1 to 65535`);
  if (protocol !== 'icmp' && query.port === undefined) throw new ExplainError(`--port is required for ${protocol}`);
  if (protocol === 'icmp' && query.port !== undefined) throw new ExplainError('--port does not apply to icmp');
  const v6 = from.end.ip.includes(':');
  if (v6 !== to.end.ip.includes(':')) throw new ExplainError(`${from.end.ip} and ${to.end.ip} are of different address families`);
  const ipVersion = v6 ? 6 : 4;
  const pkt: Packet = {
    src: from.end.ip,
    dst: to.end.ip,
    protocol: protocol === 'icmp' ? (v6 ? 'ipv6-icmp' : 'icmp') : protocol,
    ...(protocol === 'icmp'
      ? { icmpType: query.icmpType ?? (v6 ? 128 : 8), icmpCode: query.icmpCode ?? 0 }
      : { srcPort: query.srcPort ?? 40000, dstPort: query.port! }),
    ctState: 'NEW',
  };

  const compiled = new Map<string, CompiledRuleset>();
  const rulesetOf = (node: string) => {
    let rs = compiled.get(node);
    if (!rs) {
      rs = compilePolicy(res, { ...opts, nodeName: node, ipVersion });
      compiled.set(node, rs);
    }
    return rs;
  };
  const uplinkOf = (node: string) => eps.find((e) => e.kind === 'host' && e.node === node && e.iface !== undefined && e.iface !== '*')?.iface ?? UPLINK;

  // Which hooks on which nodes the first packet crosses.
  const legs: { node: string; hook: Hook; inIface?: string; outIface?: string }[] = [];
  const fe = from.endpoint;
  const te = to.endpoint;
  const fromWl = fe?.kind === 'workload' ? fe : undefined;
  const toWl = te?.kind === 'workload' ? te : undefined;
  const fromHost = fe?.kind === 'host' ? fe : undefined;
  const toHost = te?.kind === 'host' ? te : undefined;
  if (fromWl && toWl && fromWl.node === toWl.node) legs.push({ node: fromWl.node, hook: 'FORWARD', inIface: fromWl.iface!, outIface: toWl.iface! });
  else if (fromWl && toHost && toHost.node === fromWl.node) legs.push({ node: fromWl.node, hook: 'INPUT', inIface: fromWl.iface! });
  else if (fromHost && toWl && fromHost.node === toWl.node) legs.push({ node: toWl.node, hook: 'OUTPUT', outIface: toWl.iface! });
  else {
    if (fromWl) legs.push({ node: fromWl.node, hook: 'FORWARD', inIface: fromWl.iface!, outIface: uplinkOf(fromWl.node) });
    if (fromHost) legs.push({ node: fromHost.node, hook: 'OUTPUT', outIface: fromHost.iface === '*' || fromHost.iface === undefined ? uplinkOf(fromHost.node) : fromHost.iface });
    if (toWl) legs.push({ node: toWl.node, hook: 'FORWARD', inIface: uplinkOf(toWl.node), outIface: toWl.iface! });
    if (toHost) legs.push({ node: toHost.node, hook: 'INPUT', inIface: toHost.iface === '*' || toHost.iface === undefined ? uplinkOf(toHost.node) : toHost.iface });
  }
  if (legs.length === 0) throw new ExplainError(`neither ${from.end.name} nor ${to.end.name} is an endpoint: no tabby policy applies to this flow`);

  const hops: HopVerdict[] = [];
  const warnings = new Set<string>();
  for (const leg of legs) {
    const rs = rulesetOf(leg.node);
    rs.warnings.forEach((w) => warnings.add(w));
    const sim = new Simulator(rs, endpointChainIndex(rs).keys());
    const r = sim.run(leg.hook, { ...pkt, ...(leg.inIface !== undefined ? { inIface: leg.inIface } : {}), ...(leg.outIface !== undefined ? { outIface: leg.outIface } : {}) });
    const legHops = hopsFromTrace(leg.node, r.trace, r.verdict, endpointChainIndex(rs));
    hops.push(...legHops);
    if (r.verdict === 'drop') break; // later nodes never see the packet
  }
  return {
    from: from.end,
    to: to.end,
    protocol,
    port: query.port,
    allowed: hops.every((h) => h.allowed),
    hops,
    warnings: [...warnings].sort(),
  };
}

// ---- text ---------------------------------------------------------------------------

function ruleWord(d: Direction): string {
  return d === 'ingress' ? 'ingress' : 'egress';
}

export function describeDecision(d: Decision): string {
  switch (d.kind) {
    case 'rule':
      return `${d.action === 'Allow' ? 'allowed' : 'denied'} by ${ownerText(d.owner)}, ${ruleWord(d.direction)} rule ${d.index} (${d.action})`;
    case 'end-of-tier':
      return `denied: ${d.policies.length === 1 ? 'policy' : 'policies'} ${d.policies.map(ownerText).join(', ')} ${d.policies.length === 1 ? 'selects' : 'select'} the endpoint and no rule allowed or passed the packet (default deny)`;
    case 'no-profile-matched':
      return d.profiles.length === 0 ? 'denied: no policy applies and the endpoint has no profile' : `denied: no rule of profile${d.profiles.length === 1 ? '' : 's'} ${d.profiles.join(', ')} allowed the packet`;
    case 'forward-default-allow':
      return 'allowed: no applyOnForward policy applies to forwarded traffic of this host endpoint';
    case 'failsafe':
      return 'allowed: failsafe port (no policy can close it)';
    case 'unknown-interface':
      return 'denied: the workload interface is unknown to tabby (fail closed)';
    case 'endpoint-to-host':
      return `${d.action === 'Drop' ? 'denied' : 'allowed'}: workload-to-host traffic, endpoint-to-host action ${d.action}`;
    case 'not-policed':
      return 'allowed: no tabby endpoint policy applies on this node';
  }
}

/** Human-readable answer, one line per hop. */
export function formatExplanation(x: FlowExplanation): string {
  const proto = x.protocol === 'icmp' ? 'icmp' : `${x.protocol}/${x.port}`;
  const end = (e: FlowEnd) => `${e.name}${e.kind === 'address' ? ' (outside the cluster)' : ` (${e.ip}${e.node ? `, node ${e.node}` : ''})`}`;
  const lines = [`${proto} from ${end(x.from)} to ${end(x.to)}: ${x.allowed ? 'ALLOWED' : 'DENIED'}`];
  for (const h of x.hops) {
    const who = h.endpoint ? `${h.direction ?? ''} of ${h.endpoint}`.trim() : h.decision.kind === 'endpoint-to-host' ? 'workload to host' : 'interface';
    const where = h.chain !== undefined ? ` [${h.chain} #${h.chainRule}]` : '';
    lines.push(`  ${h.node}: ${who}: ${describeDecision(h.decision)}${where}`);
    if (h.passedBy.length) lines.push(`    passed on by ${h.passedBy.map(ownerText).join(', ')} (Pass)`);
    for (const l of h.logged) lines.push(`    logged by ${ownerText(l.owner)}, ${ruleWord(l.direction)} rule ${l.index} (Log)`);
  }
  for (const w of x.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}
