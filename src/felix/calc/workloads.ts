/**
 * Local workloads to host-side plumbing (pure): for each WorkloadEndpoint of
 * this node, the interface to configure (Calico's shape, see
 * interfaces/model.ts) and a `/32 dev caliX scope link` route per IPv4
 * address, a `/128 dev caliX` route per IPv6 address (Calico: the host
 * routes each workload address to its veth; the workload reaches the host
 * through proxy ARP for 169.254.1.1 and, for IPv6, through the host side's
 * link-local address fe80::ecee:eeff:feee:eeee, which the MAC
 * ee:ee:ee:ee:ee:ee gives it; the CNI plugin writes that default route).
 *
 * Per endpoint the result depends on that endpoint alone
 * (`workloadPlumbing`), so the agent caches it per endpoint and an update
 * of one workload among thousands recomputes one entry; `assembleWorkloads`
 * merges entries, resolving clashes deterministically (by endpoint key: the
 * first key wins an interface or an address). `LocalWorkloads` keeps the
 * merged result and turns a few endpoint changes into a delta (the
 * interfaces and routes they touch) instead of merging everything again.
 *
 * IPv6 addresses are programmed only with `ipv6` on (the agent turns it on
 * together with ip6tables policy): a routed IPv6 address without ip6tables
 * policy would be an open door, so without it they are reported instead.
 */
import type { WorkloadEndpoint } from '../../datastore/resources/index.js';
import { isIPv4, isIPv6 } from '../../util/ip.js';
import type { WorkloadInterfaceSpec } from '../interfaces/model.js';
import { canonicalAddress } from '../routes/addr.js';
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
  /** IPv6 addresses, canonical, sorted (empty unless IPv6 is programmed). */
  ipv6: readonly string[];
  problems: readonly string[];
}

export interface PlumbingOptions {
  /** Program IPv6 addresses (/128 routes, IPv6 sysctls); default false: report them. */
  ipv6?: boolean;
}

const IFNAME = /^[^\s/:]{1,15}$/;

/** The plumbing of one local workload endpoint (pure). */
export function workloadPlumbing(w: WorkloadEndpoint, prefix: string, opts: PlumbingOptions = {}): WorkloadPlumbing {
  const key = keyOfWorkload(w);
  const problems: string[] = [];
  const iface = w.spec.interfaceName;
  let usable: string | undefined = iface;
  if (!IFNAME.test(iface) || !iface.startsWith(prefix) || iface.length === prefix.length) {
    problems.push(`WorkloadEndpoint ${key}: interface "${iface}" is not a workload interface (prefix ${prefix}); not plumbed`);
    usable = undefined;
  }
  const ipv4 = new Set<string>();
  const ipv6 = new Set<string>();
  for (const net of w.spec.ipNetworks) {
    const addr = net.includes('/') ? net.slice(0, net.indexOf('/')) : net;
    const len = net.includes('/') ? net.slice(net.indexOf('/') + 1) : undefined;
    if (isIPv4(addr) && (len === undefined || len === '32')) ipv4.add(addr);
    else if (isIPv6(addr) && (len === undefined || len === '128')) {
      if (opts.ipv6) ipv6.add(canonicalAddress(addr));
      else problems.push(`WorkloadEndpoint ${key}: IPv6 address ${net} not programmed (IPv6 is off in this agent)`);
    } else problems.push(`WorkloadEndpoint ${key}: ipNetworks entry "${net}" is not a single address; ignored`);
  }
  const v6 = [...ipv6].sort();
  return { key, iface: usable, spec: { ipv4: true, ipv6: v6.length > 0 }, ipv4: [...ipv4].sort(), ipv6: v6, problems };
}

export interface AssembledWorkloads {
  interfaces: Map<string, WorkloadInterfaceSpec>;
  /** `local-workload` routes. */
  routes: RouteSpec[];
  problems: string[];
}

function hostRoute(ip: string, dev: string): RouteSpec {
  return { dst: ip.includes(':') ? `${ip}/128` : `${ip}/32`, dev };
}

function addressesOf(p: WorkloadPlumbing): readonly string[] {
  return p.ipv6.length ? [...p.ipv4, ...p.ipv6] : p.ipv4;
}

function compareKeys(a: { key: string }, b: { key: string }): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

interface Assembly extends AssembledWorkloads {
  ifaceOwner: Map<string, string>;
  ipOwner: Map<string, string>;
  /** Clash problems by the key that lost. */
  clashes: Map<string, string[]>;
}

