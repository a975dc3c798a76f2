/**
 * Real BGP peers for interop tests, run inside lab namespaces: BIRD 2 (and
 * tabby's own speaker), with helpers to query them.
 */
import { stringify } from 'yaml';
import { join } from 'node:path';
import type { Lab } from '../../../src/lab/lab.js';
import { runOk, run } from '../../../src/lab/exec.js';
import type { ManagedProcess } from '../../../src/lab/process.js';
import { waitFor } from '../../../src/lab/wait.js';

const ROOT = new URL('../../../../', import.meta.url).pathname;
export const TABBY = join(ROOT, 'bin', 'tabby');

export interface BirdPeer {
  proc: ManagedProcess;
  socket: string;
  conf: string;
  birdc(...cmd: string[]): Promise<string>;
  reconfigure(text: string): Promise<void>;
}

export async function startBird(lab: Lab, ns: string, name: string, config: string): Promise<BirdPeer> {
  const conf = lab.writeFile(`${name}/bird.conf`, config);
  const socket = join(lab.dir, name, 'bird.ctl');
  const proc = lab.startProcess(ns, name, 'bird', ['-f', '-c', conf, '-s', socket]);
  const birdc = (...cmd: string[]) => runOk('birdc', ['-s', socket, ...cmd], { timeoutMs: 10_000 });
  await waitFor(`${name} answers birdc`, async () => {
    if (!proc.alive) throw new Error(`bird exited: ${proc.logTail(10)}`);
    return (await run('birdc', ['-s', socket, 'show', 'status'], { timeoutMs: 5000 })).code === 0;
  }, { timeoutMs: 15_000 });
  return {
    proc,
    socket,
    conf,
    birdc,
    async reconfigure(text: string) {
      lab.writeFile(`${name}/bird.conf`, text);
      await birdc('configure');
    },
  };
}

export interface TabbyPeer {
  proc: ManagedProcess;
  config: string;
  status(): Promise<{ bgp: { peers: { address: string; state: string; prefixes: { received: number; accepted: number; advertised: number }; lastError: string | null; holdTime: number }[] } }>;
  routes(prefix?: string): Promise<{ routes: { prefix: string; nextHop: string; asPath: (number | number[])[]; origin: string; med: number | null; localPref: number | null; communities: string[]; largeCommunities: string[]; peer: string; best: boolean }[] }>;
}

export async function startTabbyBgp(lab: Lab, ns: string, name: string, config: Record<string, unknown>): Promise<TabbyPeer> {
  const controlSocket = join(lab.dir, name, 'ctl.sock');
  const file = lab.writeFile(`${name}/bgp.yaml`, stringify({ controlSocket, log: { level: 'debug', format: 'json' }, ...config }));
  const proc = lab.startProcess(ns, name, process.execPath, [TABBY, 'bgp', '--config', file]);
  const ask = async (args: string[]) => JSON.parse(await runOk(process.execPath, [TABBY, ...args, '--config', file, '-o', 'json'], { timeoutMs: 20_000 }));
  await waitFor(`${name} control socket`, async () => {
    if (!proc.alive) throw new Error(`tabby bgp exited: ${proc.logTail(10)}`);
    return (await run(process.execPath, [TABBY, 'status', '--config', file, '-o', 'json'], { timeoutMs: 10_000 })).code === 0;
  }, { timeoutMs: 20_000 });
  return {
    proc,
    config: file,
    status: () => ask(['status']),
    routes: (prefix?: string) => ask(['routes', ...(prefix ? ['--prefix', prefix] : [])]),
  };
}

/** A BIRD eBGP/iBGP peer config with static routes to export. */
export function birdConfig(o: { routerId: string; as: number; peers: { name: string; address: string; as: number; extra?: string }[]; statics?: string[]; extra?: string }): string {
  return `router id ${o.routerId};
log stderr all;
protocol device {}
protocol static st4 {
  ipv4;
${(o.statics ?? []).map((s) => `  route ${s} blackhole;`).join('\n')}
}
${o.extra ?? ''}
${o.peers
  .map(
    (p) => `protocol bgp ${p.name} {
  local as ${o.as};
  neighbor ${p.address} as ${p.as};
  hold time 9;
  connect retry time 1;
  error wait time 1, 5;
  ipv4 { import all; export all; };
${p.extra ?? ''}
}`,
  )
  .join('\n')}
`;
}

export interface FrrPeer {
  proc: ManagedProcess;
  conf: string;
  /** Run vtysh commands (each one a `-c`) against this bgpd. */
  vtysh(...cmds: string[]): Promise<string>;
  /** `vtysh -c CMD` whose output is JSON, parsed. */
  json<T = unknown>(cmd: string): Promise<T>;
}

const FRR_BGPD = '/usr/lib/frr/bgpd';

/**
 * FRR's bgpd alone, without zebra (`-Z`: no FIB, nexthops count as valid) and
 * without dropping privileges (`-S`); its vty socket lives in the lab dir so
 * `vtysh --vty_socket` reaches it. The vty TCP port is off (`-P 0`).
 */
export async function startFrr(lab: Lab, ns: string, name: string, config: string): Promise<FrrPeer> {
  const conf = lab.writeFile(`${name}/bgpd.conf`, config);
  const dir = join(lab.dir, name);
  const proc = lab.startProcess(ns, name, FRR_BGPD, ['-f', conf, '-i', join(dir, 'bgpd.pid'), '-Z', '-n', '-S', '--vty_socket', dir, '-P', '0', '--log', 'stdout']);
  const vtysh = (...cmds: string[]) => runOk('vtysh', ['--vty_socket', dir, ...cmds.flatMap((c) => ['-c', c])], { ns, timeoutMs: 10_000 });
  await waitFor(`${name} answers vtysh`, async () => {
    if (!proc.alive) throw new Error(`bgpd exited: ${proc.logTail(10)}`);
    return (await run('vtysh', ['--vty_socket', dir, '-c', 'show bgp summary json'], { ns, timeoutMs: 5000 })).code === 0;
  }, { timeoutMs: 15_000 });
  return { proc, conf, vtysh, json: async <T>(cmd: string) => JSON.parse(await vtysh(cmd)) as T };
}

export interface GobgpPeer {
  proc: ManagedProcess;
  conf: string;
  /** Run the `gobgp` CLI against this daemon's API (127.0.0.1 inside the namespace). */
  cli(...args: string[]): Promise<string>;
}

/** GoBGP's gobgpd with its gRPC API on 127.0.0.1:apiPort inside the namespace. */
export async function startGobgp(lab: Lab, ns: string, name: string, tomlConfig: string, apiPort = 50051): Promise<GobgpPeer> {
  const conf = lab.writeFile(`${name}/gobgpd.toml`, tomlConfig);
  const proc = lab.startProcess(ns, name, 'gobgpd', ['-f', conf, '--api-hosts', `127.0.0.1:${apiPort}`, '--pprof-disable', '-p']);
  const cli = (...args: string[]) => runOk('gobgp', ['-u', '127.0.0.1', '-p', String(apiPort), ...args], { ns, timeoutMs: 10_000 });
  await waitFor(`${name} answers gobgp`, async () => {
    if (!proc.alive) throw new Error(`gobgpd exited: ${proc.logTail(10)}`);
    return (await run('gobgp', ['-u', '127.0.0.1', '-p', String(apiPort), 'global'], { ns, timeoutMs: 5000 })).code === 0;
  }, { timeoutMs: 15_000 });
  return { proc, conf, cli };
}
