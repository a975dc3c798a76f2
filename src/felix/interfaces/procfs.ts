/**
 * Reading and writing files under /proc (sysctls, /proc/net/if_inet6).
 *
 * In the current namespace (the agent runs inside the host's): the files
 * directly, synchronously. procfs reads and writes are in-memory and take
 * microseconds, far less than handing each to the thread pool; no process is
 * forked (platform.md §3.9).
 * In a named namespace (tests): one `ip netns exec NS sh` per call, reading
 * with `grep -sH ""` or writing with `printf > file` line by line (/proc/sys
 * and /proc/net show the namespace of the process that opens them).
 */
import { readFileSync, writeFileSync } from 'node:fs';
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

export class LocalProc implements ProcAccess {
  constructor(private readonly root = '/proc') {}

  async read(paths: readonly string[]): Promise<Map<string, string>> {
    const m = new Map<string, string>();
    for (const p of paths) {
      checkPath(p);
      try {
        m.set(p, readFileSync(`${this.root}/${p}`, 'utf8').replace(/\n$/, ''));
      } catch {
        /* missing: the interface is gone, or IPv6 is disabled */
      }
    }
    return m;
  }

  async write(entries: ReadonlyArray<readonly [string, string]>): Promise<ProcWriteFailure[]> {
    const failed: ProcWriteFailure[] = [];
    for (const [p, v] of entries) {
      checkPath(p);
      try {
        writeFileSync(`${this.root}/${p}`, `${v}\n`);
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
