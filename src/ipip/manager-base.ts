/**
 * The sync loop shared by the IPIP and VXLAN managers (Felix's manager
 * recipe: a full read-back and diff every time, so a resync is the drift
 * repair):
 *
 *   read back → plan → nothing to do? done
 *                    → apply (-force batches) → read back → plan again
 *                      → empty: converged, status ok
 *                      → else: status error, retried next sync
 *
 * A device the kernel cannot create at all (`Unknown device type`: no
 * module, as for ipip on this machine) is a state, not an error to retry:
 * status `unsupported`, one log line, and later syncs only read back (one
 * command) until the device appears (e.g. after `modprobe ipip`).
 *
 * Syncs are serialised; callers may call `sync()` from anywhere.
 */
import { logger } from '../util/log.js';
import { applyOps, type ApplyResult } from './io.js';
import { changesOf, flushesRoutes, renderCommands } from './plan.js';
import type { ToolRunner } from './runner.js';
import type { Change, Op, SyncReport, TunnelStatus } from './types.js';

/** The subset of the project logger the managers use (so tests can capture lines). */
export interface EncapLog {
  debug(event: string, fields?: Record<string, unknown>, msg?: string): void;
  info(event: string, fields?: Record<string, unknown>, msg?: string): void;
  warn(event: string, fields?: Record<string, unknown>, msg?: string): void;
  error(event: string, fields?: Record<string, unknown>, msg?: string): void;
}

export interface EncapManagerOptions {
  runner: ToolRunner;
  log?: EncapLog;
  /** Clock for `since` in the status; tests inject one. */
  now?: () => Date;
}

/** Messages of a device create that mean "this kernel has no such device type". */
const UNSUPPORTED_RE = /Unknown device type|Operation not supported|not supported by kernel/i;

export abstract class EncapManager<State> {
  protected readonly runner: ToolRunner;
  protected readonly log: EncapLog;
  private readonly now: () => Date;
  private current: TunnelStatus;
  private queue: Promise<unknown> = Promise.resolve();

  protected constructor(
    readonly device: string,
    opts: EncapManagerOptions,
  ) {
    this.runner = opts.runner;
    this.log = opts.log ?? logger('encap');
    this.now = opts.now ?? (() => new Date());
    this.current = { state: 'disabled', device };
  }

  /** Whether the node wants the device at all (else it is cleaned up). */
  protected abstract wanted(): boolean;
  /** Read the kernel state the plan needs. */
  protected abstract read(): Promise<State>;
  /** What to run to get from `state` to the desired state. */
  protected abstract plan(state: State): Op[];
  /** True when the read-back shows a device of the right kind (ends the unsupported state). */
  protected abstract deviceUsable(state: State): boolean;
  /** Hook after every read-back that ends a sync (bookkeeping such as owned MACs). */
  protected settled(_state: State): void {}

  status(): TunnelStatus {
    return this.current;
  }

