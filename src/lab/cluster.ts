/**
 * A real cluster in the lab: hosts running `tabby daemon`, one datastore
 * (the embedded directory, or a real etcd in the fabric namespace), the
 * resources of the chosen topology, BIRD top-of-rack routers when asked,
 * and workloads attached through the CNI plugin exactly as a runtime
 * attaches them (bin/tabby with CNI_* variables and the network config on
 * stdin). Used by `tabby lab up`, by the e2e tests and by the benchmark.
 *
 * Topologies (Calico's three):
 *   mesh  N hosts, node-to-node mesh (BGPConfiguration default);
 *   rr    mesh off, host1 and host2 route reflectors (cluster id 244.0.0.1,
 *         label route-reflector=true), every node peers with them through one
 *         BGPPeer with a peerSelector (Calico's "Configure a route
 *         reflector" recipe);
 *   tor   mesh off, two racks, each with a BIRD ToR in its own namespace on
 *         the fabric; an AS per rack (65001, 65002) on the Nodes, eBGP to the
 *         rack's ToR (AS 65101/65102), the ToRs eBGP to each other.
 *
 * Order of `build`: datastore, resources (pool, topology, sample policy),
 * Nodes with their labels/AS (so a daemon never starts with a half-made
 * topology), ToRs, daemons, sessions Established everywhere, workloads,
 * a route to every remote block on every host. Every wait is bounded.
 *
 * Day-2 helpers for the e2e tests: joinNode / removeNode, killDaemon /
 * restartDaemon, stopEtcd / startEtcd, addWorkloadTimed (when a new
 * workload answers every host), Lab.startPing (loss counts), routes /
 * blockRoutes / expectedBlockRoutes (each host's `ip route show proto N`).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { loadNodeConfig } from '../config/node-config.js';
import { addNetworkList, delNetworkList, type NetworkConfigList } from '../cni/runtime.js';
import { parseResources, resourceKey, type Node } from '../datastore/resources/index.js';
import { openStore, type Store, type StoreConfig } from '../datastore/store/index.js';
import { Ipam } from '../ipam/ipam.js';
import { storePoolSource } from '../ipam/pool-source.js';
import { callControl } from '../node/control.js';
import { run, runOk } from './exec.js';
import { startLabEtcd, type LabEtcd } from './etcd.js';
import type { Lab, LabHost, LabWorkload } from './lab.js';
import { createNetns, deleteNetns } from './netns.js';
import { firstReplyMs, mapLimit, probeMatrix, type MatrixCell, type ProbeSpec } from './probe.js';
import type { ManagedProcess } from './process.js';
import { waitFor } from './wait.js';

export type Topology = 'mesh' | 'rr' | 'tor';
export type Encap = 'none' | 'vxlan' | 'ipip';

export interface ClusterOptions {
  /** Nodes running tabby daemon (rr: at least 6, the first 2 reflect; tor: at least 4, split over 2 racks). */
  hosts: number;
  workloadsPerHost: number;
  topology: Topology;
  encap: Encap;
  datastore: 'embedded' | 'etcd';
  /** Log level of the daemons (their logs go to the lab's log directory). */
  logLevel?: string;
  /** Kubernetes namespaces the workloads are spread over, host by host (default prod, dev). */
  namespaces?: string[];
  /** Apply SAMPLE_POLICY (default true). */
  samplePolicy?: boolean;
  /** Bound of each wait of build (sessions, routes); default 90 s. */
  waitTimeoutMs?: number;
}

export interface ClusterHost {
  name: string;
  netns: string;
  address: string;
  config: string;
  socket: string;
  role: 'node' | 'route-reflector' | 'tor';
  rack?: string;
  asNumber?: number;
}

export interface ClusterWorkload {
  name: string;
  namespace: string;
  netns: string;
  host: string;
  ip: string;
  labels: Record<string, string>;
  hostIface: string;
  containerId: string;
}

export interface PeerRow {
  address: string;
  asNumber: number;
  type: string;
  state: string;
}

/** One line of `ip -j route show proto N`. */
export interface KernelRoute {
  dst: string;
  type?: string;
  gateway?: string;
  dev?: string;
  scope?: string;
  flags?: string[];
  nexthops?: { gateway?: string; dev?: string }[];
}

