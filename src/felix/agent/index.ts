/** The Felix agent: drives every dataplane manager from a FelixInput (see agent.ts). */
export { FelixAgent, type FelixAgentOptions } from './agent.js';
export { createDrivers, type DriverOptions, type FelixDrivers } from './drivers.js';
export { ChainSync, SetSync, type SyncChanges } from './table-sync.js';
export type { AgentManager, AgentPassReport, AgentRepair, AgentStats } from './report.js';
