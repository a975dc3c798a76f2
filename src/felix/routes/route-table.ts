/**
 * RouteTable: the route driver. It holds the routes every producer wants,
 * knows which of them are in the kernel, and makes the kernel match.
 *
 * Problems it handles, and how:
 *
 * 1. Several producers, one kernel key. Each producer (RouteClass) replaces
 *    its whole set with `setRoutes(class, routes)`; when two classes want
 *    the same key (family, table, prefix, metric, TOS), ROUTE_CLASS_PRECEDENCE
 *    decides (model.ts). One class listing a prefix twice gets one ECMP route.
 *
 * 2. Recognising our own routes, also after a restart. Every route carries a
 *    protocol number of ours (`protocol`, config `dataplane.routeProtocol`,
 *    default 80; optionally another per class). The read-back asks the kernel
 *    only for those (`ip -N -j route show table all proto N`, both families
 *    in one dump, filtered in the kernel: cheap even when thousands of cali
 *    links each have an fe80::/64 route, where a full IPv6 dump takes a
 *    second). A new instance
 *    reads them on its first apply(), keeps what is already right (adopted,
 *    not rewritten) and removes what is no longer wanted.
 *    The caller must not apply() before its desired state is complete
 *    (Felix: nothing before the datastore is in sync), or it deletes routes
 *    that are merely not known yet.
 *
 * 3. Never touching anyone else's route. Deletes name our protocol (the
 *    kernel matches it). A key we do not hold is written with `route add`,
 *    which fails with EEXIST when a foreign route holds it, instead of
 *    `replace`, which would overwrite it: the clash is reported as a
 *    conflict and retried with back-off, the foreign route stays. Only a
 *    key we hold is written with `replace` (atomic, no gap in forwarding).
 *
 * 4. Cost. One `ip -force -batch -` process per apply with every change, never
 *    a process per route (platform.md: ~7 µs vs ~1.9 ms per route). A batch
 *    that exits 0 needs no read-back; one that exits non-zero is matched line
 *    by line against its errors, and read back when the outcome is unclear.
 *
 * 5. The CNI race. A route to a device that does not exist yet, or is down,
 *    fails; it is kept as pending and retried with back-off (at once when
 *    `onIfaceStateChanged(dev, true)` says the device came up), quietly during
 *    `interfaceGraceMs`, then reported as failed. No error storm.
 *
 * 6. Drift. `requestResync()` makes the next apply() read every route of ours
 *    back first (the periodic refresh). A route of ours that vanished is
 *    restored, one that was edited is corrected, one that is not desired is
 *    removed; each is listed in the report.
 *
 * Split as in Felix: setRoutes/onIfaceStateChanged/requestResync only record
 * state; apply() does all kernel I/O.
 */
import { DeltaTracker } from '../delta-tracker.js';
import { logger, type ComponentLogger } from '../../util/log.js';
import { parseBatchErrors, type BatchErrorKind } from './batch-errors.js';
import { CommandFailedError, NamespaceExec, type CommandRunner } from './exec.js';
import {
  describeRoute,
  mergeRoutes,
  normaliseRoute,
  ROUTE_CLASS_PRECEDENCE,
  routeDevices,
  routeKey,
  routeMatches,
  type KernelRoute,
  type RouteClass,
  type RouteSpec,
} from './model.js';
import { parseIpRouteJson } from './parse.js';
import { renderDelete, renderWrite, type WriteOp } from './render.js';

export const DEFAULT_ROUTE_PROTOCOL = 80;

export interface RouteTableOptions {
  /** Act on this named network namespace (tests); default: the current one. */
  netns?: string;
  /** Inject a fake command runner (unit tests). */
  runner?: CommandRunner;
  /** tabby's route protocol number (config `dataplane.routeProtocol`). */
  protocol?: number;
  /** A different protocol number for some classes (to tell the writers apart in `ip route`). */
  classProtocols?: Partial<Record<RouteClass, number>>;
  /** How long a route to a missing or down device is quietly pending before it counts as failed. */
  interfaceGraceMs?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  now?: () => number;
  log?: ComponentLogger;
}

export type RouteIssueReason = 'pending-interface' | 'conflict' | 'failed';

export interface RouteIssue {
  route: string;
  reason: RouteIssueReason;
  message: string;
  /** When the first attempt failed (ms, the table's clock). */
  since: number;
  attempts: number;
  device?: string;
}

