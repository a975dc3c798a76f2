/**
 * Walks a packet through a compiled ruleset the way netfilter walks the
 * filter table: the same chains, rules and ipset members the kernel gets.
 * `explain` is built on this, so its answer cannot drift from what the
 * dataplane does. Only the matches and targets the compiler emits are
 * understood; anything else is an error, never a guess.
 */
import { parseCidr, parseIp, cidrContains } from '../datastore/resources/ip.js';
import type { Action, IcmpTypeMatch, MatchCriteria, PortSpec, Protocol, SetMatch } from '../felix/iptables/model.js';
import type { CompiledIpSet, CompiledRuleset } from './calc.js';
import type { CompiledChain, RuleOrigin } from './origin.js';

export interface Packet {
  src: string;
  dst: string;
  /** iptables protocol name or number. */
  protocol: 'tcp' | 'udp' | 'sctp' | 'icmp' | 'ipv6-icmp' | number;
  srcPort?: number;
  dstPort?: number;
  icmpType?: number;
  icmpCode?: number;
  inIface?: string;
  outIface?: string;
  /** Conntrack state; explain asks about the first packet of a flow (NEW). */
  ctState?: 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID';
  mark?: number;
}

export type Hook = 'FORWARD' | 'INPUT' | 'OUTPUT';

export interface TraceStep {
  chain: string;
  index: number;
  action: Action['type'];
  origin: RuleOrigin | undefined;
  /** Endpoint chains on the call stack when the rule ran (innermost last). */
  endpointChain: string | undefined;
}

export interface SimulationResult {
  /** accept / drop, or `return` when tabby's chains let the packet through to the rest of the built-in chain. */
  verdict: 'accept' | 'drop' | 'return';
  /** Every rule that matched, in order. */
  trace: TraceStep[];
  mark: number;
}

const PROTO_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, 'ipv6-icmp': 58, icmpv6: 58, sctp: 132, udplite: 136, all: 0 };

function protoNumber(p: Protocol | Packet['protocol']): number {
  return typeof p === 'number' ? p : (PROTO_NUMBERS[p] ?? -1);
}

function ifaceMatches(pattern: string, iface: string | undefined): boolean {
  if (iface === undefined) return false;
  if (pattern.endsWith('+')) return iface.startsWith(pattern.slice(0, -1));
  return iface === pattern;
}

function addrMatches(cidr: string, ip: string): boolean {
  const n = parseCidr(cidr, { bareIp: true });
  const a = parseIp(ip);
  return !!n && !!a && n.family === a.family && cidrContains(n, a);
}

function portIn(list: readonly PortSpec[], port: number | undefined): boolean {
  if (port === undefined) return false;
  return list.some((p) => (typeof p === 'number' ? p === port : port >= p[0] && port <= p[1]));
}

function icmpMatches(t: IcmpTypeMatch, pkt: Packet): boolean {
  return pkt.icmpType === t.type && (t.code === undefined || pkt.icmpCode === t.code);
}

export class Simulator {
  private readonly chains: Map<string, CompiledChain>;
  private readonly sets: Map<string, CompiledIpSet>;
  private readonly endpointChains: Set<string>;

  constructor(private readonly rs: CompiledRuleset, endpointChainNames: Iterable<string>) {
    this.chains = new Map(rs.chains.map((c) => [c.name, c]));
    this.sets = new Map(rs.ipsets.map((s) => [s.name, s]));
    this.endpointChains = new Set(endpointChainNames);
  }

  private inSet(sm: SetMatch, pkt: Packet): boolean {
    const set = this.sets.get(sm.set);
    if (!set) throw new Error(`rule refers to ipset ${sm.set}, which the ruleset does not define`);
    const dims = sm.direction.split(',') as ('src' | 'dst')[];
    const addr = dims[0] === 'src' ? pkt.src : pkt.dst;
    let hit: boolean;
    if (set.type === 'hash:ip') hit = set.members.includes(addr);
    else if (set.type === 'hash:net') hit = set.members.some((m) => addrMatches(m, addr));
    else if (set.type === 'hash:ip,port') {
      const port = dims[1] === 'src' ? pkt.srcPort : pkt.dstPort;
      const proto = typeof pkt.protocol === 'string' ? pkt.protocol : '';
      hit = port !== undefined && set.members.includes(`${addr},${proto}:${port}`);
    } else throw new Error(`ipset type ${set.type} is not simulated`);
    return sm.not ? !hit : hit;
  }

