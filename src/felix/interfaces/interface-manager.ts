/**
 * InterfaceManager: keeps each workload's host-side veth (`cali...`) and the
 * host-wide forwarding sysctls in Calico's shape (model.ts), and repairs
 * drift.
 *
 * - setInterface/removeInterface/setInterfaces/requestResync record desired
 *   state and mark it dirty; apply() does all I/O (Felix's OnUpdate vs
 *   CompleteDeferredWork split).
 * - apply() reads back only what it needs: the dirty interfaces, or every
 *   desired one on a resync (the periodic refresh, and the first apply of a
 *   new instance). Reads: one `ip -j -batch` of the small local routing
 *   table (IPv4 addresses) and `link show dev X` lines (a netlink get per
 *   device: ~50 µs each, where a dump of 10k links takes 0.25 s), and the
 *   sysctls plus /proc/net/if_inet6 (directly, in batches that let the event
 *   loop breathe between them, or one `sh` in a test namespace).
 * - Writes: one `ip -force -batch` for every link change, then the sysctls
 *   (directly, or one `sh`).
 * - Only interfaces whose names start with the workload prefix can be
 *   desired, so nothing else is ever touched, apart from the host-wide
 *   sysctls it owns. It never creates or deletes interfaces (the CNI plugin
 *   or the lab does); a desired interface that does not exist yet is
 *   reported as missing and checked again at every apply.
 * - Interfaces it brings up (or flaps for a MAC change, or strips of a stray
 *   IPv4 address) are reported as link events, down then up, for
 *   RouteTable.onIfaceStateChanged: the kernel drops a device's routes when
 *   it goes down (and its IPv4 routes when its last IPv4 address goes), and
 *   refuses new ones while it is down, so the route table must forget and
 *   retry them.
 * - A difference on an interface this instance had already configured is a
 *   repair (drift), reported one by one; on first sight it is configuration.
 */
import { logger, type ComponentLogger } from '../../util/log.js';
import { parseBatchErrors } from '../routes/batch-errors.js';
import { CommandFailedError, NamespaceExec, type CommandRunner } from '../routes/exec.js';
import {
  CALICO_HOST_MAC,
  checkWorkloadName,
  hostSysctls,
  InterfaceSpecError,
  isOptionalSysctl,
  normaliseMac,
  workloadSysctls,
  type ResolvedInterfaceSpec,
  type RpFilterSetting,
  type WorkloadInterfaceSpec,
} from './model.js';
import { IPV6_SCOPE_LINK, parseAddrShowBatch, parseIfInet6, parseLinkAndLocalBatch, type IfAddress, type LinkState } from './parse.js';
import { planHostSysctls, planInterface, type InterfaceChange, type InterfacePlan } from './plan.js';
import { LocalProc, NetnsProc, type ProcAccess } from './procfs.js';

export interface InterfaceManagerOptions {
  /** Act on this named network namespace (tests); default: the current one. */
  netns?: string;
  runner?: CommandRunner;
  /** Inject /proc access (unit tests). */
  proc?: ProcAccess;
  /** Workload interface name prefix (Felix InterfacePrefix), default "cali". */
  prefix?: string;
  /** MTU of workload interfaces (config `dataplane.mtu`), default 1440. */
  mtu?: number;
  /** MAC of the host side, default ee:ee:ee:ee:ee:ee; null leaves MACs alone. */
  hostMac?: string | null;
  /** rp_filter of workload interfaces; 'inherit' (default) is Felix's: the host's conf/default value. */
  rpFilter?: RpFilterSetting;
  /** Turn on host-wide IPv6 forwarding even before a workload has IPv6. */
  ipv6?: boolean;
  /** route_localnet=1 on workload interfaces (Felix does, for NAT to the host), default true. */
  routeLocalnet?: boolean;
  log?: ComponentLogger;
}

export interface InterfaceLinkEvent {
  name: string;
  up: boolean;
}

export interface InterfaceFailure {
  iface: string;
  message: string;
}

