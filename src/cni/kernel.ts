/**
 * The plugin's kernel I/O: `ip -batch` processes (the container side through
 * `nsenter --net=<CNI_NETNS>`, which takes any netns path, where `ip -n`
 * only takes names under /run/netns) and /proc/sys writes. Everything the
 * plugin writes comes from plumbing.ts; this module only runs it and reads
 * state back. The plugin runs in the host netns, as the spec requires of
 * runtimes (SPEC.md §2 "Overview"), so the host side needs no namespace
 * switch and sysctls are plain file writes.
 */
import { spawn } from 'node:child_process';
import { access, readFile, stat, writeFile } from 'node:fs/promises';
import {
  containerBatch,
  hostBatch,
  hostSysctls,
  type ObservedAddr,
  type ObservedHost,
  type ObservedLink,
  type ObservedNetns,
  type ObservedRoute,
  type VethPlan,
} from './plumbing.js';

/** The kernel operations the plugin needs; the unit tests use a fake. */
export interface Dataplane {
  /** Whether the netns path names something (it may still not be a netns). */
  netnsExists(path: string): Promise<boolean>;
  /** Whether a link of that name exists in the plugin's (host) netns. */
  hostLinkExists(name: string): Promise<boolean>;
  /** Creates the veth pair and configures both sides; DataplaneError on failure (nothing is undone here). */
  setUp(plan: VethPlan): Promise<void>;
  /** Deletes CNI_IFNAME inside the netns (and so its veth peer). False when there was nothing to delete. */
  deleteContainerLink(netns: string, ifname: string): Promise<boolean>;
  /** Deletes a host link. False when it did not exist. */
  deleteHostLink(name: string): Promise<boolean>;
  /** Links, addresses and main-table routes (IPv6 routes only when asked: a kernel without IPv6 refuses to list them). */
  observeContainer(netns: string, ipv6: boolean): Promise<ObservedNetns>;
  observeHost(hostIface: string, families: { ipv4: boolean; ipv6: boolean }): Promise<ObservedHost>;
}

export type DataplaneFailure = 'interface-exists' | 'netns-invalid' | 'failed';

