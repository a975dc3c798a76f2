/**
 * NAT outgoing (pure): traffic from a pool with `natOutgoing: true` to a
 * destination outside every pool leaves with the host's address
 * (MASQUERADE), as Felix's `cali-nat-outgoing` does:
 *
 *   nat POSTROUTING  -j tabby-nat-outgoing                       (top, tagged)
 *   tabby-nat-outgoing
 *     -m set --match-set tabby-masq-ipam-pools src
 *     -m set ! --match-set tabby-all-ipam-pools dst -j MASQUERADE [--random-fully]
 *
 * Two hash:net sets instead of one rule per pool: the chain never changes
 * when pools come and go (only set members do), and a packet walks one rule.
 * `tabby-all-ipam-pools` holds every IPv4 pool, disabled ones included
 * (their blocks still hold workloads, and traffic between workloads is never
 * NATed); `tabby-masq-ipam-pools` the natOutgoing ones. The rule is present
 * only while some pool asks for NAT; the chain, hook and sets always are, so
 * the table's shape does not churn.
 *
 * IPv6 pools get the same in ip6tables' nat table over `tabby-6-...` sets
 * (`ipVersion: 6`), as Felix does for IPv6 pools with natOutgoing.
 *
 * `--random-fully` (Felix's default where the kernel has it) picks source
 * ports at random across the range, avoiding the port clash that makes
 * many connections through one SNAT address drop SYNs.
 */
import type { IPPool } from '../../datastore/resources/index.js';
import { canonicalMember } from '../ipsets/members.js';
import type { Chain, Rule } from '../iptables/model.js';
import { parseCidr } from '../../util/ip.js';
import type { DesiredIpSet, DesiredTable } from './types.js';

export const NAT_OUTGOING_CHAIN = 'tabby-nat-outgoing';
export const MASQ_POOLS_SET = 'tabby-masq-ipam-pools';
export const ALL_POOLS_SET = 'tabby-all-ipam-pools';

export interface NatOptions {
  randomFully?: boolean;
  /** Which pools and which table: 4 (iptables, the default) or 6 (ip6tables, sets `tabby-6-...`). */
  ipVersion?: 4 | 6;
}

/** The IPv6 sets (ip6tables' nat table has the same chain and hook, over these). */
export const MASQ_POOLS_SET_V6 = 'tabby-6-masq-ipam-pools';
export const ALL_POOLS_SET_V6 = 'tabby-6-all-ipam-pools';

export interface NatDesired {
  table: DesiredTable;
  ipsets: DesiredIpSet[];
}

function netMembers(pools: readonly IPPool[], family: 'inet' | 'inet6'): string[] {
  return [...new Set(pools.flatMap((p) => canonicalMember('hash:net', family, p.spec.cidr)))].sort();
}

export function natOutgoing(pools: readonly IPPool[], opts: NatOptions = {}): NatDesired {
  const v = opts.ipVersion ?? 4;
  const family = v === 4 ? 'inet' : 'inet6';
  const [MASQ, ALL] = v === 4 ? [MASQ_POOLS_SET, ALL_POOLS_SET] : [MASQ_POOLS_SET_V6, ALL_POOLS_SET_V6];
  const v4 = pools.filter((p) => parseCidr(p.spec.cidr)?.family === v);
  const masq = v4.filter((p) => p.spec.natOutgoing);
  const rules: Rule[] = masq.length
    ? [
        {
          match: {
            sets: [
              { set: MASQ, direction: 'src' },
              { set: ALL, direction: 'dst', not: true },
            ],
          },
          action: { type: 'masquerade', ...(opts.randomFully !== false ? { fullyRandom: true } : {}) },
        },
      ]
    : [];
  const chain: Chain = { name: NAT_OUTGOING_CHAIN, rules };
  return {
    table: { chains: [chain], hooks: { POSTROUTING: [{ action: { type: 'jump', target: NAT_OUTGOING_CHAIN } }] } },
    ipsets: [
      { name: ALL, type: 'hash:net', family, members: netMembers(v4, family) },
      { name: MASQ, type: 'hash:net', family, members: netMembers(masq, family) },
    ],
  };
}
