/**
 * Rendering of one rule to `iptables-restore` argument text (pure).
 *
 * The output depends only on the rule's content, never on the order of the
 * object's keys: criteria are written in one fixed order (protocol, addresses,
 * interfaces, then `-m` modules, then the comment, then the target). That is
 * what makes the hashes stable: the same rule always renders to the same
 * bytes, on every run and every host.
 *
 * Everything that ends up between double quotes (comments, log prefixes) is
 * restricted to characters that need no escaping in iptables-restore input.
 */
import { isIP } from 'node:net';
import type { Action, CtState, IcmpTypeMatch, IpVersion, MarkMatch, MatchCriteria, PortSpec, Protocol, Rule, SetMatch, TableName } from './model.js';
import { HASH_COMMENT_PREFIX } from './names.js';

export class RuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuleError';
  }
}

/** xt_comment holds 256 bytes including the NUL. */
const MAX_COMMENT = 255;
const MAX_LOG_PREFIX = 29;
/** xt_multiport holds at most 15 port slots; a range takes two. */
const MAX_MULTIPORT_SLOTS = 15;
const PORT_PROTOCOLS = new Set<Protocol>(['tcp', 'udp', 'udplite', 'sctp']);
const IFACE_RE = /^[A-Za-z0-9_.:@-]{1,15}\+?$|^\+$/;
const SET_NAME_RE = /^[A-Za-z0-9_.:@+=~-]{1,31}$/;
const TARGET_RE = /^[A-Za-z0-9_.:@+=~-]{1,28}$/;

/**
 * Comments may come from user data (policy names); replace anything outside
 * printable ASCII, and the quote and backslash, so the text is safe between
 * double quotes. Deterministic, so hashes stay stable.
 */