function assemble(items: Iterable<WorkloadPlumbing>): Assembly {
  const sorted = [...items].sort(compareKeys);
  const interfaces = new Map<string, WorkloadInterfaceSpec>();
  const ifaceOwner = new Map<string, string>();
  const ipOwner = new Map<string, string>();
  const clashes = new Map<string, string[]>();
  const routes: RouteSpec[] = [];
  const problems: string[] = [];
  const clash = (key: string, text: string) => {
    problems.push(text);
    (clashes.get(key) ?? clashes.set(key, []).get(key)!).push(text);
  };
  for (const p of sorted) {
    problems.push(...p.problems);
    if (p.iface === undefined) continue;
    const owner = ifaceOwner.get(p.iface);
    if (owner !== undefined) {
      clash(p.key, `WorkloadEndpoint ${p.key}: interface ${p.iface} already belongs to ${owner}; not plumbed`);
      continue;
    }
    ifaceOwner.set(p.iface, p.key);
    interfaces.set(p.iface, p.spec);
    for (const ip of addressesOf(p)) {
      const other = ipOwner.get(ip);
      if (other !== undefined) {
        clash(p.key, `WorkloadEndpoint ${p.key}: address ${ip} is already routed to ${other}; no route for it`);
        continue;
      }
      ipOwner.set(ip, p.key);
      routes.push(hostRoute(ip, p.iface));
    }
  }
  return { interfaces, routes, problems, ifaceOwner, ipOwner, clashes };
}

/** Merge per-endpoint plumbing into the managers' input (pure, deterministic). */
export function assembleWorkloads(items: Iterable<WorkloadPlumbing>): AssembledWorkloads {
  const a = assemble(items);
  return { interfaces: a.interfaces, routes: a.routes, problems: a.problems };
}

/** What a few endpoint changes do to the managers' input. */
export interface WorkloadDelta {
  interfacesSet: Array<[string, WorkloadInterfaceSpec]>;
  interfacesRemoved: string[];
  routesSet: RouteSpec[];
  /** Destinations (`ip/32`, `ip/128`) no longer routed. */
  routesRemoved: string[];
}

/**
 * The merged plumbing of every local workload, kept between passes.
 *
 * `reset` merges everything (start-up, a node change); `update` takes the
 * changed endpoints and returns a delta when none of the interfaces and
 * addresses they touch is claimed by another endpoint, before or after
 * (then nobody else's ownership can move: the delta is exactly the
 * difference of two full merges). Otherwise, or for large batches, it merges
 * everything again and says so (`undefined`).
 */
export class LocalWorkloads {
  private readonly items = new Map<string, WorkloadPlumbing>();
  /** Who claims each interface / address (endpoints with a usable interface). */
  private readonly ifaceClaims = new Map<string, Set<string>>();
  private readonly ipClaims = new Map<string, Set<string>>();
  private ifaceOwner = new Map<string, string>();
  private ipOwner = new Map<string, string>();
  private clashes = new Map<string, string[]>();
  private problemsCache: string[] | undefined;
  private v6 = 0;
  /** Where each routed address goes (owner key, interface), to tell when one is released. */
  private routed = new Map<string, { key: string; iface: string }>();
  private released: string[] = [];

  /** Local workloads by key. */
  get size(): number {
    return this.items.size;
  }

  /** Interfaces plumbed (one per endpoint that won its interface). */
  get plumbed(): number {
    return this.ifaceOwner.size;
  }

  /** Local endpoints with an IPv6 address to route. */
  get withIpv6(): number {
    return this.v6;
  }

  get(key: string): WorkloadPlumbing | undefined {
    return this.items.get(key);
  }

  /** Merge everything afresh. */
  reset(items: Iterable<WorkloadPlumbing>): AssembledWorkloads {
    this.items.clear();
    this.ifaceClaims.clear();
    this.ipClaims.clear();
    this.v6 = 0;
    for (const p of items) {
      this.items.set(p.key, p);
      this.claim(p, +1);
    }
    return this.reassemble();
  }

