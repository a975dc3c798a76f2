/**
 * In-memory stand-ins for the plugin's ports: a kernel model (netns paths,
 * host links, container links, routes, sysctls), an IPAM and an endpoint
 * store, each recording its calls and able to fail on demand.
 */
import type { WorkloadEndpoint } from '../../../src/datastore/resources/endpoints.js';
import { StoreUnavailableError } from '../../../src/datastore/store/errors.js';
import { DataplaneError, type Dataplane } from '../../../src/cni/kernel.js';
import type { CniDeps } from '../../../src/cni/plugin.js';
import { GATEWAY_V4, GATEWAY_V6, HOST_MAC, hostSysctls, type ObservedHost, type ObservedNetns, type VethPlan } from '../../../src/cni/plumbing.js';
import type { AssignRequest, CniIpam, EndpointStore } from '../../../src/cni/ports.js';

interface ContainerLink {
  peer: string;
  mac: string;
  up: boolean;
  addrs: string[];
  routes: { dst: string; gateway?: string }[];
}

export class FakeDataplane implements Dataplane {
  readonly netns = new Set<string>();
  /** host link name -> [netns path, container ifname] of its peer */
  readonly hostLinks = new Map<string, { up: boolean; mac: string; peer?: [string, string] }>();
  readonly containers = new Map<string, Map<string, ContainerLink>>();
  readonly hostRoutes = new Map<string, { dev: string; protocol: string }>();
  readonly sysctls = new Map<string, string>();
  readonly calls: string[] = [];
  failSetUp: DataplaneError | undefined;

  private links(netns: string): Map<string, ContainerLink> {
    let m = this.containers.get(netns);
    if (!m) this.containers.set(netns, (m = new Map()));
    return m;
  }

  async netnsExists(path: string): Promise<boolean> {
    return this.netns.has(path);
  }

  async hostLinkExists(name: string): Promise<boolean> {
    return this.hostLinks.has(name);
  }

  async setUp(p: VethPlan): Promise<void> {
    this.calls.push(`setUp ${p.hostIface}`);
    if (this.failSetUp) {
      // Fail after the pair exists, as a real failure of a later batch line would.
      this.hostLinks.set(p.hostIface, { up: false, mac: HOST_MAC, peer: [p.netns, p.ifname] });
      this.links(p.netns).set(p.ifname, { peer: p.hostIface, mac: p.containerMac, up: false, addrs: [], routes: [] });
      throw this.failSetUp;
    }
    if (this.links(p.netns).has(p.ifname)) throw new DataplaneError('configure the container side', 'interface-exists', 'RTNETLINK answers: File exists');
    const routes: ContainerLink['routes'] = [];
    if (p.ipv4.length) routes.push({ dst: GATEWAY_V4 }, { dst: 'default', gateway: GATEWAY_V4 });
    if (p.ipv6.length) routes.push({ dst: 'default', gateway: GATEWAY_V6 });
    this.links(p.netns).set(p.ifname, {
      peer: p.hostIface,
      mac: p.containerMac,
      up: true,
      addrs: [...p.ipv4.map((ip) => `${ip}/32`), ...p.ipv6.map((ip) => `${ip}/128`)],
      routes,
    });
    this.hostLinks.set(p.hostIface, { up: true, mac: HOST_MAC, peer: [p.netns, p.ifname] });
    for (const [path, v] of hostSysctls(p)) this.sysctls.set(path, v);
    for (const ip of [...p.ipv4, ...p.ipv6]) this.hostRoutes.set(ip, { dev: p.hostIface, protocol: String(p.routeProtocol) });
  }

  private dropHost(name: string): void {
    this.hostLinks.delete(name);
    for (const [ip, r] of this.hostRoutes) if (r.dev === name) this.hostRoutes.delete(ip);
  }

  async deleteContainerLink(netns: string, ifname: string): Promise<boolean> {
    this.calls.push(`deleteContainerLink ${netns} ${ifname}`);
    const l = this.containers.get(netns)?.get(ifname);
    if (!l) return false;
    this.containers.get(netns)!.delete(ifname);
    this.dropHost(l.peer);
    return true;
  }

  async deleteHostLink(name: string): Promise<boolean> {
    this.calls.push(`deleteHostLink ${name}`);
    const l = this.hostLinks.get(name);
    if (!l) return false;
    if (l.peer) this.containers.get(l.peer[0])?.delete(l.peer[1]);
    this.dropHost(name);
    return true;
  }

