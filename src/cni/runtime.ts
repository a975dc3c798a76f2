/**
 * The runtime side of CNI, small: run one plugin, or a network configuration
 * list in order with each plugin given the previous result (SPEC.md §3
 * "Execution of Network Configurations"). The tests, the benchmark and the
 * lab attach workloads through it exactly as containerd or CRI-O would:
 * separate processes, CNI_* variables, config on stdin.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

export interface NetworkConfigList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: Record<string, unknown>[];
}

export interface Attachment {
  containerId: string;
  /** Path of the container's netns (CNI_NETNS); optional for DEL. */
  netns?: string;
  ifname: string;
  /** CNI_ARGS pairs. */
  args?: Record<string, string>;
  /** Capability arguments (portMappings, bandwidth, ...), given to plugins that declare the capability. */
  capabilityArgs?: Record<string, unknown>;
}

export interface RuntimeOptions {
  /** Directories searched for plugin executables (CNI_PATH). */
  path: string[];
  /** Run the plugins inside this named netns (`ip netns exec`): the host of a lab. */
  hostNetns?: string;
  /** Extra environment (PATH is inherited). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface PluginRun {
  plugin: string;
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed, when it is JSON. */
  output?: Record<string, unknown>;
  ms: number;
}

/** A plugin failed: `error` is its error JSON (code, msg, details) when it printed one. */
export class PluginError extends Error {
  constructor(
    readonly run: PluginRun,
    readonly error: { code?: number; msg?: string; details?: string } | undefined,
  ) {
    super(`CNI plugin ${run.plugin} failed (exit ${run.code})${error ? `: code ${error.code}: ${error.msg}${error.details ? `: ${error.details}` : ''}` : `: ${run.stderr.trim().split('\n').slice(-2).join(' | ')}`}`);
    this.name = 'PluginError';
  }
}

export function findPlugin(type: string, path: string[]): string {
  if (type.includes('/')) throw new Error(`plugin type "${type}" must not contain "/"`);
  for (const dir of path) {
    const p = join(dir, type);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  throw new Error(`CNI plugin "${type}" not found in ${path.join(':')}`);
}

/** Runs one plugin executable once. Never throws for a plugin failure: look at `code`. */
export function execPlugin(command: string, exe: string, att: Attachment, stdin: string, opts: RuntimeOptions): Promise<PluginRun> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    ...(opts.env ?? {}),
    CNI_COMMAND: command,
    CNI_CONTAINERID: att.containerId,
    CNI_IFNAME: att.ifname,
    CNI_PATH: opts.path.join(':'),
  };
  if (att.netns) env.CNI_NETNS = att.netns;
  if (att.args) env.CNI_ARGS = Object.entries(att.args).map(([k, v]) => `${k}=${v}`).join(';');
  const [file, argv] = opts.hostNetns ? ['ip', ['netns', 'exec', opts.hostNetns, exe]] : [exe, []];
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(file, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const finish = (code: number | null, extra = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const run: PluginRun = { plugin: exe, code, stdout, stderr: stderr + extra, ms: performance.now() - started };
      try {
        const parsed = JSON.parse(stdout) as unknown;
        if (typeof parsed === 'object' && parsed !== null) run.output = parsed as Record<string, unknown>;
      } catch {
        /* empty or not JSON */
      }
      resolve(run);
    };
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      finish(null, `\ntimed out after ${timeoutMs} ms`);
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => finish(null, err.message));
    child.on('close', (code) => finish(code));
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

/**
 * The execution configuration of one plugin of a list (SPEC.md §3 "Deriving
 * execution configuration"): cniVersion and name from the list, runtimeConfig
 * from the declared capabilities the runtime has arguments for, prevResult;
 * `capabilities` removed, everything else passed through.
 */
export function executionConfig(list: NetworkConfigList, plugin: Record<string, unknown>, att: Attachment, prevResult?: unknown): Record<string, unknown> {
  const { capabilities, ...rest } = plugin;
  const out: Record<string, unknown> = { ...rest, cniVersion: list.cniVersion, name: list.name };
  const runtimeConfig: Record<string, unknown> = {};
  if (capabilities && typeof capabilities === 'object') {
    for (const [cap, on] of Object.entries(capabilities as Record<string, unknown>)) {
      if (on === true && att.capabilityArgs && cap in att.capabilityArgs) runtimeConfig[cap] = att.capabilityArgs[cap];
    }
  }
  if (Object.keys(runtimeConfig).length > 0) out.runtimeConfig = runtimeConfig;
  if (prevResult !== undefined) out.prevResult = prevResult;
  return out;
}

async function step(command: string, list: NetworkConfigList, plugin: Record<string, unknown>, att: Attachment, prev: unknown, opts: RuntimeOptions): Promise<PluginRun> {
  const exe = findPlugin(String(plugin.type), opts.path);
  const run = await execPlugin(command, exe, att, JSON.stringify(executionConfig(list, plugin, att, prev)), opts);
  if (run.code !== 0) throw new PluginError(run, run.output as PluginError['error']);
  return run;
}

/** ADD: every plugin in order, each with the previous one's result; returns the last result (which the runtime keeps for CHECK and DEL). */
export async function addNetworkList(list: NetworkConfigList, att: Attachment, opts: RuntimeOptions): Promise<{ result: Record<string, unknown>; runs: PluginRun[] }> {
  let prev: Record<string, unknown> | undefined;
  const runs: PluginRun[] = [];
  for (const plugin of list.plugins) {
    const run = await step('ADD', list, plugin, att, prev, opts);
    runs.push(run);
    if (!run.output) throw new PluginError(run, undefined);
    prev = run.output;
  }
  return { result: prev ?? {}, runs };
}

/** CHECK: every plugin in order with the ADD's final result (skipped entirely with disableCheck). */
export async function checkNetworkList(list: NetworkConfigList, att: Attachment, prevResult: unknown, opts: RuntimeOptions): Promise<PluginRun[]> {
  if (list.disableCheck) return [];
  const runs: PluginRun[] = [];
  for (const plugin of list.plugins) runs.push(await step('CHECK', list, plugin, att, prevResult, opts));
  return runs;
}

/** DEL: every plugin in reverse order with the ADD's final result (when the runtime has one). */
export async function delNetworkList(list: NetworkConfigList, att: Attachment, prevResult: unknown, opts: RuntimeOptions): Promise<PluginRun[]> {
  const runs: PluginRun[] = [];
  for (const plugin of [...list.plugins].reverse()) runs.push(await step('DEL', list, plugin, att, prevResult, opts));
  return runs;
}
