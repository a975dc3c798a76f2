/**
 * Kernel tests of the iptables table driver, each in network namespaces this
 * file creates (`tby-<pid>-<hex>-...`) and deletes in `after`. nft is tested
 * in depth; legacy takes the host-wide xtables lock, so its test is one
 * compact scenario.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import { createIptablesTables, type IptablesTables } from '../../../src/felix/iptables/factory.js';
import { accept, drop, goTo, jump, ret, type Chain, type TableName } from '../../../src/felix/iptables/model.js';
import { detectBackend, IptablesExecutor } from '../../../src/felix/iptables/backend.js';
import { ProcessRunner } from '../../../src/felix/iptables/runner.js';
import { IptablesTable } from '../../../src/felix/iptables/table.js';
import { ownedStateOf, parseIptablesSave } from '../../../src/felix/iptables/save-parser.js';
import { runOk } from '../../../src/lab/exec.js';
import { newTestRunPrefix } from '../../../src/lab/names.js';
import { createNetns, deleteNetns } from '../../../src/lab/netns.js';

type Backend = 'nft' | 'legacy';

const prefix = newTestRunPrefix();
const created: string[] = [];

async function newNs(name: string): Promise<string> {
  const ns = `${prefix}-${name}`;
  await createNetns(ns);
  created.push(ns);
  return ns;
}

/** iptables of one backend; legacy waits for the host-wide lock instead of failing. */
const ipt = (ns: string, b: Backend, ...args: string[]) => runOk(`iptables-${b}`, b === 'legacy' ? ['-w', '5', ...args] : args, { ns });
const save = (ns: string, b: Backend, table: TableName, counters = false) =>
  runOk(`iptables-${b}-save`, [...(counters ? ['-c'] : []), '-t', table], { ns });

/** Lines of a dump without comments (timestamps) and, unless asked, without counters. */
function lines(dump: string): string[] {
  return dump.split('\n').filter((l) => l && !l.startsWith('#'));
}

/** Every line of a table that has nothing to do with tabby. */
function foreignLines(dump: string): string[] {
  return lines(dump).filter((l) => !l.includes('tabby'));
}

