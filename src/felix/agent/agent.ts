/**
 * FelixAgent: turns the FelixInput (what should be) into kernel state with
 * the managers, and keeps it so.
 *
 * One pass, serialised (never two at once):
 *
 *   prefetch  the read-backs the pass will need (the first pass, a resync:
 *             iptables-save, ipset save, ip route) start now, in their own
 *             processes, and run while calc keeps this thread busy
 *   calc      take what changed in the input, recompute only the affected
 *             pieces (pure, src/felix/calc), hand them to the drivers
 *             (records desired state; no I/O)
 *   kernel    ipsets created/updated ∥ iptables filter ∥ nat (one restore
 *             each, and the same for ip6tables while IPv6 is in use; a
 *             restore takes the lines naming sets only once they exist)
 *             ∥ tunnel devices, neighbours, FDB (when their input changed)
 *               ─► routes ─► conntrack flows of released workload addresses
 *             ∥ interfaces (small passes; a bulk pass, the first or a
 *               resync, reads every interface back after routes and chains,
 *               since its /proc work would stall them on this one thread)
 *             then routes again if links came up, then ipsets no longer
 *             referenced are destroyed. Member changes of existing sets run
 *             alongside the restores; only set creation must come first.
 *
 * Felix's dependency order is kept where it matters: a set exists before a
 * rule names it and is destroyed only after no rule does; a route over a
 * device that is not up yet fails quietly and is retried as soon as the
 * device is up; VTEPs are programmed before the routes through them.
 * Routes and chains are independent (a new workload's traffic is dropped
 * by the dispatch chain until its chains exist: fail closed), so they are
 * programmed at the same time.
 *
 * Updates are incremental twice over: calc recomputes only what the changed
 * keys touch (per-workload results are cached), and every driver writes
 * only the difference (one workload among thousands: its route, its chains,
 * its set members).
 *
 * Triggers: input changes (coalesced: a burst of changes is one pass),
 * retries the drivers ask for (a route waiting for its interface, a failed
 * tunnel), back-off after a failed pass, and the resync timer.
 *
 * Resync (every `resyncIntervalMs`, config `dataplane.resyncInterval`,
 * default 90 s): first an ordinary pass for pending changes, then a pass in
 * which every manager reads the kernel back in full; whatever differs then is
 * drift (a deleted route, a flushed chain, a removed set member, a changed
 * sysctl, a missing FDB entry). Each is repaired, logged and counted
 * (`stats().repairs`).
 *
 * Restart: nothing is written before the input is in sync. The first pass of
 * a new agent reads everything back, adopts what is already right (writes
 * nothing for it: traffic of existing workloads is not interrupted) and
 * removes what is no longer desired. Everything tabby writes is recognisable
 * for this: route protocol, `tabby-` chains with `tabby:` rule tags,
 * `tabby-` ipsets, tagged neighbour entries, `cali` interfaces.
 *
 * Stopping the agent leaves the kernel as it is (traffic keeps flowing, and
 * unknown interfaces stay dropped) until the next agent adopts it.
 */
import type { RouteClass } from '../routes/model.js';
import type { RouteApplyReport, RouteRepair } from '../routes/route-table.js';
import type { IptablesTable } from '../iptables/table.js';
import { TABLE_NAMES, type TableName } from '../iptables/model.js';
import type { InterfaceApplyReport } from '../interfaces/interface-manager.js';
import type { IptablesBackendMode } from '../iptables/backend.js';
import type { SyncReport, TunnelStatus } from '../../ipip/types.js';
import { logger, type ComponentLogger } from '../../util/log.js';
import { computeDesiredState, definedHooks, loadPolicyCompiler, type CalcOptions } from '../calc/desired.js';
import { encapDesired } from '../calc/encap.js';
import { parsePolicyKey, type FelixDirty, type FelixInput } from '../calc/input.js';
import { natOutgoing } from '../calc/nat.js';
import { defaultPolicyCompiler, type PolicyCompiler, type PolicyCompilerFactory } from '../calc/policy.js';
import { learnedRoutes, localBlockRoutes, remoteBlockRoutes } from '../calc/routes.js';
import type { DesiredHostState, UnencapsulatedRouteSource, UnroutedBlock } from '../calc/types.js';
import { LocalWorkloads, workloadPlumbing, type AssembledWorkloads, type WorkloadPlumbing } from '../calc/workloads.js';
import { createDrivers, type FelixDrivers } from './drivers.js';
import { collectRepairs, emptyPassReport, mergeRouteReports, type AgentPassReport, type AgentStats } from './report.js';
import { ChainSync, SetSync, type SyncChanges } from './table-sync.js';

