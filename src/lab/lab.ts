/**
 * The netns lab: a fabric (underlay) namespace with a bridge, hosts as
 * namespaces with an uplink on the fabric, workloads as namespaces attached to
 * a host by a veth pair, and processes running inside them.
 *
 *   fabric ns: br0 (172.31.0.254/24, the hosts' default gateway)
 *      |-- veth "h1" <-> eth0 in host ns h1 (172.31.0.1/24, default via .254)
 *      |-- veth "h2" <-> eth0 in host ns h2 (172.31.0.2/24)
 *   host ns h1: caliXXXXXXXXXXX <-> eth0 in workload ns (10.65.1.1/32)
 *
 * Every host has a default route: without one the kernel does not answer the
 * workloads' proxy ARP for 169.254.1.1 (platform.md §1). No link is ever made
 * in the root namespace, so deleting the namespaces removes every link.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workloadIfaceName } from '../util/ifname.js';
import { ipBatch, runOk } from './exec.js';
import { newTestRunPrefix, persistentPrefix } from './names.js';
import { createNetns, deleteNetns, listNetns, setSysctls } from './netns.js';
import { ManagedProcess } from './process.js';
import { parsePingSummary, ping, probeMatrix, type Endpoint, type MatrixCell, type PingCount, type ProbeSpec } from './probe.js';
import { registerLab, unregisterLab } from './registry.js';
import { waitFor } from './wait.js';

/** Route protocol of routes the lab itself writes (static plumbing before the dataplane does it). */
export const LAB_ROUTE_PROTO = 81;
export const FABRIC_GATEWAY_SUFFIX = 254;

export interface LabOptions {
  /** `tabby lab up` labs: persistent, named `tbl-<name>-*`, outlive the process. */
  persistentName?: string;
  /** First three octets of the fabric /24. */
  fabricNet?: string;
  /** Where logs (and, for persistent labs, state) go. */
  dir?: string;
  mtu?: number;
}

export interface LabHost {
  name: string;
  netns: string;
  index: number;
  address: string; // without prefix length
  prefixLength: number;
  /** The block the lab hands workload addresses from in static mode. */
  block: string;
  config?: string;
}

export interface LabWorkload {
  name: string;
  namespace: string;
  netns: string;
  host: string;
  ip: string;
  labels: Record<string, string>;
  hostIface: string;
}

export interface WorkloadSpec {
  name: string;
  /** Kubernetes-style namespace of the workload (a label, not a netns). */
  namespace?: string;
  ip?: string;
  labels?: Record<string, string>;
  /**
   * static: the lab writes the host side itself (proxy ARP, /32 route) as the
   * dataplane would; none: only the veth and the workload side (the daemon or
   * the CNI plugin does the rest).
   */
  plumb?: 'static' | 'none';
}

/** A running continuous ping (Lab.startPing). */
export interface PingStream {
  process: ManagedProcess;
  stop(): Promise<PingCount>;
}

const ECHO_SERVER = fileURLToPath(new URL('./echo-server.js', import.meta.url));

export class Lab {
  readonly prefix: string;
  readonly fabricNs: string;
  readonly dir: string;
  readonly persistent: boolean;
  readonly fabricNet: string;
  readonly mtu: number;
  readonly hosts = new Map<string, LabHost>();
  readonly workloads = new Map<string, LabWorkload>();
  readonly processes: ManagedProcess[] = [];
  private destroyed = false;
  private pingSeq = 0;
  /** Index of the last host added: addresses are never reused, even after removeHost. */
  private hostSeq = 0;

  private constructor(opts: LabOptions) {
    this.persistent = opts.persistentName !== undefined;
    this.prefix = opts.persistentName ? persistentPrefix(opts.persistentName) : newTestRunPrefix();
    this.fabricNs = `${this.prefix}-fabric`;
    this.fabricNet = opts.fabricNet ?? '172.31.0';
    this.mtu = opts.mtu ?? 1440;
    this.dir = opts.dir ?? join(tmpdir(), 'tabby-lab', this.prefix);
  }

