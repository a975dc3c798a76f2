/**
 * Owns tunl0: present, of kind ipip, the node's IPIP tunnel address as its
 * only IPv4 address (/32), the IPIP MTU, up. The routes through it belong to
 * the route driver (see `route-shapes.ts`).
 *
 * On a kernel without ipip (no module: this machine), creating tunl0 fails
 * with `Unknown device type`; the manager then reports status `unsupported`
 * once and stops trying (see `manager-base.ts`).
 */
import { IPIP_DEVICE } from './constants.js';
import { ipipDeviceSpec } from './desired.js';
import { readDevice } from './io.js';
import { EncapManager, type EncapManagerOptions } from './manager-base.js';
import { planIpipDevice } from './plan.js';
import type { IpipDeviceSpec, LocalNode, ObservedDevice, Op } from './types.js';

interface IpipState {
  device?: ObservedDevice;
}

export class IpipManager extends EncapManager<IpipState> {
  private spec: IpipDeviceSpec = { name: IPIP_DEVICE, mtu: 0 };

  constructor(opts: EncapManagerOptions) {
    super(IPIP_DEVICE, opts);
  }

  /**
   * This node as the calc layer sees it. IPIP is on when the node has an
   * `ipipTunnelAddress` (Calico allocates one only while an IPIP pool
   * exists); `undefined` or no address turns it off.
   */
  setLocal(local: LocalNode | undefined): void {
    this.spec = local ? ipipDeviceSpec(local) : { name: IPIP_DEVICE, mtu: 0 };
  }

  desired(): IpipDeviceSpec {
    return this.spec;
  }

  protected wanted(): boolean {
    return this.spec.address !== undefined;
  }

  protected async read(): Promise<IpipState> {
    const device = await readDevice(this.runner, IPIP_DEVICE);
    return device ? { device } : {};
  }

  protected plan(state: IpipState): Op[] {
    return planIpipDevice(this.spec, state.device);
  }

  protected deviceUsable(state: IpipState): boolean {
    return state.device?.kind === 'ipip';
  }

  protected override unsupportedMessage(reason: string): string {
    return (
      `IPIP is unavailable on this node: ${reason}. ` +
      'Blocks of pools with ipipMode Always/CrossSubnet cannot be reached through tunl0 from here ' +
      '(use vxlanMode, or load the ipip module); not retrying until tunl0 appears'
    );
  }
}