export interface FelixAgentOptions {
  input: FelixInput;
  /** Act on this named network namespace (tests, the lab); default: the current one. */
  netns?: string;
  /** Config `dataplane.routeProtocol`, default 80. */
  routeProtocol?: number;
  /** Workload veth MTU, config `dataplane.mtu`, default 1440. */
  mtu?: number;
  /** Workload interface prefix, default `cali`. */
  interfacePrefix?: string;
  /** Config `dataplane.iptablesBackend`, default nft. */
  iptablesBackend?: IptablesBackendMode;
  /** Full read-back period, config `dataplane.resyncInterval` (seconds there), default 90 s; 0 turns the timer off. */
  resyncIntervalMs?: number;
  /** Input changes within this window are applied in one pass (default 10 ms). */
  applyDelayMs?: number;
  /** Who writes routes to remote blocks of unencapsulated pools (default `bgp`). */
  unencapsulatedRoutes?: UnencapsulatedRouteSource;
  /** MASQUERADE with --random-fully (default true). */
  natRandomFully?: boolean;
  /** The policy compiler (default: `src/policy`'s PolicyCalculator). */
  policyCompiler?: PolicyCompilerFactory;
  interfaceGraceMs?: number;
  /** Back-off after a failed pass: initial and maximum (default 1 s, 30 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  log?: ComponentLogger;
  /** Inject drivers (tests); default: built for `netns`. */
  drivers?: FelixDrivers;
  /**
   * Program IPv6 (default true, as Felix's ipv6Support): /128 workload routes,
   * IPv6 sysctls, ip6tables policy and inet6 ipsets, from the moment the
   * input uses IPv6 (a local workload with an IPv6 address, a host endpoint
   * of this node, or an IPv6 pool). Off: IPv6 addresses are reported, not
   * routed.
   */
  ipv6?: boolean;
  /** Called after every pass that did work, succeeded or failed (metrics, the daemon's readiness). */
  onPass?: (report: AgentPassReport, error?: Error) => void;
}

const STATUS_ERROR_RETRY_MS = 5_000;

export class FelixAgent {
  readonly input: FelixInput;
  readonly drivers: FelixDrivers;
  private readonly log: ComponentLogger;
  private readonly onPass: FelixAgentOptions['onPass'];
  private readonly prefix: string;
  private readonly resyncIntervalMs: number;
  private readonly applyDelayMs: number;
  private readonly unencapsulated: UnencapsulatedRouteSource;
  private readonly natRandomFully: boolean;
  private readonly compilerFactory: PolicyCompilerFactory;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  /** IPv6 programmed at all (option `ipv6`, default true); in use once the input has IPv6 (see calc). */
  private readonly ipv6: boolean;

  // calc state
  private compiler: PolicyCompiler | undefined;
  private compilerNode: string | undefined;
  private readonly workloads = new LocalWorkloads();
  private readonly filterSync: ChainSync;
  private readonly natSync: ChainSync;
  private readonly policySets: SetSync;
  private readonly natSets: SetSync;
  // IPv6 (see `ipv6` option): ip6tables producers, the v6 compiler, and whether v6 is in use.
  private compiler6: PolicyCompiler | undefined;
  private readonly filterSync6: ChainSync | undefined;
  private readonly natSync6: ChainSync | undefined;
  private readonly policySets6: SetSync | undefined;
  private readonly natSets6: SetSync | undefined;
  private v6Active = false;
  private lastV6 = false;
  /** ip6tables hold (or may hold) tabby's chains: applied while true, cleared once v6 is out of use. */
  private v6Tables = false;
  private needFullCalc = true;
  private encapKey = '';
  private encapDirty = true;
  private ipipSupported = true;
  private unrouted: UnroutedBlock[] = [];
  private readonly problemsBy = new Map<string, readonly string[]>();
  private plumbedCount = 0;

  // kernel state
  private firstKernelPass = true;

  // scheduling
  private queue: Promise<unknown> = Promise.resolve();
  private started = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private applyTimer: NodeJS.Timeout | undefined;
  private applyDue = 0;
  private resyncTimer: NodeJS.Timeout | undefined;

  // counters
  private readonly counters = {
    applies: 0,
    applyFailures: 0,
    consecutiveFailures: 0,
    resyncs: 0,
    repairs: {} as Record<string, number>,
    repairsTotal: 0,
    startup: { adoptedRoutes: 0, removedRoutes: 0, done: false },
    lastPass: undefined as AgentStats['lastPass'],
  };

