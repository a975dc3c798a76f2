/**
 * The daemon's Prometheus metrics and health endpoints, on the node
 * config's `metrics.address:port` (loopback by default):
 *
 *   /metrics  Prometheus text exposition (prom-client, a registry of our own)
 *   /healthz  200 while the parts that must not be stuck are not; else 503
 *   /readyz   200 once in sync with the datastore, the first dataplane pass
 *             is done and BGP runs; else 503. Bodies are JSON naming each check.
 *
 * Most metrics are read at scrape time from the components' own counters
 * (collect callbacks), so nothing can drift from what `tabby status` shows;
 * apply latency is a histogram fed by every Felix pass. Rule and set-member
 * counts are read back from the kernel in the background, every 30 s or
 * every 2 s while passes change things (a scrape never waits on
 * iptables-save).
 */
import { createServer, type Server } from 'node:http';
import { execa } from 'execa';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NodeConfig } from '../config/node-config.js';
import type { AgentPassReport, AgentStats } from '../felix/agent/report.js';
import { logger } from '../util/log.js';
import type { DaemonPeerStatus } from './bgp-runner.js';
import type { DatastoreHealth } from './datastore-sync.js';

const log = logger('node.metrics');

const BGP_STATES = ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'] as const;

export interface Checks {
  [name: string]: { ok: boolean; detail?: string };
}

export interface ObservabilitySources {
  peers: () => DaemonPeerStatus[];
  felixStats: () => AgentStats | undefined;
  datastore: () => DatastoreHealth | undefined;
  health: () => { ok: boolean; checks: Checks };
  ready: () => { ready: boolean; checks: Checks };
}

/** Counts of tabby's iptables rules and ipset members in the kernel. */
export interface KernelCounts {
  rules: Record<string, number>;
  setMembers: number;
  sets: number;
}

/** Count `-A tabby-...` rules per table in iptables-save output (and hook rules that jump to tabby chains). */
export function countRules(save: string): Record<string, number> {
  const out: Record<string, number> = {};
  let table = '';
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    else if (line.startsWith('-A ') && (line.startsWith('-A tabby-') || / -j tabby-/.test(line) || / -g tabby-/.test(line))) out[table] = (out[table] ?? 0) + 1;
  }
  return out;
}

/** Sum `Number of entries` of tabby's sets in `ipset list -t` output. */
export function countSetMembers(list: string): { sets: number; members: number } {
  let sets = 0;
  let members = 0;
  let ours = false;
  for (const line of list.split('\n')) {
    const name = /^Name: (.*)$/.exec(line);
    if (name) {
      ours = name[1]!.startsWith('tabby-');
      if (ours) sets++;
      continue;
    }
    const n = /^Number of entries: (\d+)$/.exec(line);
    if (n && ours) members += Number(n[1]);
  }
  return { sets, members };
}

export class DaemonObservability {
  readonly registry = new Registry();
  private server: Server | undefined;
  private readonly applySeconds: Histogram<'kind' | 'result'>;
  private kernel: KernelCounts | undefined;
  private kernelAt = 0;
  private kernelPending: Promise<void> | undefined;
  private passSinceKernel = false;
  boundPort: number | undefined;