export interface RouteRepair {
  /** restored: ours, vanished; corrected: ours, edited; removed: of our protocol but not desired. */
  kind: 'restored' | 'corrected' | 'removed';
  route: string;
  /** For `corrected`: what the kernel had. */
  found?: string;
  /** For `removed`: the destination and the devices the kernel route used. */
  dst?: string;
  devs?: string[];
}

export interface RouteRejection {
  spec: RouteSpec;
  error: string;
}

export interface RouteApplyReport {
  /** A full read-back was made before planning. */
  resynced: boolean;
  /** Routes found in the kernel already as desired on this instance's first read. */
  adopted: number;
  added: number;
  replaced: number;
  deleted: number;
  /** Lines written in this apply's batch(es). */
  lines: number;
  repairs: RouteRepair[];
  /** `repairs` counted by kind. */
  repairCounts: Record<RouteRepair['kind'], number>;
  pending: RouteIssue[];
  conflicts: RouteIssue[];
  failed: RouteIssue[];
  /** Processes spawned by this apply. */
  processes: number;
  /** When a retry is due, ms from now (schedule the next apply then). */
  nextRetryInMs?: number;
  /** Desired routes now in the kernel as desired / desired in all. */
  inSync: number;
  desired: number;
}

interface DesiredRoute {
  route: KernelRoute;
  cls: RouteClass;
}

interface RetryState {
  reason: RouteIssueReason;
  firstAt: number;
  attempts: number;
  nextAt: number;
  message: string;
  device?: string;
  warned: boolean;
}

interface PlannedOp {
  key: string;
  kind: 'write' | 'delete';
  op?: WriteOp;
  route: KernelRoute;
}

function specKey(s: RouteSpec): string {
  return [s.dst, s.type, s.via, s.dev, s.onlink, s.weight, s.table, s.metric, s.tos, s.nextHops ? JSON.stringify(s.nextHops) : ''].join('\u0000');
}

const KERNEL_RESERVED_PROTOCOLS = new Set([0, 1, 2, 3, 4]); // unspec, redirect, kernel, boot, static

function checkProtocol(p: number, what: string): number {
  if (!Number.isInteger(p) || p < 0 || p > 255 || KERNEL_RESERVED_PROTOCOLS.has(p)) {
    throw new RangeError(`${what}: route protocol ${p} is not usable (0-4 are the kernel's, max 255)`);
  }
  return p;
}

export class RouteTable {
  private readonly exec: NamespaceExec;
  private readonly log: ComponentLogger;
  private readonly now: () => number;
  private readonly protocolByClass: Record<RouteClass, number>;
  private readonly ownedProtocols: number[];
  private readonly graceMs: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;

  private readonly byClass = new Map<RouteClass, Map<string, KernelRoute>>();
  /** Per class: the normalised route of each spec of the last setRoutes (see there). */
  private readonly specCache = new Map<RouteClass, Map<string, KernelRoute>>();
  private readonly tracker = new DeltaTracker<string, DesiredRoute, KernelRoute>((d, a) => routeMatches(d.route, a));
  private readonly retries = new Map<string, RetryState>();
  /** Desired keys by the devices their next hops name. */
  private readonly keysByDevice = new Map<string, Set<string>>();
  private needFullRead = true;
  private everRead = false;
  private readonly pendingRepairs = new Map<string, RouteRepair>();
  private applying = false;
  /** A full read started early (see prefetch), and the number of batches written before it started. */
  private prefetched: { routes: Promise<Map<string, KernelRoute>>; writes: number } | undefined;
  private writes = 0;

  constructor(opts: RouteTableOptions = {}) {
    this.exec = new NamespaceExec({ ...(opts.netns !== undefined ? { netns: opts.netns } : {}), ...(opts.runner ? { runner: opts.runner } : {}) });
    this.log = opts.log ?? logger('felix.routes', opts.netns !== undefined ? { netns: opts.netns } : {});
    this.now = opts.now ?? Date.now;
    const base = checkProtocol(opts.protocol ?? DEFAULT_ROUTE_PROTOCOL, 'protocol');
    this.protocolByClass = Object.fromEntries(
      ROUTE_CLASS_PRECEDENCE.map((c) => [c, checkProtocol(opts.classProtocols?.[c] ?? base, `classProtocols.${c}`)]),
    ) as Record<RouteClass, number>;
    this.ownedProtocols = [...new Set(Object.values(this.protocolByClass))].sort((a, b) => a - b);
    this.graceMs = opts.interfaceGraceMs ?? 10_000;
    this.retryInitialMs = opts.retryInitialMs ?? 250;
    this.retryMaxMs = opts.retryMaxMs ?? 10_000;
  }

