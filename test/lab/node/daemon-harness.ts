/**
 * Daemons in lab hosts: CniHarness (hosts with node configs, one datastore,
 * CNI ADD as a runtime runs it) plus `tabby daemon` started in each host
 * namespace, its control socket under the lab directory.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseResources, resourceKey } from '../../../src/datastore/resources/index.js';
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
    const setup = await this.h.addHost(name, `controlSocket: ${socket}\nmetrics:\n  enabled: true\n  address: 127.0.0.1\n  port: 9091\n${extraYaml}`);
    // Daemon logs go to the lab's log files (printed when a test fails): keep them informative.
    writeFileSync(setup.configPath, readFileSync(setup.configPath, 'utf8').replace('level: warn', 'level: info'));
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

  /** Validate and store resources as `tabby apply` does (all or nothing). */
  async apply(yamlText: string): Promise<void> {
    const r = parseResources(yamlText, 'test');
    if (r.problems.length) throw new Error(`bad test resources: ${JSON.stringify(r.problems)}`);
    for (const res of r.resources) await this.h.store.put(resourceKey(res), res);
  }

  /** A continuous ping (every 50 ms) from a pod netns; stop() returns what was sent and lost. */
  startPing(tag: string, fromNs: string, to: string): { stop: () => Promise<{ sent: number; received: number; lost: number }> } {
    const p = this.h.lab.startProcess(fromNs, `ping-${tag}`, 'ping', ['-n', '-i', '0.05', '-W', '1', to]);
    return {
      stop: async () => {
        p.signalWith('SIGINT');
        await p.waitExit(5_000);
        const m = /(\d+) packets transmitted, (\d+) received/.exec(p.logTail(10));
        if (!m) throw new Error(`no ping summary: ${p.logTail(10)}`);
        const sent = Number(m[1]);
        const received = Number(m[2]);
        return { sent, received, lost: sent - received };
      },
    };
  }

  /** GET a path of the daemon's metrics/health server, from inside its host namespace. */
  async http(host: DaemonHost, path: string): Promise<{ status: number; body: string }> {
    const script = `fetch('http://127.0.0.1:9091${path}').then(async (r) => { process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })); })`;
    return JSON.parse(await runOk(process.execPath, ['-e', script], { ns: host.host.netns, timeoutMs: 10_000 })) as { status: number; body: string };
  }

  /** Total session flaps the daemons report. */
  async totalFlaps(hosts: DaemonHost[]): Promise<number> {
    let n = 0;
    for (const h of hosts) {
      const st = (await callControl(h.socket, 'status', {}, 2_000)) as { bgp: { peers: { flaps: number }[] } };
      for (const p of st.bgp.peers) n += p.flaps;
    }
    return n;
  }

  async destroy(): Promise<void> {
    for (const host of this.hosts.values()) {
      if (host.proc?.alive) await host.proc.stop();
    }
    await this.h.destroy();
  }
}
