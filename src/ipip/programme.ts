/**
 * Whole programmes from the cluster view: what a node runs to get from a
 * given starting state (by default: nothing there) to the desired one. These
 * are the planners fed with an assumed observed state instead of a read-back;
 * the VM test runs them for real, and the unit tests pin them line by line.
 */
import { DEFAULT_NEIGH_PROTO, VXLAN_DEVICE } from './constants.js';
import { ipipDeviceSpec, vtepsOf, vxlanDeviceSpec } from './desired.js';
import { planIpipDevice, planVxlan, toBatches, type Batch } from './plan.js';
import type { LocalNode, ObservedDevice, Op, RemoteNode } from './types.js';

/**
 * The state the ipip module leaves in every namespace when it loads: the
 * fallback `tunl0`, down, MTU 1480 (1500 - 20), no address
 * (`net.core.fb_tunnels_only_for_init_net=0`, the default).
 */
export const IPIP_FALLBACK_DEVICE: ObservedDevice = {
  name: 'tunl0',
  kind: 'ipip',
  mtu: 1480,
  up: false,
  addresses: [],
  ipip: { local: 'any', remote: 'any' },
};

/** tunl0 of this node, from `start` (default: no tunl0). */
export function buildIpipProgramme(local: LocalNode, start?: ObservedDevice): Op[] {
  return planIpipDevice(ipipDeviceSpec(local), start);
}

/** vxlan.tabby + one neighbour and one FDB entry per remote VTEP, from nothing. */
export function buildVxlanProgramme(local: LocalNode, remotes: readonly RemoteNode[], opts: { proto?: number } = {}): Op[] {
  return planVxlan(vxlanDeviceSpec(local), vtepsOf(remotes.filter((r) => r.name !== local.name)), { neighbours: [], fdb: [] }, {
    device: VXLAN_DEVICE,
    proto: opts.proto ?? DEFAULT_NEIGH_PROTO,
  });
}

/** A programme as `ip -batch` / `bridge -batch` inputs, in order. */
export function programmeBatches(ops: readonly Op[]): Batch[] {
  return toBatches(ops);
}