  private matches(m: MatchCriteria | undefined, pkt: Packet, mark: number): boolean {
    if (!m) return true;
    const pn = protoNumber(pkt.protocol);
    if (m.protocol !== undefined && protoNumber(m.protocol) !== pn) return false;
    if (m.notProtocol !== undefined && protoNumber(m.notProtocol) === pn) return false;
    if (m.source !== undefined && !addrMatches(m.source, pkt.src)) return false;
    if (m.notSource !== undefined && addrMatches(m.notSource, pkt.src)) return false;
    if (m.destination !== undefined && !addrMatches(m.destination, pkt.dst)) return false;
    if (m.notDestination !== undefined && addrMatches(m.notDestination, pkt.dst)) return false;
    if (m.inInterface !== undefined && !ifaceMatches(m.inInterface, pkt.inIface)) return false;
    if (m.notInInterface !== undefined && ifaceMatches(m.notInInterface, pkt.inIface)) return false;
    if (m.outInterface !== undefined && !ifaceMatches(m.outInterface, pkt.outIface)) return false;
    if (m.notOutInterface !== undefined && ifaceMatches(m.notOutInterface, pkt.outIface)) return false;
    const ct = pkt.ctState ?? 'NEW';
    if (m.ctState !== undefined && !(m.ctState as readonly string[]).includes(ct)) return false;
    if (m.notCtState !== undefined && (m.notCtState as readonly string[]).includes(ct)) return false;
    if (m.mark !== undefined && (mark & (m.mark.mask ?? 0xffffffff)) !== m.mark.value) return false;
    if (m.notMark !== undefined && (mark & (m.notMark.mask ?? 0xffffffff)) === m.notMark.value) return false;
    for (const s of m.sets ?? []) if (!this.inSet(s, pkt)) return false;
    if (m.srcPorts !== undefined && !portIn(m.srcPorts, pkt.srcPort)) return false;
    if (m.notSrcPorts !== undefined && (pkt.srcPort === undefined || portIn(m.notSrcPorts, pkt.srcPort))) return false;
    if (m.dstPorts !== undefined && !portIn(m.dstPorts, pkt.dstPort)) return false;
    if (m.notDstPorts !== undefined && (pkt.dstPort === undefined || portIn(m.notDstPorts, pkt.dstPort))) return false;
    for (const t of [m.icmpType, m.icmp6Type]) if (t !== undefined && !icmpMatches(t, pkt)) return false;
    for (const t of [m.notIcmpType, m.notIcmp6Type]) if (t !== undefined && icmpMatches(t, pkt)) return false;
    if (m.srcAddrType || m.notSrcAddrType || m.dstAddrType || m.notDstAddrType) throw new Error('addrtype matches are not simulated');
    return true;
  }

  /** Run a packet through tabby's rules of one built-in chain. */
  run(hook: Hook, packet: Packet): SimulationResult {
    const trace: TraceStep[] = [];
    let mark = packet.mark ?? 0;
    // Call stack frames: chain and next rule index. A goto replaces the top frame.
    const stack: { chain: CompiledChain; i: number }[] = [];
    const enter = (name: string) => {
      const c = this.chains.get(name);
      if (!c) throw new Error(`jump to chain ${name}, which the ruleset does not define`);
      return { chain: c, i: 0 };
    };
    const hookRules = this.rs.hooks[hook];
    const root: CompiledChain = { name: hook, rules: hookRules, origins: hookRules.map(() => undefined) };
    stack.push({ chain: root, i: 0 });
    let steps = 0;
    while (stack.length) {
      if (++steps > 100_000) throw new Error('simulation did not terminate');
      const top = stack[stack.length - 1]!;
      if (top.i >= top.chain.rules.length) {
        stack.pop(); // implicit return at the end of a chain
        continue;
      }
      const idx = top.i++;
      const rule = top.chain.rules[idx]!;
      if (!this.matches(rule.match, packet, mark)) continue;
      const endpointChain = [...stack].reverse().find((f) => this.endpointChains.has(f.chain.name))?.chain.name;
      trace.push({ chain: top.chain.name, index: idx, action: rule.action.type, origin: top.chain.origins[idx], endpointChain });
      const a = rule.action;
      switch (a.type) {
        case 'accept':
          return { verdict: 'accept', trace, mark };
        case 'drop':
        case 'reject':
          return { verdict: 'drop', trace, mark };
        case 'return':
          stack.pop();
          break;
        case 'jump':
          stack.push(enter(a.target));
          break;
        case 'goto':
          stack.pop();
          stack.push(enter(a.target));
          break;
        case 'setMark': {
          const mask = a.mask ?? 0xffffffff;
          mark = ((mark & ~mask) | a.mark) >>> 0;
          break;
        }
        case 'setXmark': {
          const mask = a.mask ?? 0xffffffff;
          mark = ((mark & ~mask) ^ a.mark) >>> 0;
          break;
        }
        case 'log':
          break;
        default:
          throw new Error(`action ${a.type} is not simulated`);
      }
      // A return or goto out of the root frame ends tabby's part.
      if (stack.length === 0) break;
    }
    return { verdict: 'return', trace, mark };
  }
}
