/**
 * What the plugin does to the kernel for one attachment, as data: the `ip
 * -batch` lines for the container and the host side, the host sysctls, the
 * result it reports, and the comparison CHECK makes. Pure.
 *
 * Calico's shape (architecture.md, "What a host looks like"):
 *   host netns:  caliXXXXXXXXXXX  MAC ee:ee:ee:ee:ee:ee, up, no address,
 *                proxy_arp=1, neigh proxy_delay=0, forwarding=1;
 *                route <ip>/32 dev caliX scope link proto <routeProtocol>
 *   container:   CNI_IFNAME with <ip>/32, 169.254.1.1 dev CNI_IFNAME scope
 *                link, default via 169.254.1.1 (the host answers the ARP for
 *                it by proxy ARP); IPv6: <ip6>/128 and default via the host
 *                side's link-local fe80::ecee:eeff:feee:eeee (EUI-64 of
 *                ee:ee:ee:ee:ee:ee), which needs no proxy NDP.
 *
 * Two `ip -batch` processes do it all: the container one creates the pair
 * (peer moved straight into the host netns by a /proc path) and configures
 * the container side; the host one brings the host side up and adds the
 * routes. Sysctls are written between the two, so proxy ARP is on before
 * the link comes up.
 */
import type { ResultInterface, ResultIp, ResultRoute, SuccessResult } from './spec.js';

export const HOST_MAC = 'ee:ee:ee:ee:ee:ee';
export const GATEWAY_V4 = '169.254.1.1';
export const GATEWAY_V6 = 'fe80::ecee:eeff:feee:eeee';

export interface VethPlan {
  hostIface: string;
  ifname: string;
  /** CNI_NETNS. */
  netns: string;
  /** A path naming the host netns from inside the container netns (`/proc/<plugin pid>/ns/net`). */
  hostNetnsRef: string;
  containerMac: string;
  mtu: number;
  routeProtocol: number;
  /** Bare addresses. */
  ipv4: string[];
  ipv6: string[];
}

