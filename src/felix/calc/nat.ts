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
}

export interface NatDesired {
  table: DesiredTable;
  ipsets: DesiredIpSet[];
}

function netMembers(pools: readonly IPPool[]): string[] {
  return [...new Set(pools.flatMap((p) => canonicalMember('hash:net', 'inet', p.spec.cidr)))].sort();
}

export function natOutgoing(pools: readonly IPPool[], opts: NatOptions = {}): NatDesired {
  const v4 = pools.filter((p) => parseCidr(p.spec.cidr)?.family === 4);
  const masq = v4.filter((p) => p.spec.natOutgoing);
  const rules: Rule[] = masq.length
    ? [
        {
          match: {
            sets: [
              { set: MASQ_POOLS_SET, direction: 'src' },
              { set: ALL_POOLS_SET, direction: 'dst', not: true },
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
      { name: ALL_POOLS_SET, type: 'hash:net', family: 'inet', members: netMembers(v4) },
      { name: MASQ_POOLS_SET, type: 'hash:net', family: 'inet', members: netMembers(masq) },
    ],
  };
}