/** What addWorkloadTimed measured. */
export interface WorkloadTiming {
  workload: ClusterWorkload;
  /** The CNI ADD (plugin process included). */
  addMs: number;
  /** From the end of ADD until the first reply to a ping stream from each node's namespace. */
  reachMs: Record<string, number>;
  /** The slowest of reachMs: reachable from every host. */
  allMs: number;
}

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const TABBY_BIN = join(REPO, 'bin', 'tabby');
const CNI_PATH = [join(REPO, 'bin'), '/usr/lib/cni'];
const NETWORK = 'k8s-pod-network';
export const POOL_CIDR = '10.65.0.0/16';
export const RR_CLUSTER_ID = '244.0.0.1';
export const RACKS = [
  { name: 'a', as: 65001, torAs: 65101 },
  { name: 'b', as: 65002, torAs: 65102 },
] as const;
type Rack = (typeof RACKS)[number];
const VXLAN_DEVICE = 'vxlan.tabby';

/** The sample policy: in namespace prod, backends take traffic only from frontends. */
export const SAMPLE_POLICY = `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: { name: backend-from-frontend, namespace: prod }
spec:
  selector: app == 'backend'
  types: [Ingress]
  ingress:
    - action: Allow
      source: { selector: app == 'frontend' }
`;

/** The sample policy's verdict: a prod backend answers only prod frontends; everything else is open. */
export function expectedReachable(from: { labels: Record<string, string>; namespace: string }, to: { labels: Record<string, string>; namespace: string }): boolean {
  if (to.namespace === 'prod' && to.labels.app === 'backend') return from.namespace === 'prod' && from.labels.app === 'frontend';
  return true;
}

export function poolYaml(encap: Encap, cidr = POOL_CIDR, name = 'default-ipv4'): string {
  return `apiVersion: projectcalico.org/v3
kind: IPPool
metadata: { name: ${name} }
spec: { cidr: ${cidr}, blockSize: 26, ipipMode: ${encap === 'ipip' ? 'Always' : 'Never'}, vxlanMode: ${encap === 'vxlan' ? 'Always' : 'Never'}, natOutgoing: false }
`;
}

function topologyYaml(topology: Topology, tors: { address: string; rack: Rack }[]): string {
  if (topology === 'mesh') return '';
  const out = ['apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: { name: default }\nspec: { nodeToNodeMeshEnabled: false }\n'];
  if (topology === 'rr') {
    out.push("apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: { name: peer-with-route-reflectors }\nspec: { nodeSelector: all(), peerSelector: route-reflector == 'true' }\n");
  } else {
    for (const t of tors) {
      out.push(`apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: { name: tor-${t.rack.name} }\nspec: { nodeSelector: rack == '${t.rack.name}', peerIP: ${t.address}, asNumber: ${t.rack.torAs}, numAllowedLocalASNumbers: 1 }\n`);
    }
  }
  return out.join('---\n');
}

/** A BIRD 2 config for a ToR: eBGP to its rack's nodes and the other ToR, routes into its kernel so it forwards. */
export function torBirdConfig(routerId: string, as: number, peers: { name: string; address: string; as: number }[]): string {
  return `router id ${routerId};
log stderr all;
protocol device {}
protocol kernel { ipv4 { export all; }; merge paths on; }
${peers
  .map(
    (p) => `protocol bgp ${p.name} {
  local as ${as};
  neighbor ${p.address} as ${p.as};
  hold time 9;
  connect retry time 1;
  error wait time 1, 5;
  graceful restart on;
  ipv4 { import all; export all; };
}`,
  )
  .join('\n')}
`;
}

interface Tor {
  host: LabHost;
  rack: Rack;
  address: string;
  socket: string;
  configFile: string;
}

export class Cluster {
  readonly hosts: ClusterHost[] = [];
  readonly workloads: ClusterWorkload[] = [];
  readonly daemons = new Map<string, ManagedProcess>();
  etcd: LabEtcd | undefined;
  store!: Store;
  storeConfigInLab!: StoreConfig;
  storeConfigFromRoot!: StoreConfig;
  private tors: Tor[] = [];
  private readonly cniResults = new Map<string, unknown>();
  private nodeSeq = 0;

  private constructor(
    readonly lab: Lab,
    readonly opts: ClusterOptions,
  ) {}

  /** Build the whole cluster: datastore, resources, hosts, daemons, sessions up, workloads attached, routes in. */
  static async build(lab: Lab, opts: ClusterOptions): Promise<Cluster> {
    const c = new Cluster(lab, opts);
    try {
      await c.buildSteps();
    } catch (err) {
      // The lab (namespaces, processes) is the caller's to destroy; what lives outside it is ours.
      await c.close();
      c.etcd?.stopBridge();
      throw err;
    }
    return c;
  }

