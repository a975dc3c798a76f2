/**
 * `tabby lab up|down|status`: a cluster that outlives the command (hosts
 * running `tabby daemon`, see cluster.ts), described by a state file so that
 * later commands (and external tests) can find it.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { callControl } from '../node/control.js';
import { UserError } from '../util/errors.js';
import { Cluster, expectedReachable, POOL_CIDR, type Encap, type Topology } from './cluster.js';

export { expectedReachable };
import { killGroup } from './etcd.js';
import { Lab } from './lab.js';
import { persistentPrefix } from './names.js';
import { deleteNetns, killPids, listNetns, pidAlive, pidInNetns } from './netns.js';
import { ManagedProcess } from './process.js';
import { waitFor } from './wait.js';
import { formatMatrix, probeMatrix, type Endpoint, type MatrixCell } from './probe.js';

export const LAB_STATE_ROOT = process.env.TABBY_LAB_DIR ?? '/run/tabby/lab';

export interface LabState {
  name: string;
  createdAt: string;
  plumbing: 'daemon';
  topology: Topology;
  encap: Encap;
  datastore: 'embedded' | 'etcd';
  fabric: { netns: string; gateway: string; cidr: string };
  hosts: { name: string; netns: string; address: string; config: string; socket: string; role: string; rack?: string; asNumber?: number }[];
  /** BIRD top-of-rack routers (topology tor). */
  routers: { name: string; netns: string; address: string; asNumber: number; rack: string }[];
  workloads: { name: string; namespace: string; netns: string; host: string; ip: string; labels: Record<string, string>; hostIface: string }[];
  /** Everything the lab runs (etcd, BIRD, daemons, echo servers), in start order; cmd/args let `up` restart one that died. */
  processes: { name: string; netns: string; pid: number; log: string; cmd?: string; args?: string[] }[];
  /** A node config for commands run outside the lab (`tabby get ... --config <cliConfig>`). */
  cliConfig: string;
  /** The root-netns socat bridge to the lab's etcd (killed by `lab down`). */
  bridgePid?: number;
}

export interface LabUpOptions {
  name: string;
  hosts: number;
  workloadsPerHost: number;
  topology?: Topology;
  encap?: Encap;
  datastore?: 'embedded' | 'etcd';
}

const NAME_RE = /^[a-z][a-z0-9]{0,7}$/;

function checkName(name: string): void {
  if (!NAME_RE.test(name)) throw new UserError(`lab name "${name}": use 1-8 lowercase letters or digits, starting with a letter`);
}

export function labDir(name: string): string {
  return join(LAB_STATE_ROOT, name);
}

