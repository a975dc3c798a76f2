/**
 * Glue between the netns lab and the encapsulation managers: the cluster
 * view of the lab's hosts, a runner that records what a manager ran, and the
 * block routes the route driver would write (written here by the test, from
 * the same route shapes the driver consumes).
 */
import { ipBatch } from '../../../src/lab/exec.js';
import type { Lab, LabHost } from '../../../src/lab/lab.js';
import { firstAddressOfBlock } from '../../../src/ipip/desired.js';
import { computeRouteShapes, routeShapeToIpLine } from '../../../src/ipip/route-shapes.js';
import { NetnsRunner, type Tool, type ToolResult, type ToolRunner } from '../../../src/ipip/runner.js';
import type { LocalNode, PoolEncap, RemoteNode } from '../../../src/ipip/types.js';

export const ROUTE_PROTO = 80;

/** This host as its own node config would describe it; tunnel addresses are each block's first address. */
export function localNodeOf(h: LabHost): LocalNode {
  const tunnel = firstAddressOfBlock(h.block);
  return { name: h.name, address: `${h.address}/${h.prefixLength}`, ipipTunnelAddress: tunnel, vxlanTunnelAddress: tunnel };
}

export function remoteNodeOf(h: LabHost): RemoteNode {
  return { name: h.name, address: h.address, vxlanTunnelAddress: firstAddressOfBlock(h.block), blocks: [h.block] };
}

/** Every other host of the lab, as remote nodes. */
export function remotesOf(lab: Lab, h: LabHost): RemoteNode[] {
  return [...lab.hosts.values()].filter((o) => o !== h).map(remoteNodeOf);
}

/** Write the block routes of `remotes` in host `h`, as the route driver would (tagged proto 80). */
export async function writeBlockRoutes(h: LabHost, remotes: RemoteNode[], pools: PoolEncap[]): Promise<string[]> {
  const shapes = computeRouteShapes({ local: localNodeOf(h), remotes, pools });
  const lines = shapes.routes.map((s) => routeShapeToIpLine(s, { proto: ROUTE_PROTO }));
  await ipBatch(h.netns, lines);
  return lines;
}

/** A NetnsRunner that keeps every call, so tests can say what a sync did or did not run. */
export class RecordingRunner implements ToolRunner {
  readonly calls: { tool: Tool; args: string[]; input?: string }[] = [];
  private readonly inner: NetnsRunner;
  constructor(netns: string) {
    this.inner = new NetnsRunner({ netns, timeoutMs: 15_000 });
  }
  run(tool: Tool, args: readonly string[], input?: string): Promise<ToolResult> {
    this.calls.push({ tool, args: [...args], ...(input !== undefined ? { input } : {}) });
    return this.inner.run(tool, args, input);
  }
  /** Batch lines run so far (writes), as `tool line`. */
  writes(): string[] {
    return this.calls.filter((c) => c.input !== undefined).flatMap((c) => c.input!.trim().split('\n').map((l) => `${c.tool} ${l}`));
  }
}
