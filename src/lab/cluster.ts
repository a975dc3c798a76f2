/**
 * A real cluster in the lab: hosts running `tabby daemon`, one datastore
 * (the embedded directory, or a real etcd in the fabric namespace), the
 * resources of the chosen topology, BIRD top-of-rack routers when asked,
 * and workloads attached through the CNI plugin exactly as a runtime
 * attaches them (bin/tabby with CNI_* variables and the network config on
 * stdin). Used by `tabby lab up` and by tests.
 *
 * Topologies (Calico's three):
 *   mesh  N hosts, node-to-node mesh (BGPConfiguration default);
 *   rr    mesh off, host1 and host2 route reflectors (cluster id 244.0.0.1,
 *         label route-reflector=true), every node peers with them through one
 *         BGPPeer with a peerSelector;
 *   tor   mesh off, two racks, each with a BIRD ToR in its own namespace on
 *         the fabric; an AS per rack (65001, 65002) on the Nodes, eBGP to the
 *         rack's ToR (AS 65101/65102), the ToRs eBGP to each other.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { addNetworkList } from '../cni/runtime.js';
import { parseResources, resourceKey } from '../datastore/resources/index.js';
import { openStore, type Store, type StoreConfig } from '../datastore/store/index.js';
import { callControl } from '../node/control.js';
import { run } from './exec.js';
import { startLabEtcd, type LabEtcd } from './etcd.js';
import type { Lab, LabHost, LabWorkload } from './lab.js';
import { createNetns } from './netns.js';
import { mapLimit } from './probe.js';
import type { ManagedProcess } from './process.js';
import { waitFor } from './wait.js';

export type Topology = 'mesh' | 'rr' | 'tor';
export type Encap = 'none' | 'vxlan' | 'ipip';

export interface ClusterOptions {
  hosts: number;
  workloadsPerHost: number;
  topology: Topology;
  encap: Encap;
  datastore: 'embedded' | 'etcd';
  /** Log level of the daemons (their logs go to the lab's log directory). */
  logLevel?: string;
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

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const TABBY_BIN = join(REPO, 'bin', 'tabby');
const CNI_PATH = [join(REPO, 'bin'), '/usr/lib/cni'];
const NETWORK = 'k8s-pod-network';
export const POOL_CIDR = '10.65.0.0/16';
const CLUSTER_ID = '244.0.0.1';
const RACKS = [
  { name: 'a', as: 65001, torAs: 65101 },
  { name: 'b', as: 65002, torAs: 65102 },
];

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

function poolYaml(encap: Encap): string {
  return `apiVersion: projectcalico.org/v3
kind: IPPool
metadata: { name: default-ipv4 }
spec: { cidr: ${POOL_CIDR}, blockSize: 26, ipipMode: ${encap === 'ipip' ? 'Always' : 'Never'}, vxlanMode: ${encap === 'vxlan' ? 'Always' : 'Never'}, natOutgoing: false }
`;
}