  /** Protocol numbers this table owns (reads back, may delete). */
  get protocols(): readonly number[] {
    return this.ownedProtocols;
  }

  protocolOf(cls: RouteClass): number {
    return this.protocolByClass[cls];
  }

  /**
   * Replace every route of one producer. Routes that cannot be programmed as
   * given are returned (and left out), the others take effect at the next
   * apply(). No kernel I/O.
   */
  setRoutes(cls: RouteClass, specs: readonly RouteSpec[]): RouteRejection[] {
    if (!ROUTE_CLASS_PRECEDENCE.includes(cls)) throw new RangeError(`unknown route class "${cls}"`);
    const rejected: RouteRejection[] = [];
    const next = new Map<string, KernelRoute>();
    // Producers hand the whole set again on every change; routes given
    // exactly as last time are not normalised again (the spec text is the
    // cache key), which keeps setRoutes of 10k routes with one change cheap.
    const prevCache = this.specCache.get(cls) ?? new Map<string, KernelRoute>();
    const cache = new Map<string, KernelRoute>();
    for (const spec of specs) {
      try {
        const sk = specKey(spec);
        let r = cache.get(sk) ?? prevCache.get(sk);
        if (!r) r = normaliseRoute(spec, this.protocolByClass[cls]);
        cache.set(sk, r);
        const key = routeKey(r);
        const prev = next.get(key);
        next.set(key, prev && prev !== r ? mergeRoutes(prev, r) : r);
      } catch (err) {
        rejected.push({ spec, error: err instanceof Error ? err.message : String(err) });
      }
    }
    this.specCache.set(cls, cache);
    this.replaceClass(cls, next);
    if (rejected.length) this.log.warn('felix.routes.rejected', { class: cls, count: rejected.length, first: rejected[0]!.error });
    return rejected;
  }

  /**
   * Add or change some routes of a class, keeping the others (for producers
   * that know their deltas). A route replaces the class's route with the
   * same key.
   */
  upsertRoutes(cls: RouteClass, specs: readonly RouteSpec[]): RouteRejection[] {
    const next = new Map(this.byClass.get(cls) ?? []);
    const rejected: RouteRejection[] = [];
    for (const spec of specs) {
      try {
        const r = normaliseRoute(spec, this.protocolByClass[cls]);
        next.set(routeKey(r), r);
      } catch (err) {
        rejected.push({ spec, error: err instanceof Error ? err.message : String(err) });
      }
    }
    this.specCache.delete(cls);
    this.replaceClass(cls, next);
    return rejected;
  }

  /** Remove routes of a class by key (dst, and table/metric/tos when not the defaults). */
  removeRoutes(cls: RouteClass, keys: ReadonlyArray<Pick<RouteSpec, 'dst' | 'table' | 'metric' | 'tos'>>): void {
    const next = new Map(this.byClass.get(cls) ?? []);
    for (const k of keys) {
      // Only the key fields matter; a blackhole needs no next hop to be valid.
      next.delete(routeKey(normaliseRoute({ dst: k.dst, table: k.table, metric: k.metric, tos: k.tos, type: 'blackhole' }, this.protocolByClass[cls])));
    }
    this.specCache.delete(cls);
    this.replaceClass(cls, next);
  }

  /**
   * Change a few routes of a class in place: `upserts` replace the class's
   * route with the same key, `removals` drop routes by key. Costs only what
   * it touches (one workload among thousands), unlike setRoutes, which
   * walks the whole class. A class listing one key twice is the caller's
   * business here (no ECMP merge).
   */
  changeRoutes(
    cls: RouteClass,
    upserts: readonly RouteSpec[],
    removals: ReadonlyArray<Pick<RouteSpec, 'dst' | 'table' | 'metric' | 'tos'>> = [],
  ): RouteRejection[] {
    if (!ROUTE_CLASS_PRECEDENCE.includes(cls)) throw new RangeError(`unknown route class "${cls}"`);
    let m = this.byClass.get(cls);
    if (!m) this.byClass.set(cls, (m = new Map()));
    const rejected: RouteRejection[] = [];
    const touched = new Set<string>();
    for (const k of removals) {
      const key = routeKey(normaliseRoute({ dst: k.dst, table: k.table, metric: k.metric, tos: k.tos, type: 'blackhole' }, this.protocolByClass[cls]));
      if (m.delete(key)) touched.add(key);
    }
    const cache = this.specCache.get(cls);
    for (const spec of upserts) {
      try {
        const sk = specKey(spec);
        const r = cache?.get(sk) ?? normaliseRoute(spec, this.protocolByClass[cls]);
        const key = routeKey(r);
        const o = m.get(key);
        m.set(key, r);
        if (!o || !routeMatches(o, r) || !routeMatches(r, o)) touched.add(key);
      } catch (err) {
        rejected.push({ spec, error: err instanceof Error ? err.message : String(err) });
      }
    }
    for (const key of touched) this.resolve(key);
    if (rejected.length) this.log.warn('felix.routes.rejected', { class: cls, count: rejected.length, first: rejected[0]!.error });
    return rejected;
  }

