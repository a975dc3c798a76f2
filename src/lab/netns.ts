/** Network namespaces: create, list, delete (killing what runs inside, by PID). */
import { readdirSync, statSync } from 'node:fs';
import { run, runOk } from './exec.js';
import { sleep } from './wait.js';

const NETNS_DIR = '/run/netns';

/** Names of all named network namespaces on this machine. */
export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

/** Create a namespace with its loopback up. */
export async function createNetns(name: string): Promise<void> {
  await runOk('ip', ['netns', 'add', name]);
  await runOk('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/** PIDs of the processes inside a namespace. */
export async function netnsPids(name: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', name], { timeoutMs: 10_000 });
  if (r.code !== 0) return [];
  return r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 1 && n !== process.pid);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGTERM the PIDs, then SIGKILL whatever is left after `graceMs`. */
export async function killPids(pids: number[], graceMs = 2000): Promise<void> {
  const live = pids.filter(pidAlive);
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && live.some(pidAlive)) await sleep(25);
  for (const pid of live.filter(pidAlive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  const hard = Date.now() + 2000;
  while (Date.now() < hard && live.some(pidAlive)) await sleep(10);
}

/**
 * Delete namespaces: kill their processes by PID first (a process left inside
 * would keep the namespace and its links alive), then delete, then wait until
 * they are gone (deletion of the links is asynchronous in the kernel).
 */
export async function deleteNetns(names: string[], graceMs = 2000): Promise<void> {
  const existing = new Set(listNetns());
  const todo = names.filter((n) => existing.has(n));
  if (todo.length === 0) return;
  const pids = (await Promise.all(todo.map(netnsPids))).flat();
  await killPids(pids, graceMs);
  // One `ip -batch` for all deletions; -force so one failure does not stop the rest.
  await run('ip', ['-force', '-batch', '-'], { input: todo.map((n) => `netns del ${n}`).join('\n') + '\n' });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const left = new Set(listNetns());
    if (!todo.some((n) => left.has(n))) return;
    await sleep(25);
  }
}

/** Write a sysctl inside a namespace (one `sh` for many keys). */
export async function setSysctls(ns: string, values: Record<string, string | number>): Promise<void> {
  const keys = Object.keys(values);
  if (keys.length === 0) return;
  const script = keys.map((k) => `echo ${values[k]} > /proc/sys/${k.replace(/\./g, '/')}`).join('\n');
  await runOk('sh', ['-e', '-c', script], { ns });
}

/** Whether process `pid` is alive and runs in the named namespace (guards kills by PID against PID reuse). */
export function pidInNetns(pid: number, ns: string): boolean {
  try {
    const a = statSync(`/proc/${pid}/ns/net`);
    const b = statSync(`${NETNS_DIR}/${ns}`);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}
