/**
 * A fake `ip`/`bridge` for the manager unit tests: keeps a tiny model of the
 * kernel (links with addresses, neighbour entries, FDB entries), answers the
 * read-back commands with iproute2-shaped JSON and applies the batch lines
 * the planners emit. It records every call, can refuse to create a device
 * kind (like a kernel without the module) and can fail chosen lines.
 */
import type { Tool, ToolResult, ToolRunner } from '../../../src/ipip/runner.js';

export interface FakeLink {
  name: string;
  kind: string;
  mtu: number;
  up: boolean;
  mac: string;
  addresses: string[];
  vxlan?: { id: number; port: number; local: string; learning: boolean };
  ipip?: { local: string; remote: string };
}

export interface FakeNeigh {
  dev: string;
  ip: string;
  mac?: string;
  state: string;
  protocol?: number;
}

export interface FakeFdb {
  dev: string;
  mac: string;
  dst: string;
  state: string;
}

export interface Call {
  tool: Tool;
  args: string[];
  input?: string;
}

export class FakeKernel implements ToolRunner {
  links = new Map<string, FakeLink>();
  neighs: FakeNeigh[] = [];
  fdb: FakeFdb[] = [];
  calls: Call[] = [];
  /** Device kinds `link add` refuses with "Unknown device type". */
  unsupportedKinds = new Set<string>();
  /** Batch lines (exact text) that fail with this message. */
  failingLines = new Map<string, string>();
  private macSeq = 1;

  async run(tool: Tool, args: readonly string[], input?: string): Promise<ToolResult> {
    this.calls.push({ tool, args: [...args], ...(input !== undefined ? { input } : {}) });
    const a = args.join(' ');
    if (a.endsWith('-batch -')) return this.batch(tool, input ?? '');
    if (tool === 'ip' && a.startsWith('-d -j addr show dev ')) return this.showLink(args[args.length - 1]!);
    if (tool === 'ip' && a.startsWith('-N -j -4 neigh show dev ')) return this.showNeigh(args[args.length - 1]!);
    if (tool === 'bridge' && a.startsWith('-j fdb show dev ')) return this.showFdb(args[args.length - 1]!);
    return { code: 255, stdout: '', stderr: `fake: unexpected ${tool} ${a}` };
  }

  /** Commands that changed something (batches), as `tool line` strings. */
  writes(): string[] {
    return this.calls.filter((c) => c.input !== undefined).flatMap((c) => c.input!.trim().split('\n').map((l) => `${c.tool} ${l}`));
  }

