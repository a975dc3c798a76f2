/**
 * Owns vxlan.tabby and its layer-2 state: the device (VNI 4096, port 4789,
 * `local` = node address, nolearning, MTU, deterministic MAC, tunnel /32,
 * up) and, per remote VTEP, one permanent neighbour entry and one FDB entry.
 * The `via VTEP dev vxlan.tabby onlink` routes belong to the route driver.
 */
import { DEFAULT_NEIGH_PROTO, VXLAN_DEVICE } from './constants.js';
import { vtepsOf, vxlanDeviceSpec } from './desired.js';
import { readDevice, readFdb, readNeighbours } from './io.js';
import { EncapManager, type EncapManagerOptions } from './manager-base.js';
import { planVxlan } from './plan.js';
import type { LocalNode, ObservedDevice, ObservedFdb, ObservedNeighbour, Op, RemoteNode, Vtep, VxlanDeviceSpec } from './types.js';

interface VxlanState {
  device?: ObservedDevice;
  neighbours: ObservedNeighbour[];
  fdb: ObservedFdb[];
}

export interface VxlanManagerOptions extends EncapManagerOptions {
  /** Protocol number tagging tabby's neighbour entries; default 80. */
  neighProto?: number;
}

export class VxlanManager extends EncapManager<VxlanState> {
  private spec: VxlanDeviceSpec | undefined;
  private localName: string | undefined;
  private remotes: readonly RemoteNode[] = [];
  private vteps: Vtep[] = [];
  private readonly proto: number;
  /** MACs whose FDB entries this process wrote and that are still there. */
  private readonly ownedMacs = new Set<string>();

  constructor(opts: VxlanManagerOptions) {
    super(VXLAN_DEVICE, opts);
    this.proto = opts.neighProto ?? DEFAULT_NEIGH_PROTO;
  }

  /** This node; VXLAN is on when it has a `vxlanTunnelAddress`. */
  setLocal(local: LocalNode | undefined): void {
    this.spec = local ? vxlanDeviceSpec(local) : undefined;
    this.localName = local?.name;
    this.vteps = vtepsOf(this.remotes.filter((r) => r.name !== this.localName));
  }

  /** Every other node (replaces the whole set; nodes without a VXLAN tunnel address get no entries). */
  setRemotes(remotes: readonly RemoteNode[]): void {
    this.remotes = [...remotes];
    this.vteps = vtepsOf(this.remotes.filter((r) => r.name !== this.localName));
  }

  desired(): { device?: VxlanDeviceSpec; vteps: Vtep[] } {
    return this.spec ? { device: this.spec, vteps: this.vteps } : { vteps: this.vteps };
  }

  protected wanted(): boolean {
    return this.spec !== undefined;
  }

  protected async read(): Promise<VxlanState> {
    const device = await readDevice(this.runner, VXLAN_DEVICE);
    if (!device) return { neighbours: [], fdb: [] };
    const [neighbours, fdb] = await Promise.all([readNeighbours(this.runner, VXLAN_DEVICE), readFdb(this.runner, VXLAN_DEVICE)]);
    return { device, neighbours, fdb };
  }

  protected plan(state: VxlanState): Op[] {
    return planVxlan(this.spec, this.vteps, state, { device: VXLAN_DEVICE, proto: this.proto, ownedMacs: this.ownedMacs });
  }

  protected deviceUsable(state: VxlanState): boolean {
    return state.device?.kind === 'vxlan';
  }

  protected override settled(state: VxlanState): void {
    const present = new Set(state.fdb.map((f) => f.mac));
    for (const mac of [...this.ownedMacs]) if (!present.has(mac)) this.ownedMacs.delete(mac);
    for (const v of this.vteps) if (present.has(v.mac)) this.ownedMacs.add(v.mac);
  }
}
