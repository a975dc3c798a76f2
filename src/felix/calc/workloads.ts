/**
 * Local workloads to host-side plumbing (pure): for each WorkloadEndpoint of
 * this node, the interface to configure (Calico's shape, see
 * interfaces/model.ts) and a `/32 dev caliX scope link` route per address.
 *
 * Per endpoint the result depends on that endpoint alone
 * (`workloadPlumbing`), so the agent caches it per endpoint and an update
 * of one workload among thousands recomputes one entry; `assembleWorkloads`
 * then merges the cached entries, resolving clashes deterministically (by
 * endpoint key: the first key wins an interface or an address).
 *
 * IPv6 addresses are not programmed: tabby compiles IPv4 policy only, and a
 * routed IPv6 address without ip6tables policy would be an open door. They
 * are reported instead.
 */
import type { WorkloadEndpoint } from '../../datastore/resources/index.js';
import { isIPv4, isIPv6 } from '../../util/ip.js';
import type { WorkloadInterfaceSpec } from '../interfaces/model.js';
import type { RouteSpec } from '../routes/model.js';

/** Key of a WorkloadEndpoint: `<namespace>/<name>`. */
export function workloadKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function keyOfWorkload(w: WorkloadEndpoint): string {
  return workloadKey(w.metadata.namespace, w.metadata.name);
}

export interface WorkloadPlumbing {
  key: string;
  /** Host-side interface; undefined when the endpoint cannot be plumbed (see `problems`). */
  iface: string | undefined;
  spec: WorkloadInterfaceSpec;
  /** IPv4 addresses, canonical, sorted. */
  ipv4: readonly string[];
  problems: readonly string[];
}

const IFNAME = /^[^\s/:]{1,15}$/;

/** The plumbing of one local workload endpoint (pure). */
export function workloadPlumbing(w: WorkloadEndpoint, prefix: string): WorkloadPlumbing {
  const key = keyOfWorkload(w);
  const problems: string[] = [];
  const iface = w.spec.interfaceName;
  let usable: string | undefined = iface;
  if (!IFNAME.test(iface) || !iface.startsWith(prefix) || iface.length === prefix.length) {
    problems.push(`WorkloadEndpoint ${key}: interface "${iface}" is not a workload interface (prefix ${prefix}); not plumbed`);
    usable = undefined;
  }
  const ipv4 = new Set<string>();
  for (const net of w.spec.ipNetworks) {
    const addr = net.includes('/') ? net.slice(0, net.indexOf('/')) : net;
    const len = net.includes('/') ? net.slice(net.indexOf('/') + 1) : undefined;
    if (isIPv4(addr) && (len === undefined || len === '32')) ipv4.add(addr);
    else if (isIPv6(addr)) problems.push(`WorkloadEndpoint ${key}: IPv6 address ${net} not programmed (tabby enforces IPv4 policy only)`);
    else problems.push(`WorkloadEndpoint ${key}: ipNetworks entry "${net}" is not a single address; ignored`);
  }
  return { key, iface: usable, spec: { ipv4: true, ipv6: false }, ipv4: [...ipv4].sort(), problems };
}

export interface AssembledWorkloads {
  interfaces: Map<string, WorkloadInterfaceSpec>;
  /** `local-workload` routes. */
  routes: RouteSpec[];
  problems: string[];
}

/** Merge per-endpoint plumbing into the managers' input (pure, deterministic). */
export function assembleWorkloads(items: Iterable<WorkloadPlumbing>): AssembledWorkloads {
  const sorted = [...items].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const interfaces = new Map<string, WorkloadInterfaceSpec>();
  const ifaceOwner = new Map<string, string>();
  const ipOwner = new Map<string, string>();
  const routes: RouteSpec[] = [];
  const problems: string[] = [];
  for (const p of sorted) {
    problems.push(...p.problems);
    if (p.iface === undefined) continue;
    const owner = ifaceOwner.get(p.iface);
    if (owner !== undefined) {
      problems.push(`WorkloadEndpoint ${p.key}: interface ${p.iface} already belongs to ${owner}; not plumbed`);
      continue;
    }
    ifaceOwner.set(p.iface, p.key);
    interfaces.set(p.iface, p.spec);
    for (const ip of p.ipv4) {
      const other = ipOwner.get(ip);
      if (other !== undefined) {
        problems.push(`WorkloadEndpoint ${p.key}: address ${ip} is already routed to ${other}; no route for it`);
        continue;
      }
      ipOwner.set(ip, p.key);
      routes.push({ dst: `${ip}/32`, dev: p.iface });
    }
  }
  return { interfaces, routes, problems };
}
