/**
 * Parsing of what the interface manager reads back (pure):
 * - `ip -j -force -batch -` of `link show dev X` lines: one JSON array per
 *   line that succeeded, one per output line (a missing device prints nothing
 *   on stdout, an error on stderr);
 * - `route show table local type local` (IPv4, numeric): one local route per
 *   IPv4 address, naming its device (a cheap way to find addresses: the
 *   local table is small, while `ip addr show` dumps every link, 1.9 s with
 *   10k); asked in the same batch as the links, so one process reads both;
 * - `/proc/net/if_inet6`: every IPv6 address, with device, prefix and scope;
 * - `grep -sH "" FILES`: "path:line" per line of each file.
 */
import { formatIPv6 } from '../routes/addr.js';

export interface LinkState {
  name: string;
  ifindex: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Carrier (LOWER_UP): the peer end is up. */
  lowerUp: boolean;
  mtu: number;
  mac: string;
  operstate: string;
}

interface IpLinkJson {
  ifindex?: number;
  ifname?: string;
  flags?: string[];
  mtu?: number;
  address?: string;
  operstate?: string;
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number; scope?: string }>;
}

function jsonLines(stdout: string): IpLinkJson[] {
  const out: IpLinkJson[] = [];
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('[')) continue;
    const arr = JSON.parse(t) as unknown;
    if (Array.isArray(arr)) out.push(...(arr as IpLinkJson[]));
  }
  return out;
}

export function parseLinkShowBatch(stdout: string): Map<string, LinkState> {
  const m = new Map<string, LinkState>();
  for (const j of jsonLines(stdout)) {
    if (typeof j.ifname !== 'string') continue;
    const flags = j.flags ?? [];
    m.set(j.ifname, {
      name: j.ifname,
      ifindex: j.ifindex ?? 0,
      up: flags.includes('UP'),
      lowerUp: flags.includes('LOWER_UP'),
      mtu: j.mtu ?? 0,
      mac: (j.address ?? '').toLowerCase(),
      operstate: j.operstate ?? 'UNKNOWN',
    });
  }
  return m;
}

export interface IfAddress {
  address: string;
  prefixLength: number;
  family: 4 | 6;
}

interface LocalRouteJson {
  type?: string;
  dst?: string;
  dev?: string;
}

function addLocal(m: Map<string, string[]>, routes: readonly LocalRouteJson[]): void {
  for (const r of routes) {
    if ((r.type !== '2' && r.type !== 'local') || !r.dst || !r.dev) continue;
    const list = m.get(r.dev) ?? [];
    list.push(r.dst);
    m.set(r.dev, list);
  }
}

/** IPv4 addresses by device, from the local routing table. */
export function parseLocalTable(json: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  const t = json.trim();
  if (!t) return m;
  addLocal(m, JSON.parse(t) as LocalRouteJson[]);
  return m;
}

/**
 * One `ip -j -N -force -batch -` of `route show table local type local`
 * and `link show dev X` lines: each output line is the JSON array of one
 * command; route entries name `dst`, links `ifname`.
 */
export function parseLinkAndLocalBatch(stdout: string): { links: Map<string, LinkState>; local: Map<string, string[]> } {
  const local = new Map<string, string[]>();
  const linkLines: string[] = [];
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('[')) continue;
    const arr = JSON.parse(t) as unknown;
    if (!Array.isArray(arr) || arr.length === 0) continue;
    const first = arr[0] as IpLinkJson & LocalRouteJson;
    if (typeof first.ifname === 'string') linkLines.push(t);
    else addLocal(local, arr as LocalRouteJson[]);
  }
  return { links: parseLinkShowBatch(linkLines.join('\n')), local };
}

/** IPv4 addresses with prefix length, from `ip -4 -j addr show dev X` lines. */
export function parseAddrShowBatch(stdout: string): Map<string, IfAddress[]> {
  const m = new Map<string, IfAddress[]>();
  for (const j of jsonLines(stdout)) {
    if (typeof j.ifname !== 'string') continue;
    const list = m.get(j.ifname) ?? [];
    for (const a of j.addr_info ?? []) {
      if (a.local === undefined || a.prefixlen === undefined) continue;
      list.push({ address: a.local, prefixLength: a.prefixlen, family: a.family === 'inet6' ? 6 : 4 });
    }
    m.set(j.ifname, list);
  }
  return m;
}

export interface Inet6Entry extends IfAddress {
  ifname: string;
  ifindex: number;
  /** IPV6_ADDR_* scope bits: 0x00 global, 0x10 loopback, 0x20 link-local, 0x40 site-local. */
  scope: number;
}

/**
 * `/proc/net/if_inet6`: "fe80...0001 05 40 20 80 caliX" (address, ifindex,
 * plen, scope, flags, name; hex). `only`: parse just the lines of these
 * devices (the file has a line per address of every device: 10k with 10k
 * workloads, where a pass asks about a few).
 */
export function parseIfInet6(text: string, only?: ReadonlySet<string>): Inet6Entry[] {
  const out: Inet6Entry[] = [];
  for (const line of text.split('\n')) {
    if (only) {
      const name = line.slice(line.lastIndexOf(' ') + 1).trim();
      if (!only.has(name)) continue;
    }
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-f]{32}$/i.test(f[0]!)) continue;
    const words = Array.from({ length: 8 }, (_, i) => parseInt(f[0]!.slice(i * 4, i * 4 + 4), 16));
    out.push({ address: formatIPv6(words), ifindex: parseInt(f[1]!, 16), prefixLength: parseInt(f[2]!, 16), scope: parseInt(f[3]!, 16), ifname: f[5]!, family: 6 });
  }
  return out;
}

export const IPV6_SCOPE_LINK = 0x20;

/** `grep -sH "" PATH...` output to path -> content (lines joined by "\n"). */
export function parseGrepOutput(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const path = line.slice(0, i);
    const value = line.slice(i + 1);
    const prev = m.get(path);
    m.set(path, prev === undefined ? value : `${prev}\n${value}`);
  }
  return m;
}
