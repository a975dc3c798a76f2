/**
 * Conntrack cleanup for workload addresses that went away.
 *
 * When a workload is removed, or its address moves to another workload or
 * interface, the kernel still holds connection-tracking entries for the
 * address; a new workload given the same address would inherit them (an
 * ESTABLISHED entry is accepted before any policy is looked at, so it would
 * receive the old peers' packets). Felix deletes them when it removes a
 * workload's route; so does this driver, after the routes pass of the same
 * agent pass (no packet is routed to the old interface any more). A
 * workload deleted while the agent was down is found the same way: its /32
 * (/128) route to a workload interface is still in the kernel with our
 * protocol, the first read-back removes it, and its address is flushed.
 *
 * As Felix: every flow of the address is found through the original source
 * (the workload started it) or the reply source (it was the destination,
 * possibly behind a DNAT), so those two directions are deleted, for the
 * address's family (`conntrack -D -f ipv4|ipv6 --orig-src|--reply-src IP`).
 *
 * Cost: a few addresses (a workload removed) get their commands spawned all
 * at once (through the spawn helper: no shell, in parallel with the pass's
 * restores); many (a bulk change) go through one `sh` per 256 addresses.
 * "0 flow entries" is success. An address whose commands fail (the tool is
 * missing, the kernel refuses) is retried at the next apply, a bounded
 * number of times, and reported.
 */
import { logger, type ComponentLogger } from '../../util/log.js';
import type { CommandRunner } from '../iptables/runner.js';

export interface ConntrackReport {
  /** Addresses whose flows were deleted (or had none). */
  flushed: string[];
  /** Flow entries deleted, summed. */
  entries: number;
  failed: { ip: string; error: string }[];
  processes: number;
}

const MAX_ATTEMPTS = 5;
/** Addresses per `sh` (each costs 2 conntrack processes). */
const PER_PROCESS = 256;
/** Up to this many addresses, each command is spawned on its own, all at once. */
const DIRECT_MAX = 4;
/** Felix's two: the workload started the flow, or it answered it (possibly behind a DNAT). */
const DIRECTIONS = ['--orig-src', '--reply-src'] as const;

/** conntrack's "N flow entries have been deleted" (also when N is 0: success). */
function deleted(text: string): number | undefined {
  const m = /(\d+) flow entries have been deleted/.exec(text);
  return m ? Number(m[1]) : undefined;
}

export class ConntrackCleaner {
  private readonly runner: CommandRunner;
  private readonly log: ComponentLogger;
  /** Address -> attempts so far. */
  private readonly pending = new Map<string, number>();

  constructor(opts: { runner: CommandRunner; log?: ComponentLogger }) {
    this.runner = opts.runner;
    this.log = opts.log ?? logger('felix.conntrack');
  }

  /** Delete the flows of these addresses at the next apply. No I/O. */
  flush(ips: Iterable<string>): void {
    for (const ip of ips) if (!this.pending.has(ip)) this.pending.set(ip, 0);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  async apply(): Promise<ConntrackReport> {
    const report: ConntrackReport = { flushed: [], entries: 0, failed: [], processes: 0 };
    const ips = [...this.pending.keys()].filter((ip) => {
      if (/^[0-9a-fA-F.:]+$/.test(ip)) return true;
      this.pending.delete(ip);
      return false;
    });
    if (ips.length <= DIRECT_MAX) {
      // A few addresses (a workload removed): every command at once, no shell.
      const outcomes = await Promise.all(ips.map((ip) => Promise.all(DIRECTIONS.map((d) => this.one(ip, d, report)))));
      ips.forEach((ip, i) => this.settle(ip, outcomes[i]!.find((e) => e !== undefined), report));
    } else {
      for (let i = 0; i < ips.length; i += PER_PROCESS) await this.batch(ips.slice(i, i + PER_PROCESS), report);
    }
    if (report.flushed.length) this.log.debug('felix.conntrack.flushed', { ips: report.flushed.slice(0, 20), entries: report.entries });
    if (report.failed.length) this.log.warn('felix.conntrack.failed', { failed: report.failed.slice(0, 20) }, 'could not delete conntrack flows of removed workload addresses');
    return report;
  }

  /** One command; undefined when it succeeded, else why not. */
  private async one(ip: string, dir: string, report: ConntrackReport): Promise<string | undefined> {
    report.processes++;
    try {
      const r = await this.runner.run('conntrack', ['-D', '-f', ip.includes(':') ? 'ipv6' : 'ipv4', dir, ip]);
      const n = deleted(r.stderr);
      if (n !== undefined) {
        report.entries += n;
        return undefined;
      }
      return r.stderr.trim().split('\n').pop() || `conntrack exited ${r.code}`;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }

  /** Many addresses: one shell runs their commands one after the other. */
  private async batch(chunk: string[], report: ConntrackReport): Promise<void> {
    // One line per command: "<ip> <exit code> <conntrack's last words>".
    const script =
      'for ip in "$@"; do case "$ip" in *:*) f=ipv6;; *) f=ipv4;; esac; ' +
      'for d in --orig-src --reply-src; do out=$(conntrack -D -f "$f" "$d" "$ip" 2>&1 >/dev/null); ' +
      'echo "$ip $? $(printf %s "$out" | tail -n 1)"; done; done';
    report.processes++;
    let stdout = '';
    let failure: string | undefined;
    try {
      const r = await this.runner.run('sh', ['-c', script, 'sh', ...chunk]);
      stdout = r.stdout;
      if (r.code !== 0) failure = r.stderr.trim() || `sh exited ${r.code}`;
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
    const bad = new Map<string, string>();
    const seen = new Map<string, number>();
    for (const line of stdout.split('\n')) {
      const m = /^(\S+) (\d+) ?(.*)$/.exec(line);
      if (!m) continue;
      const [, ip, code, text] = m as unknown as [string, string, string, string];
      seen.set(ip, (seen.get(ip) ?? 0) + 1);
      const n = deleted(text);
      if (n !== undefined) report.entries += n;
      else if (code !== '0') bad.set(ip, text || `conntrack exited ${code}`);
    }
    for (const ip of chunk) this.settle(ip, bad.get(ip) ?? (seen.get(ip) !== DIRECTIONS.length ? (failure ?? 'no answer') : undefined), report);
  }

  private settle(ip: string, error: string | undefined, report: ConntrackReport): void {
    if (error === undefined) {
      report.flushed.push(ip);
      this.pending.delete(ip);
      return;
    }
    const attempts = (this.pending.get(ip) ?? 0) + 1;
    report.failed.push({ ip, error });
    if (attempts >= MAX_ATTEMPTS) this.pending.delete(ip);
    else this.pending.set(ip, attempts);
  }
}
