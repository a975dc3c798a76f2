/**
 * Chained rule hashes: the identity of every rule tabby writes.
 *
 * Rule i's hash covers the chain name, every rule before it (through the
 * previous hash) and rule i's rendered body:
 *
 *   h(-1) = SHA-224(chain name)
 *   h(i)  = SHA-224(h(i-1) || body(i))
 *   tag   = base64url(h(i))[0..16)
 *
 * So a chain's sequence of tags changes whenever any rule, the order, or the
 * chain name changes, and comparing the tags read back from `iptables-save`
 * with the desired ones tells whether the chain is intact, without parsing what
 * iptables-save prints (which reorders and reformats criteria). This follows
 * the way Calico Felix tags its rules; the code is our own.
 */
import { createHash } from 'node:crypto';
import type { IpVersion, Rule } from './model.js';
import { renderRuleBody, renderRuleSpec } from './render.js';

export const RULE_HASH_LENGTH = 16;

export function chainedHashes(chainName: string, bodies: readonly string[]): string[] {
  let prev = createHash('sha224').update(chainName).digest();
  return bodies.map((body) => {
    prev = createHash('sha224').update(prev).update(body).digest();
    return prev.toString('base64url').slice(0, RULE_HASH_LENGTH);
  });
}

/** A chain (or the tabby part of a built-in chain) rendered once, with its tags. */
export interface RenderedRules {
  chain: string;
  hashes: string[];
  /** Full rule specs (hash comment + body), ready to follow `-A chain `. */
  specs: string[];
}

export function renderRules(chain: string, rules: readonly Rule[], ipVersion: IpVersion = 4): RenderedRules {
  const bodies = rules.map((r) => renderRuleBody(r, ipVersion));
  const hashes = chainedHashes(chain, bodies);
  return { chain, hashes, specs: bodies.map((b, i) => renderRuleSpec(b, hashes[i]!)) };
}
