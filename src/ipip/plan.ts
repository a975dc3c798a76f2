/**
 * Desired vs observed → the smallest list of `ip`/`bridge` batch lines that
 * makes the kernel match. Pure: the managers read back, call these, run the
 * lines, and read back again to check.
 *
 * Devices (Calico's `configureTunnelDevice`): a device of the wrong kind, or
 * a VXLAN device whose VNI, port, local address or learning flag differ, is
 * deleted and created again (the kernel cannot change a VNI in place); MTU,
 * MAC, addresses and the up flag are fixed in place. The tunnel /32 is the
 * only IPv4 address the device keeps.
 *
 * VXLAN layer 2 (Calico's `vxlanfdb`): per remote VTEP one permanent
 * neighbour entry (tunnel IP → remote MAC: the inner Ethernet header) and
 * one FDB entry (remote MAC → remote node IP: the outer IP header, RFC 7348
 * §4). Unlike Calico, which treats every permanent entry on its device as
 * its own, tabby removes only what it can prove it wrote, so entries added
 * by someone else survive:
 *  - a neighbour entry is tabby's when it is permanent and carries tabby's
 *    protocol number (`protocol 80`, which the kernel stores with it);
 *  - an FDB entry cannot carry a tag, so it is tabby's when its MAC is the
 *    lladdr of one of tabby's neighbour entries or a MAC this process
 *    programmed. FDB entries are removed before their neighbour entries, so
 *    a crash in between leaves the tag that proves ownership next time.
 */
import { isUnicastMac } from './mac.js';
import type {
  Change,
  ChangeKind,
  IpipDeviceSpec,
  ObservedDevice,
  ObservedFdb,
  ObservedNeighbour,
  Op,
  Vtep,
  VxlanDeviceSpec,
} from './types.js';

const ANY = new Set([undefined, 'any', '0.0.0.0']);

function op(tool: Op['tool'], line: string, kind: ChangeKind, detail: string): Op {
  return { tool, line, change: { kind, detail } };
}

/** Ops that fix MTU, MAC, addresses and the up flag of a device of the right kind. */
function inPlaceFixes(name: string, want: { mtu: number; mac?: string; address?: string }, have: ObservedDevice): Op[] {
  const ops: Op[] = [];
  if (have.mtu !== want.mtu) ops.push(op('ip', `link set dev ${name} mtu ${want.mtu}`, 'mtu', `${name} mtu ${have.mtu} -> ${want.mtu}`));
  if (want.mac !== undefined && have.mac !== want.mac) ops.push(op('ip', `link set dev ${name} address ${want.mac}`, 'mac', `${name} address ${have.mac ?? 'none'} -> ${want.mac}`));
  const wanted = want.address !== undefined ? `${want.address}/32` : undefined;
  for (const a of have.addresses) {
    if (a !== wanted) ops.push(op('ip', `addr del ${a} dev ${name}`, 'address-removed', `${name} had unwanted address ${a}`));
  }
  if (wanted !== undefined && !have.addresses.includes(wanted)) ops.push(op('ip', `addr add ${wanted} dev ${name}`, 'address-added', `${name} lacked ${wanted}`));
  if (wanted !== undefined && !have.up) ops.push(op('ip', `link set dev ${name} up`, 'up', `${name} was down`));
  return ops;
}

// ---------------------------------------------------------------- IPIP

function createIpip(want: IpipDeviceSpec & { address: string }, kind: 'device-created' | 'device-recreated', why: string): Op[] {
  return [
    op('ip', `link add name ${want.name} mtu ${want.mtu} type ipip`, kind, why),
    op('ip', `addr add ${want.address}/32 dev ${want.name}`, 'address-added', `${want.name} lacked ${want.address}/32`),
    op('ip', `link set dev ${want.name} up`, 'up', `${want.name} was down`),
  ];
}

/** Why an existing device named tunl0 is not a usable IPIP device, or undefined if it is. */
export function ipipIncompatibility(have: ObservedDevice): string | undefined {
  if (have.kind !== 'ipip') return `kind ${have.kind ?? 'none'}, want ipip`;
  if (!ANY.has(have.ipip?.remote)) return `remote ${have.ipip?.remote}, want any`;
  if (!ANY.has(have.ipip?.local)) return `local ${have.ipip?.local}, want any`;
  return undefined;
}

/**
 * tunl0. With IPIP off (`want.address` undefined) an existing ipip tunl0
 * only loses its addresses (the fallback device cannot be deleted), and a
 * tunl0 of another kind is left alone.
 */
