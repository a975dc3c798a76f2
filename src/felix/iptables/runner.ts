/**
 * The one seam between the iptables/ipset drivers and the system: run a
 * command, optionally feeding it stdin, and collect its output. Unit tests
 * inject a fake; the real one spawns the process (inside a network namespace
 * when asked, through `ip netns exec`).
 */
import { spawnCommand } from '../spawn/spawner.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  run(cmd: string, args: readonly string[], input?: string): Promise<CommandResult>;
  /**
   * Optional: start the command now with `head` on its stdin, and write
   * `tail` once it resolves (then close stdin). If `tail` rejects, the
   * command is killed before it read all its input, and the run rejects
   * with that error. Lets a restore parse the first part of its input while
   * something it depends on is still being done.
   */
  runStreamed?(cmd: string, args: readonly string[], head: string, tail: Promise<string>): Promise<CommandResult>;
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

/** Runs real processes (through the spawn helper, see spawn/spawner.ts). stdin is only opened for commands that read it. */
export class ProcessRunner implements CommandRunner {
  constructor(private readonly opts: ProcessRunnerOptions = {}) {}

  run(cmd: string, args: readonly string[], input?: string): Promise<CommandResult> {
    return this.start(cmd, args, input === undefined ? undefined : { head: input });
  }

  runStreamed(cmd: string, args: readonly string[], head: string, tail: Promise<string>): Promise<CommandResult> {
    return this.start(cmd, args, { head, tail });
  }

  private async start(cmd: string, args: readonly string[], input: { head: string; tail?: Promise<string> } | undefined): Promise<CommandResult> {
    const [file, argv] = this.opts.netns ? ['ip', ['netns', 'exec', this.opts.netns, cmd, ...args]] : [cmd, [...args]];
    const timeoutMs = this.opts.timeoutMs ?? 60_000;
    const r = await spawnCommand(file, argv, {
      timeoutMs,
      ...(input !== undefined ? { input: input.head } : {}),
      ...(input?.tail !== undefined ? { tail: input.tail } : {}),
    });
    return {
      code: r.code === -1 && r.signal ? 128 : r.code,
      stdout: r.stdout,
      stderr: r.stderr + (r.timedOut ? `\n(killed after ${timeoutMs} ms)` : ''),
    };
  }
}

/** Run and throw CommandFailedError on a non-zero exit. */
export async function runChecked(runner: CommandRunner, cmd: string, args: readonly string[], input?: string): Promise<CommandResult> {
  const r = await runner.run(cmd, args, input);
  if (r.code !== 0) throw new CommandFailedError([cmd, ...args].join(' '), r);
  return r;
}