export function readLabState(name: string): LabState | undefined {
  const file = join(labDir(name), 'state.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as LabState;
}

/** Build the lab; returns its state and the connectivity matrix. */
export async function labUp(opts: LabUpOptions): Promise<{ state: LabState; matrix: MatrixCell[]; endpoints: Endpoint[]; sessions: HostSessions[]; already: boolean; revived: string[] }> {
  checkName(opts.name);
  if (opts.hosts < 1 || opts.hosts > 16) throw new UserError(`--hosts ${opts.hosts}: must be 1 to 16`);
  if (opts.workloadsPerHost < 0 || opts.workloadsPerHost > 20) throw new UserError(`--workloads ${opts.workloadsPerHost}: must be 0 to 20`);
  const existing = readLabState(opts.name);
  if (existing && existing.plumbing === 'daemon' && existing.hosts.every((h) => listNetns().includes(h.netns))) {
    const revived = await reviveProcesses(existing);
    const endpoints = existing.workloads.map((w) => ({ name: w.name, netns: w.netns, ip: w.ip }));
    return { state: existing, matrix: await probeMatrix(endpoints, { protocol: 'icmp' }), endpoints, sessions: await labSessions(existing), already: true, revived };
  }
  await labDown(opts.name); // half-built or stale leftovers
  const dir = labDir(opts.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lab = await Lab.create({ persistentName: opts.name, dir });
  let cluster: Cluster | undefined;
  try {
    cluster = await Cluster.build(lab, { hosts: opts.hosts, workloadsPerHost: opts.workloadsPerHost, topology: opts.topology ?? 'mesh', encap: opts.encap ?? 'none', datastore: opts.datastore ?? 'embedded' });
    const root = cluster.storeConfigFromRoot;
    const cliConfig = lab.writeFile(
      'cli.yaml',
      `# node config for tabby commands run outside the lab (get/apply/ipam): the lab's datastore\n${stringify({ nodeName: 'lab-cli', datastore: root.type === 'embedded' ? { type: 'embedded', path: root.path } : { type: 'etcd', endpoints: root.endpoints, prefix: '/tabby/v1' } })}`,
    );
    const state: LabState = {
      name: opts.name,
      createdAt: new Date().toISOString(),
      plumbing: 'daemon',
      topology: opts.topology ?? 'mesh',
      encap: opts.encap ?? 'none',
      datastore: opts.datastore ?? 'embedded',
      fabric: { netns: lab.fabricNs, gateway: lab.gateway, cidr: `${lab.fabricNet}.0/24` },
      hosts: cluster.nodes().map((h) => ({ name: h.name, netns: h.netns, address: h.address, config: h.config, socket: h.socket, role: h.role, ...(h.rack ? { rack: h.rack } : {}), ...(h.asNumber ? { asNumber: h.asNumber } : {}) })),
      routers: cluster.hosts.filter((h) => h.role === 'tor').map((h) => ({ name: h.name, netns: h.netns, address: h.address, asNumber: h.asNumber!, rack: h.rack! })),
      workloads: cluster.workloads.map(({ containerId: _c, ...w }) => w),
      processes: lab.processes.filter((p) => p.alive).map((p) => ({ name: p.spec.name, netns: p.spec.ns, pid: p.pid, log: p.spec.logFile, cmd: p.spec.cmd, args: p.spec.args })),
      cliConfig,
      ...(cluster.etcd ? { bridgePid: cluster.etcd.bridgePid } : {}),
    };
    writeFileSync(join(dir, 'state.json'), JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
    await cluster.close();
    const endpoints = lab.endpoints();
    return { state, matrix: await probeMatrix(endpoints, { protocol: 'icmp' }), endpoints, sessions: await labSessions(state), already: false, revived: [] };
  } catch (err) {
    await cluster?.close();
    if (cluster?.etcd) cluster.etcd.stopBridge();
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export interface HostSessions {
  host: string;
  error?: string;
  peers: { address: string; asNumber: number; type: string; state: string }[];
  dataplane?: { inSync: boolean; problems: string[]; encap?: Record<string, { state: string; device: string; reason?: string }> };
}

/** Matrix cells whose result differs from the sample policy's verdict. */
export function unexpectedCells(s: LabState, cells: MatrixCell[]): string[] {
  const by = new Map(s.workloads.map((w) => [w.name, w]));
  const out: string[] = [];
  for (const c of cells) {
    const a = by.get(c.from);
    const b = by.get(c.to);
    if (!a || !b) continue;
    const want = expectedReachable(a, b);
    if (want !== c.result.ok) out.push(`${c.from} -> ${c.to}: ${c.result.ok ? 'answered but the policy denies it' : `no answer (${c.result.error ?? 'failed'}) but it should`}`);
  }
  return out;
}

/** Every node's BGP sessions, asked over its control socket. */
export async function labSessions(s: LabState): Promise<HostSessions[]> {
  return Promise.all(
    s.hosts.map(async (h) => {
      try {
        const st = await callControl<{ bgp: { peers: HostSessions['peers'] }; dataplane: NonNullable<HostSessions['dataplane']> | null }>(h.socket, 'status', {}, 3000);
        return { host: h.name, peers: st.bgp.peers.map((p) => ({ address: p.address, asNumber: p.asNumber, type: p.type, state: p.state })), ...(st.dataplane ? { dataplane: { inSync: st.dataplane.inSync, problems: st.dataplane.problems, ...(st.dataplane.encap ? { encap: st.dataplane.encap } : {}) } } : {}) };
      } catch (err) {
        return { host: h.name, error: (err as Error).message, peers: [] };
      }
    }),
  );
}

/**
 * `up` on a lab that exists: start again, detached and with the same command
 * line, every process of the state file that is no longer running in its
 * namespace (a daemon killed by hand, etcd, BIRD, an echo server), in start
 * order; then wait (bounded) until every daemon answers with its sessions
 * Established. Returns the names of the processes restarted.
 */
export async function reviveProcesses(s: LabState, timeoutMs = 60_000): Promise<string[]> {
  const revived: string[] = [];
  for (const p of s.processes) {
    if (pidInNetns(p.pid, p.netns) || !p.cmd || !p.args) continue;
    const np = ManagedProcess.start({ ns: p.netns, name: p.name, cmd: p.cmd, args: p.args, logFile: p.log, detached: true });
    p.pid = np.pid;
    revived.push(p.name);
  }
  if (revived.length === 0) return revived;
  writeFileSync(join(labDir(s.name), 'state.json'), JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  const deadline = Date.now() + timeoutMs;
  for (const h of s.hosts) {
    await waitFor(`${h.name}: sessions Established after restarting ${revived.join(', ')}`, async () => {
      const st = await callControl<{ bgp: { peers: { state: string }[] } }>(h.socket, 'status', {}, 3000);
      return st.bgp.peers.length > 0 && st.bgp.peers.every((x) => x.state === 'Established');
    }, { timeoutMs: Math.max(1000, deadline - Date.now()), intervalMs: 250 }).catch(() => undefined); // `up` reports the sessions as they are
  }
  return revived;
}

/** Remove everything of the lab: its processes (by PID from the state file, then any left in its namespaces), namespaces, state. Idempotent. */
export async function labDown(name: string): Promise<{ removed: string[] }> {
  checkName(name);
  const prefix = `${persistentPrefix(name)}-`;
  const state = readLabState(name);
  if (state?.bridgePid) killGroup(state.bridgePid);
  if (state) {
    // Only PIDs still running in the lab's own namespace: a PID reused since is left alone.
    await killPids(state.processes.filter((p) => p.netns.startsWith(prefix) && pidInNetns(p.pid, p.netns)).map((p) => p.pid), 3000);
  }
  const namespaces = listNetns().filter((n) => n.startsWith(prefix));
  await deleteNetns(namespaces); // kills every process inside, by PID
  rmSync(labDir(name), { recursive: true, force: true });
  // The bridge was re-parented to init when `lab up` exited: wait (bounded) until init has reaped it.
  if (state?.bridgePid) await waitFor('the etcd bridge gone', () => !pidAlive(state.bridgePid!), { timeoutMs: 5000 }).catch(() => undefined);
  return { removed: namespaces };
}

export function formatLabState(s: LabState, extra?: { cells: MatrixCell[]; endpoints: Endpoint[]; sessions?: HostSessions[] }): string {
  const lines: string[] = [];
  lines.push(`lab "${s.name}" (created ${s.createdAt}): ${s.hosts.length} hosts running tabby daemon, topology ${s.topology}, encapsulation ${s.encap}, datastore ${s.datastore}`);
  lines.push(`fabric ${s.fabric.cidr} in netns ${s.fabric.netns}, gateway ${s.fabric.gateway}; pool ${POOL_CIDR}; policy: prod backends accept only prod frontends`);
  lines.push('');
  lines.push('HOST     ROLE             ADDRESS        NETNS                          CONFIG');
  for (const h of s.hosts) lines.push(`${h.name.padEnd(8)} ${(h.role + (h.rack ? ` rack ${h.rack}` : '')).padEnd(16)} ${h.address.padEnd(14)} ${h.netns.padEnd(30)} ${h.config}`);
  for (const r of s.routers) lines.push(`${r.name.padEnd(8)} ${`BIRD ToR ${r.rack}`.padEnd(16)} ${r.address.padEnd(14)} ${r.netns.padEnd(30)} AS ${r.asNumber}`);
  if (extra?.sessions) {
    lines.push('');
    lines.push('BGP SESSIONS');
    for (const h of extra.sessions) {
      if (h.error) {
        lines.push(`${h.host.padEnd(8)} (no answer: ${h.error})`);
        continue;
      }
      const up = h.peers.filter((p) => p.state === 'Established').length;
      lines.push(`${h.host.padEnd(8)} ${up}/${h.peers.length} Established: ${h.peers.map((p) => `${p.address} AS${p.asNumber} ${p.type} ${p.state}`).join(', ')}`);
      for (const pr of h.dataplane?.problems ?? []) lines.push(`         dataplane: ${pr}`);
    }
    lines.push(...encapNotes(s, extra.sessions));
  }
  lines.push('');
  lines.push('WORKLOAD             NAMESPACE  HOST     IP           IFACE            NETNS');
  for (const w of s.workloads) {
    lines.push(`${w.name.padEnd(20)} ${w.namespace.padEnd(10)} ${w.host.padEnd(8)} ${w.ip.padEnd(12)} ${w.hostIface.padEnd(16)} ${w.netns}`);
  }
  if (extra) {
    lines.push('');
    lines.push('ping matrix (row -> column):');
    lines.push(formatMatrix(extra.endpoints, extra.cells, ''));
    const ok = extra.cells.filter((c) => c.result.ok).length;
    const wrong = unexpectedCells(s, extra.cells);
    lines.push(`${ok}/${extra.cells.length} pairs reachable; ${wrong.length === 0 ? 'every cell is as the sample policy says (prod backends answer only prod frontends)' : `${wrong.length} cells differ from what the sample policy says:`}`);
    for (const w of wrong) lines.push(`  ${w}`);
  }
  lines.push('');
  lines.push(`Datastore for tabby commands: TABBY_CONFIG=${s.cliConfig} tabby get workloadendpoints -A`);
  return lines.join('\n');
}

/** One line per encapsulation a daemon cannot provide (IPIP on a kernel without the ipip module), naming the hosts and the reason. */
export function encapNotes(s: LabState, sessions: HostSessions[]): string[] {
  const by = new Map<string, { hosts: string[]; reason: string }>();
  for (const h of sessions) {
    for (const [kind, e] of Object.entries(h.dataplane?.encap ?? {})) {
      if (e.state.toLowerCase() !== 'unsupported') continue;
      const k = `${kind}\0${e.reason ?? ''}`;
      const cur = by.get(k) ?? { hosts: [], reason: e.reason ?? 'no reason given' };
      cur.hosts.push(h.host);
      by.set(k, cur);
    }
  }
  return [...by].map(([k, v]) => `WARNING: the pool asks for ${k.split('\0')[0]!.toUpperCase()} (--encap ${s.encap}) but ${v.hosts.length === s.hosts.length ? 'no host can' : `${v.hosts.join(', ')} cannot`} provide it: ${v.reason}. Remote blocks are routed as the dataplane lines above say (unencapsulated where a route exists).`);
}

/** `lab status -o json` schema (contract): hosts[] and workloads[]. */
export function labStatusJson(s: LabState): object {
  return {
    name: s.name,
    plumbing: s.plumbing,
    topology: s.topology,
    encap: s.encap,
    datastore: s.datastore,
    cliConfig: s.cliConfig,
    routers: s.routers,
    hosts: s.hosts.map((h) => ({ name: h.name, netns: h.netns, address: h.address, config: h.config })),
    workloads: s.workloads.map((w) => ({ name: w.name, namespace: w.namespace, netns: w.netns, host: w.host, ip: w.ip, labels: w.labels })),
  };
}
