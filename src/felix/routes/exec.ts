/**
 * The one door to the kernel tools for the dataplane drivers: `ip` and `sh`,
 * in the current network namespace (the agent runs inside the host's), or in
 * a named one (tests and the lab): `ip -n NS ...`, `ip netns exec NS sh`.
 *
 * Every command has a timeout; stdin is only opened for commands that read
 * it (platform.md §3.3: an unread stdin gives EPIPE). Each process spawned is
 * counted, so tests can check that a driver forks per apply, not per route.
 * Tests inject a fake `CommandRunner`.
 */
import { spawnCommand } from '../spawn/spawner.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  command: string;
}

export interface CommandRunner {
  run(file: string, args: string[], opts: { input?: string; timeoutMs: number }): Promise<CommandResult>;
}

/** The real runner (through the spawn helper, see spawn/spawner.ts). The name is historical. */
export const execaRunner: CommandRunner = {
  async run(file, args, opts) {
    const command = [file, ...args].join(' ');
    try {
      const r = await spawnCommand(file, args, { timeoutMs: opts.timeoutMs, ...(opts.input !== undefined ? { input: opts.input } : {}) });
      return { code: r.code, stdout: r.stdout, stderr: r.stderr, timedOut: r.timedOut, command };
    } catch (err) {
      // Not started (ENOENT, ...): a failed command, as the callers expect.
      return { code: -1, stdout: '', stderr: err instanceof Error ? err.message : String(err), timedOut: false, command };
    }
  },
};

export class CommandFailedError extends Error {
  constructor(readonly result: CommandResult) {
    super(
      `${result.command}: ${result.timedOut ? 'timed out' : `exit ${result.code}`}` +
        (result.stderr.trim() ? `: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''),
    );
    this.name = 'CommandFailedError';
  }
}

export interface NamespaceExecOptions {
  /** Named network namespace; undefined = the current one. */
  netns?: string;
  runner?: CommandRunner;
  /** Base timeout of one command (a batch gets more per line). */
  timeoutMs?: number;
}

export class NamespaceExec {
  readonly netns: string | undefined;
  private readonly runner: CommandRunner;
  private readonly timeoutMs: number;
  /** Processes spawned so far. */
  spawned = 0;

  constructor(opts: NamespaceExecOptions = {}) {
    this.netns = opts.netns;
    this.runner = opts.runner ?? execaRunner;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  private budget(input: string | undefined): number {
    // ~7 µs per route line in the kernel (platform.md §2a); allow 100x that.
    return this.timeoutMs + (input ? Math.ceil(input.length / 60) : 0);
  }

  /** `ip [-n NS] ARGS`, stdin only when `input` is given. */
  ip(args: string[], input?: string): Promise<CommandResult> {
    this.spawned++;
    const argv = this.netns !== undefined ? ['-n', this.netns, ...args] : args;
    return this.runner.run('ip', argv, { ...(input !== undefined ? { input } : {}), timeoutMs: this.budget(input) });
  }

  /** `ip [-n NS] [-force] -batch -` with these lines on stdin. */
  ipBatch(lines: string[], opts: { force?: boolean; json?: boolean; family?: 4 | 6 } = {}): Promise<CommandResult> {
    const flags = [...(opts.family ? [`-${opts.family}`] : []), ...(opts.json ? ['-j'] : []), ...(opts.force !== false ? ['-force'] : []), '-batch', '-'];
    return this.ip(flags, lines.join('\n') + '\n');
  }

  /** A shell script (`sh -c`), inside the namespace when one is set. */
  sh(script: string, input?: string): Promise<CommandResult> {
    this.spawned++;
    const [file, argv] = this.netns !== undefined ? ['ip', ['netns', 'exec', this.netns, 'sh', '-c', script]] : ['sh', ['-c', script]];
    return this.runner.run(file, argv as string[], { ...(input !== undefined ? { input } : {}), timeoutMs: this.budget(input) });
  }
}
