/**
 * What a workload's host-side veth must look like (Calico's shape), as data.
 *
 * Per interface (Felix `endpoint_mgr.go` configureInterface, and the Calico
 * CNI plugin for the MAC):
 * - up, no IPv4 address, no IPv6 address except its link-local, MTU from
 *   config, MAC ee:ee:ee:ee:ee:ee (set before the link comes up, so its IPv6
 *   link-local is fe80::ecee:eeff:feee:eeee, the workload's IPv6 gateway);
 * - IPv4: proxy_arp=1 (answers the workload's ARP for 169.254.1.1),
 *   neigh proxy_delay=0 (answer at once, not after up to 0.8 s),
 *   forwarding=1, route_localnet=1 (NAT to the host itself), and rp_filter:
 *   Felix writes the value it read from net.ipv4.conf.default.rp_filter at
 *   start-up (strict, 1, when it cannot read it), and 0 for an endpoint
 *   allowed to send from other source prefixes (allowedSourcePrefixes) or in
 *   BPF mode. Calico < 3.20 wrote 1 unconditionally. Calico enforces its own
 *   RPF check in iptables (raw table, `-m rpfilter`), which is why it does not
 *   force strict mode here. `rpFilter` overrides this with a fixed value.
 * - IPv6 (when the workload has IPv6): proxy_ndp=1, forwarding=1;
 *   accept_ra=0 always, even without IPv6 (Felix: so a workload cannot
 *   configure the host's routes with router advertisements).
 * Host-wide: net.ipv4.ip_forward=1, and net.ipv6.conf.all.forwarding=1 when
 * IPv6 is in use (a new network namespace starts with both at 0). Writing
 * either also sets conf/<every interface>/forwarding to the same value (the
 * kernel propagates it), so host sysctls are written before per-interface
 * ones, and a host that had ip_forward turned off shows per-interface repairs.
 *
 * Sysctl names are kept as paths under /proc/sys ("net/ipv4/conf/X/..."),
 * never in dotted form, because an interface name may contain a dot.
 */

export const CALICO_HOST_MAC = 'ee:ee:ee:ee:ee:ee';

export type RpFilterSetting = 'inherit' | 0 | 1 | 2;

export interface WorkloadInterfaceSpec {
  /** The workload has IPv4 (default true). */
  ipv4?: boolean;
  /** The workload has IPv6 (default false). */
  ipv6?: boolean;
  /** Overrides the manager's MTU. */
  mtu?: number;
  /** The endpoint may send from addresses other than its own (rp_filter 0). */
  allowSpoofedSource?: boolean;
}

export interface ResolvedInterfaceSpec {
  name: string;
  ipv4: boolean;
  ipv6: boolean;
  mtu: number;
  /** Desired MAC, or undefined to leave it alone. */
  mac: string | undefined;
  sysctls: ReadonlyMap<string, string>;
}

export class InterfaceSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InterfaceSpecError';
  }
}

const IFNAME = /^[^\s/:]{1,15}$/;

/** Throws unless `name` is a valid interface name starting with `prefix`. */
export function checkWorkloadName(name: string, prefix: string): void {
  if (!IFNAME.test(name)) throw new InterfaceSpecError(`"${name}" is not a valid interface name (1-15 characters, no space, "/" or ":")`);
  if (!name.startsWith(prefix) || name.length === prefix.length) {
    throw new InterfaceSpecError(`"${name}" does not start with the workload prefix "${prefix}"; tabby never touches other interfaces`);
  }
}

export function sysctlPath(family: 4 | 6, kind: 'conf' | 'neigh', iface: string, key: string): string {
  return `net/ipv${family}/${kind}/${iface}/${key}`;
}

/** The sysctls of one workload interface (pure). `rpFilter` is already resolved. */
export function workloadSysctls(name: string, spec: { ipv4: boolean; ipv6: boolean; allowSpoofedSource?: boolean }, rpFilter: 0 | 1 | 2, routeLocalnet = true): Map<string, string> {
  const m = new Map<string, string>();
  if (spec.ipv4) {
    m.set(sysctlPath(4, 'conf', name, 'proxy_arp'), '1');
    m.set(sysctlPath(4, 'neigh', name, 'proxy_delay'), '0');
    m.set(sysctlPath(4, 'conf', name, 'forwarding'), '1');
    m.set(sysctlPath(4, 'conf', name, 'rp_filter'), String(spec.allowSpoofedSource ? 0 : rpFilter));
    if (routeLocalnet) m.set(sysctlPath(4, 'conf', name, 'route_localnet'), '1');
  }
  m.set(sysctlPath(6, 'conf', name, 'accept_ra'), '0');
  if (spec.ipv6) {
    m.set(sysctlPath(6, 'conf', name, 'proxy_ndp'), '1');
    m.set(sysctlPath(6, 'conf', name, 'forwarding'), '1');
  }
  return m;
}

/** Host-wide sysctls tabby owns. */
export function hostSysctls(ipv6: boolean): Map<string, string> {
  const m = new Map<string, string>([['net/ipv4/ip_forward', '1']]);
  if (ipv6) m.set('net/ipv6/conf/all/forwarding', '1');
  return m;
}

/** Sysctls whose absence is not an error (IPv6 may be disabled on the host, Felix only warns). */
export function isOptionalSysctl(path: string): boolean {
  return path.endsWith('/accept_ra');
}

export function normaliseMac(mac: string): string {
  const m = mac.trim().toLowerCase();
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(m)) throw new InterfaceSpecError(`"${mac}" is not a MAC address`);
  return m;
}
