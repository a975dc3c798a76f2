/**
 * Daemons in lab hosts: CniHarness (hosts with node configs, one datastore,
 * CNI ADD as a runtime runs it) plus `tabby daemon` started in each host
 * namespace, its control socket under the lab directory.
 */
import { join } from 'node:path';
import { callControl } from '../../../src/node/control.js';
import type { ManagedProcess } from '../../../src/lab/process.js';
import { runOk } from '../../../src/lab/exec.js';
import { waitFor } from '../../../src/lab/wait.js';
import { CniHarness, REPO, resultOf, type HostSetup } from '../cni/harness.js';

export const TABBY = join(REPO, 'bin', 'tabby');

export interface DaemonHost extends HostSetup {
  name: string;
  socket: string;
  proc?: ManagedProcess;
}

export interface PeerJson {
  address: string;
  asNumber: number;
  type: string;
  state: string;
  prefixes: { received: number; accepted: number; advertised: number };
}

export interface StatusJson {
  node: { name: string; address: string; asNumber: number };
  bgp: { peers: PeerJson[] };
  dataplane: { inSync: boolean; firstPassOk: boolean; workloads: { local: number; plumbed: number }; repairsTotal: number } | null;
  datastore: { connected: boolean; inSync: boolean };
}

export class DaemonCluster {
  readonly hosts = new Map<string, DaemonHost>();
  private constructor(readonly h: CniHarness) {}

  static async create(opts: { datastore?: 'embedded' | 'etcd' } = {}): Promise<DaemonCluster> {
    return new DaemonCluster(await CniHarness.create(opts));
  }

  get lab() {
    return this.h.lab;
  }

  async addHost(name: string, extraYaml = ''): Promise<DaemonHost> {
    const socket = join(this.h.lab.dir, `${name}.sock`);
    const setup = await this.h.addHost(name, `controlSocket: ${socket}\nmetrics:\n  enabled: false\n${extraYaml}`);
    const host: DaemonHost = { ...setup, name, socket };
    this.hosts.set(name, host);
    return host;
  }

  startDaemon(host: DaemonHost): ManagedProcess {
    host.proc = this.h.lab.startProcess(host.host.netns, `daemon-${host.name}`, process.execPath, [TABBY, 'daemon', '--config', host.configPath]);
    return host.proc;
  }

  async status(host: DaemonHost): Promise<StatusJson> {
    return (await callControl(host.socket, 'status', {}, 2_000)) as StatusJson;
  }

  /** Every daemon has every expected peer Established. */
  async waitEstablished(hosts: DaemonHost[], expectedPeers: number, timeoutMs = 60_000): Promise<void> {
    for (const host of hosts) {
      await waitFor(`${host.name}: ${expectedPeers} BGP sessions Established`, async () => {
        if (host.proc && !host.proc.alive) throw new Error(`daemon ${host.name} exited: ${host.proc.logTail(20)}`);
        const st = await this.status(host).catch(() => undefined);
        return st !== undefined && st.bgp.peers.length === expectedPeers && st.bgp.peers.every((p) => p.state === 'Established');
      }, { timeoutMs, intervalMs: 250 });
    }
  }

  /** CNI ADD of a pod on `host`; returns its container netns and IPv4 address. */
  async addPod(host: DaemonHost, namespace: string, pod: string, labels: Record<string, string> = {}): Promise<{ netns: string; ip: string; containerId: string }> {
    const c = await this.h.newContainer(pod);
    const containerId = `c-${pod}`;
    const r = resultOf(await this.h.call(host, 'ADD', { containerId, netns: c.path, ifname: 'eth0', args: { K8S_POD_NAMESPACE: namespace, K8S_POD_NAME: pod } }, { args: { tabby: { labels } } })) as { ips: { address: string }[] };
    return { netns: c.name, ip: r.ips[0]!.address.split('/')[0]!, containerId };
  }

  /** `ip -j route show proto 80` of a host: dst -> gateways/devices. */
  async routes(host: DaemonHost): Promise<{ dst: string; gateway?: string; dev?: string; type?: string; nexthops?: { gateway: string }[] }[]> {
    return JSON.parse(await runOk('ip', ['-j', 'route', 'show', 'proto', '80'], { ns: host.host.netns }));
  }

  async destroy(): Promise<void> {
    for (const host of this.hosts.values()) {
      if (host.proc?.alive) await host.proc.stop();
    }
    await this.h.destroy();
  }
}