  async observeContainer(netns: string): Promise<ObservedNetns> {
    const links = [...(this.containers.get(netns)?.entries() ?? [])];
    return {
      links: links.map(([ifname, l]) => ({ ifname, flags: l.up ? ['UP'] : [], mtu: 1440, address: l.mac })),
      addrs: links.map(([ifname, l]) => ({ ifname, addresses: l.addrs.map((a) => ({ local: a.split('/')[0]!, prefixlen: Number(a.split('/')[1]) })) })),
      routes: links.flatMap(([ifname, l]) => l.routes.map((r) => ({ ...r, dev: ifname }))),
    };
  }

  async observeHost(hostIface: string): Promise<ObservedHost> {
    const l = this.hostLinks.get(hostIface);
    if (!l) return { routes: [], sysctls: {} };
    const sysctls: Record<string, string | undefined> = {};
    for (const [k, v] of this.sysctls) if (k.includes(`/${hostIface}/`)) sysctls[k] = v;
    return {
      link: { ifname: hostIface, flags: l.up ? ['UP'] : [], mtu: 1440, address: l.mac },
      routes: [...this.hostRoutes].filter(([, r]) => r.dev === hostIface).map(([ip, r]) => ({ dst: ip, dev: r.dev, protocol: r.protocol })),
      sysctls,
    };
  }
}

export class FakeIpam implements CniIpam {
  readonly handles = new Map<string, string[]>();
  readonly calls: string[] = [];
  private next = 2;
  failAssign: Error | undefined;
  failRelease: Error | undefined;

  async assign(req: AssignRequest): Promise<{ ipv4: string[]; ipv6: string[] }> {
    this.calls.push(`assign ${req.handleId} v4=${req.num4} v6=${req.num6}`);
    if (this.failAssign) throw this.failAssign;
    const ipv4 = Array.from({ length: req.num4 }, () => `10.65.0.${this.next++}`);
    const ipv6 = Array.from({ length: req.num6 }, () => `fd00:65::${(this.next++).toString(16)}`);
    this.handles.set(req.handleId, [...(this.handles.get(req.handleId) ?? []), ...ipv4, ...ipv6]);
    return { ipv4, ipv6 };
  }

  async addressesOf(handleId: string): Promise<string[]> {
    return [...(this.handles.get(handleId) ?? [])];
  }

  async release(handleId: string): Promise<void> {
    this.calls.push(`release ${handleId}`);
    if (this.failRelease) throw this.failRelease;
    this.handles.delete(handleId);
  }
}

export class FakeEndpoints implements EndpointStore {
  readonly weps = new Map<string, WorkloadEndpoint>();
  readonly calls: string[] = [];
  failPut: Error | undefined;
  labels: Record<string, string> = {};

  async get(namespace: string, name: string): Promise<WorkloadEndpoint | undefined> {
    return this.weps.get(`${namespace}/${name}`);
  }

  async put(wep: WorkloadEndpoint): Promise<void> {
    this.calls.push(`put ${wep.metadata.namespace}/${wep.metadata.name}`);
    // A write whose reply was lost: it applied, the caller hears an error.
    this.weps.set(`${wep.metadata.namespace}/${wep.metadata.name}`, wep);
    if (this.failPut) throw this.failPut;
  }

  async deleteIfOwned(namespace: string, name: string, containerId: string): Promise<boolean> {
    this.calls.push(`deleteIfOwned ${namespace}/${name} ${containerId}`);
    const w = this.weps.get(`${namespace}/${name}`);
    if (!w || w.spec.containerID !== containerId) return false;
    this.weps.delete(`${namespace}/${name}`);
    return true;
  }

  async nodeLabels(): Promise<Record<string, string>> {
    return { ...this.labels };
  }
}

export interface Fakes {
  deps: CniDeps;
  dp: FakeDataplane;
  ipam: FakeIpam;
  endpoints: FakeEndpoints;
  logs: { level: string; event: string; fields: Record<string, unknown> }[];
}

export function fakes(): Fakes {
  const dp = new FakeDataplane();
  const ipam = new FakeIpam();
  const endpoints = new FakeEndpoints();
  const logs: Fakes['logs'] = [];
  let mac = 0;
  const deps: CniDeps = {
    node: 'node-1',
    mtu: 1440,
    routeProtocol: 80,
    ipam,
    endpoints,
    dataplane: dp,
    hostNetnsRef: '/proc/1/ns/net',
    randomMac: () => `02:00:00:00:00:${(++mac).toString(16).padStart(2, '0')}`,
    log: (level, event, fields) => logs.push({ level, event, fields }),
  };
  return { deps, dp, ipam, endpoints, logs };
}

export const unavailable = () => new StoreUnavailableError('cannot reach etcd at http://127.0.0.1:2379');