  private async buildSteps(): Promise<void> {
    const opts = this.opts;
    const wait = opts.waitTimeoutMs ?? 90_000;
    await this.openDatastore();
    const tors = opts.topology === 'tor' ? await this.addTors() : [];
    await this.applyYaml([poolYaml(opts.encap), topologyYaml(opts.topology, tors), opts.samplePolicy === false ? '' : SAMPLE_POLICY].filter(Boolean).join('---\n'));
    // rr: two reflectors and at least four clients; tor: two racks of at least two.
    const count = opts.topology === 'rr' ? Math.max(opts.hosts, 6) : opts.topology === 'tor' ? Math.max(opts.hosts, 4) : opts.hosts;
    for (let i = 1; i <= count; i++) {
      const rack = opts.topology === 'tor' ? RACKS[i <= Math.ceil(count / 2) ? 0 : 1] : undefined;
      await this.addNode(`host${i}`, i, rack ? { rack } : {});
    }
    if (opts.topology === 'tor') await this.startTors();
    for (const h of this.nodes()) this.startDaemon(h);
    await this.waitSessions(wait);
    await this.attachWorkloads();
    await this.waitRoutes(wait);
  }

  private async openDatastore(): Promise<void> {
    if (this.opts.datastore === 'etcd') {
      this.etcd = await startLabEtcd(this.lab);
      this.storeConfigInLab = { type: 'etcd', endpoints: [this.etcd.endpointInLab], prefix: '/tabby/v1/' };
      this.storeConfigFromRoot = { type: 'etcd', endpoints: [this.etcd.endpointFromRoot], prefix: '/tabby/v1/' };
    } else {
      this.storeConfigInLab = { type: 'embedded', path: join(this.lab.dir, 'datastore') };
      this.storeConfigFromRoot = this.storeConfigInLab;
    }
    this.store = await openStore(this.storeConfigFromRoot);
  }

  /** Validate resources (all of them first, as `tabby apply` does) and store them. */
  async applyYaml(text: string): Promise<void> {
    const r = parseResources(text, 'lab resources');
    if (r.problems.length) throw new Error(`lab resources are invalid: ${r.problems.map((p) => p.message).join('; ')}`);
    for (const res of r.resources) await this.store.put(resourceKey(res), res);
  }

  private async addTors(): Promise<Tor[]> {
    for (const rack of RACKS) {
      const host = await this.lab.addHost(`tor${rack.name}`);
      this.tors.push({ host, rack, address: host.address, socket: join(this.lab.dir, host.name, 'bird.ctl'), configFile: '' });
      this.hosts.push({ name: host.name, netns: host.netns, address: host.address, config: '', socket: '', role: 'tor', rack: rack.name, asNumber: rack.torAs });
    }
    return this.tors;
  }

  private torConfig(t: Tor): string {
    const other = this.tors.find((x) => x !== t)!;
    const nodes = this.nodes().filter((h) => h.rack === t.rack.name);
    return torBirdConfig(t.address, t.rack.torAs, [
      ...nodes.map((n) => ({ name: `node_${n.name}`, address: n.address, as: t.rack.as })),
      { name: 'other_tor', address: other.address, as: other.rack.torAs },
    ]);
  }

  private async startTors(): Promise<void> {
    for (const t of this.tors) {
      t.configFile = this.lab.writeFile(`${t.host.name}/bird.conf`, this.torConfig(t));
      const proc = this.lab.startProcess(t.host.netns, `bird-${t.host.name}`, 'bird', ['-f', '-c', t.configFile, '-s', t.socket]);
      await waitFor(`BIRD on ${t.host.name}`, async () => {
        if (!proc.alive) throw new Error(`bird exited: ${proc.logTail(10)}`);
        return (await run('birdc', ['-s', t.socket, 'show', 'status'], { timeoutMs: 5000 })).code === 0;
      }, { timeoutMs: 15_000 });
    }
  }

