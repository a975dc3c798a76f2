/**
 * A compiled ruleset as text, in `iptables-restore` / `ipset restore` syntax
 * without the hash tags the driver adds: what the golden files hold and what
 * a person reads to review the compiler's output. Each rule that comes from
 * a policy is followed by a `#` note naming it.
 */
import { renderRuleBody } from '../felix/iptables/render.js';
import { renderCreate, metaOf } from '../felix/ipsets/model.js';
import type { CompiledRuleset } from './calc.js';
import { ownerText } from './model.js';
import type { RuleOrigin } from './origin.js';

export function describeOrigin(o: RuleOrigin): string {
  switch (o.kind) {
    case 'rule':
      return `${ownerText(o.owner)} ${o.direction} rule ${o.index} (${o.action})`;
    case 'enter':
      return `${ownerText(o.owner)} ${o.direction}`;
    case 'end-of-tier':
      return `end of tier: default deny (${o.direction})`;
    case 'no-profile-matched':
      return `no profile matched (${o.profiles.join(', ') || 'no profiles'})`;
    case 'forward-default-allow':
      return 'no applyOnForward policy: allow';
    case 'unknown-interface':
      return 'unknown interface: drop';
    case 'failsafe':
      return `failsafe (${o.direction})`;
    case 'conntrack':
      return 'conntrack';
    case 'endpoint-to-host':
      return `endpoint to host: ${o.action}`;
  }
}

export function formatRuleset(rs: CompiledRuleset): string {
  const out: string[] = [`# tabby policy: node ${rs.nodeName}, IPv${rs.ipVersion}`];
  for (const w of rs.warnings) out.push(`# warning: ${w}`);
  out.push('# ipsets');
  for (const s of rs.ipsets) {
    out.push(`${renderCreate(s.name, metaOf({ type: s.type, family: s.family }))}  # ${s.purpose}`);
    for (const m of s.members) out.push(`add ${s.name} ${m}`);
  }
  out.push('*filter');
  for (const c of rs.chains) out.push(`:${c.name} - [0:0]`);
  for (const [hook, rules] of Object.entries(rs.hooks)) for (const r of rules) out.push(`-I ${hook} ${renderRuleBody(r, rs.ipVersion)}`);
  for (const c of rs.chains) {
    c.rules.forEach((r, i) => {
      const o = c.origins[i];
      out.push(`-A ${c.name} ${renderRuleBody(r, rs.ipVersion)}${o ? `  # ${describeOrigin(o)}` : ''}`);
    });
  }
  out.push('COMMIT');
  return out.join('\n') + '\n';
}
