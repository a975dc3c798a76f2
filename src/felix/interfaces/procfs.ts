/**
 * Reading and writing files under /proc (sysctls, /proc/net/if_inet6).
 *
 * In the current namespace (the agent runs inside the host's): the files
 * directly, synchronously one by one but in batches that yield to the event
 * loop (see LocalProc). procfs reads and writes are in-memory and take
 * microseconds, far less than handing each to the thread pool; no process is
 * forked (platform.md §3.9).
 * In a named namespace (tests): one `ip netns exec NS sh` per call, reading
 * with `grep -sH ""` or writing with `printf > file` line by line (/proc/sys
 * and /proc/net show the namespace of the process that opens them).
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { CommandFailedError, type NamespaceExec } from '../routes/exec.js';
import { parseGrepOutput } from './parse.js';

export interface ProcWriteFailure {
  path: string;
  error: string;
}

export interface ProcAccess {
  /** Contents of files, by path relative to /proc; unreadable ones are absent. */
  read(paths: readonly string[]): Promise<Map<string, string>>;
  /** Write each value (a trailing newline is added); returns the failures. */
  write(entries: ReadonlyArray<readonly [string, string]>): Promise<ProcWriteFailure[]>;
}

const SAFE_PATH = /^[A-Za-z0-9_./@+-]+$/;

function checkPath(p: string): void {
  // Interface names may hold characters a shell would interpret; tabby's
  // never do (checked where they enter), but refuse rather than quote.
  if (!SAFE_PATH.test(p) || p.includes('..')) throw new Error(`refusing unsafe /proc path "${p}"`);
}

/**
 * /proc files read or written per batch before the event loop gets a turn:
 * with 10k workloads a resync touches ~80k sysctls, ~0.25 s of work that
 * must not stall the other steps of the pass (their process exits, their
 * pipes) in one piece. A batch costs ~2-3 ms.
 */
export const PROC_BATCH = 400;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * In the current namespace. Each file is opened, read or written with one
 * call and closed, synchronously (no stat, no buffer per file: procfs
 * answers from memory, and the thread pool's round trips made the
 * asynchronous form 4-8 times slower, measured), in batches of PROC_BATCH
 * with a yield to the event loop between batches. Results are those of a
 * plain read or write of each file.
 */
export class LocalProc implements ProcAccess {
  private readonly buf = Buffer.allocUnsafe(64 * 1024);

  constructor(private readonly root = '/proc') {}

  private readOne(path: string): string | undefined {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return undefined; /* missing: the interface is gone, or IPv6 is disabled */
    }
    try {
      const parts: string[] = [];
      // procfs files are generated per read; read until EOF (if_inet6 can be large).
      for (;;) {
        const n = readSync(fd, this.buf, 0, this.buf.length, null);
        if (n <= 0) break;
        parts.push(this.buf.toString('utf8', 0, n));
      }
      return parts.join('');
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  async read(paths: readonly string[]): Promise<Map<string, string>> {
    const m = new Map<string, string>();
    for (let i = 0; i < paths.length; i++) {
      if (i > 0 && i % PROC_BATCH === 0) await yieldToLoop();
      const p = paths[i]!;
      checkPath(p);
      const v = this.readOne(`${this.root}/${p}`);
      if (v !== undefined) m.set(p, v.replace(/\n$/, ''));
    }
    return m;
  }

  async write(entries: ReadonlyArray<readonly [string, string]>): Promise<ProcWriteFailure[]> {
    const failed: ProcWriteFailure[] = [];
    for (let i = 0; i < entries.length; i++) {
      if (i > 0 && i % PROC_BATCH === 0) await yieldToLoop();
      const [p, v] = entries[i]!;
      checkPath(p);
      try {
        const fd = openSync(`${this.root}/${p}`, 'w');
        try {
          writeSync(fd, `${v}\n`);
        } finally {
          closeSync(fd);
        }
      } catch (err) {
        failed.push({ path: p, error: (err as NodeJS.ErrnoException).code ?? String(err) });
      }
    }
    return failed;
  }
}

export class NetnsProc implements ProcAccess {
  constructor(private readonly exec: NamespaceExec) {}

  async read(paths: readonly string[]): Promise<Map<string, string>> {
    if (paths.length === 0) return new Map();
    paths.forEach(checkPath);
    // grep exits 1 when nothing matched and 2 when a file was missing (xargs
    // then says 123); both are answers. Anything on stderr is not (grep -s
    // is silent about missing files): e.g. the namespace is gone.
    const r = await this.exec.sh('cd /proc && xargs -r grep -sH ""', paths.join('\n') + '\n');
    if (r.timedOut || r.code > 123 || r.stderr.trim() !== '') throw new CommandFailedError(r);
    return parseGrepOutput(r.stdout);
  }

  async write(entries: ReadonlyArray<readonly [string, string]>): Promise<ProcWriteFailure[]> {
    if (entries.length === 0) return [];
    entries.forEach(([p, v]) => {
      checkPath(p);
      if (!/^[A-Za-z0-9 ._:-]*$/.test(v)) throw new Error(`refusing unsafe sysctl value "${v}"`);
    });
    const script = 'while read -r p v; do { printf "%s\\n" "$v" > "/proc/$p"; } 2>/dev/null || echo "$p"; done';
    const r = await this.exec.sh(script, entries.map(([p, v]) => `${p} ${v}`).join('\n') + '\n');
    if (r.timedOut || r.code !== 0) throw new CommandFailedError(r);
    return r.stdout.split('\n').filter(Boolean).map((path) => ({ path, error: 'write failed' }));
  }
}