  /**
   * Apply changes (`undefined`: the endpoint is gone or not local any more).
   * Returns the delta, or a full assembly when a delta would not be exact.
   */
  update(changes: ReadonlyMap<string, WorkloadPlumbing | undefined>): { delta: WorkloadDelta } | { full: AssembledWorkloads } {
    const involvedIfaces = new Set<string>();
    const involvedIps = new Set<string>();
    const real = new Map<string, WorkloadPlumbing | undefined>();
    for (const [key, next] of changes) {
      const prev = this.items.get(key);
      if (prev === next || (prev && next && samePlumbing(prev, next)) || (!prev && !next)) continue;
      real.set(key, next);
      for (const p of [prev, next]) {
        if (!p || p.iface === undefined) continue;
        involvedIfaces.add(p.iface);
        for (const ip of addressesOf(p)) involvedIps.add(ip);
      }
    }
    if (real.size === 0) return { delta: { interfacesSet: [], interfacesRemoved: [], routesSet: [], routesRemoved: [] } };
    const clean = () => [...involvedIfaces].every((i) => (this.ifaceClaims.get(i)?.size ?? 0) <= 1) && [...involvedIps].every((i) => (this.ipClaims.get(i)?.size ?? 0) <= 1);
    let ok = real.size <= 64 && clean();
    for (const [key, next] of real) {
      const prev = this.items.get(key);
      if (prev) this.claim(prev, -1);
      if (next) {
        this.items.set(key, next);
        this.claim(next, +1);
      } else this.items.delete(key);
    }
    ok &&= clean();
    this.problemsCache = undefined;
    if (!ok) return { full: this.reassemble() };

    const delta: WorkloadDelta = { interfacesSet: [], interfacesRemoved: [], routesSet: [], routesRemoved: [] };
    for (const key of real.keys()) this.clashes.delete(key);
    for (const iface of [...involvedIfaces].sort()) {
      const owner = this.firstClaim(this.ifaceClaims.get(iface));
      if (owner === undefined) {
        if (this.ifaceOwner.delete(iface)) delta.interfacesRemoved.push(iface);
      } else {
        this.ifaceOwner.set(iface, owner);
        delta.interfacesSet.push([iface, this.items.get(owner)!.spec]);
      }
    }
    for (const ip of [...involvedIps].sort()) {
      const owner = this.firstClaim(this.ipClaims.get(ip));
      const dst = hostRoute(ip, '').dst;
      if (owner === undefined) {
        if (this.ipOwner.delete(ip)) delta.routesRemoved.push(dst);
      } else {
        this.ipOwner.set(ip, owner);
        delta.routesSet.push(hostRoute(ip, this.items.get(owner)!.iface!));
      }
      this.reroute(ip, owner === undefined ? undefined : { key: owner, iface: this.items.get(owner)!.iface! });
    }
    return { delta };
  }

  /**
   * Addresses no longer routed to the workload (and interface) they were
   * routed to, since the last call: removed, or moved to another endpoint or
   * interface. Their connection-tracking entries must go (conntrack/).
   */
  takeReleased(): string[] {
    const r = this.released;
    this.released = [];
    return r;
  }

  /** Every problem, in the order a full merge reports them (by endpoint key). */
  problems(): string[] {
    if (this.problemsCache) return this.problemsCache;
    const keys = new Set<string>(this.clashes.keys());
    for (const [k, p] of this.items) if (p.problems.length) keys.add(k);
    const out: string[] = [];
    for (const k of [...keys].sort()) out.push(...(this.items.get(k)?.problems ?? []), ...(this.clashes.get(k) ?? []));
    return (this.problemsCache = out);
  }

  private reroute(ip: string, to: { key: string; iface: string } | undefined): void {
    const was = this.routed.get(ip);
    if (was && (!to || was.key !== to.key || was.iface !== to.iface)) this.released.push(ip);
    if (to) this.routed.set(ip, to);
    else this.routed.delete(ip);
  }

  private reassemble(): AssembledWorkloads {
    const a = assemble(this.items.values());
    for (const ip of [...this.routed.keys()]) if (!a.ipOwner.has(ip)) this.reroute(ip, undefined);
    for (const [ip, key] of a.ipOwner) this.reroute(ip, { key, iface: this.items.get(key)!.iface! });
    this.ifaceOwner = a.ifaceOwner;
    this.ipOwner = a.ipOwner;
    this.clashes = a.clashes;
    this.problemsCache = a.problems;
    return { interfaces: a.interfaces, routes: a.routes, problems: a.problems };
  }

  private firstClaim(claims: Set<string> | undefined): string | undefined {
    if (!claims || claims.size === 0) return undefined;
    return claims.values().next().value as string;
  }

  private claim(p: WorkloadPlumbing, sign: 1 | -1): void {
    if (p.ipv6.length) this.v6 += sign;
    if (p.iface === undefined) return;
    const touch = (m: Map<string, Set<string>>, k: string) => {
      let s = m.get(k);
      if (sign > 0) {
        if (!s) m.set(k, (s = new Set()));
        s.add(p.key);
      } else if (s) {
        s.delete(p.key);
        if (s.size === 0) m.delete(k);
      }
    };
    touch(this.ifaceClaims, p.iface);
    for (const ip of addressesOf(p)) touch(this.ipClaims, ip);
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function samePlumbing(a: WorkloadPlumbing, b: WorkloadPlumbing): boolean {
  return (
    a.key === b.key &&
    a.iface === b.iface &&
    sameList(a.ipv4, b.ipv4) &&
    sameList(a.ipv6, b.ipv6) &&
    sameList(a.problems, b.problems) &&
    JSON.stringify(a.spec) === JSON.stringify(b.spec)
  );
}
