/**
 * How the dataplane drivers start processes.
 *
 * `spawnCommand` is the one function they call. By default it goes through
 * a spawn helper (helper.ts): a small process of our own that forks the
 * commands, so the agent's thread never blocks in fork/exec (which costs
 * more the more memory the agent holds: 2.5-12 ms per command measured with
 * 1k workloads). When the helper cannot run (or `TABBY_SPAWN=direct`), the
 * command is spawned directly; results are the same either way.
 *
 * The helper is started lazily, on the first command, restarted when it
 * dies, and never keeps the process alive on its own (it is unref'd while
 * nothing is pending; commands in flight hold the event loop, as a direct
 * child would).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeFrame, FrameReader, type Response } from './protocol.js';

export interface SpawnResult {
  /** Exit code; -1 when killed by a signal or not started. */
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  signal: string | null;
}

export interface SpawnOptions {
  /** All of stdin (closed after). Without `input` and `tail` the command gets no stdin. */
  input?: string;
  /** More stdin, written when it resolves (then stdin is closed); a rejection kills the command and the spawn rejects with it. */
  tail?: Promise<string>;
  timeoutMs: number;
}

export class SpawnError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'SpawnError';
  }
}

/** Spawn in this process (the fallback, and `TABBY_SPAWN=direct`). */
export function spawnDirect(file: string, args: readonly string[], opts: SpawnOptions): Promise<SpawnResult> {
  const hasStdin = opts.input !== undefined || opts.tail !== undefined;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(file, [...args], { stdio: [hasStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    } catch (err) {
      return reject(err);
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let aborted: unknown;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (aborted !== undefined) return reject(aborted);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut, signal });
    });
    if (hasStdin) {
      child.stdin!.on('error', () => {});
      if (opts.tail === undefined) child.stdin!.end(opts.input ?? '');
      else {
        child.stdin!.write(opts.input ?? '');
        opts.tail.then(
          (rest) => child.stdin!.end(rest),
          (e: unknown) => {
            aborted = e ?? new Error('input aborted');
            child.kill('SIGKILL');
          },
        );
      }
    }
  });
}

const HELPER = fileURLToPath(new URL('./helper.js', import.meta.url));

interface Pending {
  resolve: (r: SpawnResult) => void;
  reject: (e: unknown) => void;
  aborted?: unknown;
  /** The helper enforces the command's timeout; this one fires only if the helper itself hangs. */
  guard: NodeJS.Timeout;
}

/** Extra time the helper gets beyond a command's own timeout before the agent gives up on it. */
const HELPER_GRACE_MS = 10_000;

/** One helper process and the commands in flight through it. */
export class SpawnHelper {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private broken = !existsSync(HELPER);
  /** Helper exits in a row without a single answer: twice, and it is given up (direct spawns). */
  private deaths = 0;

  /** Run one command through the helper. */
  run(file: string, args: readonly string[], opts: SpawnOptions): Promise<SpawnResult> {
    const child = this.ensure();
    const id = this.nextId++;
    const hasStdin = opts.input !== undefined || opts.tail !== undefined;
    const p = new Promise<SpawnResult>((resolve, reject) => {
      const guard = setTimeout(() => {
        if (!this.pending.delete(id)) return;
        if (this.pending.size === 0) this.unref();
        reject(new SpawnError(`spawn helper did not answer for ${file} within ${opts.timeoutMs + HELPER_GRACE_MS} ms`));
      }, opts.timeoutMs + HELPER_GRACE_MS);
      guard.unref();
      this.pending.set(id, { resolve, reject, guard });
    });
    this.ref();
    child.stdin!.write(
      encodeFrame(
        { t: 'start', id, file, args: [...args], stdin: hasStdin, end: opts.tail === undefined, timeoutMs: opts.timeoutMs },
        opts.input !== undefined ? Buffer.from(opts.input, 'utf8') : undefined,
      ),
    );
    opts.tail?.then(
      (rest) => {
        if (this.child === child) child.stdin!.write(encodeFrame({ t: 'data', id, end: true }, Buffer.from(rest, 'utf8')));
      },
      (e: unknown) => {
        const pend = this.pending.get(id);
        if (pend) pend.aborted = e ?? new Error('input aborted');
        if (this.child === child) child.stdin!.write(encodeFrame({ t: 'kill', id }));
      },
    );
    return p;
  }

  /** The helper could not be started or keeps dying: use direct spawns. */
  get usable(): boolean {
    return !this.broken;
  }

  /** Stop the helper (commands in flight fail). */
  close(): void {
    const c = this.child;
    this.child = undefined;
    if (c) {
      c.stdin?.end();
      c.kill('SIGTERM');
    }
    this.failAll(new SpawnError('spawn helper closed'));
  }

  private ensure(): ChildProcess {
    if (this.child) return this.child;
    const child = spawn(process.execPath, [HELPER], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child = child;
    const reader = new FrameReader();
    child.stdout!.on('data', (chunk: Buffer) => {
      for (const { header, body } of reader.push(chunk)) this.onResponse(header as Response, body);
    });
    child.stdin!.on('error', () => {});
    child.on('error', () => {
      this.broken = true;
    });
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
      if (++this.deaths >= 2) this.broken = true;
      this.failAll(new SpawnError('spawn helper exited'));
    });
    this.unref();
    return child;
  }

  private onResponse(r: Response, body: Buffer): void {
    this.deaths = 0;
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    clearTimeout(p.guard);
    if (this.pending.size === 0) this.unref();
    if (r.t === 'error') return p.reject(new SpawnError(r.message, r.code));
    if (p.aborted !== undefined) return p.reject(p.aborted);
    p.resolve({
      code: r.code ?? -1,
      stdout: body.toString('utf8', 0, r.outLength),
      stderr: body.toString('utf8', r.outLength),
      timedOut: r.timedOut,
      signal: r.signal,
    });
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      clearTimeout(p.guard);
      p.reject(err);
    }
  }

  // While a command is pending the helper's pipe keeps the event loop alive, as a direct child would.
  private ref(): void {
    const c = this.child;
    if (!c) return;
    c.ref();
    (c.stdout as unknown as { ref?: () => void }).ref?.();
  }

  private unref(): void {
    const c = this.child;
    if (!c) return;
    c.unref();
    (c.stdout as unknown as { unref?: () => void }).unref?.();
    (c.stdin as unknown as { unref?: () => void }).unref?.();
  }
}

let shared: SpawnHelper | undefined;

/** Whether commands go through the helper (default) or are spawned here. */
function useHelper(): boolean {
  return process.env.TABBY_SPAWN !== 'direct';
}

/**
 * Run a command (through the shared helper when possible). A command in
 * flight when the helper dies fails (it may have run: the caller's own
 * failure handling reads back and retries); the next one starts a new
 * helper, and a helper that dies twice without answering is given up for
 * direct spawns.
 */
export function spawnCommand(file: string, args: readonly string[], opts: SpawnOptions): Promise<SpawnResult> {
  if (!useHelper()) return spawnDirect(file, args, opts);
  shared ??= new SpawnHelper();
  if (!shared.usable) return spawnDirect(file, args, opts);
  return shared.run(file, args, opts);
}

/** Stop the shared helper (tests; a process that wants to exit promptly needs nothing: it is unref'd). */
export function closeSpawnHelper(): void {
  shared?.close();
  shared = undefined;
}
