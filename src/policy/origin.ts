/**
 * Where each compiled iptables rule comes from. The dataplane ignores this;
 * `explain` reads it while it walks the very chains the kernel gets, so the
 * answer names the policy and rule that decided, not a second opinion.
 */
import type { Chain, Rule } from '../felix/iptables/model.js';
import type { Action } from '../datastore/resources/index.js';
import type { Direction, OwnerRef } from './model.js';

export type RuleOrigin =
  /** A rule of a policy or profile (index into its `ingress`/`egress` list). */
  | { kind: 'rule'; owner: OwnerRef; direction: Direction; index: number; action: Action }
  /** The jump from an endpoint chain into a policy or profile chain. */
  | { kind: 'enter'; owner: OwnerRef; direction: Direction }
  /** No policy of the tier allowed or passed the packet: Calico's end-of-tier deny. */
  | { kind: 'end-of-tier'; direction: Direction; policies: readonly OwnerRef[] }
  /** No profile allowed the packet (or the endpoint has none). */
  | { kind: 'no-profile-matched'; direction: Direction; profiles: readonly string[] }
  /** Forwarded traffic through a host endpoint no applyOnForward policy decided. */
  | { kind: 'forward-default-allow'; direction: Direction }
  /** A packet on a workload-style interface tabby has no endpoint for. */
  | { kind: 'unknown-interface' }
  /** Failsafe ports of host endpoints: no policy can close them. */
  | { kind: 'failsafe'; direction: Direction }
  /** Conntrack: established/related accepted, invalid dropped. */
  | { kind: 'conntrack' }
  /** What happens to workload-to-host traffic after the workload's egress policy. */
  | { kind: 'endpoint-to-host'; action: 'Drop' | 'Accept' | 'Return' };

/** A chain plus the origin of each rule (same length as `rules`). */
export interface CompiledChain extends Chain {
  readonly origins: readonly (RuleOrigin | undefined)[];
}

/** Builds a chain and its origins side by side. */
export class ChainBuilder {
  private readonly rules: Rule[] = [];
  private readonly origins: (RuleOrigin | undefined)[] = [];
  constructor(private readonly name: string) {}

  add(rule: Rule, origin?: RuleOrigin): this {
    this.rules.push(rule);
    this.origins.push(origin);
    return this;
  }

  addAll(rules: readonly Rule[], origins: readonly (RuleOrigin | undefined)[]): this {
    rules.forEach((r, i) => this.add(r, origins[i]));
    return this;
  }

  build(): CompiledChain {
    return { name: this.name, rules: this.rules, origins: this.origins };
  }
}
