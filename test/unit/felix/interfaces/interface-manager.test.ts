import assert from 'node:assert/strict';
import { configureLogging } from '../../../../src/util/log.js';
import type { CommandResult, CommandRunner } from '../../../../src/felix/routes/exec.js';
import { InterfaceManager, type InterfaceManagerOptions } from '../../../../src/felix/interfaces/interface-manager.js';
import type { ProcAccess, ProcWriteFailure } from '../../../../src/felix/interfaces/procfs.js';

interface FakeLink {
  up: boolean;
  mtu: number;
  mac: string;
  v4: Array<[string, number]>;
}

/** A fake host: links answered by `ip`, sysctls by a map. Records every command. */
class FakeHost implements CommandRunner, ProcAccess {
  readonly links = new Map<string, FakeLink>();
  readonly sysctls = new Map<string, string>([['sys/net/ipv4/ip_forward', '0'], ['sys/net/ipv6/conf/all/forwarding', '0'], ['sys/net/ipv4/conf/default/rp_filter', '2']]);
  readonly commands: string[] = [];
  readonly batches: string[][] = [];
  readonly writes: Array<[string, string]> = [];

  addVeth(name: string, over: Partial<FakeLink> = {}): void {
    this.links.set(name, { up: false, mtu: 1500, mac: '02:00:00:00:00:01', v4: [], ...over });
    for (const k of ['proxy_arp', 'forwarding', 'rp_filter', 'route_localnet']) this.sysctls.set(`sys/net/ipv4/conf/${name}/${k}`, '0');
    this.sysctls.set(`sys/net/ipv4/neigh/${name}/proxy_delay`, '80');
    for (const k of ['accept_ra', 'proxy_ndp', 'forwarding']) this.sysctls.set(`sys/net/ipv6/conf/${name}/${k}`, k === 'accept_ra' ? '1' : '0');
  }

  async run(file: string, args: string[], opts: { input?: string }): Promise<CommandResult> {
    const command = [file, ...args].join(' ');
    this.commands.push(command);
    const ok = (stdout: string, stderr = '', code = 0): CommandResult => ({ code, stdout, stderr, timedOut: false, command });
    if (args.includes('local')) {
      const out = [...this.links].flatMap(([n, l]) => l.v4.map(([a]) => ({ type: '2', dst: a, dev: n })));
      return ok(JSON.stringify(out));
    }
    const lines = (opts.input ?? '').split('\n').filter(Boolean);
    this.batches.push(lines);
    let out = '';
    const err: string[] = [];
    lines.forEach((line, i) => {
      const t = line.split(' ');
      if (line === 'route show table local type local') {
        out += JSON.stringify([...this.links].flatMap(([n, l]) => l.v4.map(([a]) => ({ type: '2', dst: a, dev: n })))) + '\n';
        return;
      }
      const name = t[t.indexOf('dev') + 1]!;
      const l = this.links.get(name);
      if (!l) {
        err.push(`Device "${name}" does not exist.`, `Command failed -:${i + 1}`);
        return;
      }
      if (t[0] === 'link' && t[1] === 'show') {
        out += JSON.stringify([{ ifindex: 7, ifname: name, flags: l.up ? ['UP', 'LOWER_UP'] : [], mtu: l.mtu, address: l.mac, operstate: l.up ? 'UP' : 'DOWN' }]) + '\n';
      } else if (t[0] === 'addr' && t[1] === 'show') {
        out += JSON.stringify([{ ifname: name, addr_info: l.v4.map(([a, p]) => ({ family: 'inet', local: a, prefixlen: p })) }]) + '\n';
      } else if (t[0] === 'link' && t[1] === 'set') {
        if (t[4] === 'up') l.up = true;
        else if (t[4] === 'down') l.up = false;
        else if (t[4] === 'mtu') l.mtu = Number(t[5]);
        else if (t[4] === 'address') l.mac = t[5]!;
      } else if (t[0] === 'addr' && t[1] === 'del') {
        l.v4 = l.v4.filter(([a]) => !t[2]!.startsWith(`${a}/`));
      }
    });
    return ok(out, err.length ? err.join('\n') + '\n' : '', err.length ? 1 : 0);
  }

  async read(paths: readonly string[]): Promise<Map<string, string>> {
    const m = new Map<string, string>();
    for (const p of paths) {
      const v = this.sysctls.get(p);
      if (v !== undefined) m.set(p, v);
    }
    return m;
  }

  async write(entries: ReadonlyArray<readonly [string, string]>): Promise<ProcWriteFailure[]> {
    const failed: ProcWriteFailure[] = [];
    for (const [p, v] of entries) {
      this.writes.push([p, v]);
      if (!this.sysctls.has(p)) failed.push({ path: p, error: 'ENOENT' });
      else this.sysctls.set(p, v);
    }
    return failed;
  }
}

function setup(opts: Partial<InterfaceManagerOptions> = {}) {
  const host = new FakeHost();
  const make = () => new InterfaceManager({ runner: host, proc: host, ...opts });
  return { host, make, mgr: make() };
}