export function sanitizeComment(text: string): string {
  return text.replace(/[^\x20-\x7e]|["\\]/g, '_').slice(0, MAX_COMMENT);
}

function quote(text: string): string {
  return `"${text}"`;
}

function hex(n: number, what: string): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RuleError(`${what} ${n} is not a 32-bit unsigned integer`);
  return `0x${n.toString(16)}`;
}

function markText(m: MarkMatch | { mark: number; mask?: number }, what: string): string {
  const value = 'value' in m ? m.value : m.mark;
  return `${hex(value, what)}/${hex(m.mask ?? 0xffffffff, `${what} mask`)}`;
}

function checkAddress(addr: string, ipVersion: IpVersion, what: string): string {
  const slash = addr.indexOf('/');
  const ip = slash < 0 ? addr : addr.slice(0, slash);
  const fam = isIP(ip);
  if (fam === 0) throw new RuleError(`${what} ${JSON.stringify(addr)} is not an address or CIDR`);
  if (fam !== ipVersion) throw new RuleError(`${what} ${addr} is IPv${fam} in an IPv${ipVersion} table`);
  if (slash >= 0) {
    const len = addr.slice(slash + 1);
    if (!/^\d{1,3}$/.test(len) || Number(len) > (fam === 4 ? 32 : 128)) throw new RuleError(`${what} ${addr} has a bad prefix length`);
  }
  return addr;
}

function checkIface(name: string, what: string): string {
  if (!IFACE_RE.test(name)) throw new RuleError(`${what} ${JSON.stringify(name)} is not a valid interface name`);
  return name;
}

function protocolText(p: Protocol): string {
  if (typeof p === 'number') {
    if (!Number.isInteger(p) || p < 0 || p > 255) throw new RuleError(`protocol number ${p} out of range`);
    return String(p);
  }
  return p;
}

function portsText(ports: readonly PortSpec[], what: string): string {
  if (ports.length === 0) throw new RuleError(`${what}: empty port list`);
  let slots = 0;
  const parts = ports.map((p) => {
    const [from, to] = typeof p === 'number' ? [p, p] : p;
    for (const n of [from, to]) if (!Number.isInteger(n) || n < 0 || n > 65535) throw new RuleError(`${what}: port ${n} out of range`);
    if (from > to) throw new RuleError(`${what}: range ${from}:${to} is reversed`);
    slots += from === to ? 1 : 2;
    return from === to ? String(from) : `${from}:${to}`;
  });
  if (slots > MAX_MULTIPORT_SLOTS) throw new RuleError(`${what}: ${slots} port slots, more than ${MAX_MULTIPORT_SLOTS} (split the rule)`);
  return parts.join(',');
}

function ctText(states: readonly CtState[]): string {
  if (states.length === 0) throw new RuleError('empty ctstate list');
  return states.join(',');
}

function icmpText(t: IcmpTypeMatch, what: string): string {
  for (const n of [t.type, t.code ?? 0]) if (!Number.isInteger(n) || n < 0 || n > 255) throw new RuleError(`${what} ${n} out of range`);
  return t.code === undefined ? String(t.type) : `${t.type}/${t.code}`;
}

function setText(s: SetMatch): string {
  if (!SET_NAME_RE.test(s.set)) throw new RuleError(`invalid ipset name ${JSON.stringify(s.set)}`);
  return `-m set ${s.not ? '! ' : ''}--match-set ${s.set} ${s.direction}`;
}

/** The criteria part of a rule, in the canonical order. */
export function renderMatch(m: MatchCriteria, ipVersion: IpVersion = 4): string[] {
  const out: string[] = [];
  const neg = (flag: string, v: string | undefined, nv: string | undefined) => {
    if (v !== undefined) out.push(`${flag} ${v}`);
    if (nv !== undefined) out.push(`! ${flag} ${nv}`);
  };
  if (m.protocol !== undefined && m.notProtocol !== undefined) throw new RuleError('protocol and notProtocol are exclusive');
  neg('-p', m.protocol === undefined ? undefined : protocolText(m.protocol), m.notProtocol === undefined ? undefined : protocolText(m.notProtocol));
  if (m.source !== undefined && m.notSource !== undefined) throw new RuleError('source and notSource are exclusive');
  if (m.destination !== undefined && m.notDestination !== undefined) throw new RuleError('destination and notDestination are exclusive');
  neg('-s', m.source === undefined ? undefined : checkAddress(m.source, ipVersion, 'source'), m.notSource === undefined ? undefined : checkAddress(m.notSource, ipVersion, 'source'));
  neg('-d', m.destination === undefined ? undefined : checkAddress(m.destination, ipVersion, 'destination'), m.notDestination === undefined ? undefined : checkAddress(m.notDestination, ipVersion, 'destination'));
  if (m.inInterface !== undefined && m.notInInterface !== undefined) throw new RuleError('inInterface and notInInterface are exclusive');
  if (m.outInterface !== undefined && m.notOutInterface !== undefined) throw new RuleError('outInterface and notOutInterface are exclusive');
  neg('-i', m.inInterface === undefined ? undefined : checkIface(m.inInterface, 'in-interface'), m.notInInterface === undefined ? undefined : checkIface(m.notInInterface, 'in-interface'));
  neg('-o', m.outInterface === undefined ? undefined : checkIface(m.outInterface, 'out-interface'), m.notOutInterface === undefined ? undefined : checkIface(m.notOutInterface, 'out-interface'));

  if (m.ctState) out.push(`-m conntrack --ctstate ${ctText(m.ctState)}`);
  if (m.notCtState) out.push(`-m conntrack ! --ctstate ${ctText(m.notCtState)}`);
  if (m.mark) out.push(`-m mark --mark ${markText(m.mark, 'mark')}`);
  if (m.notMark) out.push(`-m mark ! --mark ${markText(m.notMark, 'mark')}`);
  for (const s of m.sets ?? []) out.push(setText(s));

  const hasPorts = m.srcPorts || m.notSrcPorts || m.dstPorts || m.notDstPorts;
  if (hasPorts && (m.protocol === undefined || !PORT_PROTOCOLS.has(m.protocol))) {
    throw new RuleError('port matches need protocol tcp, udp, udplite or sctp');
  }
  if (m.srcPorts) out.push(`-m multiport --sports ${portsText(m.srcPorts, 'srcPorts')}`);
  if (m.notSrcPorts) out.push(`-m multiport ! --sports ${portsText(m.notSrcPorts, 'notSrcPorts')}`);
  if (m.dstPorts) out.push(`-m multiport --dports ${portsText(m.dstPorts, 'dstPorts')}`);
  if (m.notDstPorts) out.push(`-m multiport ! --dports ${portsText(m.notDstPorts, 'notDstPorts')}`);

  if (m.icmpType || m.notIcmpType) {
    if (ipVersion !== 4 || m.protocol !== 'icmp') throw new RuleError('icmpType needs an IPv4 table and protocol icmp');
    if (m.icmpType) out.push(`-m icmp --icmp-type ${icmpText(m.icmpType, 'icmp type')}`);
    if (m.notIcmpType) out.push(`-m icmp ! --icmp-type ${icmpText(m.notIcmpType, 'icmp type')}`);
  }
  if (m.icmp6Type || m.notIcmp6Type) {
    if (ipVersion !== 6 || (m.protocol !== 'ipv6-icmp' && m.protocol !== 'icmpv6')) {
      throw new RuleError('icmp6Type needs an IPv6 table and protocol ipv6-icmp');
    }
    if (m.icmp6Type) out.push(`-m icmp6 --icmpv6-type ${icmpText(m.icmp6Type, 'icmpv6 type')}`);
    if (m.notIcmp6Type) out.push(`-m icmp6 ! --icmpv6-type ${icmpText(m.notIcmp6Type, 'icmpv6 type')}`);
  }
  if (m.srcAddrType) out.push(`-m addrtype --src-type ${m.srcAddrType}`);
  if (m.notSrcAddrType) out.push(`-m addrtype ! --src-type ${m.notSrcAddrType}`);
  if (m.dstAddrType) out.push(`-m addrtype --dst-type ${m.dstAddrType}`);
  if (m.notDstAddrType) out.push(`-m addrtype ! --dst-type ${m.notDstAddrType}`);
  return out;
}

function checkTarget(t: string): string {
  if (!TARGET_RE.test(t)) throw new RuleError(`invalid jump target ${JSON.stringify(t)}`);
  return t;
}

export function renderAction(a: Action): string {
  switch (a.type) {
    case 'accept':
      return '-j ACCEPT';
    case 'drop':
      return '-j DROP';
    case 'return':
      return '-j RETURN';
    case 'reject':
      if (a.with !== undefined && !/^[a-z0-9-]+$/.test(a.with)) throw new RuleError(`invalid reject-with ${JSON.stringify(a.with)}`);
      return a.with ? `-j REJECT --reject-with ${a.with}` : '-j REJECT';
    case 'jump':
      return `-j ${checkTarget(a.target)}`;
    case 'goto':
      return `-g ${checkTarget(a.target)}`;
    case 'masquerade':
      return a.fullyRandom ? '-j MASQUERADE --random-fully' : '-j MASQUERADE';
    case 'snat':
      if (!/^[0-9A-Fa-f.:[\]-]+$/.test(a.toSource)) throw new RuleError(`invalid SNAT source ${JSON.stringify(a.toSource)}`);
      return `-j SNAT --to-source ${a.toSource}${a.fullyRandom ? ' --random-fully' : ''}`;
    case 'dnat':
      if (!/^[0-9A-Fa-f.:[\]-]+$/.test(a.toDestination)) throw new RuleError(`invalid DNAT destination ${JSON.stringify(a.toDestination)}`);
      return `-j DNAT --to-destination ${a.toDestination}`;
    case 'setMark':
      return `-j MARK --set-mark ${markText(a, 'mark')}`;
    case 'setXmark':
      return `-j MARK --set-xmark ${markText(a, 'mark')}`;
    case 'log': {
      if (a.prefix.length > MAX_LOG_PREFIX) throw new RuleError(`log prefix ${JSON.stringify(a.prefix)} is longer than ${MAX_LOG_PREFIX} characters`);
      if (/[^\x20-\x7e]|["\\]/.test(a.prefix)) throw new RuleError(`log prefix ${JSON.stringify(a.prefix)} has characters that cannot be quoted`);
      if (a.level !== undefined && (!Number.isInteger(a.level) || a.level < 0 || a.level > 7)) throw new RuleError(`log level ${a.level} out of range 0-7`);
      return `-j LOG --log-prefix ${quote(a.prefix)}${a.level !== undefined ? ` --log-level ${a.level}` : ''}`;
    }
    case 'notrack':
      return '-j CT --notrack';
  }
}

/** Which tables each target may be used in (the kernel refuses the rest). */
const ACTION_TABLE: Partial<Record<Action['type'], TableName>> = { masquerade: 'nat', snat: 'nat', dnat: 'nat', notrack: 'raw' };

export function checkActionForTable(a: Action, table: TableName): void {
  const t = ACTION_TABLE[a.type];
  if (t && t !== table) throw new RuleError(`action ${a.type} is only valid in the ${t} table, not ${table}`);
}

/**
 * A rule's body: criteria, optional human comment, target. This is the text
 * hashed for the rule's identity; the hash comment itself is not part of it.
 */
export function renderRuleBody(rule: Rule, ipVersion: IpVersion = 4): string {
  // A frozen rule (the compiler's shared constants: one object in thousands
  // of chains) cannot change, so its text is kept.
  if (Object.isFrozen(rule)) {
    const cache = ipVersion === 4 ? frozenBodies4 : frozenBodies6;
    let body = cache.get(rule);
    if (body === undefined) cache.set(rule, (body = renderRuleBodyOnce(rule, ipVersion)));
    return body;
  }
  return renderRuleBodyOnce(rule, ipVersion);
}

const frozenBodies4 = new WeakMap<Rule, string>();
const frozenBodies6 = new WeakMap<Rule, string>();

function renderRuleBodyOnce(rule: Rule, ipVersion: IpVersion): string {
  const parts = rule.match ? renderMatch(rule.match, ipVersion) : [];
  if (rule.comment !== undefined) parts.push(`-m comment --comment ${quote(sanitizeComment(rule.comment))}`);
  parts.push(renderAction(rule.action));
  return parts.join(' ');
}

/** The hash comment that tags a rule as tabby's. */
export function hashComment(hash: string): string {
  return `-m comment --comment ${quote(HASH_COMMENT_PREFIX + hash)}`;
}

/** A full rule spec as written after `-A chain ` / `-I chain N `: hash comment first, then the body. */
export function renderRuleSpec(body: string, hash: string): string {
  return `${hashComment(hash)} ${body}`;
}