export function planIpipDevice(want: IpipDeviceSpec, have: ObservedDevice | undefined): Op[] {
  const address = want.address;
  if (address === undefined) {
    if (!have || have.kind !== 'ipip') return [];
    return have.addresses.map((a) => op('ip', `addr del ${a} dev ${want.name}`, 'address-removed', `IPIP is off: ${want.name} had ${a}`));
  }
  if (!have) return createIpip({ ...want, address }, 'device-created', `${want.name} was missing`);
  const incompatible = ipipIncompatibility(have);
  if (incompatible) {
    return [op('ip', `link del dev ${want.name}`, 'device-recreated', `${want.name}: ${incompatible}`), ...createIpip({ ...want, address }, 'device-recreated', `${want.name}: ${incompatible}`)];
  }
  return inPlaceFixes(want.name, { mtu: want.mtu, address }, have);
}

// ---------------------------------------------------------------- VXLAN device

/** Why an existing device cannot be kept as the VXLAN device, or undefined if it can. */
export function vxlanIncompatibility(want: VxlanDeviceSpec, have: ObservedDevice): string | undefined {
  if (have.kind !== 'vxlan') return `kind ${have.kind ?? 'none'}, want vxlan`;
  const v = have.vxlan ?? {};
  if (v.vni !== want.vni) return `vni ${v.vni ?? 'none'}, want ${want.vni}`;
  if (v.port !== want.port) return `dstport ${v.port ?? 'none'}, want ${want.port}`;
  if (v.local !== want.local) return `local ${v.local ?? 'none'}, want ${want.local}`;
  if (v.learning !== false) return 'learning on, want nolearning';
  return undefined;
}

function createVxlan(want: VxlanDeviceSpec, kind: 'device-created' | 'device-recreated', why: string): Op[] {
  return [
    op(
      'ip',
      `link add name ${want.name} mtu ${want.mtu} address ${want.mac} type vxlan id ${want.vni} dstport ${want.port} local ${want.local} nolearning`,
      kind,
      why,
    ),
    op('ip', `addr add ${want.address}/32 dev ${want.name}`, 'address-added', `${want.name} lacked ${want.address}/32`),
    op('ip', `link set dev ${want.name} up`, 'up', `${want.name} was down`),
  ];
}

export interface VxlanDevicePlan {
  ops: Op[];
  /** The device is (re)created: its neighbour and FDB entries start empty. */
  fresh: boolean;
}

/** vxlan.tabby; `want` undefined means VXLAN is off: a vxlan device of that name is deleted. */
export function planVxlanDevice(want: VxlanDeviceSpec | undefined, have: ObservedDevice | undefined, name: string): VxlanDevicePlan {
  if (!want) {
    if (have && have.kind === 'vxlan') return { ops: [op('ip', `link del dev ${name}`, 'device-removed', `VXLAN is off: ${name} deleted`)], fresh: false };
    return { ops: [], fresh: false };
  }
  if (!have) return { ops: createVxlan(want, 'device-created', `${want.name} was missing`), fresh: true };
  const incompatible = vxlanIncompatibility(want, have);
  if (incompatible) {
    return {
      ops: [op('ip', `link del dev ${want.name}`, 'device-recreated', `${want.name}: ${incompatible}`), ...createVxlan(want, 'device-recreated', `${want.name}: ${incompatible}`)],
      fresh: true,
    };
  }
  return { ops: inPlaceFixes(want.name, { mtu: want.mtu, mac: want.mac, address: want.address }, have), fresh: false };
}

// ---------------------------------------------------------------- VXLAN neighbours + FDB

export interface L2PlanOptions {
  device: string;
  /** Protocol number that marks tabby's neighbour entries. */
  proto: number;
  /** MACs this process has programmed before (ownership of FDB entries without a tagged neighbour). */
  ownedMacs?: ReadonlySet<string>;
}

export interface L2Plan {
  /** `ip neigh replace` lines. */
  neighUpdates: Op[];
  /** `bridge fdb` deletions then replacements. */
  fdb: Op[];
  /** `ip neigh del` lines (run after the FDB deletions). */
  neighDeletes: Op[];
}

const isPermanent = (n: ObservedNeighbour) => n.states.includes('PERMANENT');

