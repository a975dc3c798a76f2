/**
 * Running commands for the lab: always with a timeout, never through a shell
 * unless asked, optionally inside a network namespace (`ip netns exec`).
 */
import { execa } from 'execa';

export interface RunOptions {
  /** Run inside this network namespace. */
  ns?: string;
  input?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  command: string;
}

export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, argv] = opts.ns ? ['ip', ['netns', 'exec', opts.ns, cmd, ...args]] : [cmd, args];
  const r = await execa(file, argv, {
    reject: false,
    timeout: opts.timeoutMs ?? 30_000,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }),
    ...(opts.env ? { env: opts.env } : {}),
    stripFinalNewline: true,
  });
  return {
    code: typeof r.exitCode === 'number' ? r.exitCode : -1,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    timedOut: r.timedOut === true,
    command: [file, ...argv].join(' '),
  };
}

export class CommandError extends Error {
  constructor(readonly result: RunResult) {
    super(
      `command failed (${result.timedOut ? 'timed out' : `exit ${result.code}`}): ${result.command}` +
        (result.stderr ? `: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''),
    );
    this.name = 'CommandError';
  }
}

/** Run and throw a CommandError on a non-zero exit. */
export async function runOk(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new CommandError(r);
  return r.stdout;
}

/**
 * `ip -batch -` inside one namespace (a batch line cannot carry `-n`, so one
 * process per namespace). `force` keeps going past failing lines.
 */
export async function ipBatch(ns: string | undefined, lines: string[], opts: { force?: boolean } = {}): Promise<void> {
  if (lines.length === 0) return;
  const args = [...(ns ? ['-n', ns] : []), ...(opts.force ? ['-force'] : []), '-batch', '-'];
  await runOk('ip', args, { input: lines.join('\n') + '\n' });
}
