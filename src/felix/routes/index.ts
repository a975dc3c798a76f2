/** The route driver: desired routes per producer class, kernel read-back, one batch per apply. */
export { RouteTable, DEFAULT_ROUTE_PROTOCOL } from './route-table.js';
export type { RouteTableOptions, RouteApplyReport, RouteIssue, RouteIssueReason, RouteRepair, RouteRejection } from './route-table.js';
export { ROUTE_CLASS_PRECEDENCE, normaliseRoute, routeKey, routeMatches, describeRoute, RouteSpecError } from './model.js';
export type { RouteClass, RouteSpec, NextHopSpec, KernelRoute, NextHop, RouteType } from './model.js';
export { NamespaceExec, CommandFailedError } from './exec.js';
export type { CommandRunner, CommandResult } from './exec.js';