  private showLink(name: string): ToolResult {
    const l = this.links.get(name);
    if (!l) return { code: 1, stdout: '', stderr: `Device "${name}" does not exist.\n` };
    const linkinfo =
      l.kind === 'vxlan'
        ? { info_kind: 'vxlan', info_data: { id: l.vxlan!.id, local: l.vxlan!.local, port: l.vxlan!.port, learning: l.vxlan!.learning, ttl: 0 } }
        : l.kind === 'ipip'
          ? { info_kind: 'ipip', info_data: { proto: 'ipip', remote: l.ipip!.remote, local: l.ipip!.local, ttl: 0, pmtudisc: true } }
          : { info_kind: l.kind };
    const json = [
      {
        ifindex: 2,
        ifname: l.name,
        flags: l.up ? ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'] : ['BROADCAST', 'MULTICAST'],
        mtu: l.mtu,
        address: l.mac,
        linkinfo,
        addr_info: [
          ...l.addresses.map((a) => ({ family: 'inet', local: a.split('/')[0], prefixlen: Number(a.split('/')[1]), scope: 'global' })),
          { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
        ],
      },
    ];
    return { code: 0, stdout: JSON.stringify(json) + '\n', stderr: '' };
  }

  private showNeigh(dev: string): ToolResult {
    if (!this.links.has(dev)) return { code: 1, stdout: '', stderr: `Cannot find device "${dev}"\n` };
    const json = this.neighs
      .filter((n) => n.dev === dev)
      .map((n) => ({ dst: n.ip, ...(n.mac ? { lladdr: n.mac } : {}), state: [n.state], ...(n.protocol !== undefined ? { protocol: String(n.protocol) } : {}) }));
    return { code: 0, stdout: JSON.stringify(json) + '\n', stderr: '' };
  }

  private showFdb(dev: string): ToolResult {
    if (!this.links.has(dev)) return { code: 1, stdout: '', stderr: `Cannot find device "${dev}"\n` };
    const json = this.fdb.filter((f) => f.dev === dev).map((f) => ({ mac: f.mac, dst: f.dst, flags: ['self'], state: f.state }));
    return { code: 0, stdout: JSON.stringify(json) + '\n', stderr: '' };
  }

  private batch(tool: Tool, input: string): ToolResult {
    const errors: string[] = [];
    input
      .split('\n')
      .filter((l) => l.trim())
      .forEach((line, i) => {
        const err = this.failingLines.get(line) ?? (tool === 'ip' ? this.ipLine(line) : this.bridgeLine(line));
        if (err) errors.push(`${err}\nCommand failed -:${i + 1}`);
      });
    return { code: errors.length ? 1 : 0, stdout: '', stderr: errors.length ? errors.join('\n') + '\n' : '' };
  }

  private ipLine(line: string): string | undefined {
    const w = line.split(' ');
    const val = (k: string) => w[w.indexOf(k) + 1]!;
    if (line.startsWith('link add ')) {
      const name = val('name');
      const kind = val('type');
      if (this.unsupportedKinds.has(kind)) return 'Error: Unknown device type.';
      if (this.links.has(name)) return 'RTNETLINK answers: File exists';
      const link: FakeLink = {
        name,
        kind,
        mtu: w.includes('mtu') ? Number(val('mtu')) : 1500,
        up: false,
        mac: w.includes('address') ? val('address') : `02:00:00:00:00:${String(this.macSeq++).padStart(2, '0')}`,
        addresses: [],
      };
      if (kind === 'vxlan') link.vxlan = { id: Number(val('id')), port: Number(val('dstport')), local: val('local'), learning: !w.includes('nolearning') };
      if (kind === 'ipip') link.ipip = { local: 'any', remote: 'any' };
      this.links.set(name, link);
      return undefined;
    }
    if (line.startsWith('link del dev ')) {
      const name = val('dev');
      if (!this.links.delete(name)) return `Cannot find device "${name}"`;
      this.neighs = this.neighs.filter((n) => n.dev !== name);
      this.fdb = this.fdb.filter((f) => f.dev !== name);
      return undefined;
    }
    if (line.startsWith('link set dev ')) {
      const l = this.links.get(val('dev'));
      if (!l) return `Cannot find device "${val('dev')}"`;
      if (w.includes('mtu')) l.mtu = Number(val('mtu'));
      if (w.includes('address')) l.mac = val('address');
      if (w.includes('up')) l.up = true;
      if (w.includes('down')) this.setDown(l);
      return undefined;
    }
    if (line.startsWith('addr add ') || line.startsWith('addr del ')) {
      const l = this.links.get(val('dev'));
      if (!l) return `Cannot find device "${val('dev')}"`;
      const addr = w[2]!;
      if (w[1] === 'add') {
        if (l.addresses.includes(addr)) return 'RTNETLINK answers: File exists';
        l.addresses.push(addr);
      } else {
        if (!l.addresses.includes(addr)) return 'RTNETLINK answers: Cannot assign requested address';
        l.addresses = l.addresses.filter((x) => x !== addr);
      }
      return undefined;
    }
    if (line.startsWith('neigh replace ')) {
      const dev = val('dev');
      if (!this.links.has(dev)) return `Cannot find device "${dev}"`;
      const ip = w[2]!;
      this.neighs = this.neighs.filter((n) => !(n.dev === dev && n.ip === ip));
      this.neighs.push({ dev, ip, mac: val('lladdr'), state: val('nud').toUpperCase(), ...(w.includes('protocol') ? { protocol: Number(val('protocol')) } : {}) });
      return undefined;
    }
    if (line.startsWith('neigh del ')) {
      const dev = val('dev');
      const ip = w[2]!;
      const before = this.neighs.length;
      this.neighs = this.neighs.filter((n) => !(n.dev === dev && n.ip === ip));
      return before === this.neighs.length ? 'RTNETLINK answers: No such file or directory' : undefined;
    }
    return `fake ip: cannot parse "${line}"`;
  }

  private bridgeLine(line: string): string | undefined {
    const w = line.split(' ');
    const val = (k: string) => w[w.indexOf(k) + 1]!;
    const dev = val('dev');
    const mac = w[2]!;
    if (!this.links.has(dev)) return `Cannot find device "${dev}"`;
    if (line.startsWith('fdb replace ')) {
      this.fdb = this.fdb.filter((f) => !(f.dev === dev && f.mac === mac));
      this.fdb.push({ dev, mac, dst: val('dst'), state: 'permanent' });
      return undefined;
    }
    if (line.startsWith('fdb del ')) {
      const before = this.fdb.length;
      this.fdb = this.fdb.filter((f) => !(f.dev === dev && f.mac === mac && (!w.includes('dst') || f.dst === val('dst'))));
      return before === this.fdb.length ? 'RTNETLINK answers: No such file or directory' : undefined;
    }
    return `fake bridge: cannot parse "${line}"`;
  }

  /** What the real kernel does on link down: drops the device's neighbour entries, keeps the FDB. */
  setDown(l: FakeLink): void {
    l.up = false;
    this.neighs = this.neighs.filter((n) => n.dev !== l.name);
  }
}
