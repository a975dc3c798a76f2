/**
 * Which iptables implementation programs this network namespace, and the
 * commands that talk to it.
 *
 * nft and legacy rules are both evaluated when both exist in one namespace
 * (platform.md §1), so tabby must never write to both: `auto` picks legacy
 * only when legacy tables already hold rules here and nft holds none (someone
 * else, e.g. an older kube-proxy, already chose legacy); otherwise nft, which
 * is Debian's default, updates one chain in constant time, and ignores the
 * host-wide xtables lock.
 */
import type { IpVersion, TableName } from './model.js';
import type { CommandResult, CommandRunner } from './runner.js';

export type IptablesBackend = 'nft' | 'legacy';
export type IptablesBackendMode = IptablesBackend | 'auto';

export interface IptablesCommands {
  save: string;
  restore: string;
  /** Arguments of every restore: `--noflush` (and the lock wait for legacy). */
  restoreArgs: string[];
}

/** Seconds iptables-legacy-restore waits for the host-wide /run/xtables.lock. */
export const LEGACY_LOCK_WAIT_SECONDS = 10;

export function iptablesCommands(backend: IptablesBackend, ipVersion: IpVersion = 4): IptablesCommands {
  const base = ipVersion === 6 ? 'ip6tables' : 'iptables';
  return backend === 'nft'
    ? { save: `${base}-nft-save`, restore: `${base}-nft-restore`, restoreArgs: ['--noflush'] }
    : { save: `${base}-legacy-save`, restore: `${base}-legacy-restore`, restoreArgs: ['-w', String(LEGACY_LOCK_WAIT_SECONDS), '--noflush'] };
}

export class IptablesRestoreError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    /** The input line iptables-restore complained about, when it said which. */
    readonly failedLine?: string,
  ) {
    super(message);
    this.name = 'IptablesRestoreError';
  }
}

/** Save and restore through one backend and IP version. */
export class IptablesExecutor {
  readonly commands: IptablesCommands;

  constructor(
    readonly runner: CommandRunner,
    readonly backend: IptablesBackend,
    readonly ipVersion: IpVersion = 4,
  ) {
    this.commands = iptablesCommands(backend, ipVersion);
  }

  /** `iptables-save -t TABLE` (stderr warnings, such as nft's "legacy tables present", are ignored). */
  async save(table: TableName): Promise<string> {
    const r = await this.runner.run(this.commands.save, ['-t', table]);
    if (r.code !== 0) throw new Error(`${this.commands.save} -t ${table} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  /**
   * One atomic `iptables-restore --noflush` of `input`. With `gate`, only
   * the first `early` characters are fed at once and the rest when the gate
   * resolves (a restore parses `-m set` matches as it reads them, so lines
   * naming sets still being created wait); a rejected gate aborts the
   * restore uncommitted and rethrows.
   */
  async restore(input: string, opts: { early?: number; gate?: Promise<unknown> } = {}): Promise<void> {
    const { gate, early } = opts;
    let r: CommandResult;
    if (gate === undefined || early === undefined || early >= input.length) r = await this.runner.run(this.commands.restore, this.commands.restoreArgs, input);
    else if (this.runner.runStreamed && early > 0) {
      r = await this.runner.runStreamed(this.commands.restore, this.commands.restoreArgs, input.slice(0, early), gate.then(() => input.slice(early)));
    } else {
      await gate;
      r = await this.runner.run(this.commands.restore, this.commands.restoreArgs, input);
    }
    if (r.code === 0) return;
    const m = /line:?\s*(\d+)/.exec(r.stderr);
    const failedLine = m ? input.split('\n')[Number(m[1]) - 1] : undefined;
    const first = r.stderr.trim().split('\n')[0] ?? '';
    throw new IptablesRestoreError(
      `${this.commands.restore} failed (exit ${r.code}): ${first}${failedLine !== undefined ? ` at ${JSON.stringify(failedLine)}` : ''}`,
      r.stderr,
      failedLine,
    );
  }
}

/** Number of rules in an `iptables-save` dump. */
export function countSavedRules(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (/^(\[\d+:\d+\]\s+)?-A\s/.test(line)) n++;
  return n;
}

export interface BackendDetection {
  backend: IptablesBackend;
  legacyRules: number;
  nftRules: number;
}

/**
 * Resolve `auto` by asking both `-save` commands (IPv4 and IPv6) how many
 * rules they hold in this namespace. A missing command counts as no rules.
 */
export async function detectBackend(runner: CommandRunner, mode: IptablesBackendMode): Promise<BackendDetection> {
  if (mode !== 'auto') return { backend: mode, legacyRules: -1, nftRules: -1 };
  const count = async (cmd: string): Promise<number> => {
    try {
      const r = await runner.run(cmd, []);
      return r.code === 0 ? countSavedRules(r.stdout) : 0;
    } catch {
      return 0;
    }
  };
  const [l4, l6, n4, n6] = await Promise.all([
    count('iptables-legacy-save'),
    count('ip6tables-legacy-save'),
    count('iptables-nft-save'),
    count('ip6tables-nft-save'),
  ]);
  const legacyRules = l4 + l6;
  const nftRules = n4 + n6;
  return { backend: legacyRules > 0 && nftRules === 0 ? 'legacy' : 'nft', legacyRules, nftRules };
}
