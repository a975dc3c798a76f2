import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'mocha';
import { IpSets } from '../../../../src/felix/ipsets/ipsets.js';
import { canonicalSet } from '../../../../src/felix/ipsets/model.js';
import { describeSetDrift, planSetChange, tempSetName } from '../../../../src/felix/ipsets/plan.js';
import { FakeIpset } from './fake-ipset.js';

const ips = (n: number, third = 0) => Array.from({ length: n }, (_, i) => `10.65.${third + Math.floor(i / 250)}.${(i % 250) + 1}`);

describe('felix/ipsets', () => {
  describe('planSetChange', () => {
    const opts = { prefix: 'tabby-' };
    it('creates an absent set with all its members, in sorted order (golden)', () => {
      const want = canonicalSet({ name: 'tabby-a', type: 'hash:ip', maxElem: 1024, members: ['10.0.0.2', '10.0.0.1'] });
      assert.deepEqual(planSetChange('tabby-a', want, undefined, opts)!.lines, ['create tabby-a hash:ip family inet maxelem 1024', 'add tabby-a 10.0.0.1', 'add tabby-a 10.0.0.2']);
    });
    it('applies a small delta incrementally', () => {
      const have = canonicalSet({ name: 'tabby-a', type: 'hash:ip', members: ips(100) });
      const want = canonicalSet({ name: 'tabby-a', type: 'hash:ip', members: [...ips(99), '10.66.0.1'] });
      const c = planSetChange('tabby-a', want, have, opts)!;
      assert.equal(c.kind, 'incremental');
      assert.deepEqual(c.lines, ['del tabby-a 10.65.0.100', 'add tabby-a 10.66.0.1']);
    });
    it('replaces through a temp set and swap when the delta is large', () => {
      const have = canonicalSet({ name: 'tabby-a', type: 'hash:ip', members: ips(200) });
      const want = canonicalSet({ name: 'tabby-a', type: 'hash:ip', members: ips(200, 10) });
      const c = planSetChange('tabby-a', want, have, opts)!;
      const tmp = tempSetName('tabby-a', 'tabby-');
      assert.equal(c.kind, 'replace');
      assert.equal(c.lines[0], `create ${tmp} hash:ip family inet maxelem 1048576`);
      assert.deepEqual(c.lines.slice(-2), [`swap ${tmp} tabby-a`, `destroy ${tmp}`]);
      assert.equal(c.lines.length, 203);
      assert.ok(tmp.length <= 31 && tmp.startsWith('tabby-'));
    });
    it('replaces when only maxelem changes; recreates when the type changes', () => {
      const have = canonicalSet({ name: 'tabby-a', type: 'hash:ip', maxElem: 10, members: ['10.0.0.1'] });
      assert.equal(planSetChange('tabby-a', canonicalSet({ name: 'tabby-a', type: 'hash:ip', maxElem: 20, members: ['10.0.0.1'] }), have, opts)!.kind, 'replace');
      const net = planSetChange('tabby-a', canonicalSet({ name: 'tabby-a', type: 'hash:net', members: ['10.0.0.0/8'] }), have, opts)!;
      assert.equal(net.kind, 'recreate');
      assert.equal(net.lines[0], 'destroy tabby-a');
    });
    it('does nothing when equal', () => {
      const s = canonicalSet({ name: 'tabby-a', type: 'hash:ip', members: ['10.0.0.1'] });
      assert.equal(planSetChange('tabby-a', s, canonicalSet({ name: 'tabby-a', type: 'hash:ip', members: ['10.0.0.1'] }), opts), undefined);
    });
    it('describes drift', () => {
      const desired = new Map([
        ['tabby-a', canonicalSet({ name: 'tabby-a', type: 'hash:ip', members: ['10.0.0.1'] })],
        ['tabby-b', canonicalSet({ name: 'tabby-b', type: 'hash:ip', members: [] })],
        ['tabby-c', canonicalSet({ name: 'tabby-c', type: 'hash:ip', members: [] })],
      ]);
      const dp = new Map([
        ['tabby-a', canonicalSet({ name: 'tabby-a', type: 'hash:ip', members: ['10.0.0.2'] })],
        ['tabby-c', canonicalSet({ name: 'tabby-c', type: 'hash:net', members: [] })],
        ['tabby-z', canonicalSet({ name: 'tabby-z', type: 'hash:ip', members: [] })],
      ]);
      assert.deepEqual(
        describeSetDrift(desired, dp).map((d) => `${d.kind}:${d.set}:${d.detail ?? ''}`),
        ['set-members:tabby-a:1 missing, 1 extra', 'set-missing:tabby-b:', 'set-meta:tabby-c:hash:net/inet/1048576 -> hash:ip/inet/1048576', 'set-unexpected:tabby-z:'],
      );
    });
  });

  describe('IpSets driver (fake ipset)', () => {
    let fake: FakeIpset;
    let d: IpSets;
    beforeEach(() => {
      fake = new FakeIpset();
      fake.sets.set('KUBE-FOREIGN', { type: 'hash:ip', family: 'inet', maxElem: 65536, members: new Set(['192.168.1.1']) });
      d = new IpSets({ runner: fake });
    });

    it('creates sets in one restore, lists after their members, foreign sets untouched', async () => {
      d.setIpSet({ name: 'tabby-l', type: 'list:set', members: ['tabby-a', 'tabby-b'] });
      d.setIpSet({ name: 'tabby-b', type: 'hash:net', members: ['10.0.0.0/8'] });
      d.setIpSet({ name: 'tabby-a', type: 'hash:ip', members: ['10.65.0.1'] });
      const r = await d.applyCreatesAndUpdates();
      assert.equal(r.readBack, true);
      assert.deepEqual(r.changes.map((c) => `${c.kind}:${c.name}`), ['create:tabby-a', 'create:tabby-b', 'create:tabby-l']);
      assert.equal(fake.restores().length, 1);
      assert.deepEqual([...fake.sets.get('tabby-l')!.members], ['tabby-a', 'tabby-b']);
      assert.deepEqual([...fake.sets.get('KUBE-FOREIGN')!.members], ['192.168.1.1']);
    });

    it('applies small updates incrementally and large ones by swap', async () => {
      d.setIpSet({ name: 'tabby-a', type: 'hash:ip', members: ips(300) });
      await d.applyCreatesAndUpdates();
      d.addMembers('tabby-a', ['10.66.0.1']);
      d.removeMembers('tabby-a', ['10.65.0.1']);
      let r = await d.applyCreatesAndUpdates();
      assert.deepEqual(r.changes, [{ name: 'tabby-a', kind: 'incremental', added: 1, removed: 1 }]);
      assert.equal(r.input, 'del tabby-a 10.65.0.1\nadd tabby-a 10.66.0.1\n');
      d.setIpSet({ name: 'tabby-a', type: 'hash:ip', members: ips(300, 20) });
      r = await d.applyCreatesAndUpdates();
      assert.equal(r.changes[0]!.kind, 'replace');
      assert.deepEqual([...fake.sets.get('tabby-a')!.members].sort(), ips(300, 20).sort());
      assert.equal([...fake.sets.keys()].some((n) => n === tempSetName('tabby-a', 'tabby-')), false, 'temp set destroyed');
    });

    it('an apply with nothing dirty runs nothing', async () => {
      d.setIpSet({ name: 'tabby-a', type: 'hash:ip', members: ['10.65.0.1'] });
      await d.applyCreatesAndUpdates();
      const n = fake.calls.length;
      const r = await d.applyCreatesAndUpdates();
      assert.deepEqual(r.changes, []);
      assert.equal(fake.calls.length, n);
    });

    it('deletes only in the second phase, and keeps a set iptables still references', async () => {
      d.setIpSet({ name: 'tabby-a', type: 'hash:ip', members: ['10.65.0.1'] });
      d.setIpSet({ name: 'tabby-b', type: 'hash:ip', members: ['10.65.0.2'] });
      d.setIpSet({ name: 'tabby-c', type: 'hash:ip', members: [] });
      await d.applyCreatesAndUpdates();
      fake.referenced.add('tabby-b');
      d.removeIpSet('tabby-a');
      d.removeIpSet('tabby-b');
      d.removeIpSet('tabby-c');
      await d.applyCreatesAndUpdates();
      assert.ok(fake.sets.has('tabby-a'), 'phase 1 never deletes');
      assert.deepEqual(d.pendingDeletes(), ['tabby-a', 'tabby-b', 'tabby-c']);
      let del = await d.applyDeletes();
      assert.deepEqual(del.deleted, ['tabby-a', 'tabby-c']);
      assert.deepEqual(del.failed.map((f) => f.name), ['tabby-b']);
      assert.match(del.failed[0]!.error, /in use/);
      assert.ok(fake.sets.has('tabby-b'));
      // Once iptables lets go, the next call succeeds.
      fake.referenced.delete('tabby-b');
      del = await d.applyDeletes();
      assert.deepEqual(del, { deleted: ['tabby-b'], failed: [] });
      assert.deepEqual([...fake.sets.keys()], ['KUBE-FOREIGN']);
    });

    it('a restarted driver adopts matching sets and deletes stale ones (never foreign)', async () => {
      d.setIpSet({ name: 'tabby-a', type: 'hash:ip', members: ['10.65.0.1'] });
      d.setIpSet({ name: 'tabby-old', type: 'hash:ip', members: ['10.65.0.9'] });
      await d.applyCreatesAndUpdates();
      const again = new IpSets({ runner: fake });
      again.setIpSet({ name: 'tabby-a', type: 'hash:ip', members: ['10.65.0.1/32'] });
      const r = await again.applyCreatesAndUpdates();
      assert.deepEqual(r.changes, [], 'canonical members compare equal');
      assert.deepEqual(await again.applyDeletes(), { deleted: ['tabby-old'], failed: [] });
      assert.ok(fake.sets.has('KUBE-FOREIGN'));
    });

    it('resync reports and repairs drift', async () => {
      d.setIpSet({ name: 'tabby-a', type: 'hash:ip', members: ['10.65.0.1', '10.65.0.2'] });
      d.setIpSet({ name: 'tabby-b', type: 'hash:net', members: ['10.0.0.0/8'] });
      await d.applyCreatesAndUpdates();
      fake.sets.get('tabby-a')!.members.delete('10.65.0.2');
      fake.sets.get('tabby-a')!.members.add('6.6.6.6');
      fake.sets.delete('tabby-b');
      fake.sets.set('tabby-stray', { type: 'hash:ip', family: 'inet', maxElem: 10, members: new Set() });
      const rep = await d.resync();
      assert.deepEqual(rep.drift.map((x) => `${x.kind}:${x.set}`), ['set-members:tabby-a', 'set-missing:tabby-b', 'set-unexpected:tabby-stray']);
      assert.deepEqual(rep.update.changes.map((c) => `${c.kind}:${c.name}`), ['incremental:tabby-a', 'create:tabby-b']);
      assert.deepEqual([...fake.sets.get('tabby-a')!.members].sort(), ['10.65.0.1', '10.65.0.2']);
      assert.ok(fake.sets.has('tabby-stray'), 'resync leaves deletes to phase 2');
      assert.deepEqual((await d.applyDeletes()).deleted, ['tabby-stray']);
    });

    it('a failed restore (belief wrong) reads back and retries once', async () => {
      d.setIpSet({ name: 'tabby-a', type: 'hash:ip', members: ['10.65.0.1'] });
      await d.applyCreatesAndUpdates();
      // Someone destroyed it behind our back: the incremental `add` fails.
      fake.sets.delete('tabby-a');
      d.addMembers('tabby-a', ['10.65.0.2']);
      const r = await d.applyCreatesAndUpdates();
      assert.equal(r.retried, true);
      assert.deepEqual(r.changes.map((c) => c.kind), ['create']);
      assert.deepEqual([...fake.sets.get('tabby-a')!.members].sort(), ['10.65.0.1', '10.65.0.2']);
    });

    it('destroys a temp set a crash left behind before reusing its name', async () => {
      d.setIpSet({ name: 'tabby-a', type: 'hash:ip', members: ips(100) });
      await d.applyCreatesAndUpdates();
      const tmp = tempSetName('tabby-a', 'tabby-');
      fake.sets.set(tmp, { type: 'hash:ip', family: 'inet', maxElem: 10, members: new Set(['1.1.1.1']) });
      d.invalidate();
      d.setIpSet({ name: 'tabby-a', type: 'hash:ip', members: ips(100, 5) });
      const r = await d.applyCreatesAndUpdates();
      assert.equal(r.changes[0]!.kind, 'replace');
      assert.equal(r.retried, false);
      assert.ok(r.input!.startsWith(`destroy ${tmp}\n`));
      assert.equal(fake.sets.has(tmp), false);
    });

    it('a type change waits while the set is referenced, without holding back other updates', async () => {
      d.setIpSet({ name: 'tabby-a', type: 'hash:ip', members: ['10.65.0.1'] });
      d.setIpSet({ name: 'tabby-b', type: 'hash:ip', members: ['10.65.0.2'] });
      await d.applyCreatesAndUpdates();
      fake.referenced.add('tabby-a');
      d.setIpSet({ name: 'tabby-a', type: 'hash:net', members: ['10.65.0.0/24'] });
      d.addMembers('tabby-b', ['10.65.0.3']);
      let r = await d.applyCreatesAndUpdates();
      assert.deepEqual(r.changes.map((c) => `${c.kind}:${c.name}`), ['incremental:tabby-b']);
      assert.deepEqual(r.failed.map((f) => f.name), ['tabby-a']);
      assert.match(r.failed[0]!.error, /in use/);
      assert.equal(fake.sets.get('tabby-a')!.type, 'hash:ip');
      assert.ok(fake.sets.get('tabby-b')!.members.has('10.65.0.3'));
      fake.referenced.delete('tabby-a');
      r = await d.applyCreatesAndUpdates();
      assert.deepEqual(r.changes.map((c) => `${c.kind}:${c.name}`), ['recreate:tabby-a']);
      assert.deepEqual(r.failed, []);
      assert.deepEqual([...fake.sets.get('tabby-a')!.members], ['10.65.0.0/24']);
    });

    it('refuses bad input where it is set', () => {
      assert.throws(() => d.setIpSet({ name: 'KUBE-X', type: 'hash:ip', members: [] }), /not owned/);
      assert.throws(() => d.setIpSet({ name: 'tabby-a', type: 'hash:ip', members: ['10.0.0.0/8'] }), /single address/);
      assert.throws(() => d.addMembers('tabby-none', ['10.0.0.1']), /not set/);
    });
  });
});