  /** Rewrite a ToR's config for the current nodes of its rack and make BIRD reload it. */
  private async reconfigureTor(rack: string): Promise<void> {
    const t = this.tors.find((x) => x.rack.name === rack);
    if (!t) return;
    this.lab.writeFile(`${t.host.name}/bird.conf`, this.torConfig(t));
    const out = await runOk('birdc', ['-s', t.socket, 'configure'], { timeoutMs: 10_000 });
    if (!/Reconfigured|Reconfiguration in progress|Reconfiguration already in progress/.test(out)) throw new Error(`BIRD on ${t.host.name} did not take its new config: ${out}`);
  }

  /**
   * A lab host with a node config, its Node resource (labels; for rr the
   * reflector label, for tor the rack label and the rack's AS) stored before
   * its daemon starts. The role follows the topology: rr's first two nodes
   * reflect; tor nodes go to `opts.rack` (else the rack with fewer nodes).
   */
  async addNode(name: string, index: number, opts: { rack?: Rack; role?: ClusterHost['role'] } = {}): Promise<ClusterHost> {
    this.nodeSeq = Math.max(this.nodeSeq, index);
    const host = await this.lab.addHost(name);
    const role: ClusterHost['role'] = opts.role ?? (this.opts.topology === 'rr' && index <= 2 ? 'route-reflector' : 'node');
    const rack = this.opts.topology === 'tor' ? (opts.rack ?? this.smallerRack()) : undefined;
    const labels: Record<string, string> = { 'kubernetes.io/hostname': name };
    if (role === 'route-reflector') labels['route-reflector'] = 'true';
    if (rack) labels.rack = rack.name;
    const spec = rack ? `{ bgp: { asNumber: ${rack.as} } }` : '{}';
    await this.applyYaml(`apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: { name: ${name}, labels: ${JSON.stringify(labels)} }\nspec: ${spec}\n`);
    const socket = join(this.lab.dir, `${name}.sock`);
    const ds = this.storeConfigInLab.type === 'embedded' ? { type: 'embedded', path: this.storeConfigInLab.path } : { type: 'etcd', endpoints: this.storeConfigInLab.endpoints, prefix: '/tabby/v1', dialTimeout: 2 };
    const cfg = {
      nodeName: name,
      address: `${host.address}/24`,
      interface: 'eth0',
      ...(role === 'route-reflector' ? { routeReflectorClusterID: RR_CLUSTER_ID } : {}),
      controlSocket: socket,
      secretsDir: join(this.lab.dir, 'secrets'),
      datastore: ds,
      log: { level: this.opts.logLevel ?? 'info', format: 'json' },
      metrics: { enabled: true, address: '127.0.0.1', port: 9091 },
      dataplane: { resyncInterval: 90, mtu: this.lab.mtu },
    };
    mkdirSync(join(this.lab.dir, name), { recursive: true });
    const config = this.lab.writeFile(`${name}/node.yaml`, `# node config of lab host ${name}, written by tabby lab up\n${stringify(cfg)}`);
    host.config = config;
    const h: ClusterHost = { name, netns: host.netns, address: host.address, config, socket, role, ...(rack ? { rack: rack.name, asNumber: rack.as } : {}) };
    this.hosts.push(h);
    return h;
  }

  private smallerRack(): Rack {
    const n = (r: Rack) => this.nodes().filter((h) => h.rack === r.name).length;
    return n(RACKS[1]) < n(RACKS[0]) ? RACKS[1] : RACKS[0];
  }

  startDaemon(h: ClusterHost): ManagedProcess {
    const p = this.lab.startProcess(h.netns, `daemon-${h.name}`, process.execPath, [TABBY_BIN, 'daemon', '--config', h.config]);
    this.daemons.set(h.name, p);
    return p;
  }

  /** The hosts running tabby daemon (not the ToRs). */
  nodes(): ClusterHost[] {
    return this.hosts.filter((h) => h.role !== 'tor');
  }

