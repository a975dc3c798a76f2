/**
 * `tabby daemon`: one node agent. Data flows one way (architecture.md):
 *
 *   datastore list+watch -> cache -> FelixInput -> FelixAgent -> kernel
 *                                 -> BGP topology -> Speaker -> best paths -> FelixInput
 *   IPAM blocks of this node -> BGP origination
 *
 * Start order matters for safety: the control socket first (an operator can
 * ask what it is doing), then registration, then the datastore snapshot;
 * nothing reaches the kernel before the snapshot is complete (FelixInput's
 * in-sync), so a daemon that starts against a slow or absent store never
 * deletes a route it merely has not heard of yet. Stopping leaves the kernel
 * as it is (routes, chains, sets): workloads keep forwarding while the
 * daemon is away, and a restarted daemon adopts what it finds.
 */
import { execa } from 'execa';
import type { NodeConfig } from '../config/node-config.js';
import type { IPPool, Node } from '../datastore/resources/index.js';
import { openNodeStore } from '../datastore/open.js';
import type { Store } from '../datastore/store/types.js';
import { FelixAgent } from '../felix/agent/agent.js';
import type { AgentPassReport } from '../felix/agent/report.js';
import { FelixInput } from '../felix/calc/input.js';
import { Ipam } from '../ipam/ipam.js';
import { storePoolSource } from '../ipam/pool-source.js';
import { logger } from '../util/log.js';
import { BgpRunner } from './bgp-runner.js';
import { ControlServer } from './control.js';
import { DatastoreSync, type DatastoreChange } from './datastore-sync.js';
import { blocksOf, borrowedByNode, FelixFeed, learnedRoutesOf } from './felix-feed.js';
import { deriveNodeBgp } from './bgp-wiring.js';
import { desiredNodeFields, detectIdentity, mergeNode, registerNode, type HostIdentity } from './registration.js';
import { DaemonObservability } from './observability.js';

const log = logger('node.daemon');

/** Longest a restarted daemon keeps the previous run's learned routes while BGP converges. */
const HOLD_MAX_MS = 60_000;
/** The Loc-RIB must be this quiet, with every session up, to count as converged. */
const HOLD_QUIET_MS = 2_000;

/** Kinds whose change can alter this node's BGP sessions or origination. */
const BGP_KINDS = new Set(['Node', 'BGPPeer', 'BGPConfiguration', 'IPPool', 'ipam-block']);

export interface DaemonOptions {
  /** Act on this named network namespace instead of the current one (tests). */
  netns?: string;
}

export class Daemon {
  private store: Store | undefined;
  private sync: DatastoreSync | undefined;
  private agent: FelixAgent | undefined;
  private feed: FelixFeed | undefined;
  private bgp: BgpRunner | undefined;
  private control: ControlServer | undefined;
  private obs: DaemonObservability | undefined;
  private readonly input = new FelixInput();
  private identity: HostIdentity | undefined;
  private bgpTimer: NodeJS.Timeout | undefined;
  private bestPaths: ReadonlyMap<string, readonly string[]> = new Map();
  private tunnelWork: Promise<void> = Promise.resolve();
  private bgpProblems: string[] = [];
  /** Service ranges whose learned routes stay out of the kernel. */
  private kernelReject: string[] = [];
  /**
   * Learned routes found in the kernel at start (a restart): kept in the
   * learned set until BGP has converged, so the first dataplane pass after a
   * restart does not delete routes the new speaker has not relearned yet.
   */
  private held = new Map<string, readonly string[]>();
  private holdTimer: NodeJS.Timeout | undefined;
  private holdDeadline = 0;
  private restartedWithRoutes = false;
  private firstPassOk = false;
  private stopped = false;
  private readonly startedAt = new Date();

  constructor(
    readonly cfg: NodeConfig,
    private readonly opts: DaemonOptions = {},
  ) {}