  /** Read back, repair, verify. Never throws for kernel errors: they land in the report and the status. */
  sync(): Promise<SyncReport> {
    const run = this.queue.then(() => this.syncOnce());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private report(partial: Omit<SyncReport, 'device' | 'status'>): SyncReport {
    return { device: this.device, status: this.current, ...partial };
  }

  private async syncOnce(): Promise<SyncReport> {
    let state: State;
    try {
      state = await this.read();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.fail(reason);
      return this.report({ repairs: [], commands: [], converged: false, errors: [reason], routesFlushed: false });
    }

    if (this.current.state === 'unsupported') {
      if (this.wanted() && !this.deviceUsable(state)) {
        // No retry storm: the create failed for good; only watch for the device to appear.
        return this.report({ repairs: [], commands: [], converged: false, errors: [], routesFlushed: false });
      }
      if (this.wanted()) this.log.info('encap.device.available', { device: this.device }, `${this.device} exists now; programming it`);
    }

    const ops = this.plan(state);
    if (ops.length === 0) {
      this.succeed();
      this.settled(state);
      return this.report({ repairs: [], commands: [], converged: true, errors: [], routesFlushed: false });
    }

    let applied: ApplyResult;
    try {
      applied = await this.apply(ops);
    } catch (err) {
      // The tool could not even run (not installed, killed): nothing is known to have changed.
      const reason = err instanceof Error ? err.message : String(err);
      this.fail(reason);
      return this.report({ repairs: changesOf(ops), commands: renderCommands(ops), converged: false, errors: [reason], routesFlushed: false });
    }
    const errors = [...applied.failed.map((f) => `${f.op.tool} ${f.op.line}: ${f.message}`), ...applied.unattributed];
    const base = { repairs: changesOf(ops), commands: renderCommands(ops), errors, routesFlushed: flushesRoutes(ops) };

    const unsupported = applied.failed.find((f) => isCreate(f.op) && UNSUPPORTED_RE.test(f.message));
    if (unsupported) {
      this.markUnsupported(unsupported.op, unsupported.message);
      return this.report({ ...base, routesFlushed: false, converged: false });
    }

    let after: State;
    try {
      after = await this.read();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.fail(reason);
      return this.report({ ...base, converged: false, errors: [...errors, reason] });
    }
    const left = this.plan(after);
    this.settled(after);
    if (left.length === 0) {
      this.succeed();
      if (base.repairs.length) this.log.info('encap.sync.repaired', { device: this.device, ...summarise(base.repairs) });
      return this.report({ ...base, converged: true });
    }
    const shown = left.slice(0, 5).map((o) => o.change.detail).join('; ') + (left.length > 5 ? `; and ${left.length - 5} more` : '');
    this.fail(`still differs after applying: ${shown}${errors.length ? ` (first error: ${errors[0]})` : ''}`);
    return this.report({ ...base, converged: false });
  }

  private apply(ops: Op[]): Promise<ApplyResult> {
    return applyOps(this.runner, ops);
  }

  private succeed(): void {
    const next: TunnelStatus = this.wanted() ? { state: 'ok', device: this.device } : { state: 'disabled', device: this.device };
    if (this.current.state === 'error') this.log.info('encap.sync.recovered', { device: this.device }, `${this.device} programmed after ${this.current.failures} failed sync(s)`);
    this.current = next;
  }

  private fail(reason: string): void {
    const prev = this.current;
    const failures = prev.state === 'error' ? prev.failures + 1 : 1;
    const since = prev.state === 'error' ? prev.since : this.now().toISOString();
    // One warning per distinct reason, not one per resync.
    if (prev.state !== 'error' || prev.reason !== reason) this.log.warn('encap.sync.failed', { device: this.device, reason }, `programming ${this.device} failed: ${reason}`);
    this.current = { state: 'error', device: this.device, reason, since, failures };
  }

  private markUnsupported(op: Op, message: string): void {
    const reason = `the kernel cannot create ${this.device} (\`ip ${op.line}\`: ${message.replace(/^Error:\s*/, '')})`;
    this.current = { state: 'unsupported', device: this.device, reason, since: this.now().toISOString() };
    this.log.error('encap.device.unsupported', { device: this.device, reason }, this.unsupportedMessage(reason));
  }

  /** The one line an operator sees; subclasses say what it means for traffic. */
  protected unsupportedMessage(reason: string): string {
    return `${reason}; not retrying until the device appears`;
  }
}

/** Counts per kind and the first few details: a first sync with hundreds of VTEPs stays one short line. */
function summarise(changes: readonly Change[]): { counts: Record<string, number>; sample: string[] } {
  const counts: Record<string, number> = {};
  for (const c of changes) counts[c.kind] = (counts[c.kind] ?? 0) + 1;
  return { counts, sample: changes.slice(0, 5).map((c) => `${c.kind}: ${c.detail}`) };
}

function isCreate(op: Op): boolean {
  return op.tool === 'ip' && op.line.startsWith('link add ');
}