function topologyYaml(topology: Topology, tors: { address: string; rack: (typeof RACKS)[number] }[]): string {
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

export class Cluster {
  readonly hosts: ClusterHost[] = [];
  readonly workloads: ClusterWorkload[] = [];
  readonly daemons = new Map<string, ManagedProcess>();
  etcd: LabEtcd | undefined;
  store!: Store;
  storeConfigInLab!: StoreConfig;
  storeConfigFromRoot!: StoreConfig;

  private constructor(
    readonly lab: Lab,
    readonly opts: ClusterOptions,
  ) {}

  /** Build the whole cluster: datastore, resources, hosts, daemons, sessions up, workloads attached. */
  static async build(lab: Lab, opts: ClusterOptions): Promise<Cluster> {
    const c = new Cluster(lab, opts);
    await c.openDatastore();
    const tors = opts.topology === 'tor' ? await c.addTors() : [];
    await c.applyYaml([poolYaml(opts.encap), topologyYaml(opts.topology, tors), SAMPLE_POLICY].filter(Boolean).join('---\n'));
    // rr: two reflectors and at least four clients; tor: two racks of at least two.
    const count = opts.topology === 'rr' ? Math.max(opts.hosts, 6) : opts.topology === 'tor' ? Math.max(opts.hosts, 4) : opts.hosts;
    for (let i = 1; i <= count; i++) await c.addNode(`host${i}`, i);
    if (opts.topology === 'tor') await c.startTors(tors);
    for (const h of c.hosts.filter((x) => x.role !== 'tor')) c.startDaemon(h);
    await c.waitSessions();
    await c.attachWorkloads();
    await c.waitRoutes();
    return c;
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

  async applyYaml(text: string): Promise<void> {
    const r = parseResources(text, 'lab resources');
    if (r.problems.length) throw new Error(`lab resources are invalid: ${r.problems.map((p) => p.message).join('; ')}`);
    for (const res of r.resources) await this.store.put(resourceKey(res), res);
  }

  private async addTors(): Promise<{ host: LabHost; rack: (typeof RACKS)[number]; address: string }[]> {
    const out = [];
    for (const rack of RACKS) {
      const host = await this.lab.addHost(`tor${rack.name}`);
      out.push({ host, rack, address: host.address });
      this.hosts.push({ name: host.name, netns: host.netns, address: host.address, config: '', socket: '', role: 'tor', rack: rack.name, asNumber: rack.torAs });
    }
    return out;
  }

  private async startTors(tors: { host: LabHost; rack: (typeof RACKS)[number]; address: string }[]): Promise<void> {
    for (const t of tors) {
      const other = tors.find((x) => x !== t)!;
      const nodes = this.hosts.filter((h) => h.role !== 'tor' && h.rack === t.rack.name);
      const conf = torBirdConfig(t.address, t.rack.torAs, [
        ...nodes.map((n) => ({ name: `node_${n.name}`, address: n.address, as: t.rack.as })),
        { name: 'other_tor', address: other.address, as: other.rack.torAs },
      ]);
      const file = this.lab.writeFile(`${t.host.name}/bird.conf`, conf);
      const socket = join(this.lab.dir, t.host.name, 'bird.ctl');
      const proc = this.lab.startProcess(t.host.netns, `bird-${t.host.name}`, 'bird', ['-f', '-c', file, '-s', socket]);
      await waitFor(`BIRD on ${t.host.name}`, async () => {
        if (!proc.alive) throw new Error(`bird exited: ${proc.logTail(10)}`);
        return (await run('birdc', ['-s', socket, 'show', 'status'], { timeoutMs: 5000 })).code === 0;
      }, { timeoutMs: 15_000 });
    }
  }

  /** A lab host with a node config and, for rr/tor, its Node resource's labels and AS set beforehand. */
  async addNode(name: string, index: number): Promise<ClusterHost> {
    const host = await this.lab.addHost(name);
    const role: ClusterHost['role'] = this.opts.topology === 'rr' && index <= 2 ? 'route-reflector' : 'node';
    const rack = this.opts.topology === 'tor' ? RACKS[index <= Math.ceil(Math.max(this.opts.hosts, 4) / 2) ? 0 : 1]! : undefined;
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
      ...(role === 'route-reflector' ? { routeReflectorClusterID: CLUSTER_ID } : {}),
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

  startDaemon(h: ClusterHost): ManagedProcess {
    const p = this.lab.startProcess(h.netns, `daemon-${h.name}`, process.execPath, [TABBY_BIN, 'daemon', '--config', h.config]);
    this.daemons.set(h.name, p);
    return p;
  }

  nodes(): ClusterHost[] {
    return this.hosts.filter((h) => h.role !== 'tor');
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

  async waitSessions(timeoutMs = 90_000): Promise<void> {
    for (const h of this.nodes()) {
      await waitFor(`${h.name}: BGP sessions Established`, async () => {
        const p = this.daemons.get(h.name);
        if (p && !p.alive) throw new Error(`tabby daemon on ${h.name} exited: ${p.logTail(15)}`);
        const st = await this.status(h).catch(() => undefined);
        return !!st && st.bgp.peers.length === this.expectedPeers(h) && st.bgp.peers.every((x) => x.state === 'Established');
      }, { timeoutMs, intervalMs: 250 });
    }
  }

  /** Until every node has a tabby route (proto 80) to every other node's blocks (bounded). */
  async waitRoutes(timeoutMs = 60_000): Promise<void> {
    const blocks = await this.store.list<{ cidr: string; affinity: string | null }>('ipam-block');
    const owner = new Map(blocks.items.map((b) => [b.value.cidr, b.value.affinity?.replace(/^host:/, '')]));
    for (const h of this.nodes()) {
      const want = [...owner].filter(([, n]) => n !== h.name).map(([cidr]) => cidr);
      await waitFor(`${h.name}: routes to every other node's block`, async () => {
        const r = await run('ip', ['-j', 'route', 'show', 'proto', '80'], { ns: h.netns });
        const have = new Set((JSON.parse(r.stdout || '[]') as { dst: string }[]).map((x) => x.dst));
        return want.every((c) => have.has(c));
      }, { timeoutMs, intervalMs: 200 });
    }
  }

  /** W workloads per node: app frontend/backend alternating, namespace prod on odd hosts and dev on even ones. */
  private async attachWorkloads(): Promise<void> {
    const jobs: { host: ClusterHost; name: string; namespace: string; labels: Record<string, string> }[] = [];
    this.nodes().forEach((h, i) => {
      for (let j = 1; j <= this.opts.workloadsPerHost; j++) {
        const app = j % 2 === 1 ? 'frontend' : 'backend';
        const namespace = i % 2 === 0 ? 'prod' : 'dev';
        jobs.push({ host: h, name: `h${i + 1}-${app}-${Math.ceil(j / 2)}`, namespace, labels: { app } });
      }
    });
    const attached = await mapLimit(jobs, 3, (j) => this.addWorkload(j.host, j.name, j.namespace, j.labels));
    this.workloads.push(...attached);
  }

  /** CNI ADD of one pod on `h` (a fresh container netns), then an echo server inside it. */
  async addWorkload(h: ClusterHost, name: string, namespace: string, labels: Record<string, string>): Promise<ClusterWorkload> {
    const netns = `${this.lab.prefix}-w-${name}`;
    await createNetns(netns);
    const containerId = `lab-${name}`;
    const list = { cniVersion: '1.0.0', name: NETWORK, plugins: [{ type: 'tabby', nodeConfig: h.config, args: { tabby: { labels } } }] };
    const r = await addNetworkList(list, { containerId, netns: `/run/netns/${netns}`, ifname: 'eth0', args: { K8S_POD_NAMESPACE: namespace, K8S_POD_NAME: name } }, { path: CNI_PATH, hostNetns: h.netns, timeoutMs: 60_000 });
    const res = r.result as { ips: { address: string }[]; interfaces: { name: string }[] };
    const w: ClusterWorkload = { name, namespace, netns, host: h.name, ip: res.ips[0]!.address.split('/')[0]!, labels: { ...labels, 'projectcalico.org/namespace': namespace }, hostIface: res.interfaces[0]!.name, containerId };
    const lw: LabWorkload = { name, namespace, netns, host: h.name, ip: w.ip, labels: w.labels, hostIface: w.hostIface };
    this.lab.workloads.set(name, lw);
    await this.lab.startEcho(name);
    return w;
  }

  async close(): Promise<void> {
    await this.store?.close().catch(() => undefined);
  }
}
