/** Encapsulation: IPIP (tunl0) and VXLAN (vxlan.tabby) devices, VXLAN L2 entries, route shapes. See README.md. */
export * from './constants.js';
export * from './types.js';
export { vtepMacForNode, normaliseMac } from './mac.js';
export { EncapInputError, firstAddressOfBlock, ipipDeviceSpec, ipipMtu, vtepsOf, vxlanDeviceSpec, vxlanMtu } from './desired.js';
export { computeRouteShapes, routeShapeToIpLine, type RouteShape, type RouteShapeInput, type RouteShapeResult, type SkippedBlock, type SkipReason } from './route-shapes.js';
export { planIpipDevice, planVxlan, planVxlanDevice, planVxlanL2, toBatches, renderCommands, type Batch } from './plan.js';
export { buildIpipProgramme, buildVxlanProgramme, programmeBatches, IPIP_FALLBACK_DEVICE } from './programme.js';
export { parseDevice, parseNeighbours, parseFdb } from './readback.js';
export { NetnsRunner, type ToolRunner, type ToolResult, type Tool } from './runner.js';
export { type EncapLog, type EncapManagerOptions } from './manager-base.js';
export { IpipManager } from './ipip-manager.js';
export { VxlanManager, type VxlanManagerOptions } from './vxlan-manager.js';
