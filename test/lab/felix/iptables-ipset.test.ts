/**
 * Kernel tests of the ipset driver together with iptables rules that match on
 * the sets, and one real traffic test: two namespaces joined by a veth, with
 * a DROP-by-ipset rule applied by the table driver; ping is blocked, then
 * allowed after a set update, then blocked again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import { IptablesExecutor } from '../../../src/felix/iptables/backend.js';
import { drop, jump } from '../../../src/felix/iptables/model.js';
import { ProcessRunner } from '../../../src/felix/iptables/runner.js';
import { IptablesTable } from '../../../src/felix/iptables/table.js';
import { IpSets } from '../../../src/felix/ipsets/ipsets.js';
import { parseIpsetSave } from '../../../src/felix/ipsets/save-parser.js';
import { runOk } from '../../../src/lab/exec.js';
import { newTestRunPrefix } from '../../../src/lab/names.js';
import { createNetns, deleteNetns } from '../../../src/lab/netns.js';
import { ping } from '../../../src/lab/probe.js';

const prefix = newTestRunPrefix();
const created: string[] = [];

async function newNs(name: string): Promise<string> {
  const ns = `${prefix}-${name}`;
  await createNetns(ns);
  created.push(ns);
  return ns;
}

async function kernelSets(ns: string) {
  return parseIpsetSave(await runOk('ipset', ['save'], { ns }));
}

const hosts = (third: number, n: number) => Array.from({ length: n }, (_, i) => `10.66.${third}.${i + 1}`);

describe('felix/ipsets driver in the kernel, with iptables rules matching the sets', function () {
  this.timeout(60_000);

  after(async () => {
    await deleteNetns(created);
  });

  describe('create, update, swap, delete', () => {
    let ns: string;
    let sets: IpSets;
    let filter: IptablesTable;

    before(async () => {
      ns = await newNs('ipset');
      const runner = new ProcessRunner({ netns: ns });
      sets = new IpSets({ runner });
      filter = new IptablesTable({ table: 'filter', executor: new IptablesExecutor(runner, 'nft') });
      await runOk('ipset', ['create', 'FOREIGN-SET', 'hash:ip'], { ns });
      await runOk('ipset', ['add', 'FOREIGN-SET', '192.168.5.5'], { ns });
    });

    it('creates sets of every type, then a rule references one with -m set --match-set', async () => {
      sets.setIpSet({ name: 'tabby-s-block', type: 'hash:ip', members: hosts(1, 10) });
      sets.setIpSet({ name: 'tabby-n-pools', type: 'hash:net', members: ['10.65.0.0/16', '0.0.0.0/0'] });
      sets.setIpSet({ name: 'tabby-np-web', type: 'hash:net,port', members: ['10.65.1.0/24,tcp:80', '10.65.2.1,udp:53'] });
      sets.setIpSet({ name: 'tabby-6-pool', type: 'hash:net', family: 'inet6', members: ['fd00:65::/48', 'FD00:66::1/128'] });
      sets.setIpSet({ name: 'tabby-l-all', type: 'list:set', members: ['tabby-s-block', 'tabby-n-pools'] });
      const r = await sets.applyCreatesAndUpdates();
      assert.deepEqual(r.changes.map((c) => c.kind), ['create', 'create', 'create', 'create', 'create']);
      const k = await kernelSets(ns);
      for (const name of sets.desiredNames()) assert.deepEqual([...k.get(name)!.members].sort(), [...sets.desiredMembers(name)!].sort(), name);
      assert.deepEqual([...k.get('tabby-n-pools')!.members].sort(), ['0.0.0.0/1', '10.65.0.0/16', '128.0.0.0/1']);

      filter.setChain({ name: 'tabby-INPUT', rules: [drop({ sets: [{ set: 'tabby-s-block', direction: 'src' }] }), drop({ protocol: 'tcp', sets: [{ set: 'tabby-np-web', direction: 'src,dst' }] })] });
      filter.setHooks('INPUT', [jump('tabby-INPUT')]);
      await filter.apply();
      assert.match(await runOk('iptables-nft-save', ['-t', 'filter'], { ns }), /-m set --match-set tabby-s-block src -j DROP/);
    });

    it('a restarted driver adopts the sets (canonical members compare equal)', async () => {
      const again = new IpSets({ runner: new ProcessRunner({ netns: ns }) });
      again.setIpSet({ name: 'tabby-s-block', type: 'hash:ip', members: hosts(1, 10) });
      again.setIpSet({ name: 'tabby-n-pools', type: 'hash:net', members: ['10.65.0.0/16', '0.0.0.0/0'] });
      again.setIpSet({ name: 'tabby-np-web', type: 'hash:net,port', members: ['10.65.1.0/24,tcp:80', '10.65.2.1,udp:53'] });
      again.setIpSet({ name: 'tabby-6-pool', type: 'hash:net', family: 'inet6', members: ['fd00:65::/48', 'FD00:66::1/128'] });
      again.setIpSet({ name: 'tabby-l-all', type: 'list:set', members: ['tabby-s-block', 'tabby-n-pools'] });
      const r = await again.applyCreatesAndUpdates();
      assert.deepEqual(r.changes, []);
      assert.equal(r.input, undefined);
    });

    it('a small update goes in incrementally; a large one by temp set + swap while the rule keeps its reference', async () => {
      sets.addMembers('tabby-s-block', ['10.66.9.9']);
      let r = await sets.applyCreatesAndUpdates();
      assert.deepEqual(r.changes, [{ name: 'tabby-s-block', kind: 'incremental', added: 1, removed: 0 }]);
      assert.ok((await kernelSets(ns)).get('tabby-s-block')!.members.has('10.66.9.9'));

      sets.setIpSet({ name: 'tabby-s-block', type: 'hash:ip', members: hosts(2, 200) });
      r = await sets.applyCreatesAndUpdates();
      assert.equal(r.changes[0]!.kind, 'replace');
      assert.match(r.input!, /^swap tabby-t-\S+ tabby-s-block$/m);
      const k = await kernelSets(ns);
      assert.deepEqual([...k.get('tabby-s-block')!.members].sort(), hosts(2, 200).sort());
      assert.equal([...k.keys()].filter((n) => n.startsWith('tabby-t-')).length, 0, 'no temp set left');
      const list = await runOk('ipset', ['list', 'tabby-s-block'], { ns });
      assert.match(list, /References: [1-9]/, 'iptables still references the swapped set');
    });

    it('a new maxelem is applied by swap; drift is repaired by resync', async () => {
      sets.setIpSet({ name: 'tabby-np-web', type: 'hash:net,port', maxElem: 4096, members: ['10.65.1.0/24,tcp:80', '10.65.2.1,udp:53'] });
      const r = await sets.applyCreatesAndUpdates();
      assert.equal(r.changes[0]!.kind, 'replace');
      assert.equal((await kernelSets(ns)).get('tabby-np-web')!.meta.maxElem, 4096);

      await runOk('ipset', ['del', 'tabby-s-block', '10.66.2.1'], { ns });
      await runOk('ipset', ['add', 'tabby-s-block', '6.6.6.6'], { ns });
      await runOk('ipset', ['flush', 'tabby-6-pool'], { ns });
      const rep = await sets.resync();
      assert.deepEqual(rep.drift.map((d) => `${d.kind}:${d.set}`), ['set-members:tabby-6-pool', 'set-members:tabby-s-block']);
      const k = await kernelSets(ns);
      assert.ok(k.get('tabby-s-block')!.members.has('10.66.2.1'));
      assert.ok(!k.get('tabby-s-block')!.members.has('6.6.6.6'));
      assert.deepEqual([...k.get('tabby-6-pool')!.members].sort(), ['fd00:65::/48', 'fd00:66::1']);
    });

    it('deletes a set only once iptables no longer references it; never a foreign set', async () => {
      sets.removeIpSet('tabby-s-block');
      sets.removeIpSet('tabby-l-all');
      sets.removeIpSet('tabby-6-pool');
      await sets.applyCreatesAndUpdates();
      let del = await sets.applyDeletes();
      assert.deepEqual(del.deleted.sort(), ['tabby-6-pool', 'tabby-l-all']);
      assert.deepEqual(del.failed.map((f) => f.name), ['tabby-s-block']);
      assert.match(del.failed[0]!.error, /in use/);
      assert.ok((await kernelSets(ns)).has('tabby-s-block'));

      // The policy no longer needs the set: iptables first, then the delete phase.
      filter.setChain({ name: 'tabby-INPUT', rules: [drop({ protocol: 'tcp', sets: [{ set: 'tabby-np-web', direction: 'src,dst' }] })] });
      await filter.apply();
      del = await sets.applyDeletes();
      assert.deepEqual(del, { deleted: ['tabby-s-block'], failed: [] });
      const left = await runOk('ipset', ['list', '-n'], { ns });
      assert.deepEqual(left.split('\n').sort(), ['FOREIGN-SET', 'tabby-n-pools', 'tabby-np-web']);
      assert.match(await runOk('ipset', ['list', 'FOREIGN-SET'], { ns }), /192\.168\.5\.5/);
    });
  });

  describe('traffic: DROP by ipset between two namespaces', () => {
    let a: string;
    let b: string;

    before(async () => {
      a = await newNs('tr-a');
      b = await newNs('tr-b');
      await runOk('ip', ['-n', a, 'link', 'add', 'veth-a', 'type', 'veth', 'peer', 'name', 'veth-b', 'netns', b]);
      await runOk('ip', ['-n', a, 'addr', 'add', '10.66.0.1/24', 'dev', 'veth-a']);
      await runOk('ip', ['-n', b, 'addr', 'add', '10.66.0.2/24', 'dev', 'veth-b']);
      await runOk('ip', ['-n', a, 'link', 'set', 'veth-a', 'up']);
      await runOk('ip', ['-n', b, 'link', 'set', 'veth-b', 'up']);
    });

    it('ping is blocked while the source is in the set, allowed after the set update, blocked again after re-adding', async () => {
      assert.ok((await ping(a, '10.66.0.2', { timeoutMs: 2000 })).ok, 'baseline ping');
      const runner = new ProcessRunner({ netns: b });
      const sets = new IpSets({ runner });
      const filter = new IptablesTable({ table: 'filter', executor: new IptablesExecutor(runner, 'nft') });
      sets.setIpSet({ name: 'tabby-s-deny', type: 'hash:ip', members: ['10.66.0.1', '10.66.0.77'] });
      await sets.applyCreatesAndUpdates();
      filter.setChain({ name: 'tabby-INPUT', rules: [drop({ sets: [{ set: 'tabby-s-deny', direction: 'src' }] }, 'deny by ipset')] });
      filter.setHooks('INPUT', [jump('tabby-INPUT')]);
      await filter.apply();

      const blocked = await ping(a, '10.66.0.2', { timeoutMs: 1000 });
      assert.equal(blocked.ok, false, 'ping must be dropped');

      sets.removeMembers('tabby-s-deny', ['10.66.0.1']);
      const r = await sets.applyCreatesAndUpdates();
      assert.deepEqual(r.changes, [{ name: 'tabby-s-deny', kind: 'incremental', added: 0, removed: 1 }]);
      assert.ok((await ping(a, '10.66.0.2', { timeoutMs: 2000 })).ok, 'ping allowed after the set update');

      sets.addMembers('tabby-s-deny', ['10.66.0.1']);
      await sets.applyCreatesAndUpdates();
      assert.equal((await ping(a, '10.66.0.2', { timeoutMs: 1000 })).ok, false, 'blocked again');
      const counters = await runOk('iptables-nft-save', ['-c', '-t', 'filter'], { ns: b });
      const m = /^\[(\d+):\d+\] -A tabby-INPUT .*--match-set tabby-s-deny src/m.exec(counters);
      assert.ok(m && Number(m[1]) >= 2, `the DROP rule counted the dropped pings: ${m?.[0]}`);
    });
  });
});