/** A random unicast, locally administered MAC (IEEE 802: bit 1 of the first octet set, bit 0 clear). */
export function randomMac(bytes: Uint8Array): string {
  if (bytes.length < 6) throw new Error('randomMac needs 6 random bytes');
  const b = Array.from(bytes.subarray(0, 6));
  b[0] = (b[0]! & 0xfc) | 0x02;
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Lines for `ip -batch` run inside the container netns. */
export function containerBatch(p: VethPlan): string[] {
  const lines = [
    `link add ${p.ifname} mtu ${p.mtu} address ${p.containerMac} type veth peer name ${p.hostIface} mtu ${p.mtu} address ${HOST_MAC} netns ${p.hostNetnsRef}`,
    `link set ${p.ifname} up`,
  ];
  for (const ip of p.ipv4) lines.push(`addr add ${ip}/32 dev ${p.ifname}`);
  if (p.ipv4.length > 0) {
    lines.push(`route add ${GATEWAY_V4} dev ${p.ifname} scope link`);
    lines.push(`route add 0.0.0.0/0 via ${GATEWAY_V4} dev ${p.ifname}`);
  }
  // nodad: the address is ours by IPAM; waiting for DAD would only delay the workload.
  for (const ip of p.ipv6) lines.push(`addr add ${ip}/128 dev ${p.ifname} nodad`);
  if (p.ipv6.length > 0) lines.push(`route add ::/0 via ${GATEWAY_V6} dev ${p.ifname}`);
  return lines;
}

/** Host sysctls for the host side, as paths under /proc/sys and values, written before it comes up. */
export function hostSysctls(p: Pick<VethPlan, 'hostIface' | 'ipv4' | 'ipv6'>): [string, string][] {
  const out: [string, string][] = [];
  if (p.ipv4.length > 0) {
    out.push([`net/ipv4/conf/${p.hostIface}/proxy_arp`, '1']);
    out.push([`net/ipv4/neigh/${p.hostIface}/proxy_delay`, '0']);
    out.push([`net/ipv4/conf/${p.hostIface}/forwarding`, '1']);
  }
  if (p.ipv6.length > 0) {
    // The host side needs its link-local address (the workload's gateway) and must not take RAs.
    out.push([`net/ipv6/conf/${p.hostIface}/disable_ipv6`, '0']);
    out.push([`net/ipv6/conf/${p.hostIface}/accept_ra`, '0']);
    // The same link-local address sits on every host side; DAD would only hold it tentative for a second.
    out.push([`net/ipv6/conf/${p.hostIface}/accept_dad`, '0']);
    out.push([`net/ipv6/conf/${p.hostIface}/forwarding`, '1']);
  }
  return out;
}

/** Lines for `ip -batch` in the host netns (the link must be up before a route can use it). */
export function hostBatch(p: VethPlan): string[] {
  const lines = [`link set ${p.hostIface} up`];
  for (const ip of p.ipv4) lines.push(`route replace ${ip}/32 dev ${p.hostIface} scope link proto ${p.routeProtocol}`);
  for (const ip of p.ipv6) lines.push(`route replace ${ip}/128 dev ${p.hostIface} proto ${p.routeProtocol}`);
  return lines;
}

export interface AttachmentFacts {
  hostIface: string;
  ifname: string;
  netns: string;
  containerMac: string;
  ipv4: string[];
  ipv6: string[];
}

/**
 * The Success result of this plugin's attachment (SPEC.md §5): the host and
 * container interfaces, the addresses on the container interface and the
 * default routes it created. With a `prevResult` (the plugin runs after
 * another interface plugin in a chain) its entries come first and ours are
 * appended, indexes adjusted.
 */
export function attachmentResult(f: AttachmentFacts, prev?: SuccessResult): SuccessResult {
  const base = prev?.interfaces.length ?? 0;
  const interfaces: ResultInterface[] = [
    { name: f.hostIface, mac: HOST_MAC },
    { name: f.ifname, mac: f.containerMac, sandbox: f.netns },
  ];
  const ips: ResultIp[] = [
    ...f.ipv4.map((ip) => ({ address: `${ip}/32`, interface: base + 1 })),
    ...f.ipv6.map((ip) => ({ address: `${ip}/128`, interface: base + 1 })),
  ];
  const routes: ResultRoute[] = [];
  if (f.ipv4.length > 0) routes.push({ dst: '0.0.0.0/0', gw: GATEWAY_V4 });
  if (f.ipv6.length > 0) routes.push({ dst: '::/0', gw: GATEWAY_V6 });
  const out: SuccessResult = {
    interfaces: [...(prev?.interfaces ?? []), ...interfaces],
    ips: [...(prev?.ips ?? []), ...ips],
    routes: [...(prev?.routes ?? []), ...routes],
  };
  if (prev?.dns) out.dns = prev.dns;
  return out;
}

/** Splits addresses (bare or CIDR) by family, dropping the prefix length. */
export function splitFamilies(addresses: readonly string[]): { ipv4: string[]; ipv6: string[] } {
  const ipv4: string[] = [];
  const ipv6: string[] = [];
  for (const a of addresses) {
    const bare = a.split('/')[0]!;
    (bare.includes(':') ? ipv6 : ipv4).push(bare);
  }
  return { ipv4, ipv6 };
}

// ---- what is there (read back with `ip -j`) and what should be ------------

export interface ObservedLink {
  ifname: string;
  flags: string[];
  mtu: number;
  address?: string;
  /** "veth" from `ip -d`, when known. */
  kind?: string;
}

export interface ObservedAddr {
  ifname: string;
  addresses: { local: string; prefixlen: number }[];
}

export interface ObservedRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
}

export interface ObservedNetns {
  links: ObservedLink[];
  addrs: ObservedAddr[];
  routes: ObservedRoute[];
}

