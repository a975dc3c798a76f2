/**
 * A fake `ip` for unit tests of RouteTable.apply(): it understands the lines
 * the renderer writes (route add/replace/del) and `ip [-4|-6] -N -j route show
 * table all proto N`, with the kernel's rules that matter here: one route per
 * key (family, table, dst, metric, tos), EEXIST on add, a device must exist
 * and be up, a delete names the protocol. Its JSON mimics iproute2 6.1 (see
 * fixtures.ts for the real thing). Error texts are the real ones.
 */
import type { CommandResult, CommandRunner } from '../../../../src/felix/routes/exec.js';

export interface FakeHop {
  gateway?: string;
  dev?: string;
  onlink: boolean;
  weight: number;
}

export interface FakeRoute {
  family: 4 | 6;
  type: string;
  dst: string; // a/len
  table: number;
  metric: number;
  tos: number;
  protocol: number;
  scope: number;
  hops: FakeHop[];
}

const TYPES = ['blackhole', 'unreachable', 'prohibit'];
const TYPE_NUM: Record<string, number> = { unicast: 1, blackhole: 6, unreachable: 7, prohibit: 8 };

export function fakeKey(r: Pick<FakeRoute, 'family' | 'table' | 'dst' | 'metric' | 'tos'>): string {
  return `${r.family}|${r.table}|${r.dst}|${r.metric}|${r.tos}`;
}

export class FakeKernel implements CommandRunner {
  readonly routes = new Map<string, FakeRoute>();
  readonly devices = new Map<string, boolean>([['eth0', true]]);
  readonly commands: string[] = [];
  batches: string[][] = [];
  /** Make the next batch fail as a whole (no per-line errors). */
  failNextBatch = false;

  async run(file: string, args: string[], opts: { input?: string }): Promise<CommandResult> {
    const command = [file, ...args].join(' ');
    this.commands.push(command);
    let a = [...args];
    if (a[0] === '-n') a = a.slice(2);
    if (file !== 'ip') return { code: 127, stdout: '', stderr: `unknown ${file}`, timedOut: false, command };
    if (a.includes('-batch')) return this.batch((opts.input ?? '').split('\n').filter(Boolean), command);
    if (a.includes('show')) return this.show(a, command);
    return { code: 1, stdout: '', stderr: `fake ip: unsupported ${command}`, timedOut: false, command };
  }

  add(r: Partial<FakeRoute> & { dst: string; protocol: number }): void {
    const family = r.dst.includes(':') ? 6 : 4;
    const full: FakeRoute = { family, type: 'unicast', table: 254, metric: family === 6 ? 1024 : 0, tos: 0, scope: 0, hops: [], ...r };
    this.routes.set(fakeKey(full), full);
  }

  private batch(lines: string[], command: string): CommandResult {
    this.batches.push(lines);
    if (this.failNextBatch) {
      this.failNextBatch = false;
      return { code: 1, stdout: '', stderr: 'something odd\n', timedOut: false, command };
    }
    const err: string[] = [];
    lines.forEach((line, i) => {
      const e = this.exec(line);
      if (e) err.push(e, `Command failed -:${i + 1}`);
    });
    return { code: err.length ? 1 : 0, stdout: '', stderr: err.length ? err.join('\n') + '\n' : '', timedOut: false, command };
  }

