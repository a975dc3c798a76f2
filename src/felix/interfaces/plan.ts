/**
 * From what one workload interface looks like to what must change (pure):
 * `ip -batch` lines for the link (MAC, MTU, addresses, up) and sysctl writes.
 *
 * Order matters for the MAC: the IPv6 link-local address is derived from the
 * MAC when the link comes up, so a MAC change on a link that is already up
 * with IPv6 takes the link down and up again (a "flap": the kernel drops
 * every route over it, which the route table must be told). On a link that
 * is down, or without IPv6, the MAC is changed in place.
 */
import type { ResolvedInterfaceSpec } from './model.js';
import type { IfAddress, LinkState } from './parse.js';

export interface ObservedInterface {
  /** Undefined: the interface does not exist. */
  link: LinkState | undefined;
  /** IPv4 addresses and non-link-local IPv6 addresses on it (there should be none). */
  addresses: IfAddress[];
  /** Current values of the spec's sysctls (absent: unreadable). */
  sysctls: ReadonlyMap<string, string>;
}

export type InterfaceChangeWhat = 'mac' | 'mtu' | 'up' | 'address' | 'sysctl';

export interface InterfaceChange {
  iface: string;
  what: InterfaceChangeWhat;
  /** The sysctl path or the address. */
  key?: string;
  from: string;
  to: string;
}

export interface InterfacePlan {
  linkLines: string[];
  sysctlWrites: Array<[string, string]>;
  changes: InterfaceChange[];
  /** The link ends up being brought up (it was down, or is flapped). */
  bringsUp: boolean;
  /** The link is taken down first (MAC change with IPv6). */
  flaps: boolean;
}

export function planInterface(spec: ResolvedInterfaceSpec, obs: ObservedInterface): InterfacePlan {
  const plan: InterfacePlan = { linkLines: [], sysctlWrites: [], changes: [], bringsUp: false, flaps: false };
  const link = obs.link;
  if (!link) return plan;
  const dev = spec.name;
  if (spec.mac !== undefined && link.mac !== spec.mac) {
    plan.changes.push({ iface: dev, what: 'mac', from: link.mac, to: spec.mac });
    if (link.up && spec.ipv6) {
      plan.flaps = true;
      plan.linkLines.push(`link set dev ${dev} down`);
    }
    plan.linkLines.push(`link set dev ${dev} address ${spec.mac}`);
  }
  if (link.mtu !== spec.mtu) {
    plan.changes.push({ iface: dev, what: 'mtu', from: String(link.mtu), to: String(spec.mtu) });
    plan.linkLines.push(`link set dev ${dev} mtu ${spec.mtu}`);
  }
  for (const a of obs.addresses) {
    const text = `${a.address}/${a.prefixLength}`;
    plan.changes.push({ iface: dev, what: 'address', key: text, from: 'present', to: 'absent' });
    plan.linkLines.push(`addr del ${text} dev ${dev}`);
  }
  if (!link.up) plan.changes.push({ iface: dev, what: 'up', from: 'down', to: 'up' });
  if (!link.up || plan.flaps) {
    plan.bringsUp = true;
    plan.linkLines.push(`link set dev ${dev} up`);
  }
  for (const [path, want] of spec.sysctls) {
    const have = obs.sysctls.get(path);
    if (have === want) continue;
    plan.changes.push({ iface: dev, what: 'sysctl', key: path, from: have ?? '(unreadable)', to: want });
    plan.sysctlWrites.push([path, want]);
  }
  return plan;
}

/** Host-wide sysctls to write (pure). */
export function planHostSysctls(want: ReadonlyMap<string, string>, have: ReadonlyMap<string, string>): { writes: Array<[string, string]>; changes: InterfaceChange[] } {
  const writes: Array<[string, string]> = [];
  const changes: InterfaceChange[] = [];
  for (const [path, v] of want) {
    const h = have.get(path);
    if (h === v) continue;
    writes.push([path, v]);
    changes.push({ iface: '(host)', what: 'sysctl', key: path, from: h ?? '(unreadable)', to: v });
  }
  return { writes, changes };
}