  /** Build the drivers (detecting the iptables backend) and the agent. Nothing is written yet. */
  static async create(opts: FelixAgentOptions): Promise<FelixAgent> {
    const drivers =
      opts.drivers ??
      (await createDrivers({
        ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
        ...(opts.routeProtocol !== undefined ? { routeProtocol: opts.routeProtocol } : {}),
        ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}),
        ...(opts.interfacePrefix !== undefined ? { interfacePrefix: opts.interfacePrefix } : {}),
        ...(opts.iptablesBackend !== undefined ? { iptablesBackend: opts.iptablesBackend } : {}),
        ...(opts.interfaceGraceMs !== undefined ? { interfaceGraceMs: opts.interfaceGraceMs } : {}),
        ...(opts.log ? { log: opts.log } : {}),
      }));
    return new FelixAgent(opts, drivers);
  }

  private constructor(opts: FelixAgentOptions, drivers: FelixDrivers) {
    this.input = opts.input;
    this.drivers = drivers;
    this.onPass = opts.onPass;
    this.log = opts.log ?? logger('felix.agent', opts.netns !== undefined ? { netns: opts.netns } : {});
    this.prefix = opts.interfacePrefix ?? 'cali';
    this.resyncIntervalMs = opts.resyncIntervalMs ?? 90_000;
    this.applyDelayMs = opts.applyDelayMs ?? 10;
    this.unencapsulated = opts.unencapsulatedRoutes ?? 'bgp';
    this.natRandomFully = opts.natRandomFully ?? true;
    this.compilerFactory = opts.policyCompiler ?? defaultPolicyCompiler;
    this.retryInitialMs = opts.retryInitialMs ?? 1_000;
    this.retryMaxMs = opts.retryMaxMs ?? 30_000;
    this.filterSync = new ChainSync(drivers.tables.filter);
    this.natSync = new ChainSync(drivers.tables.nat);
    this.policySets = new SetSync(drivers.ipsets);
    this.natSets = new SetSync(drivers.ipsets);
    // IPv6 needs ip6tables drivers and a compiler that compiles IPv6; without
    // either, IPv6 addresses are reported, never routed without policy.
    this.ipv6 = (opts.ipv6 ?? true) && drivers.tables6 !== undefined && compilesIpv6(this.compilerFactory, this.prefix);
    if (this.ipv6 && drivers.tables6) {
      this.filterSync6 = new ChainSync(drivers.tables6.filter);
      this.natSync6 = new ChainSync(drivers.tables6.nat);
      this.policySets6 = new SetSync(drivers.ipsets);
      this.natSets6 = new SetSync(drivers.ipsets);
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------

  /** Follow the input: apply on changes (once it is in sync), retry, resync on the timer. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe = this.input.onChange(() => this.requestApply(this.applyDelayMs));
    if (this.input.inSync) this.requestApply(0);
    this.armResync();
  }

  /** Stop following the input and wait for a pass in flight. The kernel is left as it is. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.applyTimer) clearTimeout(this.applyTimer);
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.applyTimer = undefined;
    this.resyncTimer = undefined;
    await this.queue.catch(() => undefined);
  }

  /** One pass now (after any pass in flight). Throws when the pass fails (a retry is scheduled when started). */
  apply(): Promise<AgentPassReport> {
    return this.serialised(() => this.pass('apply'));
  }

  /** Apply pending changes, then read everything back and repair drift. Returns the read-back pass. */
  resync(): Promise<AgentPassReport> {
    return this.serialised(async () => {
      await this.pass('apply');
      return this.pass('resync');
    });
  }

  /** The whole desired state of the current input, computed afresh (status, tests). */
  desired(opts: Omit<CalcOptions, 'policyCompiler'> = {}): DesiredHostState {
    return computeDesiredState(this.input, {
      interfacePrefix: this.prefix,
      unencapsulated: this.unencapsulated,
      ipipSupported: this.ipipSupported,
      nat: { randomFully: this.natRandomFully },
      policyCompiler: this.compilerFactory,
      ipv6: this.ipv6,
      ...opts,
    });
  }

  /** What the input asks for that cannot be done as asked (one line each). */
  problems(): string[] {
    return [...this.problemsBy.values()].flat();
  }

  /** Blocks of other nodes that get no route from the datastore, and why. */
  unroutedBlocks(): readonly UnroutedBlock[] {
    return this.unrouted;
  }

  stats(): AgentStats {
    const r = this.drivers.routes.stats();
    return {
      inSync: this.input.inSync,
      iptablesBackend: this.drivers.iptablesBackend,
      applies: this.counters.applies,
      applyFailures: this.counters.applyFailures,
      consecutiveFailures: this.counters.consecutiveFailures,
      resyncs: this.counters.resyncs,
      ...(this.counters.lastPass ? { lastPass: this.counters.lastPass } : {}),
      repairs: { ...this.counters.repairs },
      repairsTotal: this.counters.repairsTotal,
      startup: { ...this.counters.startup },
      workloads: { local: this.workloads.size, plumbed: this.plumbedCount },
      routes: { desired: r.desired, inSync: r.inSync, retrying: r.retrying },
      unroutedBlocks: this.unrouted.filter((u) => u.reason !== 'left-to-bgp').length,
      problems: this.problems().length,
      encap: { ipip: this.drivers.ipip.status(), vxlan: this.drivers.vxlan.status() },
      ipv6: { enabled: this.ipv6, active: this.v6Active },
    };
  }

  // ---- scheduling ----------------------------------------------------------------------

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private requestApply(delayMs: number): void {
    if (!this.started || this.stopped) return;
    const delay = Math.max(0, delayMs);
    const due = Date.now() + delay;
    if (this.applyTimer !== undefined && this.applyDue <= due) return;
    if (this.applyTimer !== undefined) clearTimeout(this.applyTimer);
    this.applyDue = due;
    this.applyTimer = setTimeout(() => {
      this.applyTimer = undefined;
      this.apply().catch(() => undefined);
    }, delay);
    this.applyTimer.unref();
  }

  private armResync(): void {
    if (this.stopped || this.resyncIntervalMs <= 0) return;
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      this.resync()
        .catch(() => undefined)
        .finally(() => this.armResync());
    }, this.resyncIntervalMs);
    this.resyncTimer.unref();
  }

  /** After a pass: schedule what the drivers asked to retry. */
  private followUp(report: AgentPassReport): void {
    const delays: number[] = [];
    if (report.routes?.nextRetryInMs !== undefined) delays.push(report.routes.nextRetryInMs);
    // A workload interface the CNI has not created yet: look again now and then (its route retries on its own).
    if ((report.interfaces?.missing.length ?? 0) > 0) delays.push(10_000);
    if ((report.interfaces?.failed.length ?? 0) > 0) delays.push(1_000);
    if ((report.ipsets?.failed.length ?? 0) > 0 || (report.ipsetDeletes?.failed.length ?? 0) > 0) delays.push(1_000);
    for (const st of [this.drivers.ipip.status(), this.drivers.vxlan.status()]) if (st.state === 'error') delays.push(STATUS_ERROR_RETRY_MS);
    if (delays.length) this.requestApply(Math.min(...delays));
  }

  // ---- one pass ----------------------------------------------------------------------------

  private async pass(kind: 'apply' | 'resync'): Promise<AgentPassReport> {
    const start = performance.now();
    const report = emptyPassReport(kind, new Date());
    if (this.stopped) return { ...report, skipped: 'stopped' };
    if (!this.input.inSync) return { ...report, skipped: 'not-in-sync' };
    if (!this.input.node) return { ...report, skipped: 'no-node' };
    try {
      // The read-backs this pass will need (the first, a resync) start now
      // and run in their own processes while calc, synchronous work on this
      // thread, computes the desired state.
      this.prefetch(kind);
      report.phases.prefetch = performance.now() - start;
      this.calc(this.input.takeDirty(), report);
      report.calcMs = performance.now() - start;
      report.phases.calc = report.calcMs;
      await this.kernel(kind, report, start);
      report.durationMs = performance.now() - start;
      this.succeeded(report);
      this.notifyPass(report);
      return report;
    } catch (err) {
      report.durationMs = performance.now() - start;
      this.failed(kind, report, err);
      this.notifyPass(report, err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  private prefetch(kind: 'apply' | 'resync'): void {
    const d = this.drivers;
    const resync = kind === 'resync';
    if (resync) {
      d.routes.requestResync();
      d.interfaces.requestResync();
    }
    d.routes.prefetch();
    d.ipsets.prefetch(resync);
    for (const name of resync ? TABLE_NAMES : (['filter', 'nat'] as const)) {
      d.tables[name].prefetch(resync);
      if (d.tables6 && this.ipv6 && (this.v6Tables || resync)) d.tables6[name].prefetch(resync);
    }
  }

  private notifyPass(report: AgentPassReport, error?: Error): void {
    try {
      this.onPass?.(report, error);
    } catch (err) {
      this.log.error('felix.agent.listener_failed', { error: (err as Error).message });
    }
  }

  private succeeded(report: AgentPassReport): void {
    const c = this.counters;
    c.applies++;
    c.consecutiveFailures = 0;
    c.lastPass = { kind: report.kind, at: report.startedAt, durationMs: report.durationMs };
    if (!c.startup.done) {
      c.startup = { adoptedRoutes: report.routes?.adopted ?? 0, removedRoutes: report.routes?.repairCounts.removed ?? 0, done: true };
      if (c.startup.adoptedRoutes || c.startup.removedRoutes) this.log.info('felix.agent.adopted', c.startup, 'adopted the routes already in place, removed stale ones');
    }
    if (report.kind === 'resync') {
      c.resyncs++;
      report.repairs = collectRepairs(report);
      for (const r of report.repairs) {
        const k = `${r.manager}.${r.kind}`;
        c.repairs[k] = (c.repairs[k] ?? 0) + 1;
        c.repairsTotal++;
      }
      if (report.repairs.length) {
        const counts: Record<string, number> = {};
        for (const r of report.repairs) counts[`${r.manager}.${r.kind}`] = (counts[`${r.manager}.${r.kind}`] ?? 0) + 1;
        this.log.warn('felix.agent.repaired', { count: report.repairs.length, counts, repairs: report.repairs.slice(0, 20) }, 'resync found drift and repaired it');
      }
    }
    if (report.handed.chainsSet.length + report.handed.chainsRemoved.length + report.handed.setsSet.length + report.handed.setsRemoved.length > 0 || report.routes?.lines) {
      this.log.debug('felix.agent.applied', {
        kind: report.kind,
        ms: Math.round(report.durationMs),
        routeLines: report.routes?.lines ?? 0,
        chains: report.handed.chainsSet.length + report.handed.chainsRemoved.length,
        sets: report.handed.setsSet.length + report.handed.setsRemoved.length,
      });
    }
    this.followUp(report);
  }

  private failed(kind: 'apply' | 'resync', report: AgentPassReport, err: unknown): void {
    const c = this.counters;
    c.applyFailures++;
    c.consecutiveFailures++;
    const message = err instanceof Error ? err.message : String(err);
    c.lastPass = { kind, at: report.startedAt, durationMs: report.durationMs, error: message };
    const delay = Math.min(this.retryInitialMs * 2 ** Math.min(c.consecutiveFailures - 1, 16), this.retryMaxMs);
    this.log.error('felix.agent.pass_failed', { kind, error: message, failures: c.consecutiveFailures, retryInMs: delay });
    this.requestApply(delay);
  }

  // ---- calc: input changes -> drivers (no I/O) ----------------------------------------------------

  private calc(d: FelixDirty, report: AgentPassReport): void {
    const all = this.needFullCalc;
    // A failure half way leaves the drivers with part of the new state: recompute all next time.
    this.needFullCalc = true;
    const node = this.input.node!;
    let policyReloaded = false;
    if (all || this.compilerNode !== node.name) {
      this.compiler = loadPolicyCompiler(this.compilerFactory(node.name, this.prefix), this.input);
      this.compilerNode = node.name;
      policyReloaded = true;
    }
    const full = all || d.node;

    // Local workloads: interfaces and /32 (/128) routes; a few changed
    // endpoints touch only their own interfaces and routes.
    const plumb = (w: Parameters<typeof workloadPlumbing>[0]) => workloadPlumbing(w, this.prefix, { ipv6: this.ipv6 });
    const applyAll = (asm: AssembledWorkloads) => {
      this.drivers.interfaces.setInterfaces(asm.interfaces);
      this.setRoutes('local-workload', this.drivers.routes.setRoutes('local-workload', asm.routes));
    };
    if (full) {
      const items: WorkloadPlumbing[] = [];
      for (const w of this.input.workloadEndpoints()) if (w.spec.node === node.name) items.push(plumb(w));
      applyAll(this.workloads.reset(items));
    } else if (d.workloads.size) {
      const changes = new Map<string, WorkloadPlumbing | undefined>();
      for (const key of d.workloads) {
        const w = this.input.workloadEndpoint(key);
        changes.set(key, w && w.spec.node === node.name ? plumb(w) : undefined);
      }
      const r = this.workloads.update(changes);
      if ('full' in r) applyAll(r.full);
      else {
        const ifs = this.drivers.interfaces;
        for (const name of r.delta.interfacesRemoved) ifs.removeInterface(name);
        for (const [name, spec] of r.delta.interfacesSet) ifs.setInterface(name, spec);
        const rejected = this.drivers.routes.changeRoutes('local-workload', r.delta.routesSet, r.delta.routesRemoved.map((dst) => ({ dst })));
        if (rejected.length) this.setRoutes('local-workload', rejected);
      }
    }
    if (full || d.workloads.size) {
      this.problemsBy.set('workloads', this.workloads.problems());
      this.plumbedCount = this.workloads.plumbed;
      this.drivers.conntrack?.flush(this.workloads.takeReleased());
    }

    if (full || d.localBlocks) {
      const b = localBlockRoutes(this.input.localBlocks);
      this.problemsBy.set('local-blocks', b.problems);
      this.setRoutes('local-block', this.drivers.routes.setRoutes('local-block', b.routes));
    }
    if (full || d.pools || d.remotes) this.recalcRemote();
    if (full || d.learned) {
      const l = learnedRoutes(this.input.learnedRoutes);
      this.problemsBy.set('learned', l.problems);
      this.setRoutes('bgp-learned', this.drivers.routes.setRoutes('bgp-learned', l.routes));
    }

    // IPv6 tables only while the input uses IPv6 (and once more to clear them).
    const v6Now = this.ipv6 && (this.workloads.withIpv6 > 0 || this.hasLocalHostEndpoint(node.name) || this.input.pools.some((p) => p.spec.cidr.includes(':')));
    if (v6Now !== this.v6Active) {
      this.v6Active = v6Now;
      if (v6Now) this.v6Tables = true;
      this.log.info('felix.agent.ipv6', { active: v6Now }, v6Now ? 'IPv6 in use: programming ip6tables' : 'IPv6 no longer in use: clearing ip6tables');
    }

    if (full || d.pools || this.v6Changed(v6Now)) {
      const fams: Array<[ChainSync, SetSync, 4 | 6]> = [[this.natSync, this.natSets, 4]];
      if (this.natSync6 && this.natSets6 && (v6Now || this.v6Tables)) fams.push([this.natSync6, this.natSets6, 6]);
      for (const [chains, sets, v] of fams) {
        const nat = v === 6 && !v6Now ? { table: { chains: [], hooks: {} }, ipsets: [] } : natOutgoing(this.input.pools, { randomFully: this.natRandomFully, ipVersion: v });
        this.hand(report, chains.set(nat.table.chains, nat.table.hooks), sets.set(nat.ipsets));
      }
    }

    this.feedCompiler(this.compiler!, policyReloaded, d);
    if (policyReloaded || d.profiles.size + d.workloads.size + d.hostEndpoints.size + d.policies.size > 0) {
      const rs = this.compiler!.ruleset();
      this.problemsBy.set('policy', rs.warnings);
      this.hand(report, this.filterSync.set(rs.chains, definedHooks(rs.hooks)), this.policySets.set(rs.ipsets.map((x) => ({ name: x.name, type: x.type, family: x.family, members: x.members }))));
    }

    // IPv6 policy: its own compiler, loaded when IPv6 comes into use.
    if (this.filterSync6 && this.policySets6) {
      let reloaded6 = false;
      if (v6Now && (!this.compiler6 || policyReloaded)) {
        this.compiler6 = loadPolicyCompiler(this.compilerFactory(node.name, this.prefix, 6), this.input);
        reloaded6 = true;
      }
      if (!v6Now) this.compiler6 = undefined;
      if (this.compiler6) {
        this.feedCompiler(this.compiler6, reloaded6, d);
        if (reloaded6 || d.profiles.size + d.workloads.size + d.hostEndpoints.size + d.policies.size > 0) {
          const rs = this.compiler6.ruleset();
          this.problemsBy.set('policy6', rs.warnings.map((w) => `IPv6: ${w}`));
          this.hand(report, this.filterSync6.set(rs.chains, definedHooks(rs.hooks)), this.policySets6.set(rs.ipsets.map((x) => ({ name: x.name, type: x.type, family: x.family, members: x.members }))));
        }
      } else if (this.v6Tables) {
        this.problemsBy.delete('policy6');
        this.hand(report, this.filterSync6.set([], {}), this.policySets6.set([]));
      }
    }
    this.lastV6 = v6Now;
    this.needFullCalc = false;
  }

  /** The dirty keys of the policy kinds, handed to one compiler (skipped when it was just loaded whole). */
  private feedCompiler(compiler: PolicyCompiler, reloaded: boolean, d: FelixDirty): void {
    if (reloaded) return;
    for (const key of d.profiles) {
      const p = this.input.profile(key);
      if (p) compiler.upsert(p);
      else compiler.remove('Profile', key);
    }
    for (const key of d.workloads) {
      const w = this.input.workloadEndpoint(key);
      const slash = key.indexOf('/');
      if (w) compiler.upsert(w);
      else compiler.remove('WorkloadEndpoint', key.slice(slash + 1), key.slice(0, slash));
    }
    for (const name of d.hostEndpoints) {
      const h = this.input.hostEndpoint(name);
      if (h) compiler.upsert(h);
      else compiler.remove('HostEndpoint', name);
    }
    for (const key of d.policies) {
      const p = this.input.policy(key);
      const k = parsePolicyKey(key);
      if (p) compiler.upsert(p);
      else compiler.remove(k.kind, k.name, k.namespace);
    }
  }

  private hand(report: AgentPassReport, c: SyncChanges, s: SyncChanges): void {
    report.handed.chainsSet.push(...c.set);
    report.handed.chainsRemoved.push(...c.removed);
    report.handed.setsSet.push(...s.set);
    report.handed.setsRemoved.push(...s.removed);
    report.handed.setsCreated.push(...s.created);
  }

  private hasLocalHostEndpoint(node: string): boolean {
    for (const h of this.input.hostEndpoints()) if (h.spec.node === node) return true;
    return false;
  }

  /** IPv6 came into use or went out of it since the last calc. */
  private v6Changed(now: boolean): boolean {
    return now !== this.lastV6;
  }

  private setRoutes(cls: RouteClass, rejected: { error: string }[]): void {
    this.problemsBy.set(`routes.${cls}`, rejected.map((r) => `route (${cls}) rejected: ${r.error}`));
  }

  /** Remote-block routes and the tunnel managers' input (when it changed). */
  private recalcRemote(): void {
    const node = this.input.node!;
    const problems: string[] = [];
    let encap = { ipip: undefined, vxlan: undefined, vxlanRemotes: [] } as ReturnType<typeof encapDesired>;
    try {
      encap = encapDesired(node, this.input.pools, this.input.remoteNodes);
      const remote = remoteBlockRoutes({
        node,
        pools: this.input.pools,
        remotes: this.input.remoteNodes,
        ipipUsable: encap.ipip !== undefined && this.ipipSupported,
        vxlanUsable: encap.vxlan !== undefined,
        unencapsulated: this.unencapsulated,
      });
      this.unrouted = remote.unrouted;
      this.setRoutes('remote-block', this.drivers.routes.setRoutes('remote-block', remote.routes));
      for (const u of remote.unrouted) if (u.reason !== 'left-to-bgp') problems.push(`block ${u.cidr} of node ${u.node}: no route (${u.reason})`);
    } catch (err) {
      // A malformed node or remote address: no remote routes rather than no agent.
      problems.push(`remote routes: ${err instanceof Error ? err.message : String(err)}`);
      this.unrouted = [];
      this.drivers.routes.setRoutes('remote-block', []);
    }
    const key = JSON.stringify(encap);
    if (key !== this.encapKey) {
      for (const [name, fn] of [
        ['ipip', () => this.drivers.ipip.setLocal(encap.ipip)],
        ['vxlan', () => {
          this.drivers.vxlan.setLocal(encap.vxlan);
          this.drivers.vxlan.setRemotes(encap.vxlanRemotes);
        }],
      ] as const) {
        try {
          fn();
        } catch (err) {
          problems.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      this.encapKey = key;
      this.encapDirty = true;
    }
    this.problemsBy.set('remote', problems);
  }

  // ---- kernel --------------------------------------------------------------------------------------

  private async kernel(kind: 'apply' | 'resync', report: AgentPassReport, start: number): Promise<void> {
    const d = this.drivers;
    const resync = kind === 'resync';
    const mark = (phase: string) => (report.phases[phase] = performance.now() - start);
    // A bulk pass reads every interface back: thousands of /proc reads on
    // this (only) thread, which would stall the ipset/iptables/route steps
    // between their processes. Routes and chains go first then; the
    // interfaces follow. A small pass configures its interfaces alongside.
    const bulk = resync || this.firstKernelPass;
    // tabby writes nothing to mangle and raw; their stale tabby chains (an
    // older version's) are swept by the resync, off the start-up path.
    const tableNames: readonly TableName[] = resync ? TABLE_NAMES : ['filter', 'nat'];
    // ip6tables: while IPv6 is in use or tabby's chains may still be there
    // (a resync always looks, for chains an earlier run left).
    const v6 = d.tables6 && this.ipv6 && (this.v6Tables || resync) ? d.tables6 : undefined;
    const allTables: Array<[IptablesTable, TableName, 4 | 6]> = [
      ...tableNames.map((n) => [d.tables[n], n, 4] as [IptablesTable, TableName, 4 | 6]),
      ...(v6 ? tableNames.map((n) => [v6[n], n, 6] as [IptablesTable, TableName, 4 | 6]) : []),
    ];
    if (resync) {
      d.interfaces.requestResync();
      d.routes.requestResync();
    }

    // A set must exist before a rule names it, so set creation goes first
    // (for the lines naming sets). Member changes of sets that exist already
    // may run alongside the restores (a packet meeting the old members
    // meanwhile meets the old rules' intent, and a missing member can only
    // deny): that takes the ipset process off the path of a workload add or
    // remove.
    const setsFirst = bulk || report.handed.setsCreated.length > 0;
    const ipsetPhase = async () => {
      if (resync) {
        const r = await d.ipsets.resync();
        report.ipsets = r.update;
        report.ipsetDrift = r.drift.filter((x) => x.kind !== 'set-unexpected' || !isTempSet(x.set));
      } else {
        report.ipsets = await d.ipsets.applyCreatesAndUpdates();
      }
      mark('ipsets');
    };
    const tablePhase = (setsReady: Promise<unknown> | undefined) =>
      // One restore per table; tables are independent (nft retries a commit
      // that raced another table's, legacy waits on its lock).
      allSettledOrThrow(
        allTables.map(async ([t, name, v]) => {
          const opts = setsReady ? { setsReady } : {};
          const out = v === 4 ? report.iptables : report.iptables6;
          if (resync) {
            const r = await t.resync(opts);
            out[name] = r.apply;
            report.iptablesDrift.push(...(v === 4 ? r.drift : r.drift.map((x) => ({ ...x, detail: `IPv6${x.detail ? `: ${x.detail}` : ''}` }))));
          } else {
            out[name] = await t.apply(opts);
          }
          mark(v === 4 ? `iptables.${name}` : `ip6tables.${name}`);
        }),
      );
    // When sets are created, the restores start at once anyway: they parse
    // every chain that names no set while the ipset restore runs, and get
    // the lines naming sets once it is done (IptablesTable.apply).
    const ipsets = ipsetPhase();
    const tables = allSettledOrThrow([ipsets, tablePhase(setsFirst ? ipsets : undefined)]);
    // Tunnel devices, neighbours and FDB entries before the routes that use
    // them (Felix: VTEPs before routes), so a route to a new node never
    // points at a VTEP the kernel cannot resolve yet.
    const plumbing = (async () => {
      if (resync || this.firstKernelPass || this.encapDirty || isError(d.ipip.status()) || isError(d.vxlan.status())) {
        this.encapDirty = false;
        const [vxlan, ipip] = await Promise.all([d.vxlan.sync(), d.ipip.sync()]);
        mark('encap');
        report.encap = { vxlan, ipip };
        for (const s of [vxlan, ipip] as SyncReport[]) {
          if (!s.routesFlushed) continue;
          d.routes.onIfaceStateChanged(s.device, false);
          d.routes.onIfaceStateChanged(s.device, true);
        }
        const supported = ipip.status.state !== 'unsupported';
        if (supported !== this.ipipSupported) {
          this.ipipSupported = supported;
          this.recalcRemote();
        }
      }
      const r = await d.routes.apply();
      mark('routes');
      // Workload routes of ours found in the kernel but no longer desired
      // (workloads deleted while the agent was down, seen on the first
      // read-back, or by a resync): their flows go too, as for a removal.
      const gone = removedWorkloadAddresses(r.repairs, this.prefix);
      if (gone.length) d.conntrack?.flush(gone);
      // Released addresses: no route leads to their old interface now, so
      // their flows can go without a packet recreating them there.
      if (d.conntrack && d.conntrack.pendingCount > 0) {
        report.conntrack = await d.conntrack.apply();
        mark('conntrack');
      }
      return r;
    })();
    const ifaces1 = bulk ? Promise.resolve(undefined) : d.interfaces.apply().finally(() => mark('interfaces'));
    const settled = await Promise.allSettled([tables, plumbing, ifaces1]);
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    let routesDone = (report.phases.routes ?? 0) + start;
    const tablesDone = Math.max(...allTables.map(([, n, v]) => report.phases[`${v === 4 ? 'iptables' : 'ip6tables'}.${n}`] ?? 0)) + start;

    const r1 = (settled[1] as PromiseFulfilledResult<RouteApplyReport>).value;
    let ifr = (settled[2] as PromiseFulfilledResult<InterfaceApplyReport | undefined>).value;
    if (!ifr) {
      ifr = await d.interfaces.apply();
      mark('interfaces');
    }
    report.interfaces = ifr;
    for (const e of ifr.linkEvents) d.routes.onIfaceStateChanged(e.name, e.up);
    const again = ifr.linkEvents.length > 0;
    let routes: RouteApplyReport = r1;
    if (again || r1.nextRetryInMs === 0) {
      routes = mergeRouteReports(r1, await d.routes.apply());
      mark('routes.again');
      routesDone = performance.now();
    }
    report.routes = routes;
    report.routesAndChainsMs = Math.max(routesDone, tablesDone) - start;
    report.ipsetDeletes = await d.ipsets.applyDeletes();
    mark('ipsetDeletes');
    this.firstKernelPass = false;
    // ip6tables cleared of tabby's chains: leave them alone from now on.
    if (v6 && !this.v6Active) this.v6Tables = false;
  }
}

/** Whether a compiler factory gives an IPv6 ruleset when asked for one. */
function compilesIpv6(factory: PolicyCompilerFactory, prefix: string): boolean {
  try {
    return factory('', prefix, 6).ruleset().ipVersion === 6;
  } catch {
    return false;
  }
}

/** Wait for every promise (none is left running unobserved), then throw the first failure. */
async function allSettledOrThrow(ps: readonly Promise<unknown>[]): Promise<void> {
  const rs = await Promise.allSettled(ps);
  for (const r of rs) if (r.status === 'rejected') throw r.reason;
}

function isError(s: TunnelStatus): boolean {
  return s.state === 'error';
}

/** The ipset driver's temporary sets (`tabby-t-...`) are its own business, not drift. */
function isTempSet(name: string): boolean {
  return name.startsWith('tabby-t-');
}

/** Addresses of removed host routes (/32, /128) that pointed at a workload interface. */
export function removedWorkloadAddresses(repairs: readonly RouteRepair[], interfacePrefix: string): string[] {
  const out: string[] = [];
  for (const x of repairs) {
    if (x.kind !== 'removed' || !x.dst || !x.devs?.some((dev) => dev.startsWith(interfacePrefix))) continue;
    const [addr, len] = x.dst.split('/');
    const host = len === undefined || len === (addr!.includes(':') ? '128' : '32');
    if (host) out.push(addr!);
  }
  return out;
}