export class DataplaneError extends Error {
  constructor(
    readonly step: string,
    readonly failure: DataplaneFailure,
    readonly stderr: string,
  ) {
    super(`${step}: ${stderr.trim().split('\n').slice(-3).join(' | ') || failure}`);
    this.name = 'DataplaneError';
  }
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const COMMAND_TIMEOUT_MS = 15_000;

/** Runs a command with its stdin fed from `input`, bounded by a timeout (SIGKILL by PID). */
function run(cmd: string, args: string[], input?: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let done = false;
    const finish = (r: RunResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      finish({ code: null, stdout, stderr: `${stderr}\n${cmd} timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => finish({ code: null, stdout, stderr: `${stderr}${err.message}` }));
    child.on('close', (code) => finish({ code, stdout, stderr }));
    if (input !== undefined) {
      // A child that dies early closes its stdin: not our error to throw.
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(input);
    }
  });
}

/** `nsenter` could not enter: the path is not (any more) a network namespace. */
function isNetnsFailure(stderr: string): boolean {
  return /nsenter: (reassociate to namespace|cannot open)/.test(stderr);
}

const NO_DEVICE = /Cannot find device|does not exist/;

/** Parses one JSON document per line of `ip -j -batch` output. */
function jsonLines(stdout: string, expected: number, what: string): unknown[][] {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== expected) throw new DataplaneError(what, 'failed', `expected ${expected} JSON documents from ip, got ${lines.length}`);
  return lines.map((l) => {
    const v = JSON.parse(l) as unknown;
    return Array.isArray(v) ? v : [];
  });
}

type Json = Record<string, unknown>;

function toLink(j: Json): ObservedLink {
  const link: ObservedLink = {
    ifname: String(j.ifname ?? ''),
    flags: Array.isArray(j.flags) ? j.flags.map(String) : [],
    mtu: Number(j.mtu ?? 0),
  };
  if (typeof j.address === 'string') link.address = j.address;
  const info = j.linkinfo as Json | undefined;
  if (info && typeof info.info_kind === 'string') link.kind = info.info_kind;
  return link;
}

function toAddr(j: Json): ObservedAddr {
  const infos = Array.isArray(j.addr_info) ? (j.addr_info as Json[]) : [];
  return {
    ifname: String(j.ifname ?? ''),
    addresses: infos.filter((a) => typeof a.local === 'string').map((a) => ({ local: a.local as string, prefixlen: Number(a.prefixlen) })),
  };
}

function toRoute(j: Json, dev?: string): ObservedRoute {
  const r: ObservedRoute = { dst: String(j.dst ?? '') };
  if (typeof j.gateway === 'string') r.gateway = j.gateway;
  const d = typeof j.dev === 'string' ? j.dev : dev;
  if (d !== undefined) r.dev = d;
  if (j.protocol !== undefined) r.protocol = String(j.protocol);
  if (j.scope !== undefined) r.scope = String(j.scope);
  return r;
}

/** Main-table IPv6 routes from `route show table all root ::/0` (the others carry a `table`). */
function mainTableOnly(rows: unknown[]): Json[] {
  return (rows as Json[]).filter((r) => r.table === undefined || r.table === 'main' || r.table === '254');
}

export class KernelDataplane implements Dataplane {
  async netnsExists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch {
      return false;
    }
  }

  async hostLinkExists(name: string): Promise<boolean> {
    // /proc/sys/net is the calling process's netns (unlike /sys, which is the mounter's).
    try {
      await access(`/proc/sys/net/ipv4/conf/${name}`);
      return true;
    } catch {
      return false;
    }
  }

  async setUp(plan: VethPlan): Promise<void> {
    const c = await run('nsenter', [`--net=${plan.netns}`, 'ip', '-batch', '-'], containerBatch(plan).join('\n') + '\n');
    if (c.code !== 0) {
      let failure: DataplaneFailure = 'failed';
      if (isNetnsFailure(c.stderr)) failure = 'netns-invalid';
      else if (/File exists/.test(c.stderr) && /Command failed -:1\b/.test(c.stderr) && !(await this.hostLinkExists(plan.hostIface))) failure = 'interface-exists';
      throw new DataplaneError('configure the container side', failure, c.stderr);
    }
    for (const [path, value] of hostSysctls(plan)) {
      try {
        await writeFile(`/proc/sys/${path}`, value);
      } catch (err) {
        throw new DataplaneError(`set ${path.replaceAll('/', '.')}=${value}`, 'failed', (err as Error).message);
      }
    }
    const h = await run('ip', ['-batch', '-'], hostBatch(plan).join('\n') + '\n');
    if (h.code !== 0) throw new DataplaneError('configure the host side', 'failed', h.stderr);
  }

  async deleteContainerLink(netns: string, ifname: string): Promise<boolean> {
    const r = await run('nsenter', [`--net=${netns}`, 'ip', 'link', 'del', 'dev', ifname]);
    if (r.code === 0) return true;
    if (NO_DEVICE.test(r.stderr) || isNetnsFailure(r.stderr)) return false;
    throw new DataplaneError(`delete ${ifname} in ${netns}`, 'failed', r.stderr);
  }

  async deleteHostLink(name: string): Promise<boolean> {
    const r = await run('ip', ['link', 'del', 'dev', name]);
    if (r.code === 0) return true;
    if (NO_DEVICE.test(r.stderr)) return false;
    throw new DataplaneError(`delete host interface ${name}`, 'failed', r.stderr);
  }

  async observeContainer(netns: string, ipv6: boolean): Promise<ObservedNetns> {
    const lines = ['link show', 'addr show', 'route show table main', ...(ipv6 ? ['route show table all root ::/0'] : [])];
    const r = await run('nsenter', [`--net=${netns}`, 'ip', '-j', '-d', '-batch', '-'], lines.join('\n') + '\n');
    if (r.code !== 0) throw new DataplaneError(`read the container's interfaces and routes`, isNetnsFailure(r.stderr) ? 'netns-invalid' : 'failed', r.stderr);
    const [links, addrs, routes4, routes6] = jsonLines(r.stdout, lines.length, 'read the container');
    return {
      links: (links as Json[]).map(toLink),
      addrs: (addrs as Json[]).map(toAddr),
      routes: [...(routes4 as Json[]).map((x) => toRoute(x)), ...mainTableOnly(routes6 ?? []).map((x) => toRoute(x))],
    };
  }

  async observeHost(hostIface: string, families: { ipv4: boolean; ipv6: boolean }): Promise<ObservedHost> {
    if (!(await this.hostLinkExists(hostIface))) return { routes: [], sysctls: {} };
    const lines = [`link show dev ${hostIface}`, `route show dev ${hostIface}`, ...(families.ipv6 ? [`route show table all root ::/0 dev ${hostIface}`] : [])];
    const r = await run('ip', ['-N', '-j', '-d', '-batch', '-'], lines.join('\n') + '\n');
    if (r.code !== 0) {
      if (NO_DEVICE.test(r.stderr)) return { routes: [], sysctls: {} };
      throw new DataplaneError(`read host interface ${hostIface}`, 'failed', r.stderr);
    }
    const [links, routes4, routes6] = jsonLines(r.stdout, lines.length, 'read the host side');
    const sysctls: Record<string, string | undefined> = {};
    for (const [path] of hostSysctls({ hostIface, ipv4: families.ipv4 ? ['x'] : [], ipv6: families.ipv6 ? ['x'] : [] })) {
      try {
        sysctls[path] = (await readFile(`/proc/sys/${path}`, 'utf8')).trim();
      } catch {
        sysctls[path] = undefined;
      }
    }
    const link = (links as Json[])[0];
    const out: ObservedHost = {
      routes: [...(routes4 as Json[]).map((x) => toRoute(x, hostIface)), ...mainTableOnly(routes6 ?? []).map((x) => toRoute(x, hostIface))],
      sysctls,
    };
    if (link) out.link = toLink(link);
    return out;
  }
}
