/**
 * `tabby status` and `tabby routes`: ask the running daemon (or `tabby bgp`)
 * over its control socket, found through the config the command was given
 * (a node config or a BGP-only config: both name `controlSocket`).
 */
import { parse } from 'yaml';
import { loadBgpConfig } from '../bgp/config.js';
import { loadNodeConfig } from '../config/node-config.js';
import { readTextFile } from '../config/yaml-validate.js';
import { callControl } from '../node/control.js';

/** The control socket named by a node config or a BGP-only config. */
export function controlSocketOf(configPath: string): string {
  let top: unknown;
  try {
    top = parse(readTextFile(configPath));
  } catch {
    top = undefined; // let the real loader report the syntax error with its line
  }
  const isBgpOnly = !!top && typeof top === 'object' && !('nodeName' in top) && 'routerId' in top;
  return isBgpOnly ? loadBgpConfig(configPath).controlSocket : loadNodeConfig(configPath).controlSocket;
}

interface PeerRow {
  address: string;
  asNumber: number;
  type: string;
  state: string;
  since: string;
  holdTime: number;
  prefixes: { received: number; accepted: number; advertised: number };
  lastError: string | null;
}

function since(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

interface DaemonParts {
  node?: { name: string; address: string; asNumber: number | null; routerId: string | null; routeReflectorClusterID?: string; startedAt: string };
  bgp?: { asNumber: number; routerId: string; peers: PeerRow[]; problems?: string[]; learnedRoutes?: number };
  dataplane?: {
    inSync: boolean;
    iptablesBackend: string;
    workloads: { local: number; plumbed: number };
    routes: { desired: number; inSync: number; retrying: number };
    applies: number;
    applyFailures: number;
    consecutiveFailures: number;
    resyncs: number;
    repairsTotal: number;
    lastPass: { kind: string; at: string; durationMs: number; error?: string } | null;
    problems: string[];
    encap?: Record<string, { state: string; device: string; reason?: string }>;
  } | null;
  datastore?: { type: string; connected: boolean; inSync: boolean; revision?: number; lastEventAt?: string | null; watchLagSeconds?: number; lastProbeError?: string | null };
}

/** The node, dataplane and datastore lines of a daemon's status (absent for `tabby bgp`). */
export function formatDaemonParts(st: DaemonParts): string[] {
  const out: string[] = [];
  if (st.node) out.push(`Node: ${st.node.name}, address ${st.node.address}${st.node.routeReflectorClusterID ? `, route reflector (cluster ${st.node.routeReflectorClusterID})` : ''}, up ${since(st.node.startedAt)}`);
  const d = st.dataplane;
  if (d) {
    out.push(
      `Dataplane: ${d.inSync ? 'in sync' : 'waiting for the datastore'}, iptables ${d.iptablesBackend}; workloads ${d.workloads.plumbed}/${d.workloads.local} plumbed; routes ${d.routes.inSync}/${d.routes.desired} in the kernel${d.routes.retrying ? ` (${d.routes.retrying} retrying)` : ''}; ${d.applies} passes, ${d.applyFailures} failed, ${d.resyncs} resyncs repaired ${d.repairsTotal} drifts`,
    );
    if (d.lastPass) out.push(`  last pass: ${d.lastPass.kind} ${Math.round(d.lastPass.durationMs)} ms, ${since(d.lastPass.at)} ago${d.lastPass.error ? `, failed: ${d.lastPass.error}` : ''}`);
    for (const [kind, t] of Object.entries(d.encap ?? {})) {
      if (t.state === 'ok') out.push(`  ${kind}: ${t.device} up`);
      else if (t.state !== 'disabled') out.push(`  ${kind}: ${t.state.toUpperCase()}: ${t.reason ?? ''}`);
    }
    for (const p of d.problems.slice(0, 10)) out.push(`  problem: ${p}`);
  }
  const ds = st.datastore;
  if (ds) {
    out.push(`Datastore: ${ds.type}, ${ds.connected ? 'connected' : `UNREACHABLE${ds.lastProbeError ? ` (${ds.lastProbeError})` : ''}: running on the last known state`}${ds.inSync ? `, revision ${ds.revision ?? '?'}` : ', not in sync yet'}${ds.watchLagSeconds ? `, behind for ${Math.round(ds.watchLagSeconds)} s` : ''}`);
  }
  for (const p of st.bgp?.problems ?? []) out.push(`BGP problem: ${p}`);
  return out;
}

export async function showStatus(configPath: string, output: string): Promise<void> {
  const status = await callControl<DaemonParts>(controlSocketOf(configPath), 'status');
  if (output === 'json') {
    process.stdout.write(JSON.stringify(status, null, 2) + '\n');
    return;
  }
  for (const line of formatDaemonParts(status)) process.stdout.write(line + '\n');
  const bgp = status.bgp;
  if (!bgp) {
    process.stdout.write('BGP: not running\n');
    return;
  }
  process.stdout.write(`BGP: AS ${bgp.asNumber}, router id ${bgp.routerId}\n`);
  const rows = [['PEER', 'AS', 'TYPE', 'STATE', 'SINCE', 'HOLD', 'RECEIVED', 'ACCEPTED', 'ADVERTISED', 'LAST ERROR']];
  for (const p of bgp.peers) {
    rows.push([p.address, String(p.asNumber), p.type, p.state, since(p.since), String(p.holdTime), String(p.prefixes.received), String(p.prefixes.accepted), String(p.prefixes.advertised), p.lastError ?? '']);
  }
  process.stdout.write(table(rows) + '\n');
}

interface RouteRow {
  prefix: string;
  nextHop: string;
  asPath: (number | number[])[];
  origin: string;
  med: number | null;
  localPref: number | null;
  communities: string[];
  largeCommunities: string[];
  peer: string;
  best: boolean;
  reason?: string;
}

export async function showRoutes(configPath: string, output: string, prefix?: string): Promise<void> {
  const r = await callControl<{ routes: RouteRow[] }>(controlSocketOf(configPath), 'routes', prefix ? { prefix } : {});
  if (output === 'json') {
    process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    return;
  }
  const rows = [['PREFIX', 'NEXT HOP', 'AS PATH', 'ORIGIN', 'MED', 'LOCPREF', 'COMMUNITIES', 'FROM', 'BEST']];
  for (const x of r.routes) {
    const path = x.asPath.map((a) => (Array.isArray(a) ? `{${a.join(',')}}` : String(a))).join(' ');
    rows.push([x.prefix, x.nextHop || '-', path || '-', x.origin, x.med === null ? '-' : String(x.med), x.localPref === null ? '-' : String(x.localPref), [...x.communities, ...x.largeCommunities].join(' ') || '-', x.peer, x.best ? `* ${x.reason ?? ''}`.trim() : '']);
  }
  process.stdout.write(table(rows) + '\n');
  process.stdout.write(`${r.routes.length} route(s)\n`);
}