export interface InterfaceApplyReport {
  /** Every desired interface was read back (first apply, or after requestResync). */
  resynced: boolean;
  /** Interfaces brought into shape for the first time by this instance. */
  configured: string[];
  /** What that first configuration changed. */
  changes: InterfaceChange[];
  /** Drift found and put right on interfaces (or host sysctls) configured before. */
  repairs: InterfaceChange[];
  /** Desired interfaces that do not exist (yet). */
  missing: string[];
  failed: InterfaceFailure[];
  /** For RouteTable.onIfaceStateChanged, in order. */
  linkEvents: InterfaceLinkEvent[];
  linkLines: number;
  sysctlWrites: number;
  processes: number;
}

const HOST_RP_FILTER_DEFAULT = 'sys/net/ipv4/conf/default/rp_filter';
const IF_INET6 = 'net/if_inet6';

export class InterfaceManager {
  readonly prefix: string;
  private readonly exec: NamespaceExec;
  private readonly proc: ProcAccess;
  private readonly log: ComponentLogger;
  private readonly mtu: number;
  private readonly hostMac: string | undefined;
  private readonly rpFilterSetting: RpFilterSetting;
  private readonly ipv6Always: boolean;
  private readonly routeLocalnet: boolean;

  private readonly desired = new Map<string, WorkloadInterfaceSpec>();
  private readonly dirty = new Set<string>();
  /** Interfaces believed to be in shape (configured by this instance, not seen drifting since). */
  private readonly configured = new Set<string>();
  private needFullRead = true;
  private hostConfigured = false;
  private lastHostWant = '';
  private rpFilterResolved: 0 | 1 | 2 | undefined;
  private applying = false;

  constructor(opts: InterfaceManagerOptions = {}) {
    this.prefix = opts.prefix ?? 'cali';
    if (!/^[a-z][a-z0-9]{0,9}$/i.test(this.prefix)) throw new InterfaceSpecError(`bad interface prefix "${this.prefix}"`);
    this.exec = new NamespaceExec({ ...(opts.netns !== undefined ? { netns: opts.netns } : {}), ...(opts.runner ? { runner: opts.runner } : {}) });
    this.proc = opts.proc ?? (opts.netns !== undefined ? new NetnsProc(this.exec) : new LocalProc());
    this.log = opts.log ?? logger('felix.interfaces', opts.netns !== undefined ? { netns: opts.netns } : {});
    this.mtu = opts.mtu ?? 1440;
    if (!Number.isInteger(this.mtu) || this.mtu < 68 || this.mtu > 65535) throw new InterfaceSpecError(`bad MTU ${this.mtu}`);
    this.hostMac = opts.hostMac === null ? undefined : normaliseMac(opts.hostMac ?? CALICO_HOST_MAC);
    this.rpFilterSetting = opts.rpFilter ?? 'inherit';
    this.ipv6Always = opts.ipv6 === true;
    this.routeLocalnet = opts.routeLocalnet ?? true;
  }

  /** Manage (or update) one workload interface. No I/O. */
  setInterface(name: string, spec: WorkloadInterfaceSpec = {}): void {
    checkWorkloadName(name, this.prefix);
    if (spec.mtu !== undefined && (!Number.isInteger(spec.mtu) || spec.mtu < 68 || spec.mtu > 65535)) throw new InterfaceSpecError(`${name}: bad MTU ${spec.mtu}`);
    const prev = this.desired.get(name);
    if (prev && JSON.stringify(prev) === JSON.stringify(spec)) return;
    this.desired.set(name, { ...spec });
    this.dirty.add(name);
    this.configured.delete(name);
  }

  /** Stop managing an interface (it is left as it is). */
  removeInterface(name: string): void {
    this.desired.delete(name);
    this.dirty.delete(name);
    this.configured.delete(name);
  }

  /** Replace the whole set of managed interfaces. */
  setInterfaces(specs: ReadonlyMap<string, WorkloadInterfaceSpec> | Record<string, WorkloadInterfaceSpec>): void {
    const m = specs instanceof Map ? specs : new Map(Object.entries(specs));
    for (const name of m.keys()) checkWorkloadName(name, this.prefix);
    for (const name of [...this.desired.keys()]) if (!m.has(name)) this.removeInterface(name);
    for (const [name, spec] of m) this.setInterface(name, spec);
  }

  interfaces(): string[] {
    return [...this.desired.keys()];
  }

  /** Read back every desired interface and the host sysctls at the next apply (drift repair). */
  requestResync(): void {
    this.needFullRead = true;
  }