  private replaceClass(cls: RouteClass, next: Map<string, KernelRoute>): void {
    const old = this.byClass.get(cls) ?? new Map<string, KernelRoute>();
    this.byClass.set(cls, next);
    for (const key of old.keys()) if (!next.has(key)) this.resolve(key);
    for (const [key, r] of next) {
      const o = old.get(key);
      if (o === r) continue;
      if (!o || !routeMatches(o, r) || !routeMatches(r, o)) this.resolve(key);
    }
  }

  /** The routes a class asked for (normalised). */
  routesOf(cls: RouteClass): KernelRoute[] {
    return [...(this.byClass.get(cls)?.values() ?? [])];
  }

  /**
   * A device went down or came up (from the interface manager or a link
   * monitor). Down: the kernel has dropped every route over it, so they are
   * no longer believed present. Up: routes waiting for it are retried at once.
   */
  onIfaceStateChanged(dev: string, up: boolean): void {
    if (!up) {
      for (const [key, r] of this.tracker.dataplane) if (routeDevices(r).includes(dev)) this.tracker.deleteDataplane(key);
      return;
    }
    for (const key of this.keysByDevice.get(dev) ?? []) {
      const st = this.retries.get(key);
      if (st) st.nextAt = 0;
    }
  }

  /** Make the next apply() read back every route of ours first (drift repair). */
  requestResync(): void {
    this.needFullRead = true;
  }

  /**
   * Start the full read the next apply() needs (first apply, resync) now,
   * so it runs while the caller is still computing. Thrown away if a batch
   * is written before it is used.
   */
  prefetch(): void {
    if (this.prefetched || !this.needFullRead) return;
    const routes = this.readOwned();
    routes.catch(() => undefined);
    this.prefetched = { routes, writes: this.writes };
  }

  /** Who wins `key` now, written into the tracker. */
  private resolve(key: string): void {
    let winner: DesiredRoute | undefined;
    for (const cls of ROUTE_CLASS_PRECEDENCE) {
      const r = this.byClass.get(cls)?.get(key);
      if (r) {
        winner = { route: r, cls };
        break;
      }
    }
    const before = this.tracker.desired.get(key);
    if (before) {
      for (const h of before.route.nextHops) {
        if (h.dev === undefined) continue;
        const s = this.keysByDevice.get(h.dev);
        s?.delete(key);
        if (s?.size === 0) this.keysByDevice.delete(h.dev);
      }
    }
    if (!winner) {
      this.tracker.deleteDesired(key);
      this.retries.delete(key);
      return;
    }
    for (const h of winner.route.nextHops) {
      if (h.dev === undefined) continue;
      let s = this.keysByDevice.get(h.dev);
      if (!s) this.keysByDevice.set(h.dev, (s = new Set()));
      s.add(key);
    }
    if (!before || !routeMatches(before.route, winner.route) || !routeMatches(winner.route, before.route)) this.retries.delete(key);
    this.tracker.setDesired(key, winner);
  }

  /**
   * Read every route of our protocols, both families: one process per
   * protocol (no -4/-6: the dump covers both; parse.ts tells them apart).
   */
  private async readOwned(): Promise<Map<string, KernelRoute>> {
    const results = await Promise.all(this.ownedProtocols.map((p) => this.exec.ip(['-N', '-j', 'route', 'show', 'table', 'all', 'proto', String(p)])));
    const out = new Map<string, KernelRoute>();
    results.forEach((res, i) => {
      if (res.code !== 0) throw new CommandFailedError(res);
      for (const r of parseIpRouteJson(res.stdout, 'any', this.ownedProtocols[i]).routes) out.set(routeKey(r), r);
    });
    return out;
  }

