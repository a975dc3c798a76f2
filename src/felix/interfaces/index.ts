/** The workload interface and sysctl manager. */
export { InterfaceManager } from './interface-manager.js';
export type { InterfaceManagerOptions, InterfaceApplyReport, InterfaceLinkEvent, InterfaceFailure } from './interface-manager.js';
export { CALICO_HOST_MAC, InterfaceSpecError, workloadSysctls, hostSysctls } from './model.js';
export type { WorkloadInterfaceSpec, RpFilterSetting } from './model.js';
export type { InterfaceChange, InterfaceChangeWhat } from './plan.js';
export { LocalProc, NetnsProc } from './procfs.js';
export type { ProcAccess } from './procfs.js';
export { applyInterfacesThenRoutes } from './plumbing.js';
export type { PlumbingReport } from './plumbing.js';
