/**
 * The one seam between the iptables/ipset drivers and the system: run a
 * command, optionally feeding it stdin, and collect its output. Unit tests
 * inject a fake; the real one spawns the process (inside a network namespace
 * when asked, through `ip netns exec`).
 */
import { spawn } from 'node:child_process';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  run(cmd: string, args: readonly string[], input?: string): Promise<CommandResult>;
}

export class CommandFailedError extends Error {
  constructor(
    readonly command: string,
    readonly result: CommandResult,
  ) {
    super(`${command} failed (exit ${result.code})${result.stderr.trim() ? `: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
    this.name = 'CommandFailedError';
  }
}

export interface ProcessRunnerOptions {
  /** Run every command inside this named network namespace. */
  netns?: string;
  /** Kill the command (by its PID) after this long; default 60 s. */
  timeoutMs?: number;
}

/** Spawns real processes. stdin is only opened for commands that read it. */
export class ProcessRunner implements CommandRunner {
  constructor(private readonly opts: ProcessRunnerOptions = {}) {}

  run(cmd: string, args: readonly string[], input?: string): Promise<CommandResult> {
    const [file, argv] = this.opts.netns ? ['ip', ['netns', 'exec', this.opts.netns, cmd, ...args]] : [cmd, [...args]];
    const timeoutMs = this.opts.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const child = spawn(file, argv, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.stdout!.on('data', (b: Buffer) => out.push(b));
      child.stderr!.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const stderr = Buffer.concat(err).toString('utf8') + (timedOut ? `\n(killed after ${timeoutMs} ms)` : '');
        resolve({ code: code ?? (signal ? 128 : -1), stdout: Buffer.concat(out).toString('utf8'), stderr });
      });
      if (input !== undefined) {
        // A child that exits before reading all of stdin makes the write fail
        // with EPIPE; its exit code tells the real story, so swallow it here.
        child.stdin!.on('error', () => {});
        child.stdin!.end(input);
      }
    });
  }
}

/** Run and throw CommandFailedError on a non-zero exit. */
export async function runChecked(runner: CommandRunner, cmd: string, args: readonly string[], input?: string): Promise<CommandResult> {
  const r = await runner.run(cmd, args, input);
  if (r.code !== 0) throw new CommandFailedError([cmd, ...args].join(' '), r);
  return r;
}
