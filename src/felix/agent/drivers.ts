/**
 * The kernel drivers one agent owns, built for the current network namespace
 * (the daemon runs inside the host's) or for a named one (tests, the lab).
 *
 * Exactly one of each per namespace: two route tables with one protocol
 * number, or two ipset drivers with one prefix, would each see the other's
 * objects as strays and delete them. The policy and NAT ipsets therefore
 * share the one `IpSets`.
 */
import { IpipManager } from '../../ipip/ipip-manager.js';
import { NetnsRunner } from '../../ipip/runner.js';
import { VxlanManager } from '../../ipip/vxlan-manager.js';
import type { ComponentLogger } from '../../util/log.js';
import { InterfaceManager } from '../interfaces/interface-manager.js';
import { IptablesExecutor, type IptablesBackend, type IptablesBackendMode } from '../iptables/backend.js';
import { createIptablesTables } from '../iptables/factory.js';
import { TABLE_NAMES, type TableName } from '../iptables/model.js';
import { ProcessRunner } from '../iptables/runner.js';
import { IptablesTable } from '../iptables/table.js';
import { IpSets } from '../ipsets/ipsets.js';
import { ConntrackCleaner } from '../conntrack/conntrack.js';
import { RouteTable } from '../routes/route-table.js';

export interface FelixDrivers {
  routes: RouteTable;
  interfaces: InterfaceManager;
  tables: Record<TableName, IptablesTable>;
  /** ip6tables, same backend; absent: the agent programs no IPv6 (injected drivers of older tests). */
  tables6?: Record<TableName, IptablesTable>;
  ipsets: IpSets;
  ipip: IpipManager;
  vxlan: VxlanManager;
  iptablesBackend: IptablesBackend;
  /** Deletes conntrack flows of released workload addresses; absent: none are deleted (injected drivers of older tests). */
  conntrack?: ConntrackCleaner;
}

export interface DriverOptions {
  /** Act on this named network namespace; default: the current one. */
  netns?: string;
  /** tabby's route protocol number (config `dataplane.routeProtocol`), also on VXLAN neighbour entries. Default 80. */
  routeProtocol?: number;
  /** Workload veth MTU (config `dataplane.mtu`), default 1440. */
  mtu?: number;
  interfacePrefix?: string;
  iptablesBackend?: IptablesBackendMode;
  /** How long a route to a missing workload interface stays quietly pending (CNI race), default 10 s. */
  interfaceGraceMs?: number;
  log?: ComponentLogger;
}

export async function createDrivers(opts: DriverOptions = {}): Promise<FelixDrivers> {
  const ns = opts.netns !== undefined ? { netns: opts.netns } : {};
  const runner = new ProcessRunner(ns);
  const { tables, detection } = await createIptablesTables({ runner, backend: opts.iptablesBackend ?? 'nft' });
  // ip6tables on the same backend (never nft for one family and legacy for the other).
  const executor6 = new IptablesExecutor(runner, detection.backend, 6);
  const tables6 = Object.fromEntries(TABLE_NAMES.map((table) => [table, new IptablesTable({ table, executor: executor6 })])) as Record<TableName, IptablesTable>;
  const encapRunner = new NetnsRunner(ns);
  return {
    routes: new RouteTable({
      ...ns,
      ...(opts.routeProtocol !== undefined ? { protocol: opts.routeProtocol } : {}),
      ...(opts.interfaceGraceMs !== undefined ? { interfaceGraceMs: opts.interfaceGraceMs } : {}),
      ...(opts.log ? { log: opts.log.child({ manager: 'routes' }) } : {}),
    }),
    interfaces: new InterfaceManager({
      ...ns,
      ...(opts.interfacePrefix !== undefined ? { prefix: opts.interfacePrefix } : {}),
      ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}),
      ...(opts.log ? { log: opts.log.child({ manager: 'interfaces' }) } : {}),
    }),
    tables,
    tables6,
    ipsets: new IpSets({ runner }),
    ipip: new IpipManager({ runner: encapRunner, ...(opts.log ? { log: opts.log.child({ manager: 'ipip' }) } : {}) }),
    vxlan: new VxlanManager({
      runner: encapRunner,
      ...(opts.routeProtocol !== undefined ? { neighProto: opts.routeProtocol } : {}),
      ...(opts.log ? { log: opts.log.child({ manager: 'vxlan' }) } : {}),
    }),
    iptablesBackend: detection.backend,
    conntrack: new ConntrackCleaner({ runner, ...(opts.log ? { log: opts.log.child({ manager: 'conntrack' }) } : {}) }),
  };
}
