/** A small harness around BgpRib: peers that come up, and receivers that apply outbound batches. */
import type { AttrSet } from '../../../../src/bgp/rib/attrs.js';
import type { OutboundBatch } from '../../../../src/bgp/rib/adj-rib-out.js';
import type { Family } from '../../../../src/bgp/rib/prefix-index.js';
import { BgpRib, type PeerOptions, type RibOptions, type RibPeer } from '../../../../src/bgp/rib/rib.js';

export const LOCAL_AS = 65000;
export const ROUTER_ID = '10.0.0.100';

export function newRib(opts: Partial<RibOptions> = {}): BgpRib {
  return new BgpRib({ localAs: LOCAL_AS, routerId: ROUTER_ID, ...opts });
}

/** Adds a peer and brings its session up (router id = its address unless given). */
export function upPeer(rib: BgpRib, opts: PeerOptions & { routerId?: string; nextHopV6?: string; linkLocalV6?: string }): RibPeer {
  const p = rib.addPeer(opts);
  rib.peerUp(p, {
    routerId: opts.routerId ?? (opts.address.includes(':') ? '1.1.1.1' : opts.address),
    nextHopV4: '10.0.0.100',
    nextHopV6: opts.nextHopV6 ?? 'fd00::100',
    linkLocalV6: opts.linkLocalV6 ?? '',
  });
  return p;
}

/** What a peer holds after receiving everything we sent it. */
export class Receiver {
  readonly routes = new Map<string, AttrSet>();
  readonly eor: Family[] = [];
  batches = 0;

  constructor(
    readonly rib: BgpRib,
    readonly peer: RibPeer,
  ) {}

  apply(b: OutboundBatch): this {
    this.batches++;
    for (const pid of [...b.withdrawnV4, ...b.withdrawnV6]) {
      const t = this.rib.prefixes.text(pid);
      if (!this.routes.delete(t)) throw new Error(`withdrawal of ${t}, which the peer does not have`);
    }
    for (const g of b.groups) for (const pid of g.pids) this.routes.set(this.rib.prefixes.text(pid), g.attrs);
    this.eor.push(...b.endOfRib);
    return this;
  }

  /** flush() then take everything pending for this peer. */
  sync(): this {
    this.rib.flush();
    return this.apply(this.rib.takeOutbound(this.peer));
  }

  get prefixes(): string[] {
    return [...this.routes.keys()].sort();
  }
}