/** [packets] of each rule of a chain in an `iptables-save -c` dump. */
function packetCounters(dump: string, chain: string): number[] {
  return lines(dump)
    .filter((l) => new RegExp(`^\\[\\d+:\\d+\\] -A ${chain} `).test(l))
    .map((l) => Number(/^\[(\d+):/.exec(l)![1]));
}

/** The ruleset of the scenario: dispatch in FORWARD, counting chains in OUTPUT, NAT, mangle, raw. */
function program(t: IptablesTables): void {
  const { filter, nat, mangle, raw } = t.tables;
  filter.replaceChains([
    { name: 'tabby-FORWARD', rules: [accept({ ctState: ['RELATED', 'ESTABLISHED'] }), drop({ ctState: ['INVALID'] }), goTo('tabby-to-wl', { outInterface: 'cali+' })] },
    { name: 'tabby-to-wl', rules: [goTo('tabby-tw-cali1', { outInterface: 'cali1' }), drop(undefined, 'unknown endpoint')] },
    {
      name: 'tabby-tw-cali1',
      rules: [
        { action: { type: 'setXmark', mark: 0, mask: 0x10000 } },
        { match: { protocol: 'tcp', dstPorts: [80, 443] }, action: { type: 'setMark', mark: 0x10000, mask: 0x10000 } },
        accept({ mark: { value: 0x10000, mask: 0x10000 } }),
        { action: { type: 'log', prefix: 'tabby-drop: ' } },
        drop(),
      ],
    },
    { name: 'tabby-OUTPUT', rules: [jump('tabby-out-a'), jump('tabby-out-b')] },
    { name: 'tabby-out-a', rules: [ret({ outInterface: 'lo' })] },
    { name: 'tabby-out-b', rules: [ret({ outInterface: 'lo' })] },
  ] satisfies Chain[]);
  filter.setHooks('FORWARD', [jump('tabby-FORWARD')]);
  filter.setHooks('OUTPUT', [jump('tabby-OUTPUT')]);
  nat.setChain({ name: 'tabby-nat-outgoing', rules: [{ match: { source: '10.65.0.0/16', notDestination: '10.65.0.0/16' }, action: { type: 'masquerade' } }] });
  nat.setHooks('POSTROUTING', [jump('tabby-nat-outgoing')], 'append');
  mangle.setChain({ name: 'tabby-mangle-PRE', rules: [{ match: { inInterface: 'cali+' }, action: { type: 'setMark', mark: 0x1, mask: 0x1 } }] });
  mangle.setHooks('PREROUTING', [jump('tabby-mangle-PRE')]);
  raw.setChain({ name: 'tabby-raw-PRE', rules: [{ match: { inInterface: 'tabbytest0' }, action: { type: 'notrack' } }] });
  raw.setHooks('PREROUTING', [jump('tabby-raw-PRE')]);
}

async function applyAll(t: IptablesTables) {
  const out = [];
  for (const table of ['filter', 'nat', 'mangle', 'raw'] as const) out.push(await t.tables[table].apply());
  return out;
}

/** Someone else's rules, which must survive everything tabby does. */
async function addForeign(ns: string, b: Backend): Promise<void> {
  await ipt(ns, b, '-N', 'FOREIGN-FWD');
  await ipt(ns, b, '-A', 'FOREIGN-FWD', '-s', '10.9.0.0/16', '-j', 'ACCEPT');
  await ipt(ns, b, '-A', 'FORWARD', '-j', 'FOREIGN-FWD');
  await ipt(ns, b, '-A', 'FORWARD', '-d', '10.9.9.9/32', '-j', 'DROP');
  await ipt(ns, b, '-t', 'nat', '-A', 'POSTROUTING', '-o', 'eth9', '-j', 'MASQUERADE');
}

async function pingLoopback(ns: string): Promise<void> {
  await runOk('ping', ['-n', '-q', '-c', '3', '-i', '0.05', '-W', '1', '127.0.0.1'], { ns, timeoutMs: 10_000 });
}

describe('felix/iptables driver in the kernel', function () {
  this.timeout(60_000);

  after(async () => {
    await deleteNetns(created);
  });

  describe('backend auto-detection', () => {
    it('picks nft in an empty namespace and in one holding nft rules, legacy only where legacy alone holds rules', async () => {
      const empty = await newNs('det-empty');
      const withNft = await newNs('det-nft');
      const withLegacy = await newNs('det-legacy');
      await ipt(withNft, 'nft', '-A', 'INPUT', '-j', 'ACCEPT');
      await ipt(withLegacy, 'legacy', '-A', 'INPUT', '-j', 'ACCEPT');
      const detect = (ns: string) => detectBackend(new ProcessRunner({ netns: ns }), 'auto');
      assert.deepEqual(await detect(empty), { backend: 'nft', legacyRules: 0, nftRules: 0 });
      assert.deepEqual(await detect(withNft), { backend: 'nft', legacyRules: 0, nftRules: 1 });
      assert.deepEqual(await detect(withLegacy), { backend: 'legacy', legacyRules: 1, nftRules: 0 });
    });
  });

  describe('nft backend', () => {
    let ns: string;
    let t: IptablesTables;
    let foreignBefore: Record<string, string[]>;

    before(async () => {
      ns = await newNs('nft');
      await addForeign(ns, 'nft');
      foreignBefore = { filter: foreignLines(await save(ns, 'nft', 'filter')), nat: foreignLines(await save(ns, 'nft', 'nat')) };
      t = await createIptablesTables({ runner: new ProcessRunner({ netns: ns }), backend: 'nft' });
      program(t);
    });

    async function assertForeignIntact(): Promise<void> {
      assert.deepEqual(foreignLines(await save(ns, 'nft', 'filter')), foreignBefore.filter);
      assert.deepEqual(foreignLines(await save(ns, 'nft', 'nat')), foreignBefore.nat);
    }

    it('applies the ruleset to all four tables; iptables-save holds exactly the desired tags', async () => {
      const results = await applyAll(t);
      assert.ok(results.every((r) => r.restoreRan));
      const filterDump = await save(ns, 'nft', 'filter');
      const filter = ownedStateOf(parseIptablesSave(filterDump).get('filter'));
      for (const name of t.tables.filter.desiredChainNames()) assert.deepEqual(filter.chains.get(name), t.tables.filter.desiredHashes(name), name);
      // Hooks: one rule each, on top of FORWARD (above the foreign rules).
      const fwd = lines(filterDump).filter((l) => l.startsWith('-A FORWARD '));
      assert.match(fwd[0]!, /^-A FORWARD -m comment --comment "tabby:[A-Za-z0-9_-]{16}" -j tabby-FORWARD$/);
      assert.deepEqual(fwd.slice(1), ['-A FORWARD -j FOREIGN-FWD', '-A FORWARD -d 10.9.9.9/32 -j DROP']);
      // nat hook appended after the foreign MASQUERADE.
      const post = lines(await save(ns, 'nft', 'nat')).filter((l) => l.startsWith('-A POSTROUTING '));
      assert.equal(post[0], '-A POSTROUTING -o eth9 -j MASQUERADE');
      assert.match(post[1]!, /-j tabby-nat-outgoing$/);
      assert.match(await save(ns, 'nft', 'raw'), /-A tabby-raw-PRE -i tabbytest0 .*-j CT --notrack/);
      assert.match(await save(ns, 'nft', 'mangle'), /-A tabby-mangle-PRE -i cali\+ .*-j MARK --set-xmark 0x1\/0x1/);
      // Never both backends in one namespace.
      assert.equal(lines(await runOk('iptables-legacy-save', [], { ns })).length, 0);
      await assertForeignIntact();
    });

    it('an incremental change of one chain rewrites only that chain (counters and save diff)', async () => {
      await pingLoopback(ns);
      const before = await save(ns, 'nft', 'filter', true);
      const aBefore = packetCounters(before, 'tabby-out-a');
      assert.ok(aBefore[0]! > 0, `tabby-out-a counted loopback traffic: ${aBefore}`);
      assert.ok(packetCounters(before, 'tabby-out-b')[0]! > 0);

      t.tables.filter.setChain({ name: 'tabby-out-b', rules: [ret({ outInterface: 'lo', protocol: 'icmp' }), ret({ outInterface: 'lo' })] });
      const r = await t.tables.filter.apply();
      assert.deepEqual(r.rewritten, ['tabby-out-b']);
      assert.deepEqual(r.hooks, []);
      assert.deepEqual(r.input!.split('\n').filter((l) => l && !l.startsWith('-A tabby-out-b ')), ['*filter', ':tabby-out-b - [0:0]', 'COMMIT']);

      const after = await save(ns, 'nft', 'filter', true);
      assert.deepEqual(packetCounters(after, 'tabby-out-a'), aBefore, 'untouched chain kept its counters');
      assert.deepEqual(packetCounters(after, 'tabby-out-b'), [0, 0], 'rewritten chain starts from zero');
      // Without counters, the only lines that changed are tabby-out-b's.
      const strip = (d: string) => lines(d).map((l) => l.replace(/^\[\d+:\d+\] /, ''));
      const removed = strip(before).filter((l) => !strip(after).includes(l));
      const added = strip(after).filter((l) => !strip(before).includes(l));
      assert.ok(removed.length === 1 && added.length === 2, `diff: -${removed.length} +${added.length}`);
      for (const l of [...removed, ...added]) assert.match(l, /^-A tabby-out-b /);
      await assertForeignIntact();
    });

    it('resync reports and repairs a flushed chain, a deleted hook and a foreign rule inside a tabby chain', async () => {
      await ipt(ns, 'nft', '-F', 'tabby-to-wl');
      await ipt(ns, 'nft', '-D', 'FORWARD', '1'); // our hook is on top
      await ipt(ns, 'nft', '-I', 'tabby-tw-cali1', '2', '-s', '6.6.6.6/32', '-j', 'ACCEPT');
      const rep = await t.tables.filter.resync();
      assert.deepEqual(rep.drift.map((d) => `${d.kind}:${d.chain}`), ['chain-flushed:tabby-to-wl', 'chain-foreign-rule:tabby-tw-cali1', 'hook-missing:FORWARD']);
      assert.deepEqual(rep.apply.rewritten, ['tabby-to-wl', 'tabby-tw-cali1']);
      const dump = await save(ns, 'nft', 'filter');
      assert.doesNotMatch(dump, /6\.6\.6\.6/);
      const st = ownedStateOf(parseIptablesSave(dump).get('filter'));
      assert.deepEqual(st.chains.get('tabby-to-wl'), t.tables.filter.desiredHashes('tabby-to-wl'));
      assert.deepEqual(st.hooks.get('FORWARD')!.map((h) => h.index), [0]);
      await assertForeignIntact();
      const again = await t.tables.filter.resync();
      assert.deepEqual(again.drift, []);
      assert.equal(again.apply.restoreRan, false);
    });

    it('resync moves a hook back to the top when someone inserts above it, and removes a duplicate', async () => {
      await ipt(ns, 'nft', '-I', 'FORWARD', '1', '-i', 'lo', '-j', 'ACCEPT');
      const rep = await t.tables.filter.resync();
      assert.deepEqual(rep.drift.map((d) => d.kind), ['hook-moved']);
      let fwd = lines(await save(ns, 'nft', 'filter')).filter((l) => l.startsWith('-A FORWARD '));
      assert.match(fwd[0]!, /tabby-FORWARD$/);
      assert.equal(fwd[1], '-A FORWARD -i lo -j ACCEPT', 'the foreign rule stays');
      await ipt(ns, 'nft', '-D', 'FORWARD', '-i', 'lo', '-j', 'ACCEPT');
      // A duplicate of our hook (say, from a crash between two writes).
      const hook = fwd[0]!.replace(/^-A FORWARD /, '');
      await runOk('iptables-nft-restore', ['--noflush'], { ns, input: `*filter\n-A FORWARD ${hook}\nCOMMIT\n` });
      const rep2 = await t.tables.filter.resync();
      assert.deepEqual(rep2.drift.map((d) => d.kind), ['hook-duplicated']);
      fwd = lines(await save(ns, 'nft', 'filter')).filter((l) => l.startsWith('-A FORWARD '));
      assert.equal(fwd.filter((l) => l.includes('tabby:')).length, 1);
      await assertForeignIntact();
    });

    it('a restarted driver adopts every chain without rewriting (counters survive, no duplicate hooks)', async () => {
      await pingLoopback(ns);
      const before = await save(ns, 'nft', 'filter', true);
      const restarted = await createIptablesTables({ runner: new ProcessRunner({ netns: ns }), backend: 'nft' });
      program(restarted);
      restarted.tables.filter.setChain({ name: 'tabby-out-b', rules: [ret({ outInterface: 'lo', protocol: 'icmp' }), ret({ outInterface: 'lo' })] });
      const results = await applyAll(restarted);
      for (const r of results) {
        assert.equal(r.readBack, true);
        assert.equal(r.restoreRan, false, `${r.table} was rewritten: ${r.input}`);
      }
      const after = await save(ns, 'nft', 'filter', true);
      assert.deepEqual(lines(after), lines(before), 'byte-identical, counters included');
      t = restarted;
    });

    it('changing a hook rule replaces it in place, deleting the old rule by its saved or its rendered text', async () => {
      t.tables.filter.setHooks('OUTPUT', [jump('tabby-OUTPUT', { outInterface: 'lo' })]);
      const r = await t.tables.filter.apply();
      assert.equal(r.readBack, false);
      assert.deepEqual(r.hooks, ['OUTPUT']);
      assert.match(r.input!, /^-D OUTPUT -m comment --comment "tabby:[^"]+" -j tabby-OUTPUT$/m);
      const out = lines(await save(ns, 'nft', 'filter')).filter((l) => l.startsWith('-A OUTPUT '));
      assert.equal(out.length, 1);
      assert.match(out[0]!, /^-A OUTPUT -o lo -m comment --comment "tabby:[^"]+" -j tabby-OUTPUT$/);
      // Now the belief holds our own rendering (comment first), not iptables-save's; -D must still find it.
      t.tables.filter.setHooks('OUTPUT', [jump('tabby-OUTPUT')]);
      const r2 = await t.tables.filter.apply();
      assert.match(r2.input!, /^-D OUTPUT -m comment --comment "tabby:[^"]+" -o lo -j tabby-OUTPUT$/m);
      const out2 = lines(await save(ns, 'nft', 'filter')).filter((l) => l.startsWith('-A OUTPUT '));
      assert.equal(out2.length, 1);
      assert.match(out2[0]!, /^-A OUTPUT -m comment --comment "tabby:[^"]+" -j tabby-OUTPUT$/);
    });

    it('removing a chain deletes it after its referrer is rewritten, in one restore', async () => {
      t.tables.filter.setChain({ name: 'tabby-to-wl', rules: [drop(undefined, 'unknown endpoint')] });
      t.tables.filter.removeChain('tabby-tw-cali1');
      const r = await t.tables.filter.apply();
      assert.deepEqual([r.rewritten, r.deleted], [['tabby-to-wl'], ['tabby-tw-cali1']]);
      assert.doesNotMatch(await save(ns, 'nft', 'filter'), /tabby-tw-cali1/);
      await assertForeignIntact();
    });

    it('teardown removes every tabby chain and hook and nothing else', async () => {
      for (const table of ['filter', 'nat', 'mangle', 'raw'] as const) await t.tables[table].teardown();
      for (const table of ['filter', 'nat', 'mangle', 'raw'] as const) assert.doesNotMatch(await save(ns, 'nft', table), /tabby/, table);
      await assertForeignIntact();
    });
  });

  describe('IPv6 (ip6tables-nft)', () => {
    it('applies and adopts an IPv6 chain with its hook', async () => {
      const ns = await newNs('v6');
      const runner = new ProcessRunner({ netns: ns });
      const mk = () => {
        const t6 = new IptablesTable({ table: 'filter', executor: new IptablesExecutor(runner, 'nft', 6) });
        t6.setChain({ name: 'tabby-FORWARD', rules: [accept({ source: 'fd00:65::/48' }), drop({ protocol: 'ipv6-icmp', icmp6Type: { type: 128 } })] });
        t6.setHooks('FORWARD', [jump('tabby-FORWARD')]);
        return t6;
      };
      assert.equal((await mk().apply()).restoreRan, true);
      const dump = await runOk('ip6tables-nft-save', ['-t', 'filter'], { ns });
      assert.match(dump, /-A tabby-FORWARD -s fd00:65::\/48 .*-j ACCEPT/);
      assert.match(dump, /-A FORWARD -m comment --comment "tabby:[^"]+" -j tabby-FORWARD/);
      assert.doesNotMatch(await runOk('iptables-nft-save', [], { ns }), /tabby/, 'IPv4 untouched');
      assert.equal((await mk().apply()).restoreRan, false);
    });
  });

  describe('legacy backend (host-wide lock: one compact scenario)', () => {
    it('applies, updates one chain, repairs drift, is adopted after a restart, tears down', async () => {
      const ns = await newNs('legacy');
      await addForeign(ns, 'legacy');
      const foreign = foreignLines(await save(ns, 'legacy', 'filter'));
      const runner = new ProcessRunner({ netns: ns });
      const t = await createIptablesTables({ runner, backend: 'legacy' });
      const filter = t.tables.filter;
      filter.replaceChains([
        { name: 'tabby-FORWARD', rules: [accept({ ctState: ['RELATED', 'ESTABLISHED'] }), jump('tabby-fw-a'), jump('tabby-fw-b')] },
        { name: 'tabby-fw-a', rules: [drop({ source: '10.66.1.0/24' })] },
        { name: 'tabby-fw-b', rules: [drop({ source: '10.66.2.0/24' })] },
      ]);
      filter.setHooks('FORWARD', [jump('tabby-FORWARD')]);
      await filter.apply();
      let dump = await save(ns, 'legacy', 'filter');
      assert.match(dump, /-A FORWARD -m comment --comment "tabby:[^"]+" -j tabby-FORWARD/);
      assert.equal(lines(await runOk('iptables-nft-save', [], { ns })).length, 0, 'nothing written to nft');

      filter.setChain({ name: 'tabby-fw-b', rules: [drop({ source: '10.66.3.0/24' })] });
      const r = await filter.apply();
      assert.deepEqual(r.rewritten, ['tabby-fw-b']);

      await ipt(ns, 'legacy', '-F', 'tabby-fw-a');
      await ipt(ns, 'legacy', '-D', 'FORWARD', '1');
      const rep = await filter.resync();
      assert.deepEqual(rep.drift.map((d) => `${d.kind}:${d.chain}`), ['chain-flushed:tabby-fw-a', 'hook-missing:FORWARD']);

      const restarted = await createIptablesTables({ runner, backend: 'legacy' });
      restarted.tables.filter.replaceChains([
        { name: 'tabby-FORWARD', rules: [accept({ ctState: ['RELATED', 'ESTABLISHED'] }), jump('tabby-fw-a'), jump('tabby-fw-b')] },
        { name: 'tabby-fw-a', rules: [drop({ source: '10.66.1.0/24' })] },
        { name: 'tabby-fw-b', rules: [drop({ source: '10.66.3.0/24' })] },
      ]);
      restarted.tables.filter.setHooks('FORWARD', [jump('tabby-FORWARD')]);
      assert.equal((await restarted.tables.filter.apply()).restoreRan, false);

      await restarted.tables.filter.teardown();
      dump = await save(ns, 'legacy', 'filter');
      assert.doesNotMatch(dump, /tabby/);
      assert.deepEqual(foreignLines(dump), foreign);
    });
  });
});