  /** Create the fabric. The lab is registered for cleanup by the test hooks. */
  static async create(opts: LabOptions = {}): Promise<Lab> {
    const lab = new Lab(opts);
    mkdirSync(join(lab.dir, 'logs'), { recursive: true });
    if (!lab.persistent) registerLab(lab);
    try {
      await createNetns(lab.fabricNs);
      await ipBatch(lab.fabricNs, [
        'link add br0 type bridge',
        `addr add ${lab.fabricNet}.${FABRIC_GATEWAY_SUFFIX}/24 dev br0`,
        'link set br0 up',
      ]);
      await setSysctls(lab.fabricNs, { 'net.ipv4.ip_forward': 1 });
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  get gateway(): string {
    return `${this.fabricNet}.${FABRIC_GATEWAY_SUFFIX}`;
  }

  /** Add a host namespace with an uplink `eth0` on the fabric. */
  async addHost(name: string): Promise<LabHost> {
    if (!/^[a-z][a-z0-9]{0,10}$/.test(name)) throw new Error(`lab host name "${name}": use 1-11 lowercase letters/digits`);
    if (this.hosts.has(name)) throw new Error(`lab host "${name}" exists already`);
    const index = ++this.hostSeq;
    if (index >= FABRIC_GATEWAY_SUFFIX) throw new Error('too many lab hosts');
    const host: LabHost = {
      name,
      netns: `${this.prefix}-${name}`,
      index,
      address: `${this.fabricNet}.${index}`,
      prefixLength: 24,
      block: `10.65.${index}.0/26`,
    };
    await createNetns(host.netns);
    this.hosts.set(name, host);
    // The fabric end is named after the host (names inside the fabric ns only).
    await ipBatch(this.fabricNs, [
      `link add ${name} type veth peer name eth0 netns ${host.netns}`,
      `link set ${name} master br0`,
      `link set ${name} up`,
    ]);
    await ipBatch(host.netns, [
      `addr add ${host.address}/24 dev eth0`,
      'link set eth0 up',
      `route add default via ${this.gateway} dev eth0`,
    ]);
    await setSysctls(host.netns, {
      'net.ipv4.ip_forward': 1,
      'net.ipv6.conf.all.forwarding': 1,
    });
    return host;
  }

  /** Delete a workload's namespace (its processes killed by PID) and forget it. */
  async removeWorkload(name: string): Promise<void> {
    const w = this.workload(name);
    await deleteNetns([w.netns]);
    this.workloads.delete(name);
  }

  /** Delete a host's namespace and its workloads' (processes killed by PID; the fabric end of its uplink goes with it) and forget them. */
  async removeHost(name: string): Promise<void> {
    const h = this.host(name);
    const ws = [...this.workloads.values()].filter((w) => w.host === name);
    await deleteNetns([h.netns, ...ws.map((w) => w.netns)]);
    for (const w of ws) this.workloads.delete(w.name);
    this.hosts.delete(name);
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no lab host "${name}"`);
    return h;
  }

  workload(name: string): LabWorkload {
    const w = this.workloads.get(name);
    if (!w) throw new Error(`no lab workload "${name}"`);
    return w;
  }

  /** Next free address of a host's static block. */
  private nextIp(host: LabHost): string {
    const used = new Set([...this.workloads.values()].filter((w) => w.host === host.name).map((w) => w.ip));
    const base = host.block.split('/')[0]!.split('.').map(Number);
    for (let i = 1; i < 63; i++) {
      const ip = `${base[0]}.${base[1]}.${base[2]}.${base[3]! + i}`;
      if (!used.has(ip)) return ip;
    }
    throw new Error(`host ${host.name}: block ${host.block} is full`);
  }

  /**
   * Attach a workload namespace to a host by a veth pair: host side
   * `cali<hash>`, workload side `eth0` with the /32 and a default route via
   * 169.254.1.1 (Calico's shape).
   */
  async addWorkload(hostName: string, spec: WorkloadSpec): Promise<LabWorkload> {
    const host = this.host(hostName);
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(spec.name)) throw new Error(`lab workload name "${spec.name}": use lowercase letters, digits and "-"`);
    if (this.workloads.has(spec.name)) throw new Error(`lab workload "${spec.name}" exists already`);
    const namespace = spec.namespace ?? 'default';
    const ip = spec.ip ?? this.nextIp(host);
    const w: LabWorkload = {
      name: spec.name,
      namespace,
      netns: `${this.prefix}-w-${spec.name}`,
      host: hostName,
      ip,
      labels: { ...(spec.labels ?? {}), 'projectcalico.org/namespace': namespace },
      hostIface: workloadIfaceName(`${hostName}/${namespace}/${spec.name}`),
    };
    await createNetns(w.netns);
    this.workloads.set(w.name, w);
    await ipBatch(host.netns, [`link add ${w.hostIface} mtu ${this.mtu} type veth peer name eth0 netns ${w.netns}`]);
    await ipBatch(w.netns, [
      `addr add ${ip}/32 dev eth0`,
      `link set eth0 mtu ${this.mtu}`,
      'link set eth0 up',
      'route add 169.254.1.1 dev eth0 scope link',
      'route add default via 169.254.1.1 dev eth0',
    ]);
    if ((spec.plumb ?? 'static') === 'static') await this.plumbStatic(w);
    return w;
  }

  /** What the dataplane will do for a workload, done by the lab (proto 81). */
  private async plumbStatic(w: LabWorkload): Promise<void> {
    const host = this.host(w.host);
    await ipBatch(host.netns, [
      `link set ${w.hostIface} address ee:ee:ee:ee:ee:ee`,
      `link set ${w.hostIface} up`,
      `route replace ${w.ip}/32 dev ${w.hostIface} scope link proto ${LAB_ROUTE_PROTO}`,
    ]);
    await setSysctls(host.netns, {
      [`net.ipv4.conf.${w.hostIface}.proxy_arp`]: 1,
      [`net.ipv4.neigh.${w.hostIface}.proxy_delay`]: 0,
      [`net.ipv4.conf.${w.hostIface}.forwarding`]: 1,
    });
  }

  /** Static routes between hosts for each other's blocks (until BGP does it). */
  async routeBlocksStatically(): Promise<void> {
    for (const h of this.hosts.values()) {
      const lines = [...this.hosts.values()]
        .filter((o) => o !== h)
        .map((o) => `route replace ${o.block} via ${o.address} dev eth0 proto ${LAB_ROUTE_PROTO}`);
      await ipBatch(h.netns, lines);
    }
  }

  /** Start a process inside a namespace; its output goes to logs/<name>.log. */
  startProcess(ns: string, name: string, cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): ManagedProcess {
    const p = ManagedProcess.start({
      ns,
      name,
      cmd,
      args,
      logFile: join(this.dir, 'logs', `${name}.log`),
      detached: this.persistent,
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    this.processes.push(p);
    return p;
  }

  /** Start the echo server in a workload and wait until it listens. */
  async startEcho(workload: string, ports: { tcp?: number[]; udp?: number[] } = {}): Promise<ManagedProcess> {
    const w = this.workload(workload);
    const tcp = ports.tcp ?? [8080];
    const udp = ports.udp ?? [8081];
    const p = this.startProcess(w.netns, `echo-${w.name}`, process.execPath, [
      ECHO_SERVER, w.name, '--tcp', tcp.join(','), '--udp', udp.join(','),
    ]);
    await waitFor(`echo server in ${w.name}`, () => {
      if (!p.alive) throw new Error(`echo server exited: ${p.logTail(5)}`);
      return p.logTail(5).includes(`ready ${w.name}`);
    }, { timeoutMs: 10_000 });
    return p;
  }

  /**
   * A continuous ping (every `intervalS`, default 50 ms) from a namespace to
   * an address, as a lab process; `stop()` interrupts it and returns what was
   * sent, received and lost (from ping's own summary).
   */
  startPing(fromNs: string, to: string, opts: { intervalS?: number; tag?: string } = {}): PingStream {
    const tag = opts.tag ?? `${++this.pingSeq}`;
    const p = this.startProcess(fromNs, `ping-${tag}`, 'ping', ['-n', '-q', '-i', String(opts.intervalS ?? 0.05), '-W', '1', to]);
    return {
      process: p,
      stop: async () => {
        p.signalWith('SIGINT');
        if (!(await p.waitExit(5_000))) await p.stop(500);
        const count = parsePingSummary(p.logTail(10));
        if (!count) throw new Error(`ping ${fromNs} -> ${to}: no summary in its output: ${p.logTail(10)}`);
        return count;
      },
    };
  }

  endpoints(): Endpoint[] {
    return [...this.workloads.values()].map((w) => ({ name: w.name, netns: w.netns, ip: w.ip }));
  }

  async matrix(spec: ProbeSpec = { protocol: 'icmp' }): Promise<MatrixCell[]> {
    return probeMatrix(this.endpoints(), spec);
  }

  /** Wait until `from` can ping `to` (workload names). */
  async waitReachable(from: string, to: string, timeoutMs = 10_000): Promise<void> {
    const a = this.workload(from);
    const b = this.workload(to);
    await waitFor(`${from} -> ${to} (${b.ip}) reachable`, async () => {
      const r = await ping(a.netns, b.ip);
      return r.ok || { notYet: r.error ?? 'no reply' };
    }, { timeoutMs });
  }

  /** All namespaces of this lab, including any left by an earlier run of the same lab. */
  namespaces(): string[] {
    return listNetns().filter((n) => n.startsWith(`${this.prefix}-`));
  }

  /** Logs of every process, for a failing test to print. */
  logsReport(maxLines = 40): string {
    return this.processes.map((p) => `--- ${p.spec.name} (pid ${p.pid}, ${p.alive ? 'running' : `exit ${p.exitCode ?? p.signal}`}) ---\n${p.logTail(maxLines)}`).join('\n');
  }

  /** Stop every process (by PID) and delete every namespace. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      await Promise.all(this.processes.map((p) => p.stop(2000)));
      await deleteNetns(this.namespaces());
    } finally {
      unregisterLab(this);
      if (!this.persistent && !process.env.TABBY_KEEP_LAB_LOGS) rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Write a file into the lab directory (configs of hosts and the like). */
  writeFile(rel: string, text: string): string {
    const p = join(this.dir, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, text);
    return p;
  }

  /** Run a command inside a host or workload namespace. */
  exec(ns: string, cmd: string, args: string[]): Promise<string> {
    return runOk(cmd, args, { ns });
  }
}
