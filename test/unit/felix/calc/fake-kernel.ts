/**
 * Drivers wired to a fake kernel that accepts every write and reads back
 * nothing of tabby's (empty route dumps, no tunnel devices, empty iptables
 * and ipset saves); every workload interface asked about exists, up. Enough to run the agent's passes without a
 * namespace and to inspect the desired state it handed to each driver.
 */
import type { FelixDrivers } from '../../../../src/felix/agent/drivers.js';
import { InterfaceManager } from '../../../../src/felix/interfaces/interface-manager.js';
import { IptablesExecutor } from '../../../../src/felix/iptables/backend.js';
import { TABLE_NAMES, type TableName } from '../../../../src/felix/iptables/model.js';
import type { CommandRunner as IptRunner } from '../../../../src/felix/iptables/runner.js';
import { IptablesTable } from '../../../../src/felix/iptables/table.js';
import { IpSets } from '../../../../src/felix/ipsets/ipsets.js';
import type { CommandRunner as IpRunner } from '../../../../src/felix/routes/exec.js';
import { RouteTable } from '../../../../src/felix/routes/route-table.js';
import { IpipManager } from '../../../../src/ipip/ipip-manager.js';
import type { ToolRunner } from '../../../../src/ipip/runner.js';
import { VxlanManager } from '../../../../src/ipip/vxlan-manager.js';

export interface FakeKernel {
  drivers: FelixDrivers;
  /** Every command run, as `tool args...`. */
  calls: string[];
}

const quietLog = { debug() {}, info() {}, warn() {}, error() {} };

/** `ipv6`: with ip6tables drivers (the agent then programs IPv6 when the input uses it). */
export function fakeKernel(opts: { ipv6?: boolean } = {}): FakeKernel {
  const calls: string[] = [];
  const ip: IpRunner = {
    async run(file, args, opts) {
      calls.push([file, ...args].join(' '));
      const isShow = args.includes('show') && !args.includes('-batch');
      let stdout = isShow && args.includes('-j') ? '[]' : '';
      // `link show dev X` lines: every workload interface exists, up, already in shape.
      if (args.includes('-batch') && args.includes('-j')) {
        stdout = (opts.input ?? '')
          .split('\n')
          .map((l) => /^link show dev (\S+)$/.exec(l.trim()))
          .filter((m): m is RegExpExecArray => m !== null)
          .map((m, i) => JSON.stringify([{ ifindex: 100 + i, ifname: m[1], flags: ['BROADCAST', 'UP', 'LOWER_UP'], mtu: 1440, address: 'ee:ee:ee:ee:ee:ee', operstate: 'UP' }]))
          .join('\n');
      }
      return { code: 0, stdout, stderr: '', timedOut: false, command: [file, ...args].join(' ') };
    },
  };
  const ipt: IptRunner = {
    async run(cmd, args) {
      calls.push([cmd, ...args].join(' '));
      return { code: 0, stdout: '', stderr: '' };
    },
  };
  const tool: ToolRunner = {
    async run(t, args) {
      calls.push([t, ...args].join(' '));
      if (args.includes('show')) return { code: 1, stdout: '', stderr: `Device "${args[args.length - 1]}" does not exist.` };
      return { code: 0, stdout: '', stderr: '' };
    },
  };
  const executor = new IptablesExecutor(ipt, 'nft', 4);
  const tables = Object.fromEntries(TABLE_NAMES.map((t) => [t, new IptablesTable({ table: t, executor })])) as Record<TableName, IptablesTable>;
  const executor6 = new IptablesExecutor(ipt, 'nft', 6);
  const tables6 = Object.fromEntries(TABLE_NAMES.map((t) => [t, new IptablesTable({ table: t, executor: executor6 })])) as Record<TableName, IptablesTable>;
  const drivers: FelixDrivers = {
    routes: new RouteTable({ runner: ip }),
    interfaces: new InterfaceManager({ runner: ip, proc: { read: async () => new Map(), write: async () => [] } }),
    tables,
    ...(opts.ipv6 ? { tables6 } : {}),
    ipsets: new IpSets({ runner: ipt }),
    ipip: new IpipManager({ runner: tool, log: quietLog }),
    vxlan: new VxlanManager({ runner: tool, log: quietLog }),
    iptablesBackend: 'nft',
  };
  return { drivers, calls };
}
