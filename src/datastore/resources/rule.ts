/**
 * Policy rules, shared by NetworkPolicy, GlobalNetworkPolicy and Profile:
 * Calico's v3 `Rule`, `EntityRule` and `ICMPFields` with the checks of
 * Calico's validator (validateRule, validateEntityRule) and the CRD rules.
 */
import { z } from 'zod';
import {
  ALWAYS,
  annotationMap,
  integer,
  ipNet,
  isIcmp,
  isIcmpV6,
  isNamedPort,
  protocol,
  protocolHasPorts,
  report,
  rulePort,
  selector,
  validProtocol,
  type Ctx,
  type Protocol,
  type RulePort,
} from './fields.js';
import { parseCidr } from './ip.js';
import { unimplemented } from './unimplemented.js';

export const ACTIONS = ['Allow', 'Deny', 'Log', 'Pass'] as const;
export type Action = (typeof ACTIONS)[number];

const icmpFields = z
  .strictObject({
    // Type 255 is reserved; the kernel's icmp match uses it as "any".
    type: integer(0, 254).optional(),
    code: integer(0, 255).optional(),
  })
  .superRefine((v, ctx) => {
    // iptables can only match a code together with a type.
    if (v.code !== undefined && v.type === undefined) report(ctx, 'ICMP code specified without an ICMP type', ['code']);
  }, ALWAYS);

export interface IcmpFields {
  type?: number;
  code?: number;
}

const MAX_NETS = 256;
const MAX_PORTS = 50;

const entityRule = z.strictObject({
  nets: z.array(ipNet({ strict: true })).max(MAX_NETS).optional(),
  notNets: z.array(ipNet({ strict: true })).max(MAX_NETS).optional(),
  selector: selector().max(1024).optional(),
  notSelector: selector().max(1024).optional(),
  namespaceSelector: selector({ allowGlobal: 'alone' }).max(1024).optional(),
  ports: z.array(rulePort()).max(MAX_PORTS).optional(),
  notPorts: z.array(rulePort()).max(MAX_PORTS).optional(),
  serviceAccounts: unimplemented('ruleServiceAccounts'),
  services: unimplemented('ruleServices'),
});

export interface EntityRule {
  nets?: string[];
  notNets?: string[];
  selector?: string;
  notSelector?: string;
  namespaceSelector?: string;
  ports?: RulePort[];
  notPorts?: RulePort[];
}

export interface Rule {
  action: Action;
  ipVersion?: 4 | 6;
  protocol?: Protocol;
  notProtocol?: Protocol;
  icmp?: IcmpFields;
  notICMP?: IcmpFields;
  source: EntityRule;
  destination: EntityRule;
  metadata?: { annotations?: Record<string, string> };
}

const PORTS_NEED_PROTOCOL = 'rules that specify ports must set protocol to TCP, UDP or SCTP';
const NUMERIC_PORTS_NEED_PROTOCOL = 'rules with a numeric port or port range must set protocol to TCP, UDP or SCTP';

/** Cross-field checks of one rule (Calico's validateRule and the Rule CRD rules). */
function checkRule(rule: Record<string, unknown>, ctx: Ctx): void {
  const proto = validProtocol(rule.protocol);
  const notProto = validProtocol(rule.notProtocol);
  const ipVersion = rule.ipVersion === 4 || rule.ipVersion === 6 ? rule.ipVersion : undefined;

  for (const side of ['source', 'destination'] as const) {
    const ent = (rule[side] ?? {}) as Record<string, unknown>;
    for (const field of ['ports', 'notPorts'] as const) {
      const ports = ent[field];
      if (!Array.isArray(ports) || ports.length === 0) continue;
      if (rule.protocol === undefined) {
        // Named ports resolve per endpoint and so carry their own protocol.
        if (ports.some((p) => typeof p === 'number' || (typeof p === 'string' && !isNamedPort(p)))) report(ctx, NUMERIC_PORTS_NEED_PROTOCOL, [side, field]);
      } else if (proto !== undefined && !protocolHasPorts(proto)) {
        report(ctx, PORTS_NEED_PROTOCOL, [side, field]);
      }
    }
  }

  if (rule.icmp !== undefined && (rule.protocol === undefined || (proto !== undefined && !isIcmp(proto) && !isIcmpV6(proto)))) {
    report(ctx, 'ICMP fields require protocol to be ICMP or ICMPv6', ['icmp']);
  }
  for (const [field, p] of [['protocol', proto], ['notProtocol', notProto]] as const) {
    if (isIcmp(p) && ipVersion !== undefined && ipVersion !== 4) report(ctx, `${field} ICMP requires ipVersion 4`, ['ipVersion']);
    if (isIcmpV6(p) && ipVersion !== undefined && ipVersion !== 6) report(ctx, `${field} ICMPv6 requires ipVersion 6`, ['ipVersion']);
  }

  // All CIDRs of a rule must be of one family, and of the rule's ipVersion if set.
  let seen4 = false;
  let seen6 = false;
  for (const side of ['source', 'destination'] as const) {
    const ent = (rule[side] ?? {}) as Record<string, unknown>;
    for (const field of ['nets', 'notNets'] as const) {
      const nets = ent[field];
      if (!Array.isArray(nets)) continue;
      nets.forEach((text, i) => {
        const n = typeof text === 'string' ? parseCidr(text) : undefined;
        if (!n) return;
        const path = [side, field, i];
        if (ipVersion !== undefined && n.family !== ipVersion) {
          report(ctx, `rule ipVersion is ${ipVersion} but ${JSON.stringify(text)} is an IPv${n.family} CIDR`, path);
        } else if ((n.family === 4 && seen6) || (n.family === 6 && seen4)) {
          report(ctx, 'rule contains both IPv4 and IPv6 CIDRs', path);
        }
        if (field === 'notNets' && n.prefixLength === 0) {
          report(ctx, `${JSON.stringify(text)} in notNets matches every address, so the rule would match no traffic`, path);
        }
        if (n.family === 4) seen4 = true;
        else seen6 = true;
      });
    }
  }
}

export const ruleSchema = z
  .strictObject({
    action: z.enum(ACTIONS),
    ipVersion: z.union([z.literal(4), z.literal(6)]).optional(),
    protocol: protocol().optional(),
    notProtocol: protocol().optional(),
    icmp: icmpFields.optional(),
    notICMP: icmpFields.optional(),
    source: entityRule.prefault({}),
    destination: entityRule.prefault({}),
    http: unimplemented('ruleHttp'),
    metadata: z.strictObject({ annotations: annotationMap().optional() }).optional(),
  })
  .superRefine((r, ctx) => checkRule(r as Record<string, unknown>, ctx), ALWAYS)
  .transform((r): Rule => {
    const { http: _http, source, destination, ...rest } = r;
    return { ...rest, source: stripUnimplemented(source), destination: stripUnimplemented(destination) } as Rule;
  });

/** Drop the always-absent unimplemented keys so consumers see only what tabby acts on. */
function stripUnimplemented(e: z.output<typeof entityRule>): EntityRule {
  const { serviceAccounts: _sa, services: _sv, ...rest } = e;
  return rest as EntityRule;
}

export const MAX_RULES = 1024;
export const rulesSchema = () => z.array(ruleSchema).max(MAX_RULES).default([]);
