/**
 * IPIP on the real kernel of this machine. Here (platform.md §1) the kernel
 * has no ipip module, so `ip link add tunl0 type ipip` fails with "Unknown
 * device type": the manager must say so once, as a typed status, and not
 * retry. On a kernel that has ipip the same test checks the programming
 * instead, so the file is right on either kind of machine.
 */
import assert from 'node:assert/strict';
import { Lab, type LabHost } from '../../../src/lab/lab.js';
import { run } from '../../../src/lab/exec.js';
import { createNetns, deleteNetns } from '../../../src/lab/netns.js';
import { IpipManager } from '../../../src/ipip/ipip-manager.js';
import { CapturingLog } from '../../unit/ipip/capturing-log.js';
import { localNodeOf, RecordingRunner } from './helpers.js';

/** Independent probe: can this kernel create an ipip device at all? */
async function kernelHasIpip(lab: Lab): Promise<boolean> {
  const ns = `${lab.prefix}-ipipprobe`;
  await createNetns(ns);
  try {
    const r = await run('ip', ['-n', ns, 'link', 'add', 'name', 'tbyprobe', 'type', 'ipip']);
    return r.code === 0;
  } finally {
    await deleteNetns([ns]);
  }
}

describe('encap lab: IPIP (tunl0) on this kernel', function () {
  this.timeout(60_000);
  let lab: Lab;
  let host: LabHost;
  let supported: boolean;

  before(async () => {
    lab = await Lab.create();
    host = await lab.addHost('h1');
    supported = await kernelHasIpip(lab);
  });

  after(async () => {
    await lab.destroy();
  });

  it('detects a kernel without ipip once, reports it as a typed status, and does not retry', async function () {
    if (supported) this.skip();
    const runner = new RecordingRunner(host.netns);
    const log = new CapturingLog();
    const m = new IpipManager({ runner, log });
    m.setLocal(localNodeOf(host));

    const first = await m.sync();
    assert.equal(first.status.state, 'unsupported');
    assert.ok(first.status.state === 'unsupported');
    assert.equal(first.status.device, 'tunl0');
    assert.match(first.status.reason, /^the kernel cannot create tunl0 \(`ip link add name tunl0 mtu 1480 type ipip`: Unknown device type\.\)$/);
    assert.ok(!Number.isNaN(Date.parse(first.status.since)));
    assert.equal(first.converged, false);
    assert.equal(first.routesFlushed, false);
    // The batch runs with -force: the lines after the failed create fail too, and say so.
    assert.equal(first.errors[0], 'ip link add name tunl0 mtu 1480 type ipip: Error: Unknown device type.');
    assert.deepEqual(first.errors.slice(1), ['ip addr add 10.65.1.0/32 dev tunl0: Cannot find device "tunl0"', 'ip link set dev tunl0 up: Cannot find device "tunl0"']);

    const loud = log.lines.filter((l) => l.level === 'error' || l.level === 'warn');
    assert.equal(loud.length, 1);
    assert.equal(loud[0]!.event, 'encap.device.unsupported');
    assert.match(loud[0]!.msg!, /IPIP is unavailable on this node/);

    const createsBefore = runner.writes().filter((w) => w.startsWith('ip link add')).length;
    assert.equal(createsBefore, 1);
    for (let i = 0; i < 3; i++) {
      const again = await m.sync();
      assert.deepEqual(again.status, first.status, 'same status, same since');
      assert.deepEqual(again.commands, []);
    }
    assert.equal(runner.writes().filter((w) => w.startsWith('ip link add')).length, 1, 'the create was not retried');
    assert.equal(log.lines.filter((l) => l.level === 'error' || l.level === 'warn').length, 1, 'said once');
    const show = await run('ip', ['-n', host.netns, 'link', 'show', 'tunl0']);
    assert.notEqual(show.code, 0, 'no tunl0 exists');
  });

  it('on a kernel with ipip: tunl0 is programmed (skipped here when ipip is missing)', async function () {
    if (!supported) this.skip();
    const m = new IpipManager({ runner: new RecordingRunner(host.netns), log: new CapturingLog() });
    m.setLocal(localNodeOf(host));
    const r = await m.sync();
    assert.deepEqual(r.status, { state: 'ok', device: 'tunl0' });
    assert.equal(r.converged, true);
  });
});
