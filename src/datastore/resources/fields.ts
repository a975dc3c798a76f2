/**
 * zod validators for the field types Calico's v3 API shares between kinds:
 * names, labels, AS numbers, ports, protocols, selectors, addresses. Each
 * follows the rule Calico's validator (libcalico-go lib/validator/v3) and the
 * CRD schemas apply, with tabby's wording.
 */
import { z } from 'zod';
import { checkSelectorSyntax, isGlobalOnly } from './selector-check.js';
import { canonicalNetwork, parseCidr, parseIp, isStrictlyMasked, type Family } from './ip.js';
import { parseGoDuration } from './duration.js';

export type Ctx = z.core.$RefinementCtx;

/**
 * Refinement option: run cross-field checks even when a field of the object
 * already failed, so that one pass reports every problem. Such checks look
 * only at fields whose values have the right shape.
 */
export const ALWAYS = {
  // ...but never on a value that is not even a mapping (its type error is reported).
  when: (payload: { value: unknown }) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value),
} as const;

/** Report a problem without echoing the value (the message already names it). */
export function report(ctx: Ctx, message: string, path: (string | number)[] = []): void {
  ctx.addIssue({ code: 'custom', message, path, input: undefined });
}

// ---- names ---------------------------------------------------------------

const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS_LABEL = new RegExp(`^${LABEL}$`);
const DNS_SUBDOMAIN = new RegExp(`^${LABEL}(\\.${LABEL})*$`);

const SUBDOMAIN_WORDS = 'a DNS-1123 subdomain: lowercase letters, digits, "-" and ".", starting and ending with a letter or digit';
const LABEL_WORDS = 'a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit';

export const isDnsSubdomain = (s: string): boolean => s.length <= 253 && DNS_SUBDOMAIN.test(s);
export const isDnsLabel = (s: string): boolean => s.length <= 63 && DNS_LABEL.test(s);

/** Calico's generic `name` rule: a DNS-1123 subdomain of at most 253 characters. */
export const subdomainName = () =>
  z.string().min(1).max(253).regex(DNS_SUBDOMAIN, { message: `must be ${SUBDOMAIN_WORDS}` });

export const labelName = () => z.string().min(1).max(63).regex(DNS_LABEL, { message: `must be ${LABEL_WORDS}` });

/** NetworkPolicy names: a label, two labels joined by ".", or a knp./ossg.default. prefixed name. */
const NETWORK_POLICY_NAME = new RegExp(`^((${LABEL})(\\.${LABEL})?|((knp|ossg)\\.default\\.${LABEL}(\\.${LABEL})*))$`);
export const networkPolicyName = () =>
  z.string().min(1).max(253).regex(NETWORK_POLICY_NAME, {
    message: `must be ${LABEL_WORDS}, or two such labels joined by "."`,
  });

/** GlobalNetworkPolicy names: a label, optionally with one "label." prefix. */
const GLOBAL_POLICY_NAME = new RegExp(`^(${LABEL}\\.)?${LABEL}$`);
export const globalNetworkPolicyName = () =>
  z.string().min(1).max(253).regex(GLOBAL_POLICY_NAME, {
    message: `must be ${LABEL_WORDS}, or two such labels joined by "."`,
  });

// ---- labels and annotations (Kubernetes apimachinery rules) --------------

const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Why `key` is not a Kubernetes qualified name ("[prefix/]name"), or undefined. */
export function qualifiedNameProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return 'must be a name with at most one "/" (an optional DNS subdomain prefix, then "/", then a name)';
  const name = parts[parts.length - 1]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === '') return 'the prefix before "/" must not be empty';
    if (!isDnsSubdomain(prefix)) return `the prefix before "/" must be ${SUBDOMAIN_WORDS}`;
  }
  if (name === '') return 'the name must not be empty';
  if (name.length > 63) return 'the name (after any "/") must be at most 63 characters';
  if (!QUALIFIED_NAME_PART.test(name)) {
    return 'the name (after any "/") must consist of letters, digits, "-", "_" and ".", starting and ending with a letter or digit';
  }
  return undefined;
}

