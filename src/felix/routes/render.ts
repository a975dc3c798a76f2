/**
 * Rendering of `ip -batch` lines for routes (pure).
 *
 * Every line names table, metric and protocol explicitly, so that what the
 * kernel stores is exactly what the read-back compares against, and so that a
 * delete can only ever hit a route of ours: the kernel matches `proto` (and
 * `metric`, `table`, `tos`, type, and for a single next hop `via`/`dev`) when
 * deleting (fib_table_delete / ip6_route_del).
 *
 * `add` is used for a key tabby does not hold yet: it fails with EEXIST when
 * any route (ours or foreign) holds the key, where `replace` would silently
 * overwrite a foreign route. `replace` is used only for keys we hold, and
 * swaps the route in one step (no window without a route).
 *
 * The family of a line follows from its destination prefix, so IPv4 and
 * IPv6 lines go in one batch.
 */
import type { KernelRoute, NextHop } from './model.js';

export type WriteOp = 'add' | 'replace';

function hopText(h: NextHop): string {
  const parts: string[] = [];
  if (h.gateway !== undefined) parts.push('via', h.gateway);
  if (h.dev !== undefined) parts.push('dev', h.dev);
  if (h.onlink) parts.push('onlink');
  return parts.join(' ');
}

function keyText(r: KernelRoute): string {
  const parts = [`table ${r.table}`, `metric ${r.metric}`];
  if (r.tos !== 0) parts.push(`tos 0x${r.tos.toString(16)}`);
  parts.push(`proto ${r.protocol}`);
  return parts.join(' ');
}

/** `route add|replace ...` for a desired route. */
export function renderWrite(r: KernelRoute, op: WriteOp): string {
  const head = `route ${op}${r.type === 'unicast' ? '' : ` ${r.type}`} ${r.dst}`;
  if (r.type !== 'unicast') return `${head} ${keyText(r)}`;
  if (r.nextHops.length === 1) {
    const scope = r.family === 4 && r.scope === 253 ? ' scope link' : '';
    return `${head} ${hopText(r.nextHops[0]!)}${scope} ${keyText(r)}`;
  }
  const hops = r.nextHops.map((h) => `nexthop ${hopText(h)} weight ${h.weight}`).join(' ');
  return `${head} ${keyText(r)} ${hops}`;
}

/** `route del ...` for a route of ours found in (or believed to be in) the kernel. */
export function renderDelete(r: KernelRoute): string {
  const typeText = r.type === 'unicast' ? '' : r.type.startsWith('type-') ? '' : ` ${r.type}`;
  const head = `route del${typeText} ${r.dst} ${keyText(r)}`;
  // A single next hop narrows the match further (two routes of ours that
  // differ only in metric 0 vs N would otherwise be ambiguous for IPv4).
  if (r.type === 'unicast' && r.nextHops.length === 1) return `${head} ${hopText(r.nextHops[0]!)}`;
  return head;
}