  private get ipv6InUse(): boolean {
    if (this.ipv6Always) return true;
    for (const s of this.desired.values()) if (s.ipv6) return true;
    return false;
  }

  private resolve(name: string, rp: 0 | 1 | 2): ResolvedInterfaceSpec {
    const s = this.desired.get(name)!;
    const ipv4 = s.ipv4 ?? true;
    const ipv6 = s.ipv6 ?? false;
    return {
      name,
      ipv4,
      ipv6,
      mtu: s.mtu ?? this.mtu,
      mac: this.hostMac,
      sysctls: workloadSysctls(name, { ipv4, ipv6, ...(s.allowSpoofedSource ? { allowSpoofedSource: true } : {}) }, rp, this.routeLocalnet),
    };
  }

  private async resolveRpFilter(): Promise<0 | 1 | 2> {
    if (this.rpFilterSetting !== 'inherit') return this.rpFilterSetting;
    if (this.rpFilterResolved === undefined) {
      // Felix reads the host's default once at start-up, strict when unreadable.
      const v = (await this.proc.read([HOST_RP_FILTER_DEFAULT])).get(HOST_RP_FILTER_DEFAULT)?.trim();
      this.rpFilterResolved = v === '0' || v === '1' || v === '2' ? (Number(v) as 0 | 1 | 2) : 1;
    }
    return this.rpFilterResolved;
  }

  /** Bring the kernel in line with the desired state. All I/O happens here. */
  async apply(): Promise<InterfaceApplyReport> {
    if (this.applying) throw new Error('InterfaceManager.apply() is already running');
    this.applying = true;
    try {
      return await this.applyOnce();
    } finally {
      this.applying = false;
    }
  }