export function labelValueProblem(v: string): string | undefined {
  if (v.length > 63) return 'label values must be at most 63 characters';
  if (!LABEL_VALUE.test(v)) return 'label values must be empty or consist of letters, digits, "-", "_" and ".", starting and ending with a letter or digit';
  return undefined;
}

/**
 * A mapping of strings. (An object with a catch-all rather than z.record, so
 * that a wrong type is reported as "expected a mapping".)
 */
const stringMap = () => z.object({}).catchall(z.string());

/** A label map, checked as Kubernetes checks metadata.labels. */
export const labelMap = () =>
  stringMap().superRefine((labels, ctx) => {
    for (const [k, v] of Object.entries(labels)) {
      const kp = qualifiedNameProblem(k);
      if (kp) report(ctx, `label key ${JSON.stringify(k)}: ${kp}`, [k]);
      const vp = labelValueProblem(v);
      if (vp) report(ctx, `${vp} (got ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)})`, [k]);
    }
  });

const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/** An annotation map: qualified-name keys (case-insensitive), 256 KiB in total. */
export const annotationMap = () =>
  stringMap().superRefine((ann, ctx) => {
    let total = 0;
    for (const [k, v] of Object.entries(ann)) {
      const kp = qualifiedNameProblem(k.toLowerCase());
      if (kp) report(ctx, `annotation key ${JSON.stringify(k)}: ${kp}`, [k]);
      total += Buffer.byteLength(k) + Buffer.byteLength(v);
    }
    if (total > ANNOTATIONS_MAX_BYTES) {
      report(ctx, `annotations total ${total} bytes, more than the limit of ${ANNOTATIONS_MAX_BYTES}`);
    }
  });

// ---- numbers -------------------------------------------------------------

/**
 * An AS number: an integer, or a string holding a decimal number or the
 * "asdot" form "high.low" (RFC 5396 §1). Always a number after parsing.
 * 0 is reserved (RFC 7607 §2) and rejected.
 */
export const asNumber = () =>
  z
    .union([z.number(), z.string()], { error: 'expected an AS number such as 64512 or "1.10"' })
    .transform((v, ctx) => {
      let n: number | undefined;
      if (typeof v === 'number') n = Number.isInteger(v) ? v : undefined;
      else if (/^\d+$/.test(v)) n = Number(v);
      else {
        const m = /^(\d+)\.(\d+)$/.exec(v);
        if (m && Number(m[1]) <= 0xffff && Number(m[2]) <= 0xffff) n = Number(m[1]) * 65536 + Number(m[2]);
      }
      if (n === undefined || n > 0xffffffff) {
        report(ctx, `must be an AS number from 1 to 4294967295, in plain or "high.low" notation (got ${JSON.stringify(v)})`);
        return z.NEVER;
      }
      if (n === 0) {
        report(ctx, 'AS number 0 is reserved (RFC 7607) and cannot be used');
        return z.NEVER;
      }
      return n;
    });

export const integer = (min: number, max: number) =>
  z.number().int('must be a whole number').min(min).max(max);

// ---- protocols and ports -------------------------------------------------

export const PROTOCOL_NAMES = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite'] as const;
export type ProtocolName = (typeof PROTOCOL_NAMES)[number];
/** A protocol: one of Calico's names (case-sensitive) or a number 1-255. */
export type Protocol = ProtocolName | number;

export const protocol = () =>
  z
    .union([z.number(), z.string()], { error: 'expected a protocol name or number' })
    .transform((v, ctx): Protocol => {
      // Calico reads a numeric string as the number (numorstring.Uint8OrString).
      const num = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : undefined;
      if (num !== undefined) {
        if (!Number.isInteger(num) || num < 1 || num > 255) {
          report(ctx, `protocol number must be from 1 to 255 (got ${JSON.stringify(v)})`);
          return z.NEVER;
        }
        return num;
      }
      if ((PROTOCOL_NAMES as readonly string[]).includes(v as string)) return v as ProtocolName;
      const hint = PROTOCOL_NAMES.find((p) => p.toLowerCase() === String(v).toLowerCase());
      report(
        ctx,
        `protocol name invalid: must be one of ${PROTOCOL_NAMES.join(', ')} or a number from 1 to 255 (got ${JSON.stringify(v)})${hint ? `; names are case-sensitive, did you mean "${hint}"?` : ''}`,
      );
      return z.NEVER;
    });