/** Exactly one tagged permanent neighbour and one FDB entry per VTEP; tabby's stale ones go, others stay. */
export function planVxlanL2(vteps: readonly Vtep[], neighbours: readonly ObservedNeighbour[], fdb: readonly ObservedFdb[], opts: L2PlanOptions): L2Plan {
  const dev = opts.device;
  const ours = (n: ObservedNeighbour) => isPermanent(n) && n.protocol === opts.proto;
  const wantedIps = new Set(vteps.map((v) => v.tunnelIp));
  const wantedMacs = new Set(vteps.map((v) => v.mac));

  const neighUpdates: Op[] = [];
  for (const v of vteps) {
    const have = neighbours.find((n) => n.ip === v.tunnelIp);
    const line = `neigh replace ${v.tunnelIp} lladdr ${v.mac} dev ${dev} nud permanent protocol ${opts.proto}`;
    if (!have || have.mac === undefined) {
      neighUpdates.push(op('ip', line, 'neigh-added', `${v.tunnelIp} -> ${v.mac} (node ${v.node}) was missing`));
    } else if (have.mac !== v.mac || !ours(have)) {
      const what = have.mac !== v.mac ? `lladdr ${have.mac}` : !isPermanent(have) ? `state ${have.states.join(',') || 'none'}` : `protocol ${have.protocol ?? 'none'}`;
      neighUpdates.push(op('ip', line, 'neigh-fixed', `${v.tunnelIp} (node ${v.node}) had ${what}, want ${v.mac} permanent proto ${opts.proto}`));
    }
  }

  const neighDeletes: Op[] = [];
  for (const n of neighbours) {
    if (ours(n) && !wantedIps.has(n.ip)) {
      neighDeletes.push(op('ip', `neigh del ${n.ip} dev ${dev}`, 'neigh-removed', `stale ${n.ip} -> ${n.mac ?? 'none'}`));
    }
  }

  const ownedMacs = new Set<string>(opts.ownedMacs ?? []);
  for (const n of neighbours) if (ours(n) && n.mac !== undefined) ownedMacs.add(n.mac);

  const fdbDeletes: Op[] = [];
  const fdbUpdates: Op[] = [];
  for (const f of fdb) {
    if (wantedMacs.has(f.mac) || !ownedMacs.has(f.mac) || !isUnicastMac(f.mac) || !f.self) continue;
    fdbDeletes.push(op('bridge', `fdb del ${f.mac} dev ${dev}${f.dst ? ` dst ${f.dst}` : ''} self`, 'fdb-removed', `stale ${f.mac} -> ${f.dst ?? 'none'}`));
  }
  for (const v of vteps) {
    const entries = fdb.filter((f) => f.mac === v.mac && f.self);
    const good = entries.some((f) => f.dst === v.hostIp && f.permanent);
    if (good) continue;
    const line = `fdb replace ${v.mac} dev ${dev} dst ${v.hostIp} self permanent`;
    if (entries.length === 0) fdbUpdates.push(op('bridge', line, 'fdb-added', `${v.mac} -> ${v.hostIp} (node ${v.node}) was missing`));
    else fdbUpdates.push(op('bridge', line, 'fdb-fixed', `${v.mac} (node ${v.node}) had dst ${entries.map((e) => e.dst ?? 'none').join(',')}, want ${v.hostIp}`));
  }
  return { neighUpdates, fdb: [...fdbDeletes, ...fdbUpdates], neighDeletes };
}

/** The whole VXLAN programme in execution order. */
export function planVxlan(
  want: VxlanDeviceSpec | undefined,
  vteps: readonly Vtep[],
  observed: { device?: ObservedDevice; neighbours: readonly ObservedNeighbour[]; fdb: readonly ObservedFdb[] },
  opts: L2PlanOptions,
): Op[] {
  const dev = planVxlanDevice(want, observed.device, opts.device);
  if (!want) return dev.ops;
  const l2 = dev.fresh ? planVxlanL2(vteps, [], [], opts) : planVxlanL2(vteps, observed.neighbours, observed.fdb, opts);
  return [...dev.ops, ...l2.neighUpdates, ...l2.fdb, ...l2.neighDeletes];
}

// ---------------------------------------------------------------- execution helpers

export interface Batch {
  tool: Op['tool'];
  lines: string[];
}

/** Consecutive ops of one tool become one batch (one process each), order kept. */
export function toBatches(ops: readonly Op[]): Batch[] {
  const out: Batch[] = [];
  for (const o of ops) {
    const last = out[out.length - 1];
    if (last && last.tool === o.tool) last.lines.push(o.line);
    else out.push({ tool: o.tool, lines: [o.line] });
  }
  return out;
}

/** Ops as shell-like lines, `ip link add ...` / `bridge fdb replace ...`. */
export function renderCommands(ops: readonly Op[]): string[] {
  return ops.map((o) => `${o.tool} ${o.line}`);
}

export function changesOf(ops: readonly Op[]): Change[] {
  return ops.map((o) => o.change);
}

/** True when the routes through the device were dropped by the kernel (new device, or it was down). */
export function flushesRoutes(ops: readonly Op[]): boolean {
  return ops.some((o) => o.change.kind === 'device-created' || o.change.kind === 'device-recreated' || o.change.kind === 'device-removed' || o.change.kind === 'up');
}
