/**
 * One call for the managers: resolve the backend (auto-detecting when asked)
 * and build a driver for each of the four tables, all sharing one runner.
 */
import { detectBackend, IptablesExecutor, type BackendDetection, type IptablesBackendMode } from './backend.js';
import { TABLE_NAMES, type IpVersion, type TableName } from './model.js';
import type { CommandRunner } from './runner.js';
import { IptablesTable } from './table.js';

export interface IptablesTables {
  detection: BackendDetection;
  executor: IptablesExecutor;
  tables: Record<TableName, IptablesTable>;
}

export async function createIptablesTables(opts: {
  runner: CommandRunner;
  backend: IptablesBackendMode;
  ipVersion?: IpVersion;
  prefix?: string;
}): Promise<IptablesTables> {
  const detection = await detectBackend(opts.runner, opts.backend);
  const executor = new IptablesExecutor(opts.runner, detection.backend, opts.ipVersion ?? 4);
  const tables = Object.fromEntries(
    TABLE_NAMES.map((table) => [table, new IptablesTable({ table, executor, ...(opts.prefix ? { prefix: opts.prefix } : {}) })]),
  ) as Record<TableName, IptablesTable>;
  return { detection, executor, tables };
}