/** `v` if it is a valid (parsed) protocol, else undefined: for checks that run on unvalidated input. */
export function validProtocol(v: unknown): Protocol | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 1 && v <= 255 ? v : undefined;
  return (PROTOCOL_NAMES as readonly unknown[]).includes(v) ? (v as ProtocolName) : undefined;
}

/** TCP, UDP and SCTP have ports (numorstring.Protocol.SupportsPorts). */
export function protocolHasPorts(p: Protocol): boolean {
  return p === 'TCP' || p === 'UDP' || p === 'SCTP' || p === 6 || p === 17 || p === 132;
}

export function isIcmp(p: Protocol | undefined): boolean {
  return p === 'ICMP' || p === 1;
}
export function isIcmpV6(p: Protocol | undefined): boolean {
  return p === 'ICMPv6' || p === 58;
}

/**
 * A rule port: a number, a range "lo:hi", or a named port. After parsing a
 * single port is a number, a range a "lo:hi" string and a name a string, which
 * is how Calico writes them back (numorstring.Port).
 */
export type RulePort = number | string;

const NAMED_PORT = /^[a-zA-Z0-9_.-]{1,128}$/;

export const rulePort = () =>
  z
    .union([z.number(), z.string()], { error: 'expected a port number, a range such as "8000:8100" or a port name' })
    .transform((v, ctx): RulePort => {
      const bad = (msg: string) => {
        report(ctx, msg);
        return z.NEVER;
      };
      const inRange = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
      if (typeof v === 'number') {
        return inRange(v) ? v : bad(`port number must be from 1 to 65535 (got ${v})`);
      }
      if (/^\d+$/.test(v)) {
        const n = Number(v);
        return inRange(n) ? n : bad(`port number must be from 1 to 65535 (got ${JSON.stringify(v)})`);
      }
      const range = /^(\d+):(\d+)$/.exec(v);
      if (range) {
        const lo = Number(range[1]);
        const hi = Number(range[2]);
        if (!inRange(lo) || !inRange(hi)) return bad(`port numbers in a range must be from 1 to 65535 (got ${JSON.stringify(v)})`);
        if (lo > hi) return bad(`port range ${JSON.stringify(v)} is invalid: the first port must not be greater than the second`);
        return lo === hi ? lo : `${lo}:${hi}`;
      }
      if (!NAMED_PORT.test(v)) {
        return bad(`must be a port number, a range "lo:hi" or a port name of letters, digits, "_", "." and "-" (got ${JSON.stringify(v)})`);
      }
      return v;
    });

/** Parsed form of a RulePort for consumers. */
export function parseRulePort(p: RulePort): { min: number; max: number } | { name: string } {
  if (typeof p === 'number') return { min: p, max: p };
  const m = /^(\d+):(\d+)$/.exec(p);
  if (m) return { min: Number(m[1]), max: Number(m[2]) };
  return { name: p };
}

export function isNamedPort(p: RulePort): boolean {
  return typeof p === 'string' && !/^\d+:\d+$/.test(p);
}

/**
 * A Kubernetes port name (IsValidPortName): at most 15 characters, lowercase
 * letters, digits and "-", at least one letter, no leading, trailing or double "-".
 */
export function portNameProblem(s: string): string | undefined {
  if (s.length === 0 || s.length > 15) return 'port names must be 1 to 15 characters';
  if (!/^[-a-z0-9]+$/.test(s)) return 'port names may contain only lowercase letters, digits and "-"';
  if (!/[a-z]/.test(s)) return 'port names must contain at least one letter';
  if (s.startsWith('-') || s.endsWith('-') || s.includes('--')) return 'port names must not begin or end with "-" or contain "--"';
  return undefined;
}