describe('felix InterfaceManager (fake host)', () => {
  before(() => configureLogging({ level: 'silent' }));
  after(() => configureLogging({ level: 'info' }));

  it('configures a new veth in Calico\'s shape with one link batch, and reports link events for the route table', async () => {
    const { host, mgr } = setup();
    host.addVeth('cali1');
    mgr.setInterface('cali1');
    const r = await mgr.apply();
    assert.deepEqual(r.configured, ['cali1']);
    assert.deepEqual(host.links.get('cali1'), { up: true, mtu: 1440, mac: 'ee:ee:ee:ee:ee:ee', v4: [] });
    assert.equal(host.sysctls.get('sys/net/ipv4/conf/cali1/proxy_arp'), '1');
    assert.equal(host.sysctls.get('sys/net/ipv4/neigh/cali1/proxy_delay'), '0');
    assert.equal(host.sysctls.get('sys/net/ipv4/conf/cali1/rp_filter'), '2', 'inherits the host default, as Felix does');
    assert.equal(host.sysctls.get('sys/net/ipv6/conf/cali1/accept_ra'), '0');
    assert.equal(host.sysctls.get('sys/net/ipv6/conf/cali1/proxy_ndp'), '0', 'no proxy_ndp without IPv6');
    assert.equal(host.sysctls.get('sys/net/ipv4/ip_forward'), '1');
    assert.equal(host.sysctls.get('sys/net/ipv6/conf/all/forwarding'), '0', 'IPv6 forwarding only when IPv6 is used');
    assert.deepEqual(r.linkEvents, [{ name: 'cali1', up: false }, { name: 'cali1', up: true }]);
    assert.equal(r.repairs.length, 0);
    const set = host.batches.filter((b) => b.some((l) => l.startsWith('link set')));
    assert.equal(set.length, 1, 'one batch for all link changes');
    const again = await mgr.apply();
    assert.equal(again.processes, 0, 'nothing dirty: no I/O');
  });

  it('touches only the interfaces it manages and refuses others', async () => {
    const { host, mgr } = setup();
    host.addVeth('cali1');
    host.addVeth('eth1');
    assert.throws(() => mgr.setInterface('eth1'), /never touches/);
    mgr.setInterface('cali1');
    await mgr.apply();
    assert.ok(host.commands.every((c) => !c.includes('eth1')));
    assert.ok(host.batches.flat().every((l) => !l.includes('eth1')));
    assert.ok(host.writes.every(([p]) => !p.includes('eth1')));
    assert.equal(host.links.get('eth1')!.mtu, 1500);
  });

  it('repairs drift found on resync and reports each repair; a clean resync repairs nothing', async () => {
    const { host, mgr } = setup({ rpFilter: 1 });
    host.addVeth('cali1');
    host.addVeth('cali2');
    mgr.setInterfaces({ cali1: {}, cali2: {} });
    await mgr.apply();
    host.links.get('cali1')!.up = false;
    host.links.get('cali2')!.mtu = 9000;
    host.links.get('cali2')!.v4.push(['10.9.9.9', 24]);
    host.sysctls.set('sys/net/ipv4/conf/cali2/proxy_arp', '0');
    host.sysctls.set('sys/net/ipv4/ip_forward', '0');
    mgr.requestResync();
    const r = await mgr.apply();
    assert.equal(r.resynced, true);
    assert.deepEqual(r.repairs.map((c) => `${c.iface} ${c.what} ${c.key ?? ''} ${c.from}->${c.to}`).sort(), [
      '(host) sysctl net/ipv4/ip_forward 0->1',
      'cali1 up  down->up',
      'cali2 address 10.9.9.9/24 present->absent',
      'cali2 mtu  9000->1440',
      'cali2 sysctl net/ipv4/conf/cali2/proxy_arp 0->1',
    ]);
    // cali1 came back up; cali2 lost its (last) IPv4 address, which flushes its IPv4 routes too.
    assert.deepEqual(r.linkEvents, [{ name: 'cali1', up: false }, { name: 'cali1', up: true }, { name: 'cali2', up: false }, { name: 'cali2', up: true }]);
    assert.equal(host.links.get('cali2')!.v4.length, 0);
    mgr.requestResync();
    const clean = await mgr.apply();
    assert.equal(clean.repairs.length, 0);
    assert.equal(clean.linkLines + clean.sysctlWrites, 0);
  });

  it('a missing interface is reported and configured once it appears', async () => {
    const { host, mgr } = setup();
    mgr.setInterface('cali9');
    const r = await mgr.apply();
    assert.deepEqual(r.missing, ['cali9']);
    assert.equal(r.failed.length, 0);
    host.addVeth('cali9');
    const r2 = await mgr.apply();
    assert.deepEqual(r2.configured, ['cali9']);
    assert.equal(host.links.get('cali9')!.up, true);
  });

  it('a new instance adopts interfaces already in shape without writing', async () => {
    const { host, mgr, make } = setup();
    host.addVeth('cali1');
    mgr.setInterface('cali1');
    await mgr.apply();
    const writes = host.writes.length;
    const batches = host.batches.length;
    const fresh = make();
    fresh.setInterface('cali1');
    const r = await fresh.apply();
    assert.deepEqual(r.changes, []);
    assert.equal(r.linkLines + r.sysctlWrites, 0);
    assert.equal(host.writes.length, writes);
    assert.equal(host.batches.length, batches + 1, 'only the read-back batch');
  });

  it('IPv6 workloads get proxy_ndp and forwarding, and the host IPv6 forwarding', async () => {
    const { host, mgr } = setup();
    host.addVeth('cali6');
    mgr.setInterface('cali6', { ipv6: true, ipv4: false });
    await mgr.apply();
    assert.equal(host.sysctls.get('sys/net/ipv6/conf/cali6/proxy_ndp'), '1');
    assert.equal(host.sysctls.get('sys/net/ipv6/conf/cali6/forwarding'), '1');
    assert.equal(host.sysctls.get('sys/net/ipv6/conf/all/forwarding'), '1');
    assert.equal(host.sysctls.get('sys/net/ipv4/conf/cali6/proxy_arp'), '0', 'no IPv4: IPv4 sysctls left alone');
  });
});
