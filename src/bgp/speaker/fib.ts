/**
 * Installs the speaker's best routes into the kernel's main table (the
 * BGP-only config's `fibInstall`), tagged with `fibProtocol` so `ip route
 * show proto N` lists exactly these and nothing else is ever touched.
 *
 * Changes are coalesced: while one `ip -batch` runs, new changes only update
 * the desired map, and the next batch carries the latest state. One process
 * per batch, never one per route (platform.md §2a: ~7 µs per route batched).
 * Routes are left in place on exit (as BIRD's `persist`), so forwarding
 * survives a restart; the restarted speaker sweeps what is no longer wanted
 * once it has converged.
 */
import { spawn } from 'node:child_process';
import { logger } from '../../util/log.js';

const log = logger('bgp-fib');

export interface FibRoute {
  prefix: string;
  /** One or more gateways (ECMP). */
  nextHops: string[];
}

/** `ip -batch` lines for a set of changes (pure). */
export function fibBatchLines(changes: Map<string, FibRoute | null>, proto: number): string[] {
  const lines: string[] = [];
  for (const [prefix, r] of changes) {
    const fam = prefix.includes(':') ? '-6 ' : '';
    if (!r || r.nextHops.length === 0) {
      lines.push(`${fam}route del ${prefix} proto ${proto}`);
    } else if (r.nextHops.length === 1) {
      lines.push(`${fam}route replace ${prefix} via ${r.nextHops[0]} proto ${proto}`);
    } else {
      lines.push(`${fam}route replace ${prefix} proto ${proto} ${r.nextHops.map((n) => `nexthop via ${n}`).join(' ')}`);
    }
  }
  return lines;
}

export class FibWriter {
  private pending = new Map<string, FibRoute | null>();
  private running: Promise<void> | undefined;
  installed = 0;
  errors = 0;

  constructor(
    private readonly proto: number,
    private readonly netns?: string,
  ) {}

  /** Prefixes with a route wanted in the kernel now (what a sweep keeps). */
  private readonly wanted = new Set<string>();

  set(prefix: string, route: FibRoute | null): void {
    if (route && route.nextHops.length) this.wanted.add(prefix);
    else this.wanted.delete(prefix);
    this.pending.set(prefix, route);
    if (!this.running) this.running = this.drain();
  }

  /**
   * After a graceful restart has converged: delete the routes of our
   * protocol that the kernel still holds from the previous run but that are
   * no longer wanted (RFC 4724 §4.1: stale forwarding state goes once the
   * peers' End-of-RIBs are in). Returns how many were removed.
   */
  async sweepStale(): Promise<number> {
    await this.idle();
    const stale: string[] = [];
    for (const fam of ['-4', '-6']) {
      const out = await new Promise<string>((resolve) => {
        const child = spawn('ip', [...(this.netns ? ['-n', this.netns] : []), fam, '-j', 'route', 'show', 'proto', String(this.proto)], { stdio: ['ignore', 'pipe', 'ignore'] });
        let text = '';
        child.stdout.on('data', (d: Buffer) => (text += d.toString()));
        child.on('close', () => resolve(text));
        child.on('error', () => resolve(''));
      });
      for (const r of JSON.parse(out || '[]') as { dst: string }[]) {
        const dst = r.dst.includes('/') ? r.dst : `${r.dst}/${fam === '-4' ? 32 : 128}`;
        if (!this.wanted.has(dst)) stale.push(dst);
      }
    }
    for (const dst of stale) if (!this.wanted.has(dst)) this.pending.set(dst, null);
    if (stale.length && !this.running) this.running = this.drain();
    await this.idle();
    return stale.length;
  }

  /** Resolves when every change so far is in the kernel (or failed). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.size > 0) {
        const batch = this.pending;
        this.pending = new Map();
        await this.apply(batch);
      }
    } finally {
      this.running = undefined;
    }
  }

  private apply(batch: Map<string, FibRoute | null>): Promise<void> {
    const lines = fibBatchLines(batch, this.proto);
    const args = [...(this.netns ? ['-n', this.netns] : []), '-force', '-batch', '-'];
    return new Promise((resolve) => {
      const child = spawn('ip', args, { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdin.on('error', () => undefined);
      child.on('error', (err) => {
        this.errors++;
        log.error('bgp.fib.error', { error: err.message });
        resolve();
      });
      child.on('close', (code) => {
        if (code !== 0) {
          // Deleting a route that is already gone is not worth a warning.
          const real = stderr.split('\n').filter((l) => l && !/No such process|Command failed/.test(l));
          if (real.length) {
            this.errors++;
            log.warn('bgp.fib.batch_errors', { lines: lines.length, errors: real.slice(0, 5) });
          }
        }
        this.installed += lines.length;
        resolve();
      });
      child.stdin.end(lines.join('\n') + '\n');
    });
  }
}