  async start(): Promise<void> {
    const cfg = this.cfg;
    this.identity = await detectIdentity(cfg);
    log.info('node.daemon.starting', { node: cfg.nodeName, address: this.identity.address, interface: this.identity.interface, datastore: cfg.datastore.type });

    this.control = new ControlServer(cfg.controlSocket, {
      status: () => this.status(),
      routes: (p) => this.bgp?.routes(typeof p.prefix === 'string' ? p.prefix : undefined) ?? { routes: [] },
    });
    await this.control.start();

    this.obs = new DaemonObservability(cfg, {
      peers: () => this.bgp?.peers() ?? [],
      felixStats: () => this.agent?.stats(),
      datastore: () => this.sync?.health(),
      health: () => this.health(),
      ready: () => this.readiness(),
    });
    await this.obs.start();

    this.agent = await FelixAgent.create({
      input: this.input,
      ...(this.opts.netns !== undefined ? { netns: this.opts.netns } : {}),
      routeProtocol: cfg.dataplane.routeProtocol,
      mtu: cfg.dataplane.mtu,
      iptablesBackend: cfg.dataplane.iptablesBackend,
      resyncIntervalMs: cfg.dataplane.resyncInterval * 1000,
      unencapsulatedRoutes: cfg.bgp.enabled ? 'bgp' : 'datastore',
      onPass: (r, e) => this.onPass(r, e),
    });

    if (cfg.bgp.enabled) {
      this.bgp = new BgpRunner({ onBestPaths: (best) => this.onBestPaths(best), restarting: () => this.restartedWithRoutes });
      await this.holdKernelRoutes();
      this.restartedWithRoutes = this.held.size > 0;
    }

    this.store = await this.openStoreWithRetry();
    if (this.stopped) return;
    await this.register();
    const sync = new DatastoreSync(this.store, { onChange: (c) => this.onDatastoreChange(c) });
    this.sync = sync;
    this.feed = new FelixFeed(this.input, sync, { nodeName: cfg.nodeName, address: this.identity.address, underlayMtu: this.identity.mtu });
    this.agent.start();
    await sync.start();
    log.info('node.daemon.started', { node: cfg.nodeName });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.bgpTimer);
    clearInterval(this.holdTimer);
    log.info('node.daemon.stopping', { node: this.cfg.nodeName });
    await this.bgp?.stop().catch((err) => log.error('node.daemon.stop_failed', { part: 'bgp', error: (err as Error).message }));
    await this.agent?.stop().catch((err) => log.error('node.daemon.stop_failed', { part: 'felix', error: (err as Error).message }));
    await this.sync?.stop();
    await this.tunnelWork.catch(() => undefined);
    await this.store?.close().catch(() => undefined);
    await this.obs?.stop();
    await this.control?.stop();
  }

  // ---- datastore ------------------------------------------------------------------------------

  private async openStoreWithRetry(): Promise<Store> {
    let delay = 500;
    for (let attempt = 1; ; attempt++) {
      try {
        return await openNodeStore(this.cfg);
      } catch (err) {
        if (this.stopped) throw err;
        log.warn('node.daemon.datastore_unavailable', { error: (err as Error).message, attempt, retryInMs: delay }, 'cannot open the datastore; retrying');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10_000);
      }
    }
  }

  private async register(): Promise<void> {
    const fields = desiredNodeFields(this.cfg, this.identity!);
    let delay = 500;
    for (;;) {
      try {
        const n = await registerNode(this.store!, this.cfg.nodeName, (cur) => mergeNode(cur, this.cfg.nodeName, fields));
        log.info('node.daemon.registered', { node: n.metadata.name, address: n.spec.bgp?.ipv4Address, asNumber: n.spec.bgp?.asNumber });
        return;
      } catch (err) {
        if (this.stopped) return;
        log.warn('node.daemon.register_failed', { error: (err as Error).message, retryInMs: delay });
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10_000);
      }
    }
  }

  private onDatastoreChange(change: DatastoreChange): void {
    this.feed!.update(change);
    if (change.all || [...change.kinds].some((k) => BGP_KINDS.has(k))) this.scheduleBgp();
    if (change.all || change.kinds.has('IPPool') || change.kinds.has('Node')) this.scheduleTunnelAddresses();
    if (change.all || change.kinds.has('Node')) this.checkOwnNode();
  }

  /** Someone deleted or rewrote our Node: put our fields back (as calico-node does at start). */
  private checkOwnNode(): void {
    const me = this.sync!.get<Node>('Node', this.cfg.nodeName);
    const fields = desiredNodeFields(this.cfg, this.identity!);
    const want = mergeNode(me, this.cfg.nodeName, fields);
    if (me && JSON.stringify(me) === JSON.stringify(want)) return;
    void this.register();
  }

  // ---- tunnel addresses ---------------------------------------------------------------------------

  private scheduleTunnelAddresses(): void {
    this.tunnelWork = this.tunnelWork.then(() => this.ensureTunnelAddresses()).catch((err) => log.error('node.daemon.tunnel_address_failed', { error: (err as Error).message }));
  }

  /**
   * A node needs a VXLAN (or IPIP) tunnel address from a pool that uses that
   * encapsulation, as calico-node allocates one: IPAM handle
   * `vxlan-tunnel-addr-<node>` / `ipip-tunnel-addr-<node>`, use Tunnel,
   * written to the Node.
   */
  private async ensureTunnelAddresses(): Promise<void> {
    if (this.stopped || !this.sync || !this.store) return;
    const pools = this.sync.values<IPPool>('IPPool').filter((p) => !p.spec.disabled && !p.spec.cidr.includes(':'));
    const me = this.sync.get<Node>('Node', this.cfg.nodeName);
    if (!me) return;
    const want = [
      { kind: 'vxlan' as const, pools: pools.filter((p) => (p.spec.vxlanMode ?? 'Never') !== 'Never'), have: me.spec.ipv4VXLANTunnelAddr },
      { kind: 'ipip' as const, pools: pools.filter((p) => (p.spec.ipipMode ?? 'Never') !== 'Never'), have: me.spec.bgp?.ipv4IPIPTunnelAddr },
    ];
    for (const w of want) {
      if (w.have || w.pools.length === 0) continue;
      const ipam = new Ipam({ store: this.store, pools: storePoolSource(this.store) });
      const handleId = `${w.kind}-tunnel-addr-${this.cfg.nodeName}`;
      // A crash between the allocation and the Node write leaves the handle holding an address: start clean.
      await ipam.releaseByHandle(handleId);
      const r = await ipam.autoAssign({ handleId, node: this.cfg.nodeName, num4: 1, use: 'Tunnel', pools: w.pools.map((p) => p.metadata.name), attrs: { node: this.cfg.nodeName, type: w.kind === 'vxlan' ? 'vxlanTunnelAddress' : 'ipipTunnelAddress' } });
      const ip = r.ipv4[0];
      if (!ip) {
        log.warn('node.daemon.tunnel_address_unavailable', { kind: w.kind }, 'no free address for the tunnel in the pools that use it');
        continue;
      }
      const fields = desiredNodeFields(this.cfg, this.identity!);
      await registerNode(this.store, this.cfg.nodeName, (cur) => {
        const n = mergeNode(cur, this.cfg.nodeName, fields);
        if (w.kind === 'vxlan') n.spec.ipv4VXLANTunnelAddr = ip;
        else n.spec.bgp = { ...(n.spec.bgp ?? {}), ipv4IPIPTunnelAddr: ip };
        return n;
      });
      log.info('node.daemon.tunnel_address', { kind: w.kind, address: ip });
    }
  }

  // ---- BGP -------------------------------------------------------------------------------------

  private scheduleBgp(): void {
    if (!this.bgp || this.bgpTimer) return;
    this.bgpTimer = setTimeout(() => {
      this.bgpTimer = undefined;
      void this.applyBgp();
    }, 20);
  }

  private async applyBgp(): Promise<void> {
    if (!this.bgp || !this.sync || this.stopped) return;
    const blocks = this.feed!.blocks();
    const derived = deriveNodeBgp(this.cfg, this.identity!, this.sync, blocksOf(blocks, this.cfg.nodeName), borrowedByNode(blocks).get(this.cfg.nodeName) ?? []);
    if (JSON.stringify(derived.problems) !== JSON.stringify(this.bgpProblems)) {
      for (const p of derived.problems) log.warn('node.bgp.problem', { problem: p });
      this.bgpProblems = derived.problems;
    }
    if (JSON.stringify(derived.kernelReject) !== JSON.stringify(this.kernelReject)) {
      this.kernelReject = derived.kernelReject;
      this.pushLearned();
    }
    // No config at all (the problems say why): the running speaker keeps the last good one.
    if (!derived.config) return;
    try {
      await this.bgp.apply(derived.config, derived.types);
    } catch (err) {
      log.error('node.bgp.apply_failed', { error: (err as Error).message });
    }
  }

  private onBestPaths(best: ReadonlyMap<string, readonly string[]>): void {
    this.bestPaths = best;
    this.pushLearned();
  }

  private pushLearned(): void {
    const local = new Set(this.input.localBlocks);
    const self = new Set([this.identity!.address.split('/')[0]!]);
    let all: ReadonlyMap<string, readonly string[]> = this.bestPaths;
    if (this.held.size) {
      const merged = new Map(this.held);
      for (const [k, v] of this.bestPaths) merged.set(k, v);
      all = merged;
    }
    this.input.setLearnedRoutes(learnedRoutesOf(all, local, self, this.kernelReject));
  }

  /** Read back the gateway routes of our protocol on the uplink: what the previous run had learned. */
  private async holdKernelRoutes(): Promise<void> {
    const proto = String(this.cfg.dataplane.routeProtocol);
    const dev = this.identity!.interface;
    try {
      const out = await execa('ip', ['-j', 'route', 'show', 'proto', proto], { timeout: 10_000 });
      const routes = JSON.parse(out.stdout || '[]') as { dst: string; gateway?: string; dev?: string; flags?: string[]; nexthops?: { gateway?: string; dev?: string }[] }[];
      for (const r of routes) {
        const hops = r.gateway && r.dev === dev && !r.flags?.includes('onlink') ? [r.gateway] : (r.nexthops ?? []).filter((h) => h.gateway && h.dev === dev).map((h) => h.gateway!);
        if (hops.length) this.held.set(r.dst.includes('/') ? r.dst : `${r.dst}/32`, hops);
      }
    } catch (err) {
      log.warn('node.daemon.readback_failed', { error: (err as Error).message });
    }
    if (!this.held.size) return;
    log.info('node.daemon.holding_routes', { routes: this.held.size }, 'keeping the routes learned before the restart until BGP has converged');
    this.pushLearned();
    this.holdDeadline = Date.now() + HOLD_MAX_MS;
    this.holdTimer = setInterval(() => this.checkConverged(), 500);
    this.holdTimer.unref();
  }

  /** BGP has converged when every session is Established and the Loc-RIB has been quiet for a moment (or the hold ran out). */
  private lastBestCount = -1;
  private quietSince = 0;
  private checkConverged(): void {
    const peers = this.bgp?.peers() ?? [];
    const allUp = peers.length > 0 && peers.every((p) => p.state === 'Established');
    const n = this.bestPaths.size;
    if (n !== this.lastBestCount) {
      this.lastBestCount = n;
      this.quietSince = Date.now();
    }
    const converged = allUp && Date.now() - this.quietSince >= HOLD_QUIET_MS;
    if (!converged && Date.now() < this.holdDeadline) return;
    clearInterval(this.holdTimer);
    this.holdTimer = undefined;
    log.info('node.daemon.hold_released', { held: this.held.size, learned: n, converged }, converged ? 'BGP converged: routes from before the restart now follow BGP' : 'BGP did not converge in time: releasing the held routes');
    this.held.clear();
    this.pushLearned();
  }

  // ---- dataplane ---------------------------------------------------------------------------------

  private onPass(report: AgentPassReport, error?: Error): void {
    if (!error && !report.skipped) this.firstPassOk = true;
    this.obs?.observePass(report, error);
  }

  // ---- status and health ---------------------------------------------------------------------------

  status(): object {
    const st = this.agent?.stats();
    const me = this.sync?.get<Node>('Node', this.cfg.nodeName);
    return {
      node: {
        name: this.cfg.nodeName,
        address: this.identity?.address,
        interface: this.identity?.interface,
        asNumber: this.bgp?.status().asNumber ?? me?.spec.bgp?.asNumber ?? null,
        routerId: this.bgp?.status().routerId ?? null,
        ...(me?.spec.bgp?.routeReflectorClusterID ? { routeReflectorClusterID: me.spec.bgp.routeReflectorClusterID } : {}),
        startedAt: this.startedAt.toISOString(),
        pid: process.pid,
      },
      bgp: this.bgp ? { ...this.bgp.status(), problems: this.bgpProblems, learnedRoutes: this.bestPaths.size } : { enabled: false, running: false, peers: [] },
      dataplane: st
        ? {
            inSync: st.inSync,
            firstPassOk: this.firstPassOk,
            iptablesBackend: st.iptablesBackend,
            workloads: st.workloads,
            routes: st.routes,
            applies: st.applies,
            applyFailures: st.applyFailures,
            consecutiveFailures: st.consecutiveFailures,
            resyncs: st.resyncs,
            repairsTotal: st.repairsTotal,
            repairs: st.repairs,
            lastPass: st.lastPass ?? null,
            unroutedBlocks: st.unroutedBlocks,
            problems: this.agent!.problems(),
            encap: st.encap,
          }
        : null,
      datastore: this.sync ? { type: this.cfg.datastore.type, ...this.sync.health() } : { type: this.cfg.datastore.type, connected: false, inSync: false },
    };
  }

  /** Liveness: the parts that must not be stuck. */
  health(): { ok: boolean; checks: Record<string, { ok: boolean; detail?: string }> } {
    const st = this.agent?.stats();
    const checks: Record<string, { ok: boolean; detail?: string }> = {
      dataplane: st && st.consecutiveFailures >= 10 ? { ok: false, detail: `${st.consecutiveFailures} consecutive dataplane passes failed: ${st.lastPass?.error ?? ''}` } : { ok: true },
      bgp: !this.bgp || this.bgp.started || !this.sync?.health().inSync ? { ok: true } : { ok: false, detail: 'the BGP speaker did not start' },
    };
    return { ok: Object.values(checks).every((c) => c.ok), checks };
  }

  /** Readiness: in sync with the datastore, first dataplane pass done, BGP running. */
  readiness(): { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> } {
    const ds = this.sync?.health();
    const checks: Record<string, { ok: boolean; detail?: string }> = {
      datastore: ds?.inSync ? { ok: true } : { ok: false, detail: 'datastore snapshot not loaded yet' },
      dataplane: this.firstPassOk ? { ok: true } : { ok: false, detail: 'first dataplane pass not done yet' },
      bgp: !this.bgp || this.bgp.started ? { ok: true } : { ok: false, detail: 'BGP speaker not started yet' },
    };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }
}