export const portName = () =>
  z.string().superRefine((s, ctx) => {
    const p = portNameProblem(s);
    if (p) report(ctx, `${p} (got ${JSON.stringify(s)})`);
  });

// ---- selectors -----------------------------------------------------------

/**
 * A selector field. `global()` is only meaningful in a rule's
 * namespaceSelector; elsewhere Calico rejects any selector containing it.
 */
export const selector = (opts: { allowGlobal?: 'alone' | 'no' } = {}) =>
  z.string().superRefine((s, ctx) => {
    const problem = checkSelectorSyntax(s);
    if (problem) {
      report(ctx, problem);
      return;
    }
    if (s.includes('global(')) {
      if (opts.allowGlobal !== 'alone') report(ctx, 'global() can only be used in a rule\'s namespaceSelector');
      else if (!isGlobalOnly(s)) report(ctx, 'global() cannot be combined with other selectors');
    }
  });

// ---- addresses -----------------------------------------------------------

const famWord = (f?: Family) => (f === 4 ? 'IPv4 ' : f === 6 ? 'IPv6 ' : '');
const example = (f?: Family) => (f === 6 ? 'fd00:10::/64' : '10.65.0.0/16');

/**
 * An IP network. `strict`: no host bits (Calico's `net`); `bareIp`: an
 * address alone means a full-length prefix (Calico's ParseCIDROrIP). The text
 * is kept as written.
 */
export const ipNet = (opts: { family?: Family; strict?: boolean; bareIp?: boolean } = {}) =>
  z.string().superRefine((s, ctx) => {
    const n = parseCidr(s, { bareIp: opts.bareIp });
    if (!n || (opts.family && n.family !== opts.family)) {
      report(ctx, `must be an ${famWord(opts.family)}CIDR such as ${example(opts.family)}${opts.bareIp ? ' (or a single address)' : ''} (got ${JSON.stringify(s)})`);
      return;
    }
    if (opts.strict && !isStrictlyMasked(n)) {
      report(ctx, `${JSON.stringify(s)} has host bits set; did you mean ${canonicalNetwork(n)}?`);
    }
  });

export const ipAddr = (family?: Family) =>
  z.string().superRefine((s, ctx) => {
    const ip = parseIp(s);
    if (!ip || (family && ip.family !== family)) {
      report(ctx, `must be an ${famWord(family)}address${family === 6 ? ' such as fd00::1' : family === 4 ? ' such as 10.0.0.1' : ''} (got ${JSON.stringify(s)})`);
    }
  });

/** Go's net.ParseMAC forms for 48- and 64-bit addresses. */
const MAC = /^([0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\2[0-9A-Fa-f]{2}){4}((\2[0-9A-Fa-f]{2}){2})?|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(\.[0-9A-Fa-f]{4})?)$/;
export const macAddress = () =>
  z.string().regex(MAC, { message: 'must be a MAC address such as ee:ee:ee:ee:ee:ee' });

/** A Linux interface name as Calico accepts it, or "*" where `star` is allowed. */
const INTERFACE = /^[a-zA-Z0-9_.-]{1,15}$/;
export const interfaceName = (opts: { star?: boolean } = {}) =>
  z.string().superRefine((s, ctx) => {
    if ((opts.star && s === '*') || INTERFACE.test(s)) return;
    report(ctx, `must be an interface name of 1 to 15 letters, digits, "_", "." and "-"${opts.star ? ', or "*"' : ''} (got ${JSON.stringify(s)})`);
  });

const CONTAINER_ID = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
export const containerId = () =>
  z.string().regex(CONTAINER_ID, { message: 'must consist of letters, digits and "-", starting and ending with a letter or digit' });

/** A Go duration string ("120s", "2m"), not negative. Kept as written. */
export const duration = () =>
  z.string().superRefine((s, ctx) => {
    const ms = parseGoDuration(s);
    if (ms === undefined) report(ctx, `must be a duration such as "120s", "2m" or "1h30m" (got ${JSON.stringify(s)})`);
    else if (ms < 0) report(ctx, `must not be negative (got ${JSON.stringify(s)})`);
  });
