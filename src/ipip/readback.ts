/**
 * Parsers of iproute2's JSON output (iproute2 6.1) into the observed-state
 * model. Pure; the commands that produce the input are:
 *
 *   ip -d -j addr show dev NAME        device kind/attributes + addresses in one go
 *   ip -N -j -4 neigh show dev NAME    neighbour entries, protocol as a number
 *   bridge -j fdb show dev NAME        FDB entries of a VXLAN device
 */
import { normaliseMac } from './mac.js';
import type { ObservedDevice, ObservedFdb, ObservedNeighbour } from './types.js';

export class ReadbackParseError extends Error {
  constructor(what: string, detail: string) {
    super(`cannot parse ${what}: ${detail}`);
    this.name = 'ReadbackParseError';
  }
}

type Json = Record<string, unknown>;

function parseArray(text: string, what: string): Json[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  let v: unknown;
  try {
    v = JSON.parse(trimmed);
  } catch (err) {
    throw new ReadbackParseError(what, err instanceof Error ? err.message : String(err));
  }
  if (!Array.isArray(v)) throw new ReadbackParseError(what, 'expected a JSON array');
  return v.filter((x): x is Json => typeof x === 'object' && x !== null);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined);
const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);

/** `ip -d -j addr show dev NAME` → the device, or undefined if the output lists no such device. */
export function parseDevice(text: string, name: string): ObservedDevice | undefined {
  const link = parseArray(text, `ip addr show dev ${name}`).find((l) => l.ifname === name);
  if (!link) return undefined;
  const flags = Array.isArray(link.flags) ? link.flags.filter((f): f is string => typeof f === 'string') : [];
  const linkinfo = obj(link.linkinfo);
  const kind = str(linkinfo?.info_kind);
  const data = obj(linkinfo?.info_data) ?? {};
  const addrInfo = Array.isArray(link.addr_info) ? link.addr_info : [];
  const addresses: string[] = [];
  for (const a of addrInfo) {
    const ai = obj(a);
    if (!ai || ai.family !== 'inet') continue;
    const local = str(ai.local);
    const len = num(ai.prefixlen);
    if (local !== undefined && len !== undefined) addresses.push(`${local}/${len}`);
  }
  const dev: ObservedDevice = {
    name,
    mtu: num(link.mtu) ?? 0,
    up: flags.includes('UP'),
    addresses,
  };
  if (kind !== undefined) dev.kind = kind;
  const mac = str(link.address) !== undefined ? normaliseMac(str(link.address)!) : undefined;
  if (mac !== undefined) dev.mac = mac;
  if (kind === 'vxlan') {
    const vx: NonNullable<ObservedDevice['vxlan']> = {};
    const vni = num(data.id);
    const port = num(data.port);
    const local = str(data.local);
    if (vni !== undefined) vx.vni = vni;
    if (port !== undefined) vx.port = port;
    if (local !== undefined) vx.local = local;
    if (typeof data.learning === 'boolean') vx.learning = data.learning;
    dev.vxlan = vx;
  }
  if (kind === 'ipip') {
    const ip: NonNullable<ObservedDevice['ipip']> = {};
    const local = str(data.local);
    const remote = str(data.remote);
    if (local !== undefined) ip.local = local;
    if (remote !== undefined) ip.remote = remote;
    dev.ipip = ip;
  }
  return dev;
}

/** `ip -N -j -4 neigh show dev NAME`. */
export function parseNeighbours(text: string): ObservedNeighbour[] {
  const out: ObservedNeighbour[] = [];
  for (const n of parseArray(text, 'ip neigh show')) {
    const ip = str(n.dst);
    if (ip === undefined) continue;
    const entry: ObservedNeighbour = {
      ip,
      states: Array.isArray(n.state) ? n.state.filter((s): s is string => typeof s === 'string') : typeof n.state === 'string' ? [n.state] : [],
    };
    const mac = str(n.lladdr) !== undefined ? normaliseMac(str(n.lladdr)!) : undefined;
    if (mac !== undefined) entry.mac = mac;
    const protocol = num(n.protocol);
    if (protocol !== undefined) entry.protocol = protocol;
    out.push(entry);
  }
  return out;
}

/** `bridge -j fdb show dev NAME`. */
export function parseFdb(text: string): ObservedFdb[] {
  const out: ObservedFdb[] = [];
  for (const f of parseArray(text, 'bridge fdb show')) {
    const mac = str(f.mac) !== undefined ? normaliseMac(str(f.mac)!) : undefined;
    if (mac === undefined) continue;
    const flags = Array.isArray(f.flags) ? f.flags.filter((x): x is string => typeof x === 'string') : [];
    const entry: ObservedFdb = { mac, self: flags.includes('self'), permanent: f.state === 'permanent' };
    const dst = str(f.dst);
    if (dst !== undefined) entry.dst = dst;
    out.push(entry);
  }
  return out;
}

/** iproute2's words for "no such device" on the read-back commands. */
export function isNoSuchDevice(stderr: string): boolean {
  return /does not exist|Cannot find device|No such device/i.test(stderr);
}
