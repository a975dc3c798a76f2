/**
 * `tabby lab up|down|status`: a lab that outlives the command, described by a
 * state file so that later commands (and external tests) can find it.
 *
 * This first version plumbs workloads statically (the lab writes the /32
 * routes, proxy ARP and inter-host block routes itself, with route protocol
 * 81); as the daemon lands, hosts run `tabby daemon` and the lab stops
 * plumbing by hand.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadNodeConfig } from '../config/node-config.js';
import { UserError } from '../util/errors.js';
import { Lab, LAB_ROUTE_PROTO } from './lab.js';
import { persistentPrefix } from './names.js';
import { deleteNetns, listNetns } from './netns.js';
import { formatMatrix, probeMatrix, type Endpoint, type MatrixCell } from './probe.js';

export const LAB_STATE_ROOT = process.env.TABBY_LAB_DIR ?? '/run/tabby/lab';

export interface LabState {
  name: string;
  createdAt: string;
  plumbing: 'static';
  fabric: { netns: string; gateway: string; cidr: string };
  hosts: { name: string; netns: string; address: string; block: string; config: string }[];
  workloads: { name: string; namespace: string; netns: string; host: string; ip: string; labels: Record<string, string>; hostIface: string }[];
  processes: { name: string; netns: string; pid: number; log: string }[];
}

export interface LabUpOptions {
  name: string;
  hosts: number;
  workloadsPerHost: number;
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

function nodeConfigFor(lab: Lab, host: { name: string; address: string }): string {
  const cfg = {
    nodeName: host.name,
    address: `${host.address}/24`,
    interface: 'eth0',
    controlSocket: join(lab.dir, `${host.name}.sock`),
    datastore: { type: 'embedded', path: join(lab.dir, 'datastore') },
    log: { level: 'info', format: 'json' },
    metrics: { enabled: true, address: '127.0.0.1', port: 9091 },
  };
  return `# node config of lab host ${host.name}, written by tabby lab up\n${stringify(cfg)}`;
}

/** Build the lab; returns its state and the connectivity matrix. */
export async function labUp(opts: LabUpOptions): Promise<{ state: LabState; matrix: MatrixCell[]; endpoints: Endpoint[]; already: boolean }> {
  checkName(opts.name);
  if (opts.hosts < 1 || opts.hosts > 16) throw new UserError(`--hosts ${opts.hosts}: must be 1 to 16`);
  if (opts.workloadsPerHost < 0 || opts.workloadsPerHost > 20) throw new UserError(`--workloads ${opts.workloadsPerHost}: must be 0 to 20`);
  const existing = readLabState(opts.name);
  if (existing && existing.hosts.every((h) => listNetns().includes(h.netns))) {
    const endpoints = existing.workloads.map((w) => ({ name: w.name, netns: w.netns, ip: w.ip }));
    return { state: existing, matrix: await probeMatrix(endpoints, { protocol: 'icmp' }), endpoints, already: true };
  }
  await labDown(opts.name); // half-built or stale leftovers
  const dir = labDir(opts.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lab = await Lab.create({ persistentName: opts.name, dir });
  try {
    for (let i = 1; i <= opts.hosts; i++) {
      const host = await lab.addHost(`host${i}`);
      host.config = lab.writeFile(`${host.name}/node.yaml`, nodeConfigFor(lab, host));
      loadNodeConfig(host.config); // the lab writes only configs the daemon accepts
      for (let j = 1; j <= opts.workloadsPerHost; j++) {
        const app = j % 2 === 1 ? 'frontend' : 'backend';
        await lab.addWorkload(host.name, {
          name: `h${i}-${app}-${Math.ceil(j / 2)}`,
          namespace: j % 2 === 1 ? 'prod' : 'dev',
          labels: { app },
        });
      }
    }
    await lab.routeBlocksStatically();
    await Promise.all([...lab.workloads.keys()].map((w) => lab.startEcho(w)));
    const state: LabState = {
      name: opts.name,
      createdAt: new Date().toISOString(),
      plumbing: 'static',
      fabric: { netns: lab.fabricNs, gateway: lab.gateway, cidr: `${lab.fabricNet}.0/24` },
      hosts: [...lab.hosts.values()].map((h) => ({ name: h.name, netns: h.netns, address: h.address, block: h.block, config: h.config! })),
      workloads: [...lab.workloads.values()].map((w) => ({ ...w })),
      processes: lab.processes.map((p) => ({ name: p.spec.name, netns: p.spec.ns, pid: p.pid, log: p.spec.logFile })),
    };
    writeFileSync(join(dir, 'state.json'), JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
    const endpoints = lab.endpoints();
    return { state, matrix: await probeMatrix(endpoints, { protocol: 'icmp' }), endpoints, already: false };
  } catch (err) {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Remove everything of the lab: its processes (by PID), namespaces, state. Idempotent. */
export async function labDown(name: string): Promise<{ removed: string[] }> {
  checkName(name);
  const prefix = `${persistentPrefix(name)}-`;
  const namespaces = listNetns().filter((n) => n.startsWith(prefix));
  await deleteNetns(namespaces); // kills every process inside, by PID
  rmSync(labDir(name), { recursive: true, force: true });
  return { removed: namespaces };
}

export function formatLabState(s: LabState, matrix?: { cells: MatrixCell[]; endpoints: Endpoint[] }): string {
  const lines: string[] = [];
  lines.push(`lab "${s.name}" (created ${s.createdAt}; plumbing: ${s.plumbing}, lab routes are proto ${LAB_ROUTE_PROTO})`);
  lines.push(`fabric ${s.fabric.cidr} in netns ${s.fabric.netns}, gateway ${s.fabric.gateway}`);
  lines.push('');
  lines.push('HOST     NETNS                          ADDRESS        BLOCK           CONFIG');
  for (const h of s.hosts) lines.push(`${h.name.padEnd(8)} ${h.netns.padEnd(30)} ${h.address.padEnd(14)} ${h.block.padEnd(15)} ${h.config}`);
  lines.push('');
  lines.push('WORKLOAD             NAMESPACE  HOST     IP           IFACE            NETNS');
  for (const w of s.workloads) {
    lines.push(`${w.name.padEnd(20)} ${w.namespace.padEnd(10)} ${w.host.padEnd(8)} ${w.ip.padEnd(12)} ${w.hostIface.padEnd(16)} ${w.netns}`);
  }
  if (matrix) {
    lines.push('');
    lines.push('ping matrix (row -> column):');
    lines.push(formatMatrix(matrix.endpoints, matrix.cells, ''));
    const ok = matrix.cells.filter((c) => c.result.ok).length;
    lines.push(`${ok}/${matrix.cells.length} pairs reachable`);
  }
  return lines.join('\n');
}

/** `lab status -o json` schema (contract): hosts[] and workloads[]. */
export function labStatusJson(s: LabState): object {
  return {
    name: s.name,
    plumbing: s.plumbing,
    hosts: s.hosts.map((h) => ({ name: h.name, netns: h.netns, address: h.address, config: h.config })),
    workloads: s.workloads.map((w) => ({ name: w.name, namespace: w.namespace, netns: w.netns, host: w.host, ip: w.ip, labels: w.labels })),
  };
}