  /** Full read-back: replace the belief, note what drifted. */
  private async resync(report: RouteApplyReport): Promise<void> {
    const early = this.prefetched;
    this.prefetched = undefined;
    let actual = early && early.writes === this.writes ? await early.routes.catch(() => undefined) : undefined;
    actual ??= await this.readOwned();
    this.pendingRepairs.clear();
    const desired = this.tracker.desired;
    if (this.everRead) {
      for (const [key, believed] of this.tracker.dataplane) {
        const d = desired.get(key);
        const a = actual.get(key);
        if (!d) continue;
        if (!a) this.pendingRepairs.set(key, { kind: 'restored', route: describeRoute(d.route) });
        else if (routeMatches(d.route, believed) && !routeMatches(d.route, a)) {
          this.pendingRepairs.set(key, { kind: 'corrected', route: describeRoute(d.route), found: describeRoute(a) });
        }
      }
    }
    for (const [key, a] of actual) {
      const d = desired.get(key);
      if (!d) this.pendingRepairs.set(key, { kind: 'removed', route: describeRoute(a), dst: a.dst, devs: a.nextHops.flatMap((h) => (h.dev !== undefined ? [h.dev] : [])) });
      else if (!this.everRead) {
        if (routeMatches(d.route, a)) report.adopted++;
        else this.pendingRepairs.set(key, { kind: 'corrected', route: describeRoute(d.route), found: describeRoute(a) });
      } else if (!this.tracker.dataplane.has(key) && !routeMatches(d.route, a)) {
        this.pendingRepairs.set(key, { kind: 'corrected', route: describeRoute(d.route), found: describeRoute(a) });
      }
    }
    this.tracker.replaceDataplane(actual);
    this.everRead = true;
    this.needFullRead = false;
    report.resynced = true;
  }

  private plan(now: number): PlannedOp[] {
    const ops: PlannedOp[] = [];
    for (const key of this.tracker.pendingUpdates) {
      const st = this.retries.get(key);
      if (st && st.nextAt > now) continue;
      const d = this.tracker.desired.get(key)!;
      ops.push({ key, kind: 'write', op: this.tracker.dataplane.has(key) ? 'replace' : 'add', route: d.route });
    }
    // Writes first, deletes after: make before break.
    for (const key of this.tracker.pendingDeletions) ops.push({ key, kind: 'delete', route: this.tracker.dataplane.get(key)! });
    return ops;
  }

  private recordFailure(key: string, reason: RouteIssueReason, message: string, now: number, device?: string): void {
    const prev = this.retries.get(key);
    const attempts = (prev?.attempts ?? 0) + 1;
    const delay = Math.min(this.retryInitialMs * 2 ** Math.min(attempts - 1, 20), this.retryMaxMs);
    this.retries.set(key, {
      reason,
      firstAt: prev && prev.reason === reason ? prev.firstAt : now,
      attempts,
      nextAt: now + delay,
      message,
      ...(device !== undefined ? { device } : {}),
      warned: prev?.warned === true && prev.reason === reason,
    });
  }

  /** Program the difference between desired and kernel state. All kernel I/O happens here. */
  async apply(): Promise<RouteApplyReport> {
    const spawned0 = this.exec.spawned;
    const report: RouteApplyReport = {
      resynced: false, adopted: 0, added: 0, replaced: 0, deleted: 0, lines: 0,
      repairs: [], repairCounts: { restored: 0, corrected: 0, removed: 0 }, pending: [], conflicts: [], failed: [], processes: 0, inSync: 0, desired: 0,
    };
    // One apply at a time: the belief it updates is shared (the dataplane
    // loop serialises calls; this catches a caller that does not).
    if (this.applying) throw new Error('RouteTable.apply() is already running');
    this.applying = true;
    try {
      if (this.needFullRead) await this.resync(report);
      // Two passes at most: the second only when the first found keys it
      // thought free held by routes of our own (a stale belief), now known.
      for (let pass = 0; pass < 2; pass++) {
        const again = await this.runPass(report);
        if (!again) break;
      }
    } finally {
      this.applying = false;
      this.pendingRepairs.clear();
    }
    for (const x of report.repairs) report.repairCounts[x.kind]++;
    this.collectIssues(report);
    report.processes = this.exec.spawned - spawned0;
    report.desired = this.tracker.desired.size;
    report.inSync = this.tracker.inSyncCount;
    if (report.repairs.length) this.log.info('felix.routes.repaired', { count: report.repairs.length, repairs: report.repairs.slice(0, 20) });
    return report;
  }