  host(name: string): ClusterHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no cluster host "${name}"`);
    return h;
  }

  workload(name: string): ClusterWorkload {
    const w = this.workloads.find((x) => x.name === name);
    if (!w) throw new Error(`no cluster workload "${name}"`);
    return w;
  }

  /** BIRD ToRs (topology tor): name, namespace, address, birdc socket. */
  torRouters(): { name: string; netns: string; address: string; rack: string; asNumber: number; socket: string }[] {
    return this.tors.map((t) => ({ name: t.host.name, netns: t.host.netns, address: t.address, rack: t.rack.name, asNumber: t.rack.torAs, socket: t.socket }));
  }

  async status(h: ClusterHost): Promise<{ bgp: { peers: PeerRow[] }; dataplane: unknown; datastore: { connected: boolean } }> {
    return callControl(h.socket, 'status', {}, 3000);
  }

  /** How many sessions each node should have in this topology. */
  expectedPeers(h: ClusterHost): number {
    const nodes = this.nodes();
    if (this.opts.topology === 'mesh') return nodes.length - 1;
    if (this.opts.topology === 'tor') return 1;
    const rrs = nodes.filter((n) => n.role === 'route-reflector');
    return h.role === 'route-reflector' ? nodes.length - 1 : rrs.length;
  }

  /** Until every node (or the given ones) has exactly its expected sessions, all Established (bounded). */
  async waitSessions(timeoutMs = 90_000, hosts: ClusterHost[] = this.nodes()): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const h of hosts) {
      await waitFor(`${h.name}: ${this.expectedPeers(h)} BGP sessions Established`, async () => {
        const p = this.daemons.get(h.name);
        if (p && !p.alive) throw new Error(`tabby daemon on ${h.name} exited: ${p.logTail(15)}`);
        const st = await this.status(h);
        const n = this.expectedPeers(h);
        const up = st.bgp.peers.filter((x) => x.state === 'Established').length;
        return (st.bgp.peers.length === n && up === n) || { notYet: `${up}/${st.bgp.peers.length} Established, want ${n}: ${st.bgp.peers.map((x) => `${x.address} ${x.state}`).join(', ')}` };
      }, { timeoutMs: Math.max(1000, deadline - Date.now()), intervalMs: 250 });
    }
  }

  /** The route protocol a host's daemon tags its routes with (node config dataplane.routeProtocol). */
  routeProtocol(h: ClusterHost): number {
    return loadNodeConfig(h.config).dataplane.routeProtocol;
  }

  /** A host's tabby routes: `ip -j route show proto <its routeProtocol>`. */
  async routes(h: ClusterHost): Promise<KernelRoute[]> {
    const out = await runOk('ip', ['-j', 'route', 'show', 'proto', String(this.routeProtocol(h))], { ns: h.netns });
    return JSON.parse(out || '[]') as KernelRoute[];
  }

  /** Every node's tabby routes, by host name. */
  async allRoutes(): Promise<Map<string, KernelRoute[]>> {
    const nodes = this.nodes();
    const rs = await Promise.all(nodes.map((h) => this.routes(h)));
    return new Map(nodes.map((h, i) => [h.name, rs[i]!]));
  }

  /**
   * A host's block routes (workload /32s left out), one sorted line each:
   * `blackhole CIDR`, `CIDR via GW` (ECMP: `via GW1,GW2`), with ` dev D` when
   * the device is not the uplink eth0 (VXLAN).
   */
  async blockRoutes(h: ClusterHost): Promise<string[]> {
    const lines: string[] = [];
    for (const r of await this.routes(h)) {
      if (r.type === 'blackhole') lines.push(`blackhole ${r.dst}`);
      else if (r.gateway) lines.push(`${r.dst} via ${r.gateway}${r.dev && r.dev !== 'eth0' ? ` dev ${r.dev}` : ''}`);
      else if (r.nexthops) lines.push(`${r.dst} via ${r.nexthops.map((n) => n.gateway).sort().join(',')}`);
    }
    return lines.sort();
  }

  /** Each node's affine blocks (IPAM: confirmed affinities whose block names the node). */
  async blocksByNode(): Promise<Map<string, string[]>> {
    const ipam = new Ipam({ store: this.store, pools: storePoolSource(this.store) });
    const out = new Map<string, string[]>();
    for (const h of this.nodes()) out.set(h.name, await ipam.blocksOfNode(h.name));
    return out;
  }

  /**
   * The block routes every node must have, in blockRoutes' shape: its own
   * blocks as blackholes, every other node's blocks via that node (mesh and
   * rr without encapsulation: the reflected next hop is the origin; VXLAN:
   * via the other node's tunnel address on vxlan.tabby). Not defined for tor
   * (the next hop of routes learned from a ToR is BIRD's choice) nor ipip.
   */
  async expectedBlockRoutes(): Promise<Map<string, string[]>> {
    if (this.opts.topology === 'tor' || this.opts.encap === 'ipip') throw new Error(`expectedBlockRoutes: not defined for topology ${this.opts.topology}, encapsulation ${this.opts.encap}`);
    const blocks = await this.blocksByNode();
    const via = new Map<string, string>();
    for (const h of this.nodes()) {
      if (this.opts.encap === 'vxlan') {
        const n = (await this.store.get<Node>({ kind: 'Node', name: h.name }))?.value;
        const tunnel = n?.spec.ipv4VXLANTunnelAddr;
        via.set(h.name, tunnel ? `via ${tunnel} dev ${VXLAN_DEVICE}` : `via (no VXLAN tunnel address for ${h.name} yet)`);
      } else via.set(h.name, `via ${h.address}`);
    }
    const out = new Map<string, string[]>();
    for (const h of this.nodes()) {
      const lines: string[] = [];
      for (const o of this.nodes()) {
        for (const b of blocks.get(o.name) ?? []) lines.push(o === h ? `blackhole ${b}` : `${b} ${via.get(o.name)}`);
      }
      out.set(h.name, lines.sort());
    }
    return out;
  }

  /** Until every node's block routes are exactly expectedBlockRoutes() (bounded). */
  async waitBlockRoutesExact(timeoutMs = 60_000): Promise<void> {
    await waitFor('every node has exactly the expected block routes', async () => {
      const want = await this.expectedBlockRoutes();
      for (const h of this.nodes()) {
        const have = await this.blockRoutes(h);
        const w = want.get(h.name) ?? [];
        if (JSON.stringify(have) !== JSON.stringify(w)) return { notYet: `${h.name}: have [${have.join('; ')}], want [${w.join('; ')}]` };
      }
      return true;
    }, { timeoutMs, intervalMs: 200 });
  }

  /** Until every node has a tabby route to every other node's block (bounded). */
  async waitRoutes(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const blocks = await this.blocksByNode();
    for (const h of this.nodes()) {
      const want = [...blocks].filter(([n]) => n !== h.name).flatMap(([, cidrs]) => cidrs);
      await waitFor(`${h.name}: routes to every other node's block`, async () => {
        const have = new Set((await this.routes(h)).map((x) => x.dst));
        const missing = want.filter((c) => !have.has(c));
        return missing.length === 0 || { notYet: `missing ${missing.join(', ')}` };
      }, { timeoutMs: Math.max(1000, deadline - Date.now()), intervalMs: 200 });
    }
  }

  /** Until no node (or none of `hosts`) has a tabby route to any of `cidrs` (bounded). */
  async waitRoutesGone(cidrs: string[], timeoutMs = 60_000, hosts: ClusterHost[] = this.nodes()): Promise<void> {
    const gone = new Set(cidrs);
    const deadline = Date.now() + timeoutMs;
    for (const h of hosts) {
      await waitFor(`${h.name}: no route to ${cidrs.join(', ')}`, async () => {
        const left = (await this.routes(h)).filter((r) => gone.has(r.dst)).map((r) => r.dst);
        return left.length === 0 || { notYet: `still routes ${left.join(', ')}` };
      }, { timeoutMs: Math.max(1000, deadline - Date.now()), intervalMs: 200 });
    }
  }

  /** W workloads per node: app frontend/backend alternating; namespaces taken in turn, host by host (default prod, dev). */
  private async attachWorkloads(): Promise<void> {
    const namespaces = this.opts.namespaces?.length ? this.opts.namespaces : ['prod', 'dev'];
    const jobs: { host: ClusterHost; name: string; namespace: string; labels: Record<string, string> }[] = [];
    this.nodes().forEach((h, i) => {
      for (let j = 1; j <= this.opts.workloadsPerHost; j++) {
        const app = j % 2 === 1 ? 'frontend' : 'backend';
        jobs.push({ host: h, name: `h${i + 1}-${app}-${Math.ceil(j / 2)}`, namespace: namespaces[i % namespaces.length]!, labels: { app } });
      }
    });
    await mapLimit(jobs, 3, (j) => this.addWorkload(j.host, j.name, j.namespace, j.labels));
    // Attached 3 at a time: keep the list in the order of the jobs (hosts, then apps).
    const order = new Map(jobs.map((j, i) => [j.name, i]));
    this.workloads.sort((a, b) => (order.get(a.name) ?? Infinity) - (order.get(b.name) ?? Infinity));
  }

  private networkList(h: ClusterHost, labels: Record<string, string>): NetworkConfigList {
    return { cniVersion: '1.0.0', name: NETWORK, plugins: [{ type: 'tabby', nodeConfig: h.config, args: { tabby: { labels } } }] };
  }

  /** CNI ADD of one pod on `h` (a fresh container netns) through bin/tabby, as a runtime does it. No echo server. */
  async attach(h: ClusterHost, name: string, namespace: string, labels: Record<string, string>): Promise<ClusterWorkload> {
    const netns = `${this.lab.prefix}-w-${name}`;
    await createNetns(netns);
    const containerId = `lab-${name}`;
    let res: { ips: { address: string }[]; interfaces: { name: string }[] };
    try {
      const r = await addNetworkList(this.networkList(h, labels), { containerId, netns: `/run/netns/${netns}`, ifname: 'eth0', args: { K8S_POD_NAMESPACE: namespace, K8S_POD_NAME: name } }, { path: CNI_PATH, hostNetns: h.netns, timeoutMs: 60_000 });
      res = r.result as typeof res;
      this.cniResults.set(name, r.result);
    } catch (err) {
      await deleteNetns([netns]);
      throw err;
    }
    const w: ClusterWorkload = { name, namespace, netns, host: h.name, ip: res.ips[0]!.address.split('/')[0]!, labels: { ...labels, 'projectcalico.org/namespace': namespace }, hostIface: res.interfaces[0]!.name, containerId };
    const lw: LabWorkload = { name, namespace, netns, host: h.name, ip: w.ip, labels: w.labels, hostIface: w.hostIface };
    this.lab.workloads.set(name, lw);
    this.workloads.push(w);
    return w;
  }

  /** CNI ADD of one pod on `h` (a fresh container netns), then an echo server inside it. */
  async addWorkload(h: ClusterHost, name: string, namespace: string, labels: Record<string, string>): Promise<ClusterWorkload> {
    const w = await this.attach(h, name, namespace, labels);
    await this.lab.startEcho(name);
    return w;
  }

  /**
   * Add a workload and measure when it answers a ping from every node's own
   * namespace (one 10 ms ping stream per node, started when ADD returns). The
   * sources are host addresses: choose a namespace/labels the policy lets
   * hosts reach (not a prod backend under the sample policy).
   */
  async addWorkloadTimed(h: ClusterHost, name: string, namespace: string, labels: Record<string, string>, limitMs = 30_000): Promise<WorkloadTiming> {
    const t0 = performance.now();
    const w = await this.attach(h, name, namespace, labels);
    const addMs = performance.now() - t0;
    const nodes = this.nodes();
    const ms = await Promise.all(nodes.map((n) => firstReplyMs(n.netns, w.ip, { intervalMs: 10, limitMs })));
    const reachMs = Object.fromEntries(nodes.map((n, i) => [n.name, ms[i]!]));
    await this.lab.startEcho(name);
    return { workload: w, addMs, reachMs, allMs: Math.max(...ms) };
  }

  /** CNI DEL of a workload (the plugin releases its address and WorkloadEndpoint), then its namespace is deleted. */
  async removeWorkload(name: string): Promise<void> {
    const w = this.workload(name);
    const h = this.host(w.host);
    await delNetworkList(this.networkList(h, {}), { containerId: w.containerId, netns: `/run/netns/${w.netns}`, ifname: 'eth0', args: { K8S_POD_NAMESPACE: w.namespace, K8S_POD_NAME: w.name } }, this.cniResults.get(name), { path: CNI_PATH, hostNetns: h.netns, timeoutMs: 60_000 });
    await this.lab.removeWorkload(name);
    this.workloads.splice(this.workloads.indexOf(w), 1);
    this.cniResults.delete(name);
  }

  /**
   * A node joins the running cluster: a new lab host `host<N>` (or `name`),
   * its Node and node config, the ToR told about it (tor), its daemon
   * started; then every node has its expected sessions and every node a
   * route to every other node's blocks (bounded). `workloads` pods are
   * attached to it (namespace dev, app frontend) once it is up.
   */
  async joinNode(opts: { name?: string; workloads?: number; timeoutMs?: number } = {}): Promise<ClusterHost> {
    const index = this.nodeSeq + 1;
    const h = await this.addNode(opts.name ?? `host${index}`, index, { role: 'node' });
    if (h.rack) await this.reconfigureTor(h.rack);
    this.startDaemon(h);
    await this.waitSessions(opts.timeoutMs ?? 60_000);
    for (let j = 1; j <= (opts.workloads ?? 0); j++) await this.addWorkload(h, `${h.name}-pod-${j}`, 'dev', { app: 'frontend' });
    await this.waitRoutes(opts.timeoutMs ?? 60_000);
    return h;
  }

  /**
   * A node leaves as an operator removes one: CNI DEL of its workloads, its
   * daemon stopped (SIGTERM: Cease to its peers), its Node deleted and its
   * block affinities released through IPAM, the ToR told (tor), its host
   * namespace deleted. Then (bounded) no other node routes its blocks.
   * Returns the blocks it had.
   */
  async removeNode(name: string, opts: { timeoutMs?: number } = {}): Promise<{ blocks: string[] }> {
    const h = this.host(name);
    if (h.role === 'tor') throw new Error(`${name} is a ToR, not a node`);
    const ipam = new Ipam({ store: this.store, pools: storePoolSource(this.store) });
    const blocks = await ipam.blocksOfNode(name);
    for (const w of this.workloads.filter((x) => x.host === name)) await this.removeWorkload(w.name);
    await this.stopDaemon(name);
    await this.store.delete({ kind: 'Node', name });
    await ipam.releaseNodeAffinities(name);
    this.hosts.splice(this.hosts.indexOf(h), 1);
    this.daemons.delete(name);
    if (h.rack) await this.reconfigureTor(h.rack);
    await this.lab.removeHost(name);
    await this.waitSessions(opts.timeoutMs ?? 60_000);
    await this.waitRoutesGone(blocks, opts.timeoutMs ?? 60_000);
    return { blocks };
  }

  private daemon(name: string): ManagedProcess {
    const p = this.daemons.get(name);
    if (!p) throw new Error(`no daemon on "${name}"`);
    return p;
  }

  /** kill -9 (or another signal) of one daemon, by PID; waits until it is gone. */
  async killDaemon(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.daemon(name);
    p.signalWith(signal);
    if (!(await p.waitExit(10_000))) throw new Error(`daemon on ${name} (pid ${p.pid}) still runs 10 s after ${signal}`);
  }

  /** SIGTERM of one daemon (it sends Cease to its peers), SIGKILL after 5 s. */
  async stopDaemon(name: string): Promise<void> {
    await this.daemon(name).stop(5000);
  }

  /** Start a node's daemon again (stopped first if it still runs); waits for every node's sessions (bounded). */
  async restartDaemon(name: string, timeoutMs = 60_000): Promise<ManagedProcess> {
    const h = this.host(name);
    const old = this.daemons.get(name);
    if (old?.alive) await old.stop(5000);
    const p = this.startDaemon(h);
    await this.waitSessions(timeoutMs);
    return p;
  }

  private needEtcd(): LabEtcd {
    if (!this.etcd) throw new Error('this cluster has no etcd (datastore embedded)');
    return this.etcd;
  }

  /** Stop etcd (SIGTERM by PID): the daemons lose their datastore until startEtcd(). */
  async stopEtcd(): Promise<void> {
    await this.needEtcd().stop();
  }

  /** Start etcd again on its data directory; resolves when it is healthy (bounded). */
  async startEtcd(): Promise<void> {
    await this.needEtcd().start();
  }

  /** Every ordered pair of workloads probed (real traffic). */
  async matrix(spec: ProbeSpec = { protocol: 'icmp' }): Promise<MatrixCell[]> {
    return probeMatrix(this.workloads.map((w) => ({ name: w.name, netns: w.netns, ip: w.ip })), spec);
  }

  /** Cells whose result differs from the sample policy's verdict (all reachable without the sample policy). */
  matrixViolations(cells: MatrixCell[]): string[] {
    const by = new Map(this.workloads.map((w) => [w.name, w]));
    const out: string[] = [];
    for (const c of cells) {
      const a = by.get(c.from);
      const b = by.get(c.to);
      if (!a || !b) continue;
      const want = this.opts.samplePolicy === false ? true : expectedReachable(a, b);
      if (want !== c.result.ok) out.push(`${c.from} -> ${c.to}: ${c.result.ok ? 'answered but the policy denies it' : `no answer (${c.result.error ?? 'failed'}) but it should`}`);
    }
    return out;
  }

  /** Close the builder's datastore client (the cluster keeps running: `tabby lab up`). */
  async close(): Promise<void> {
    await this.store?.close().catch(() => undefined);
  }

  /** Close the client, stop the etcd bridge and destroy the lab (processes by PID, namespaces). */
  async destroy(): Promise<void> {
    await this.close();
    this.etcd?.stopBridge();
    await this.lab.destroy();
  }
}
