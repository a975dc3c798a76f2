/**
 * The order of one dataplane pass for workloads: interfaces first (a route
 * to a cali device needs the device up), then routes, with the interface
 * manager's link events handed to the route table in between so that routes
 * the kernel dropped with a downed link are re-added and routes waiting for a
 * device are retried at once.
 */
import type { RouteApplyReport, RouteTable } from '../routes/route-table.js';
import type { InterfaceApplyReport, InterfaceManager } from './interface-manager.js';

export interface PlumbingReport {
  interfaces: InterfaceApplyReport;
  routes: RouteApplyReport;
}

export async function applyInterfacesThenRoutes(interfaces: InterfaceManager, routes: RouteTable): Promise<PlumbingReport> {
  const i = await interfaces.apply();
  for (const e of i.linkEvents) routes.onIfaceStateChanged(e.name, e.up);
  const r = await routes.apply();
  return { interfaces: i, routes: r };
}
