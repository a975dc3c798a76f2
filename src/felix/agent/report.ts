/**
 * What one agent pass did, and the counters a metrics layer reads.
 */
import type { InterfaceApplyReport } from '../interfaces/interface-manager.js';
import type { TableName } from '../iptables/model.js';
import type { DriftItem } from '../iptables/plan.js';
import type { ApplyResult } from '../iptables/table.js';
import type { IpSetDeleteResult, IpSetUpdateResult } from '../ipsets/ipsets.js';
import type { IpSetDriftItem } from '../ipsets/plan.js';
import type { ConntrackReport } from '../conntrack/conntrack.js';
import type { RouteApplyReport } from '../routes/route-table.js';
import type { SyncReport, TunnelStatus } from '../../ipip/types.js';
import type { IptablesBackend } from '../iptables/backend.js';

export type AgentManager = 'routes' | 'interfaces' | 'iptables' | 'ipsets' | 'vxlan' | 'ipip';

/** One difference between the kernel and the desired state that a resync found and put right. */
export interface AgentRepair {
  manager: AgentManager;
  /** The manager's own word for it: `restored`, `sysctl`, `chain-flushed`, `set-members`, `fdb-added`, ... */
  kind: string;
  detail: string;
}

export interface AgentPassReport {
  kind: 'apply' | 'resync';
  /** Nothing was done: the input is not complete yet (or has no node), or the agent is stopped. */
  skipped?: 'not-in-sync' | 'no-node' | 'stopped';
  startedAt: string;
  durationMs: number;
  /** Time spent computing the desired state (no I/O). */
  calcMs: number;
  /** From the start until every route and chain was in the kernel. */
  routesAndChainsMs: number;
  /** When each step ended, ms from the start of the pass (steps run partly in parallel). */
  phases: Record<string, number>;
  interfaces?: InterfaceApplyReport;
  /** Both route passes of this apply merged (a second one runs when links came up or tunnels were created). */
  routes?: RouteApplyReport;
  encap: { ipip?: SyncReport; vxlan?: SyncReport };
  iptables: Partial<Record<TableName, ApplyResult>>;
  /** The same for ip6tables (only while IPv6 is in use, and on resyncs). */
  iptables6: Partial<Record<TableName, ApplyResult>>;
  ipsets?: IpSetUpdateResult;
  ipsetDeletes?: IpSetDeleteResult;
  /** Conntrack flows of released workload addresses deleted after the routes (when there were any). */
  conntrack?: ConntrackReport;
  /** Drift found by a resync (empty for an apply). */
  iptablesDrift: DriftItem[];
  ipsetDrift: IpSetDriftItem[];
  /** Every repair of a resync pass, normalised. */
  repairs: AgentRepair[];
  /** Chains and ipsets handed to the drivers because they changed. */
  handed: { chainsSet: string[]; chainsRemoved: string[]; setsSet: string[]; setsRemoved: string[]; setsCreated: string[] };
}

export interface AgentStats {
  inSync: boolean;
  iptablesBackend: IptablesBackend;
  applies: number;
  applyFailures: number;
  consecutiveFailures: number;
  resyncs: number;
  lastPass?: { kind: 'apply' | 'resync'; at: string; durationMs: number; error?: string };
  /** Repairs by `<manager>.<kind>` since start. */
  repairs: Record<string, number>;
  repairsTotal: number;
  /** At the first pass after start: kernel state found already right, and stale state removed. */
  startup: { adoptedRoutes: number; removedRoutes: number; done: boolean };
  workloads: { local: number; plumbed: number };
  routes: { desired: number; inSync: number; retrying: number };
  unroutedBlocks: number;
  problems: number;
  encap: { ipip: TunnelStatus; vxlan: TunnelStatus };
  /** IPv6: programmed by this agent at all (option, drivers, compiler), and in use now (ip6tables programmed). */
  ipv6: { enabled: boolean; active: boolean };
}

export function emptyPassReport(kind: 'apply' | 'resync', startedAt: Date): AgentPassReport {
  return {
    kind,
    startedAt: startedAt.toISOString(),
    durationMs: 0,
    calcMs: 0,
    routesAndChainsMs: 0,
    phases: {},
    encap: {},
    iptables: {},
    iptables6: {},
    iptablesDrift: [],
    ipsetDrift: [],
    repairs: [],
    handed: { chainsSet: [], chainsRemoved: [], setsSet: [], setsRemoved: [], setsCreated: [] },
  };
}

/** Two route applies of one pass as one report (counts summed, issues from the later one). */
export function mergeRouteReports(a: RouteApplyReport, b: RouteApplyReport): RouteApplyReport {
  const repairs = [...a.repairs, ...b.repairs];
  return {
    ...b,
    resynced: a.resynced || b.resynced,
    adopted: a.adopted + b.adopted,
    added: a.added + b.added,
    replaced: a.replaced + b.replaced,
    deleted: a.deleted + b.deleted,
    lines: a.lines + b.lines,
    repairs,
    repairCounts: {
      restored: a.repairCounts.restored + b.repairCounts.restored,
      corrected: a.repairCounts.corrected + b.repairCounts.corrected,
      removed: a.repairCounts.removed + b.repairCounts.removed,
    },
    processes: a.processes + b.processes,
  };
}

/** The repairs a resync pass found, one list across managers. */
export function collectRepairs(r: AgentPassReport): AgentRepair[] {
  const out: AgentRepair[] = [];
  for (const x of r.routes?.repairs ?? []) out.push({ manager: 'routes', kind: x.kind, detail: x.found ? `${x.route} (found ${x.found})` : x.route });
  for (const c of r.interfaces?.repairs ?? []) out.push({ manager: 'interfaces', kind: c.what, detail: `${c.iface}${c.key ? ` ${c.key}` : ''}: ${c.from} -> ${c.to}` });
  for (const d of r.iptablesDrift) out.push({ manager: 'iptables', kind: d.kind, detail: `${d.table} ${d.chain}${d.detail ? `: ${d.detail}` : ''}` });
  for (const d of r.ipsetDrift) out.push({ manager: 'ipsets', kind: d.kind, detail: `${d.set}${d.detail ? `: ${d.detail}` : ''}` });
  for (const [m, s] of [['vxlan', r.encap.vxlan], ['ipip', r.encap.ipip]] as const) {
    for (const c of s?.repairs ?? []) out.push({ manager: m, kind: c.kind, detail: c.detail });
  }
  return out;
}
