/**
 * The iptables model as plain data: tables, chains, rules (match criteria +
 * one action). The policy compiler produces these; the renderer turns them
 * into `iptables-restore` text; the table driver programs them.
 *
 * Negated criteria are separate fields (`notSource`, ...) rather than flags,
 * so a criterion and its negation can both be present and each has one
 * obvious rendering.
 */

export type TableName = 'filter' | 'nat' | 'mangle' | 'raw';
export const TABLE_NAMES: readonly TableName[] = ['filter', 'nat', 'mangle', 'raw'];

/** The kernel's built-in chains of each table (the only chains tabby hooks into). */
export const BUILTIN_CHAINS: Readonly<Record<TableName, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
};

export type IpVersion = 4 | 6;

/** `tcp`, `udp`, `icmp`, ... or an IP protocol number. */
export type Protocol = 'tcp' | 'udp' | 'udplite' | 'sctp' | 'icmp' | 'ipv6-icmp' | 'icmpv6' | 'esp' | 'ah' | 'gre' | 'all' | number;

/** One port, or an inclusive range `[from, to]`. */
export type PortSpec = number | readonly [number, number];

export type CtState = 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID' | 'UNTRACKED' | 'SNAT' | 'DNAT';

/** Which packet fields an `-m set` match reads: `src`, `dst`, or one per set dimension (`src,dst`). */
export type SetDirection = 'src' | 'dst' | 'src,dst' | 'dst,src' | 'src,src' | 'dst,dst';

export interface SetMatch {
  set: string;
  direction: SetDirection;
  not?: boolean;
}

export interface MarkMatch {
  value: number;
  /** Defaults to 0xffffffff. */
  mask?: number;
}

export type AddrType = 'UNSPEC' | 'UNICAST' | 'LOCAL' | 'BROADCAST' | 'ANYCAST' | 'MULTICAST' | 'BLACKHOLE' | 'UNREACHABLE' | 'PROHIBIT';

export interface IcmpTypeMatch {
  type: number;
  code?: number;
}

/**
 * Match criteria; all present criteria must hold. Rendered in a fixed order
 * whatever the order of the object's keys.
 */
export interface MatchCriteria {
  protocol?: Protocol;
  notProtocol?: Protocol;
  /** Address or CIDR. */
  source?: string;
  notSource?: string;
  destination?: string;
  notDestination?: string;
  /** Interface name; a trailing `+` matches a prefix (`cali+`). */
  inInterface?: string;
  notInInterface?: string;
  outInterface?: string;
  notOutInterface?: string;
  /** Ports need `protocol` (tcp, udp, udplite or sctp); at most 15 port slots (a range takes 2). */
  srcPorts?: readonly PortSpec[];
  notSrcPorts?: readonly PortSpec[];
  dstPorts?: readonly PortSpec[];
  notDstPorts?: readonly PortSpec[];
  ctState?: readonly CtState[];
  notCtState?: readonly CtState[];
  mark?: MarkMatch;
  notMark?: MarkMatch;
  sets?: readonly SetMatch[];
  srcAddrType?: AddrType;
  notSrcAddrType?: AddrType;
  dstAddrType?: AddrType;
  notDstAddrType?: AddrType;
  /** IPv4 only (`-m icmp`); needs protocol icmp. */
  icmpType?: IcmpTypeMatch;
  notIcmpType?: IcmpTypeMatch;
  /** IPv6 only (`-m icmp6`); needs protocol ipv6-icmp. */
  icmp6Type?: IcmpTypeMatch;
  notIcmp6Type?: IcmpTypeMatch;
}

export type Action =
  | { type: 'accept' }
  | { type: 'drop' }
  | { type: 'return' }
  | { type: 'reject'; with?: string }
  | { type: 'jump'; target: string }
  | { type: 'goto'; target: string }
  | { type: 'masquerade'; fullyRandom?: boolean }
  | { type: 'snat'; toSource: string; fullyRandom?: boolean }
  | { type: 'dnat'; toDestination: string }
  /** `-j MARK --set-mark value/mask`: clears the mask bits, then ORs value (mask defaults to all bits). */
  | { type: 'setMark'; mark: number; mask?: number }
  /** `-j MARK --set-xmark value/mask`: zeroes the mask bits, then XORs value. */
  | { type: 'setXmark'; mark: number; mask?: number }
  /** `-j LOG`; the prefix has at most 29 characters. */
  | { type: 'log'; prefix: string; level?: number }
  /** `-j CT --notrack` (raw table). */
  | { type: 'notrack' };

export interface Rule {
  match?: MatchCriteria;
  action: Action;
  /** A human comment, rendered as a second `-m comment` after the hash comment. */
  comment?: string;
}

export interface Chain {
  name: string;
  rules: readonly Rule[];
}

/** How tabby's rules sit in a built-in chain: at the top (`-I`) or at the end (`-A`). */
export type HookMode = 'insert' | 'append';

/** Shorthands for the policy compiler and managers. */
export const accept = (match?: MatchCriteria, comment?: string): Rule => withMatch({ action: { type: 'accept' } }, match, comment);
export const drop = (match?: MatchCriteria, comment?: string): Rule => withMatch({ action: { type: 'drop' } }, match, comment);
export const ret = (match?: MatchCriteria, comment?: string): Rule => withMatch({ action: { type: 'return' } }, match, comment);
export const jump = (target: string, match?: MatchCriteria, comment?: string): Rule =>
  withMatch({ action: { type: 'jump', target } }, match, comment);
export const goTo = (target: string, match?: MatchCriteria, comment?: string): Rule =>
  withMatch({ action: { type: 'goto', target } }, match, comment);

function withMatch(rule: Rule, match: MatchCriteria | undefined, comment: string | undefined): Rule {
  return { ...(match ? { match } : {}), ...rule, ...(comment !== undefined ? { comment } : {}) };
}

/** The chain an action passes control to, if any. */
export function actionTarget(a: Action): string | undefined {
  return a.type === 'jump' || a.type === 'goto' ? a.target : undefined;
}