  private exec(line: string): string | undefined {
    const t = line.split(/\s+/);
    if (t[0] !== 'route') return `fake: ${line}`;
    const op = t[1]!;
    let i = 2;
    let type = 'unicast';
    if (TYPES.includes(t[i]!)) type = t[i++]!;
    let dst = t[i++]!;
    const family = dst.includes(':') ? 6 : 4;
    if (!dst.includes('/')) dst += family === 4 ? '/32' : '/128';
    const r: FakeRoute = { family, type, dst, table: 254, metric: family === 6 ? 1024 : 0, tos: 0, protocol: 3, scope: 0, hops: [] };
    let cur: FakeHop | undefined;
    let explicitProto: number | undefined;
    while (i < t.length) {
      const k = t[i++]!;
      if (k === 'nexthop') {
        cur = { onlink: false, weight: 1 };
        r.hops.push(cur);
        continue;
      }
      if (k === 'onlink') {
        (cur ?? this.single(r)).onlink = true;
        continue;
      }
      const v = t[i++]!;
      if (k === 'via') (cur ?? this.single(r)).gateway = v;
      else if (k === 'dev') (cur ?? this.single(r)).dev = v;
      else if (k === 'weight') (cur ?? this.single(r)).weight = Number(v);
      else if (k === 'table') r.table = Number(v);
      else if (k === 'metric') r.metric = Number(v);
      else if (k === 'tos') r.tos = parseInt(v, 16);
      else if (k === 'proto') explicitProto = r.protocol = Number(v);
      else if (k === 'scope') r.scope = v === 'link' ? 253 : 0;
      else return `fake: unknown token ${k}`;
    }
    const key = fakeKey(r);
    if (op === 'del') {
      const have = this.routes.get(key);
      if (!have || (explicitProto !== undefined && have.protocol !== explicitProto) || have.type !== type) return 'RTNETLINK answers: No such process';
      this.routes.delete(key);
      return undefined;
    }
    for (const h of r.hops) {
      if (h.dev === undefined) h.dev = 'eth0'; // the fake resolves every gateway over eth0
      const up = this.devices.get(h.dev);
      if (up === undefined) return `Cannot find device "${h.dev}"`;
      if (!up) return family === 4 && h.gateway === undefined ? 'Error: Device for nexthop is not up.' : 'Error: Nexthop device is not up.';
    }
    if (op === 'add' && this.routes.has(key)) return 'RTNETLINK answers: File exists';
    if (op !== 'add' && op !== 'replace') return `fake: op ${op}`;
    if (family === 6) r.scope = 0;
    this.routes.set(key, r);
    return undefined;
  }

  private single(r: FakeRoute): FakeHop {
    if (r.hops.length === 0) r.hops.push({ onlink: false, weight: 1 });
    return r.hops[0]!;
  }

  /** A device goes down: the kernel drops every route over it. */
  setDevice(name: string, up: boolean | undefined): void {
    if (up === undefined) this.devices.delete(name);
    else this.devices.set(name, up);
    if (up !== true) for (const [k, r] of this.routes) if (r.hops.some((h) => h.dev === name)) this.routes.delete(k);
  }

  private show(a: string[], command: string): CommandResult {
    const family = a.includes('-6') ? 6 : a.includes('-4') ? 4 : undefined;
    const pi = a.indexOf('proto');
    const proto = pi >= 0 ? Number(a[pi + 1]) : undefined;
    const out = [...this.routes.values()]
      .filter((r) => (family === undefined || r.family === family) && (proto === undefined || r.protocol === proto))
      .map((r) => this.json(r, proto !== undefined));
    return { code: 0, stdout: JSON.stringify(out) + '\n', stderr: '', timedOut: false, command };
  }

  private json(r: FakeRoute, filtered: boolean): Record<string, unknown> {
    const host = (r.family === 4 && r.dst.endsWith('/32')) || (r.family === 6 && r.dst.endsWith('/128'));
    const o: Record<string, unknown> = {};
    if (r.type !== 'unicast') o.type = String(TYPE_NUM[r.type]);
    o.dst = r.dst.endsWith('/0') ? 'default' : host ? r.dst.split('/')[0] : r.dst;
    if (r.tos) o.tos = `0x${r.tos.toString(16)}`;
    const hopJson = (h: FakeHop) => ({ ...(h.gateway ? { gateway: h.gateway } : {}), ...(h.dev ? { dev: h.dev } : {}) });
    if (r.type === 'unicast' && r.hops.length === 1) Object.assign(o, hopJson(r.hops[0]!));
    if (r.type !== 'unicast' && r.family === 6) o.dev = 'lo';
    if (r.table !== 254) o.table = String(r.table);
    if (!filtered) o.protocol = String(r.protocol);
    if (r.family === 4 && r.scope) o.scope = String(r.scope);
    if (r.family === 6 || r.metric) o.metric = r.metric;
    o.flags = r.hops.length === 1 && r.hops[0]!.onlink ? ['onlink'] : [];
    if (r.family === 6) o.pref = 'medium';
    if (r.hops.length > 1) o.nexthops = r.hops.map((h) => ({ ...hopJson(h), weight: h.weight, flags: h.onlink ? ['onlink'] : [] }));
    return o;
  }
}