  constructor(
    readonly cfg: NodeConfig,
    readonly sources: ObservabilitySources,
  ) {
    const r = this.registry;
    const src = sources;
    collectDefaultMetrics({ register: r, prefix: 'tabby_' });
    new Gauge({
      name: 'tabby_bgp_sessions',
      help: 'BGP sessions by state (RFC 4271 names) and type (mesh, rr, node, tor)',
      labelNames: ['state', 'type'],
      registers: [r],
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const p of src.peers()) counts.set(`${p.state}|${p.type}`, (counts.get(`${p.state}|${p.type}`) ?? 0) + 1);
        const types = new Set(src.peers().map((p) => p.type));
        for (const t of types) for (const s of BGP_STATES) this.set({ state: s, type: t }, counts.get(`${s}|${t}`) ?? 0);
      },
    });
    new Gauge({
      name: 'tabby_bgp_session_established',
      help: '1 when the session to this peer is Established',
      labelNames: ['peer', 'type'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of src.peers()) this.set({ peer: p.address, type: p.type }, p.state === 'Established' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tabby_bgp_prefixes',
      help: 'Prefixes per peer: received, accepted (after import policy) and advertised',
      labelNames: ['peer', 'kind'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of src.peers()) for (const k of ['received', 'accepted', 'advertised'] as const) this.set({ peer: p.address, kind: k }, p.prefixes[k]);
      },
    });
    new Counter({
      name: 'tabby_bgp_updates_total',
      help: 'UPDATE messages per peer and direction',
      labelNames: ['peer', 'direction'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of src.peers()) {
          this.inc({ peer: p.address, direction: 'in' }, p.updatesIn);
          this.inc({ peer: p.address, direction: 'out' }, p.updatesOut);
        }
      },
    });
    new Counter({
      name: 'tabby_bgp_session_flaps_total',
      help: 'Times the session to this peer left Established',
      labelNames: ['peer'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of src.peers()) this.inc({ peer: p.address }, p.flaps);
      },
    });
    this.applySeconds = new Histogram({
      name: 'tabby_dataplane_apply_seconds',
      help: 'Duration of dataplane passes (apply: after input changes; resync: periodic full read-back)',
      labelNames: ['kind', 'result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [r],
    });
    const stats = () => src.felixStats();
    new Counter({
      name: 'tabby_dataplane_apply_failures_total',
      help: 'Dataplane passes that failed (retried with back-off)',
      registers: [r],
      collect() {
        this.reset();
        this.inc(stats()?.applyFailures ?? 0);
      },
    });
    new Counter({
      name: 'tabby_dataplane_resync_repairs_total',
      help: 'Drift found and repaired by the periodic resync, by manager and kind',
      labelNames: ['manager', 'kind'],
      registers: [r],
      collect() {
        this.reset();
        for (const [k, n] of Object.entries(stats()?.repairs ?? {})) {
          const [manager, ...rest] = k.split('.');
          this.inc({ manager: manager!, kind: rest.join('.') }, n);
        }
      },
    });
    new Gauge({
      name: 'tabby_dataplane_in_sync',
      help: '1 once the dataplane has the datastore snapshot and applies it',
      registers: [r],
      collect() {
        this.set(stats()?.inSync ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tabby_dataplane_workloads',
      help: 'Local workloads: known, and plumbed (interface, route, chains in place)',
      labelNames: ['state'],
      registers: [r],
      collect() {
        const s = stats();
        this.set({ state: 'local' }, s?.workloads.local ?? 0);
        this.set({ state: 'plumbed' }, s?.workloads.plumbed ?? 0);
      },
    });
    new Gauge({
      name: 'tabby_dataplane_routes',
      help: 'Routes tabby wants, has in the kernel, and is retrying',
      labelNames: ['state'],
      registers: [r],
      collect() {
        const s = stats();
        this.set({ state: 'desired' }, s?.routes.desired ?? 0);
        this.set({ state: 'in_sync' }, s?.routes.inSync ?? 0);
        this.set({ state: 'retrying' }, s?.routes.retrying ?? 0);
      },
    });
    const self = this;
    new Gauge({
      name: 'tabby_dataplane_iptables_rules',
      help: "tabby's iptables rules in the kernel per table (its chains and its hook rules; read back at most every 30 s)",
      labelNames: ['table'],
      registers: [r],
      collect() {
        self.refreshKernelCounts();
        this.reset();
        for (const [t, n] of Object.entries(self.kernel?.rules ?? {})) this.set({ table: t }, n);
      },
    });
    new Gauge({
      name: 'tabby_dataplane_ipset_members',
      help: "Members of tabby's ipsets in the kernel (read back at most every 30 s)",
      registers: [r],
      collect() {
        self.refreshKernelCounts();
        this.set(self.kernel?.setMembers ?? 0);
      },
    });
    new Gauge({
      name: 'tabby_datastore_connected',
      help: '1 when the last datastore probe answered',
      registers: [r],
      collect() {
        this.set(src.datastore()?.connected ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tabby_datastore_watch_lag_seconds',
      help: 'How long the cache has been behind the datastore (0 when caught up)',
      registers: [r],
      collect() {
        this.set(src.datastore()?.watchLagSeconds ?? 0);
      },
    });
    new Gauge({
      name: 'tabby_datastore_revision',
      help: 'The datastore revision of the last change applied to the cache',
      registers: [r],
      collect() {
        this.set(src.datastore()?.revision ?? 0);
      },
    });
  }

  observePass(report: AgentPassReport, error?: Error): void {
    if (report.skipped) return;
    this.passSinceKernel = true;
    this.applySeconds.observe({ kind: report.kind, result: error ? 'error' : 'ok' }, report.durationMs / 1000);
  }

  /** Start a kernel read-back when the last one is older than 30 s; scrapes use the last known counts. */
  private refreshKernelCounts(): void {
    const age = Date.now() - this.kernelAt;
    // At most every 30 s, or every 2 s while dataplane passes keep changing things.
    if (this.kernelPending || (age < 30_000 && !(this.passSinceKernel && age >= 2_000))) return;
    this.passSinceKernel = false;
    const backend = this.sources.felixStats()?.iptablesBackend ?? 'nft';
    this.kernelPending = (async () => {
      try {
        const save = await execa(`iptables-${backend}-save`, [], { timeout: 10_000, reject: false });
        const sets = await execa('ipset', ['list', '-t'], { timeout: 10_000, reject: false });
        const m = countSetMembers(sets.stdout);
        this.kernel = { rules: countRules(save.stdout), setMembers: m.members, sets: m.sets };
      } catch (err) {
        log.debug('node.metrics.readback_failed', { error: (err as Error).message });
      } finally {
        this.kernelAt = Date.now();
        this.kernelPending = undefined;
      }
    })();
  }

  async start(): Promise<void> {
    const m = this.cfg.metrics;
    if (!m.enabled) return;
    this.refreshKernelCounts();
    const server = createServer((req, res) => void this.handle(req.url ?? '/', req.method ?? 'GET', res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(m.port, m.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address();
    this.boundPort = typeof a === 'object' && a ? a.port : m.port;
    this.server = server;
    log.info('node.metrics.listening', { address: m.address, port: this.boundPort });
  }

  private async handle(url: string, method: string, res: import('node:http').ServerResponse): Promise<void> {
    const path = url.split('?')[0];
    try {
      if (method !== 'GET' && method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/metrics') {
        const body = await this.registry.metrics();
        res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(body);
      } else if (path === '/healthz') {
        const h = this.sources.health();
        res.writeHead(h.ok ? 200 : 503, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: h.ok ? 'ok' : 'failing', checks: h.checks }) + '\n');
      } else if (path === '/readyz') {
        const r = this.sources.ready();
        res.writeHead(r.ready ? 200 : 503, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: r.ready ? 'ready' : 'not-ready', checks: r.checks }) + '\n');
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: try /metrics, /healthz or /readyz\n');
      }
    } catch (err) {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${(err as Error).message}\n`);
    }
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections?.();
    await new Promise<void>((r) => s.close(() => r()));
  }
}