  private async applyOnce(): Promise<InterfaceApplyReport> {
    const spawned0 = this.exec.spawned;
    const report: InterfaceApplyReport = {
      resynced: false, configured: [], changes: [], repairs: [], missing: [], failed: [], linkEvents: [], linkLines: 0, sysctlWrites: 0, processes: 0,
    };
    const full = this.needFullRead;
    const hostWant = hostSysctls(this.ipv6InUse);
    const hostKey = [...hostWant].join(';');
    const checkHost = full || hostKey !== this.lastHostWant;
    const targets = full ? [...this.desired.keys()] : [...this.dirty].filter((n) => this.desired.has(n));
    if (targets.length === 0 && !checkHost) return report;

    const rp = await this.resolveRpFilter();
    const specs = targets.map((n) => this.resolve(n, rp));
    const procPaths = [...(checkHost ? hostWant.keys() : []), ...specs.flatMap((s) => [...s.sysctls.keys()])].map((p) => `sys/${p}`);
    if (targets.length) procPaths.push(IF_INET6);

    // One process: the local table (IPv4 addresses by device) and a link
    // query per target, in one numeric JSON batch.
    const [linkRes, procVals] = await Promise.all([
      targets.length ? this.exec.ip(['-j', '-N', '-force', '-batch', '-'], ['route show table local type local', ...targets.map((n) => `link show dev ${n}`)].join('\n') + '\n') : undefined,
      this.proc.read(procPaths),
    ]);
    if (linkRes && (linkRes.timedOut || (linkRes.code !== 0 && parseBatchErrors(linkRes.stderr).length === 0))) throw new CommandFailedError(linkRes);
    const parsed = linkRes ? parseLinkAndLocalBatch(linkRes.stdout) : { links: new Map<string, LinkState>(), local: new Map<string, string[]>() };
    const links = parsed.links;
    const v4ByDev = parsed.local;
    const v6 = parseIfInet6(procVals.get(IF_INET6) ?? '', new Set(targets)).filter((e) => e.scope !== IPV6_SCOPE_LINK);

    // Prefix lengths of IPv4 addresses found (rare: only drift puts one there).
    const withV4 = targets.filter((n) => links.has(n) && (v4ByDev.get(n)?.length ?? 0) > 0);
    let v4Addrs = new Map<string, IfAddress[]>();
    if (withV4.length) {
      const r = await this.exec.ipBatch(withV4.map((n) => `addr show dev ${n}`), { json: true, force: true, family: 4 });
      v4Addrs = parseAddrShowBatch(r.stdout);
    }
    const sysctlOf = (p: string) => procVals.get(`sys/${p}`);

    // Plan.
    const plans = new Map<string, InterfacePlan>();
    for (const spec of specs) {
      const link = links.get(spec.name);
      if (!link) {
        report.missing.push(spec.name);
        if (this.configured.delete(spec.name)) report.linkEvents.push({ name: spec.name, up: false });
        this.dirty.add(spec.name);
        continue;
      }
      const addresses = [...(v4Addrs.get(spec.name) ?? []).filter((a) => a.family === 4), ...v6.filter((e) => e.ifname === spec.name)];
      const sysctls = new Map<string, string>();
      for (const p of spec.sysctls.keys()) {
        const v = sysctlOf(p);
        if (v !== undefined) sysctls.set(p, v.trim());
      }
      plans.set(spec.name, planInterface(spec, { link, addresses, sysctls }));
    }
    const host = checkHost ? planHostSysctls(hostWant, new Map([...hostWant.keys()].flatMap((p) => { const v = sysctlOf(p); return v === undefined ? [] : [[p, v.trim()] as [string, string]]; }))) : { writes: [], changes: [] };

    // Links: one batch.
    const lineOwner: string[] = [];
    const lines: string[] = [];
    for (const [name, p] of plans) for (const l of p.linkLines) { lines.push(l); lineOwner.push(name); }
    const linkFailed = new Map<string, string>();
    if (lines.length) {
      report.linkLines = lines.length;
      const r = await this.exec.ipBatch(lines, { force: true });
      if (r.timedOut) throw new CommandFailedError(r);
      for (const e of parseBatchErrors(r.stderr)) {
        const owner = lineOwner[e.line - 1];
        if (owner !== undefined && !linkFailed.has(owner)) linkFailed.set(owner, `${lines[e.line - 1]}: ${e.message}`);
      }
      if (r.code !== 0 && linkFailed.size === 0) throw new CommandFailedError(r);
    }

    // Sysctls: after the links (a flapped link keeps its sysctls).
    const writes: Array<[string, string]> = [...host.writes];
    for (const [name, p] of plans) if (!linkFailed.has(name)) writes.push(...p.sysctlWrites);
    const sysctlFailed = new Map<string, string>();
    if (writes.length) {
      report.sysctlWrites = writes.length;
      const failures = await this.proc.write(writes.map(([p, v]) => [`sys/${p}`, v] as const));
      for (const f of failures) {
        const path = f.path.replace(/^sys\//, '');
        if (isOptionalSysctl(path)) continue;
        const owner = specs.find((s) => s.sysctls.has(path))?.name ?? '(host)';
        if (!sysctlFailed.has(owner)) sysctlFailed.set(owner, `${path}: ${f.error}`);
      }
    }

    // Outcome.
    for (const [name, p] of plans) {
      const failure = linkFailed.get(name) ?? sysctlFailed.get(name);
      if (failure) {
        report.failed.push({ iface: name, message: failure });
        this.dirty.add(name);
        this.configured.delete(name);
        continue;
      }
      // Routes over the link are gone when it was down, is flapped, or lost
      // its last IPv4 address (the kernel flushes a device's IPv4 routes
      // then, fib_disable_ip): the route table must forget and re-add them.
      if (p.bringsUp || p.changes.some((c) => c.what === 'address' && !c.key!.includes(':'))) report.linkEvents.push({ name, up: false }, { name, up: true });
      if (this.configured.has(name)) report.repairs.push(...p.changes);
      else {
        report.configured.push(name);
        report.changes.push(...p.changes);
        this.configured.add(name);
      }
      this.dirty.delete(name);
    }
    if (checkHost) {
      if (sysctlFailed.has('(host)')) report.failed.push({ iface: '(host)', message: sysctlFailed.get('(host)')! });
      else {
        (this.hostConfigured && hostKey === this.lastHostWant ? report.repairs : report.changes).push(...host.changes);
        this.hostConfigured = true;
        this.lastHostWant = hostKey;
      }
    }
    if (full) {
      this.needFullRead = false;
      report.resynced = true;
    }
    report.processes = this.exec.spawned - spawned0;
    if (report.repairs.length) this.log.info('felix.interfaces.repaired', { count: report.repairs.length, repairs: report.repairs.slice(0, 20) });
    if (report.failed.length) this.log.warn('felix.interfaces.failed', { failed: report.failed.slice(0, 20) });
    return report;
  }
}