export interface ObservedHost {
  link?: ObservedLink;
  /** Routes whose device is the host side. */
  routes: ObservedRoute[];
  /** /proc/sys values by the paths of hostSysctls. */
  sysctls: Record<string, string | undefined>;
}

export interface ExpectedAttachment {
  ifname: string;
  hostIface: string;
  /** When known (prevResult or WorkloadEndpoint). */
  containerMac?: string;
  ipv4: string[];
  ipv6: string[];
  routeProtocol: number;
}

function routeDst(r: ObservedRoute): string {
  return r.dst === 'default' ? 'default' : r.dst.replace(/\/(32|128)$/, '');
}

/**
 * Every way the kernel differs from the attachment: missing or down
 * interfaces, addresses, routes, host sysctls. Extra routes or addresses
 * are allowed (a later plugin of a chain may add some: SPEC.md §2 "CHECK").
 */
export function attachmentProblems(exp: ExpectedAttachment, c: ObservedNetns, h: ObservedHost): string[] {
  const problems: string[] = [];
  const link = c.links.find((l) => l.ifname === exp.ifname);
  if (!link) problems.push(`interface ${exp.ifname} is missing in the container`);
  else {
    if (!link.flags.includes('UP')) problems.push(`interface ${exp.ifname} in the container is down`);
    if (exp.containerMac && link.address?.toLowerCase() !== exp.containerMac.toLowerCase()) {
      problems.push(`interface ${exp.ifname} has MAC ${link.address ?? 'none'}, expected ${exp.containerMac}`);
    }
  }
  const addrs = new Set((c.addrs.find((a) => a.ifname === exp.ifname)?.addresses ?? []).map((a) => `${a.local}/${a.prefixlen}`));
  for (const ip of exp.ipv4) if (!addrs.has(`${ip}/32`)) problems.push(`address ${ip}/32 is missing on ${exp.ifname}`);
  for (const ip of exp.ipv6) if (!addrs.has(`${ip}/128`)) problems.push(`address ${ip}/128 is missing on ${exp.ifname}`);
  const onIf = c.routes.filter((r) => r.dev === exp.ifname);
  if (exp.ipv4.length > 0) {
    if (!onIf.some((r) => routeDst(r) === GATEWAY_V4 && r.gateway === undefined)) problems.push(`route ${GATEWAY_V4} dev ${exp.ifname} is missing in the container`);
    if (!onIf.some((r) => r.dst === 'default' && r.gateway === GATEWAY_V4)) problems.push(`default route via ${GATEWAY_V4} is missing in the container`);
  }
  if (exp.ipv6.length > 0 && !onIf.some((r) => r.dst === 'default' && r.gateway === GATEWAY_V6)) {
    problems.push(`default route via ${GATEWAY_V6} is missing in the container`);
  }

  if (!h.link) problems.push(`host interface ${exp.hostIface} is missing`);
  else {
    if (!h.link.flags.includes('UP')) problems.push(`host interface ${exp.hostIface} is down`);
    if (h.link.address?.toLowerCase() !== HOST_MAC) problems.push(`host interface ${exp.hostIface} has MAC ${h.link.address ?? 'none'}, expected ${HOST_MAC}`);
  }
  for (const ip of [...exp.ipv4, ...exp.ipv6]) {
    const r = h.routes.find((x) => routeDst(x) === ip);
    if (!r) problems.push(`host route to ${ip} via ${exp.hostIface} is missing`);
    else if (r.protocol !== String(exp.routeProtocol)) problems.push(`host route to ${ip} has protocol ${r.protocol ?? 'none'}, expected ${exp.routeProtocol}`);
  }
  if (h.link) {
    const want = hostSysctls(exp);
    for (const [path, value] of want) {
      const got = h.sysctls[path];
      if (got !== value) problems.push(`${path.replaceAll('/', '.')} is ${got ?? 'unreadable'}, expected ${value}`);
    }
  }
  return problems;
}
