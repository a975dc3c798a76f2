/**
 * The daemon's metrics and health endpoints (TEMPORARY shell until
 * src/node/metrics.ts and health-server.ts land).
 */
import type { NodeConfig } from '../config/node-config.js';
import type { AgentPassReport, AgentStats } from '../felix/agent/report.js';
import type { DaemonPeerStatus } from './bgp-runner.js';
import type { DatastoreHealth } from './datastore-sync.js';

export interface ObservabilitySources {
  status: () => object;
  peers: () => DaemonPeerStatus[];
  felixStats: () => AgentStats | undefined;
  datastore: () => DatastoreHealth | undefined;
  health: () => { ok: boolean; checks: Record<string, { ok: boolean; detail?: string }> };
  ready: () => { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> };
}

export class DaemonObservability {
  constructor(
    readonly cfg: NodeConfig,
    readonly sources: ObservabilitySources,
  ) {}

  async start(): Promise<void> {}

  observePass(_report: AgentPassReport, _error?: Error): void {}

  async stop(): Promise<void> {}
}