  private async runPass(report: RouteApplyReport): Promise<boolean> {
    const now = this.now();
    const ops = this.plan(now);
    if (ops.length === 0) return false;
    const lines = ops.map((o) => (o.kind === 'write' ? renderWrite(o.route, o.op!) : renderDelete(o.route)));
    report.lines += lines.length;
    this.writes++;
    const res = await this.exec.ipBatch(lines, { force: true });
    if (res.timedOut) {
      // Unknown outcome: believe nothing until a full read.
      this.needFullRead = true;
      throw new CommandFailedError(res);
    }
    const errors = new Map(parseBatchErrors(res.stderr).map((e) => [e.line, e]));
    if (res.code !== 0 && errors.size === 0) {
      this.needFullRead = true;
      throw new CommandFailedError(res);
    }
    let unclear = false;
    ops.forEach((o, i) => {
      const err = errors.get(i + 1);
      if (!err) return this.succeeded(o, report);
      if (o.kind === 'delete') {
        // Already gone (or its device is, which took the route with it).
        if (err.kind === 'not-found' || err.kind === 'no-device') return this.succeeded(o, report);
        this.recordFailure(o.key, 'failed', err.message, now);
        return;
      }
      const reason = this.reasonOf(err.kind, o.op!);
      if (reason === 'conflict') unclear = true;
      this.recordFailure(o.key, reason, err.message, now, err.device ?? (err.kind === 'device-down' ? routeDevices(o.route)[0] : undefined));
    });
    if (!unclear) return false;
    // An `add` hit EEXIST: a foreign route, or one of ours we did not know
    // of. Read back to tell which; ours become `replace` in a second pass.
    const before = new Set(this.tracker.dataplane.keys());
    await this.resync(report);
    let ours = false;
    for (const [key, st] of this.retries) {
      if (st.reason === 'conflict' && !before.has(key) && this.tracker.dataplane.has(key)) {
        this.retries.delete(key);
        ours = true;
      }
    }
    return ours;
  }

  private reasonOf(kind: BatchErrorKind, op: WriteOp): RouteIssueReason {
    if (kind === 'no-device' || kind === 'device-down') return 'pending-interface';
    if (kind === 'exists' && op === 'add') return 'conflict';
    return 'failed';
  }

  private succeeded(o: PlannedOp, report: RouteApplyReport): void {
    if (o.kind === 'write') {
      this.tracker.setDataplane(o.key, o.route);
      this.retries.delete(o.key);
      if (o.op === 'add') report.added++;
      else report.replaced++;
    } else {
      this.tracker.deleteDataplane(o.key);
      report.deleted++;
    }
    const repair = this.pendingRepairs.get(o.key);
    if (repair) {
      report.repairs.push(repair);
      this.pendingRepairs.delete(o.key);
    }
  }

  private collectIssues(report: RouteApplyReport): void {
    const now = this.now();
    let next: number | undefined;
    for (const [key, st] of this.retries) {
      const d = this.tracker.desired.get(key);
      if (!d || !this.tracker.pendingUpdates.has(key)) {
        this.retries.delete(key);
        continue;
      }
      next = next === undefined ? st.nextAt : Math.min(next, st.nextAt);
      const issue: RouteIssue = {
        route: describeRoute(d.route),
        reason: st.reason,
        message: st.message,
        since: st.firstAt,
        attempts: st.attempts,
        ...(st.device !== undefined ? { device: st.device } : {}),
      };
      if (st.reason === 'pending-interface' && now - st.firstAt < this.graceMs) {
        report.pending.push(issue);
        continue;
      }
      const failedAfterGrace = st.reason === 'pending-interface';
      (st.reason === 'conflict' ? report.conflicts : report.failed).push(failedAfterGrace ? { ...issue, reason: 'failed' } : issue);
      if (!st.warned) {
        st.warned = true;
        this.log.warn(st.reason === 'conflict' ? 'felix.routes.conflict' : 'felix.routes.failed', { route: issue.route, message: st.message, attempts: st.attempts });
      }
    }
    if (next !== undefined) report.nextRetryInMs = Math.max(0, next - now);
  }

  /** Counts for status output. */
  stats(): { desired: number; inSync: number; believedInKernel: number; retrying: number } {
    return { desired: this.tracker.desired.size, inSync: this.tracker.inSyncCount, believedInKernel: this.tracker.dataplane.size, retrying: this.retries.size };
  }
}
