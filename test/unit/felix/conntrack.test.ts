/**
 * ConntrackCleaner against a fake shell: which addresses count as flushed,
 * retried or given up, and how many entries the kernel said it deleted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { ConntrackCleaner } from '../../../src/felix/conntrack/conntrack.js';
import type { CommandResult, CommandRunner } from '../../../src/felix/iptables/runner.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } } as never;

/**
 * Answers the cleaner as conntrack would, per address and direction (0
 * --orig-src, 1 --reply-src): a direct `conntrack -D` on its own, or the
 * shell script's lines for many addresses.
 */
class FakeShell implements CommandRunner {
  calls: string[][] = [];
  /** answer(ip, dir) = "<exit code> <conntrack's last line>" */
  constructor(private readonly answer: (ip: string, dir: number) => string) {}
  async run(cmd: string, args: readonly string[]): Promise<CommandResult> {
    if (cmd === 'conntrack') {
      const ip = args[4]!;
      const dir = args[3] === '--orig-src' ? 0 : 1;
      assert.equal(args[2], ip.includes(':') ? 'ipv6' : 'ipv4');
      this.calls.push([ip]);
      const a = this.answer(ip, dir);
      return { code: Number(a.split(' ')[0]), stdout: '', stderr: a.slice(a.indexOf(' ') + 1) + '\n' };
    }
    assert.equal(cmd, 'sh');
    const ips = args.slice(3);
    this.calls.push(ips);
    return { code: 0, stdout: ips.flatMap((ip) => [0, 1].map((d) => `${ip} ${this.answer(ip, d)}`)).join('\n') + '\n', stderr: '' };
  }
}

describe('felix/conntrack: ConntrackCleaner', () => {
  it('counts entries, treats "0 flow entries" as done, and runs nothing when idle', async () => {
    const sh = new FakeShell((_ip, d) => `${d === 0 ? 0 : 1} conntrack v1.4.7 (conntrack-tools): ${d === 0 ? 2 : 0} flow entries have been deleted.`);
    const c = new ConntrackCleaner({ runner: sh, log: quiet });
    c.flush(['10.65.1.1', 'fd00::1', '10.65.1.1']);
    const r = await c.apply();
    assert.deepEqual(r.flushed.sort(), ['10.65.1.1', 'fd00::1']);
    assert.equal(r.entries, 4);
    assert.deepEqual(r.failed, []);
    assert.equal(r.processes, 4, 'two conntrack commands per address, no shell');
    assert.equal((await c.apply()).processes, 0);
    // Many addresses: through the shell, the same outcome.
    const many = Array.from({ length: 10 }, (_, i) => `10.65.2.${i}`);
    c.flush(many);
    const m = await c.apply();
    assert.deepEqual([m.flushed.length, m.entries, m.processes], [10, 20, 1]);
  });

  it('a failing address is retried at the next apply, then given up after a few attempts', async () => {
    const sh = new FakeShell((ip, d) => (ip === '10.65.1.2' ? '1 conntrack v1.4.7 (conntrack-tools): Operation failed: invalid parameters' : `${d} conntrack: 0 flow entries have been deleted.`));
    const c = new ConntrackCleaner({ runner: sh, log: quiet });
    c.flush(['10.65.1.2', '10.65.1.3']);
    const r = await c.apply();
    assert.deepEqual(r.flushed, ['10.65.1.3']);
    assert.deepEqual(r.failed.map((f) => f.ip), ['10.65.1.2']);
    let attempts = 1;
    while (c.pendingCount > 0 && attempts < 20) {
      await c.apply();
      attempts++;
    }
    assert.equal(attempts, 5);
  });

  it('never hands the shell anything but an address', async () => {
    const sh = new FakeShell(() => '0 0 flow entries have been deleted.');
    const c = new ConntrackCleaner({ runner: sh, log: quiet });
    c.flush(['10.65.1.4', '$(reboot)']);
    await c.apply();
    assert.deepEqual(sh.calls, [['10.65.1.4'], ['10.65.1.4']]);
    assert.equal(c.pendingCount, 0);
  });
});

describe('felix conntrack: addresses of removed workload routes (restart, resync)', () => {
  it('host routes to a workload interface only, both families', async () => {
    const { removedWorkloadAddresses } = await import('../../../src/felix/agent/agent.js');
    const got = removedWorkloadAddresses(
      [
        { kind: 'removed', route: '', dst: '10.65.1.5/32', devs: ['cali1234'] },
        { kind: 'removed', route: '', dst: 'fd00:65::5/128', devs: ['cali5678'] },
        { kind: 'removed', route: '', dst: '10.65.1.0/26', devs: [] },
        { kind: 'removed', route: '', dst: '10.65.2.0/26', devs: ['eth0'] },
        { kind: 'removed', route: '', dst: '10.65.1.9/32', devs: ['vxlan.tabby'] },
        { kind: 'restored', route: '', dst: '10.65.1.7/32', devs: ['cali9'] },
        { kind: 'removed', route: '10.65.1.8/32 dev cali0 proto 80' },
      ],
      'cali',
    );
    assert.deepEqual(got, ['10.65.1.5', 'fd00:65::5']);
  });
});
