/**
 * Processes the lab starts inside a namespace (a tabby daemon, bird, etcd, an
 * echo server), with stdout and stderr captured to a log file the tests print
 * on failure. Stopped by PID, never by name.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { killPids, pidAlive } from './netns.js';

export interface ProcessSpec {
  ns: string;
  /** A short name, used for the log file. */
  name: string;
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  logFile: string;
  /** Survive the parent (for `tabby lab up`). */
  detached?: boolean;
}

export class ManagedProcess {
  exitCode: number | null = null;
  signal: NodeJS.Signals | null = null;
  private readonly exited: Promise<void>;

  private constructor(
    readonly spec: ProcessSpec,
    readonly pid: number,
    exited: Promise<void>,
  ) {
    this.exited = exited;
  }

  static start(spec: ProcessSpec): ManagedProcess {
    const fd = openSync(spec.logFile, 'a');
    try {
      // `ip netns exec` execs the command after entering the namespace, so the
      // PID we hold is the command's own.
      const child = spawn('ip', ['netns', 'exec', spec.ns, spec.cmd, ...spec.args], {
        stdio: ['ignore', fd, fd],
        detached: spec.detached === true,
        env: { ...process.env, ...(spec.env ?? {}) },
        ...(spec.cwd ? { cwd: spec.cwd } : {}),
      });
      if (child.pid === undefined) throw new Error(`could not start ${spec.cmd} in ${spec.ns}`);
      let proc: ManagedProcess | undefined;
      const exited = new Promise<void>((resolve) => {
        child.once('exit', (code, signal) => {
          if (proc) {
            proc.exitCode = code;
            proc.signal = signal;
          }
          resolve();
        });
        child.once('error', () => resolve());
      });
      proc = new ManagedProcess(spec, child.pid, exited);
      if (spec.detached) child.unref();
      return proc;
    } finally {
      closeSync(fd);
    }
  }

  get alive(): boolean {
    return this.exitCode === null && this.signal === null && pidAlive(this.pid);
  }

  /** Resolves when the process has exited (or after timeoutMs, with false). */
  async waitExit(timeoutMs = 10_000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    const done = this.exited.then(() => true);
    const res = await Promise.race([done, t]);
    clearTimeout(timer);
    return res;
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 3000): Promise<void> {
    await killPids([this.pid], graceMs);
    await this.waitExit(1000);
  }

  /** Send a signal by PID (e.g. SIGSTOP a BGP peer to expire its hold timer). */
  signalWith(sig: NodeJS.Signals): void {
    if (pidAlive(this.pid)) process.kill(this.pid, sig);
  }

  logTail(maxLines = 40): string {
    try {
      const lines = readFileSync(this.spec.logFile, 'utf8').split('\n');
      return lines.slice(-maxLines - 1).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
