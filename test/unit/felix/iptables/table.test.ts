import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'mocha';
import { IptablesExecutor } from '../../../../src/felix/iptables/backend.js';
import { createIptablesTables } from '../../../../src/felix/iptables/factory.js';
import { accept, drop, goTo, jump, type Chain } from '../../../../src/felix/iptables/model.js';
import { IptablesTable } from '../../../../src/felix/iptables/table.js';
import { FakeIptables } from './fake-iptables.js';

function ruleset(): Chain[] {
  return [
    { name: 'tabby-FORWARD', rules: [accept({ ctState: ['RELATED', 'ESTABLISHED'] }), goTo('tabby-to-wl', { outInterface: 'cali+' })] },
    { name: 'tabby-to-wl', rules: [goTo('tabby-tw-cali1', { outInterface: 'cali1' }), drop(undefined, 'unknown endpoint')] },
    { name: 'tabby-tw-cali1', rules: [accept({ protocol: 'tcp', dstPorts: [80] }), drop()] },
  ];
}

function newTable(fake: FakeIptables, backend: 'nft' | 'legacy' = 'nft'): IptablesTable {
  const t = new IptablesTable({ table: 'filter', executor: new IptablesExecutor(fake, backend) });
  t.replaceChains(ruleset());
  t.setHooks('FORWARD', [jump('tabby-FORWARD')]);
  return t;
}

/** Everything in the fake's filter table that tabby does not own. */
function foreignPart(fake: FakeIptables, backend: 'nft' | 'legacy' = 'nft'): string[] {
  const out: string[] = [];
  for (const [name, ch] of fake.table('filter', backend)) {
    if (name.startsWith('tabby-')) continue;
    out.push(`:${name}`, ...ch.rules.filter((r) => !r.includes('tabby:')).map((r) => `-A ${name} ${r}`));
  }
  return out;
}

describe('felix/iptables IptablesTable (fake runner)', () => {
  let fake: FakeIptables;
  beforeEach(() => {
    fake = new FakeIptables();
    // Someone else's chain and rules, which must survive everything.
    const filter = fake.table('filter');
    filter.set('DOCKER-USER', { policy: '-', rules: ['-j RETURN'] });
    filter.get('FORWARD')!.rules.push('-j DOCKER-USER', '-s 10.9.0.0/16 -j ACCEPT');
  });

  it('first apply reads back, then writes every chain and the hook in one restore', async () => {
    const before = foreignPart(fake);
    const t = newTable(fake);
    const r = await t.apply();
    assert.equal(r.readBack, true);
    assert.equal(r.restoreRan, true);
    assert.deepEqual(r.rewritten, ['tabby-FORWARD', 'tabby-to-wl', 'tabby-tw-cali1']);
    assert.deepEqual(r.hooks, ['FORWARD']);
    assert.deepEqual(fake.calls.map((c) => c.cmd), ['iptables-nft-save', 'iptables-nft-restore']);
    assert.deepEqual(fake.calls[1]!.args, ['--noflush']);
    const fwd = fake.table('filter').get('FORWARD')!.rules;
    assert.match(fwd[0]!, /^-m comment --comment "tabby:[A-Za-z0-9_-]{16}" -j tabby-FORWARD$/);
    assert.equal(fwd.length, 3);
    assert.deepEqual(foreignPart(fake), before);
    assert.equal(fake.table('filter').get('tabby-to-wl')!.rules.length, 2);
  });

  it('a second apply with nothing changed runs no command at all', async () => {
    const t = newTable(fake);
    await t.apply();
    const n = fake.calls.length;
    t.replaceChains(ruleset()); // same content again
    t.setHooks('FORWARD', [jump('tabby-FORWARD')]);
    const r = await t.apply();
    assert.equal(r.restoreRan, false);
    assert.equal(fake.calls.length, n);
  });

  it('an incremental change rewrites only that chain', async () => {
    const t = newTable(fake);
    await t.apply();
    const forwardBefore = [...fake.table('filter').get('tabby-FORWARD')!.rules];
    t.setChain({ name: 'tabby-tw-cali1', rules: [accept({ protocol: 'tcp', dstPorts: [80, 443] }), drop()] });
    const r = await t.apply();
    assert.deepEqual(r.rewritten, ['tabby-tw-cali1']);
    assert.deepEqual(r.hooks, []);
    assert.equal(r.readBack, false);
    const input = fake.restores().at(-1)!.input!;
    assert.deepEqual(
      input.split('\n').filter((l) => l && !l.startsWith('-A tabby-tw-cali1 ')),
      ['*filter', ':tabby-tw-cali1 - [0:0]', 'COMMIT'],
    );
    assert.deepEqual(fake.table('filter').get('tabby-FORWARD')!.rules, forwardBefore);
    assert.match(fake.table('filter').get('tabby-tw-cali1')!.rules[0]!, /--dports 80,443/);
  });

  it('removing a chain rewrites its referrer and deletes it in the same restore', async () => {
    const t = newTable(fake);
    await t.apply();
    t.setChain({ name: 'tabby-to-wl', rules: [drop()] });
    t.removeChain('tabby-tw-cali1');
    const r = await t.apply();
    assert.deepEqual(r.rewritten, ['tabby-to-wl']);
    assert.deepEqual(r.deleted, ['tabby-tw-cali1']);
    assert.equal(fake.table('filter').has('tabby-tw-cali1'), false);
    assert.equal(fake.restores().length, 2);
  });

  it('refuses to apply a jump to a tabby chain that is not set', async () => {
    const t = newTable(fake);
    t.removeChain('tabby-tw-cali1');
    await assert.rejects(t.apply(), /tabby-to-wl -> tabby-tw-cali1/);
    assert.equal(fake.restores().length, 0);
  });

  it('refuses invalid input where it is set', () => {
    const t = newTable(fake);
    assert.throws(() => t.setChain({ name: 'FORWARD', rules: [] }), /not owned/);
    assert.throws(() => t.setHooks('PREROUTING', [jump('tabby-FORWARD')]), /not a built-in chain of the filter table/);
    assert.throws(() => t.setChain({ name: 'tabby-x', rules: [{ action: { type: 'masquerade' } }] }), /nat table/);
  });

  it('a restarted instance adopts the existing chains: no restore, no duplicate hook', async () => {
    await newTable(fake).apply();
    const restores = fake.restores().length;
    const again = newTable(fake);
    const r = await again.apply();
    assert.equal(r.readBack, true);
    assert.equal(r.restoreRan, false);
    assert.equal(fake.restores().length, restores);
    assert.equal(fake.table('filter').get('FORWARD')!.rules.filter((x) => x.includes('tabby:')).length, 1);
  });

  it('a restarted instance with a changed ruleset rewrites only what differs and deletes stale chains', async () => {
    await newTable(fake).apply();
    const again = new IptablesTable({ table: 'filter', executor: new IptablesExecutor(fake, 'nft') });
    again.setChain({ name: 'tabby-FORWARD', rules: [accept({ ctState: ['RELATED', 'ESTABLISHED'] })] });
    again.setHooks('FORWARD', [jump('tabby-FORWARD')]);
    const r = await again.apply();
    assert.deepEqual(r.rewritten, ['tabby-FORWARD']);
    assert.deepEqual(r.deleted, ['tabby-to-wl', 'tabby-tw-cali1']);
    assert.deepEqual(r.hooks, []);
    assert.deepEqual([...fake.table('filter').keys()].filter((c) => c.startsWith('tabby-')), ['tabby-FORWARD']);
  });

  it('resync reports and repairs a flushed chain, a foreign rule, a deleted hook', async () => {
    const t = newTable(fake);
    await t.apply();
    const before = foreignPart(fake);
    const filter = fake.table('filter');
    filter.get('tabby-to-wl')!.rules = [];
    filter.get('tabby-tw-cali1')!.rules.splice(1, 0, '-s 6.6.6.6/32 -j ACCEPT');
    filter.get('FORWARD')!.rules.shift();
    const rep = await t.resync();
    assert.deepEqual(rep.drift.map((d) => `${d.kind}:${d.chain}`), ['chain-flushed:tabby-to-wl', 'chain-foreign-rule:tabby-tw-cali1', 'hook-missing:FORWARD']);
    assert.deepEqual(rep.apply.rewritten, ['tabby-to-wl', 'tabby-tw-cali1']);
    assert.deepEqual(rep.apply.hooks, ['FORWARD']);
    const now = fake.table('filter');
    assert.equal(now.get('tabby-tw-cali1')!.rules.some((r) => r.includes('6.6.6.6')), false);
    assert.equal(now.get('tabby-to-wl')!.rules.length, 2);
    assert.match(now.get('FORWARD')!.rules[0]!, /tabby:.* -j tabby-FORWARD/);
    assert.deepEqual(foreignPart(fake), before);
    const clean = await t.resync();
    assert.deepEqual(clean.drift, []);
    assert.equal(clean.apply.restoreRan, false);
  });

  it('resync repairs duplicated and moved hooks without touching foreign rules', async () => {
    const t = newTable(fake);
    await t.apply();
    const fwd = fake.table('filter').get('FORWARD')!;
    const hook = fwd.rules[0]!;
    fwd.rules.push(hook); // duplicated at the bottom
    let rep = await t.resync();
    assert.deepEqual(rep.drift.map((d) => d.kind), ['hook-duplicated']);
    let rules = fake.table('filter').get('FORWARD')!.rules;
    assert.deepEqual(rules, [hook, '-j DOCKER-USER', '-s 10.9.0.0/16 -j ACCEPT']);
    // Someone inserts above us: we move back to the top.
    rules.unshift('-i lo -j ACCEPT');
    rep = await t.resync();
    assert.deepEqual(rep.drift.map((d) => d.kind), ['hook-moved']);
    rules = fake.table('filter').get('FORWARD')!.rules;
    assert.deepEqual(rules, [hook, '-i lo -j ACCEPT', '-j DOCKER-USER', '-s 10.9.0.0/16 -j ACCEPT']);
  });

  it('read-back compares tags, not text: a printer that reorders criteria changes nothing', async () => {
    fake.reorderOnSave = true;
    const t = newTable(fake);
    await t.apply();
    const again = newTable(fake);
    const r = await again.apply();
    assert.equal(r.restoreRan, false);
    // And the hook can still be deleted by its printed text.
    again.removeHooks('FORWARD');
    const r2 = await again.apply();
    assert.deepEqual(r2.hooks, ['FORWARD']);
    assert.equal(fake.table('filter').get('FORWARD')!.rules.some((x) => x.includes('tabby:')), false);
  });

  it('a failed restore reads back and retries once from the real state', async () => {
    const t = newTable(fake);
    await t.apply();
    // Behind our back someone deleted our hook rule, so `-D FORWARD <spec>` fails.
    fake.table('filter').get('FORWARD')!.rules.shift();
    t.setHooks('FORWARD', [jump('tabby-to-wl')]);
    const r = await t.apply();
    assert.equal(r.retried, true);
    assert.equal(r.readBack, true);
    assert.deepEqual(r.hooks, ['FORWARD']);
    assert.ok(!r.input!.includes('-D FORWARD'), r.input);
    const fwd = fake.table('filter').get('FORWARD')!.rules;
    assert.match(fwd[0]!, /-j tabby-to-wl$/);
    assert.equal(fwd.filter((x) => x.includes('tabby:')).length, 1);
  });

  it('a restore that fails twice is thrown, and the next apply starts with a read-back', async () => {
    const t = newTable(fake);
    fake.failNextRestores = 2;
    await assert.rejects(t.apply(), /fake transient failure/);
    const r = await t.apply();
    assert.equal(r.readBack, true);
    assert.equal(r.restoreRan, true);
    assert.equal(fake.table('filter').has('tabby-FORWARD'), true);
  });

  it('teardown removes hooks and chains (stale ones too) and nothing else', async () => {
    const before = foreignPart(fake);
    const t = newTable(fake);
    await t.apply();
    fake.table('filter').set('tabby-left-by-old-version', { policy: '-', rules: ['-j ACCEPT'] });
    const r = await t.teardown();
    assert.deepEqual(r.deleted, ['tabby-FORWARD', 'tabby-left-by-old-version', 'tabby-to-wl', 'tabby-tw-cali1']);
    assert.deepEqual([...fake.table('filter').keys()].filter((c) => c.startsWith('tabby-')), []);
    assert.deepEqual(foreignPart(fake), before);
    assert.equal(fake.table('filter').get('FORWARD')!.rules.length, 2);
  });

  it('a stale chain a foreign rule still jumps to is emptied, not deleted', async () => {
    const t = newTable(fake);
    await t.apply();
    fake.table('filter').set('tabby-stale', { policy: '-', rules: ['-j DROP'] });
    fake.table('filter').get('DOCKER-USER')!.rules.unshift('-j tabby-stale');
    const r = await t.resync();
    assert.deepEqual(r.apply.flushedOnly, ['tabby-stale']);
    assert.deepEqual(fake.table('filter').get('tabby-stale')!.rules, []);
  });

  it('append-mode hooks go to the end of the built-in chain', async () => {
    const t = new IptablesTable({ table: 'nat', executor: new IptablesExecutor(fake, 'nft') });
    fake.table('nat').get('POSTROUTING')!.rules.push('-o eth9 -j MASQUERADE');
    t.setChain({ name: 'tabby-nat-out', rules: [{ match: { source: '10.65.0.0/16' }, action: { type: 'masquerade' } }] });
    t.setHooks('POSTROUTING', [jump('tabby-nat-out')], 'append');
    await t.apply();
    const rules = fake.table('nat').get('POSTROUTING')!.rules;
    assert.equal(rules[0], '-o eth9 -j MASQUERADE');
    assert.match(rules[1]!, /-j tabby-nat-out$/);
    const again = new IptablesTable({ table: 'nat', executor: new IptablesExecutor(fake, 'nft') });
    again.setChain({ name: 'tabby-nat-out', rules: [{ match: { source: '10.65.0.0/16' }, action: { type: 'masquerade' } }] });
    again.setHooks('POSTROUTING', [jump('tabby-nat-out')], 'append');
    assert.equal((await again.apply()).restoreRan, false);
  });

  it('legacy: restores wait for the xtables lock and never write nft', async () => {
    const t = newTable(fake, 'legacy');
    await t.apply();
    const restore = fake.restores()[0]!;
    assert.equal(restore.cmd, 'iptables-legacy-restore');
    assert.deepEqual(restore.args, ['-w', '10', '--noflush']);
    assert.equal(fake.tables('legacy').get('filter')!.has('tabby-FORWARD'), true);
    assert.equal(fake.table('filter', 'nft').has('tabby-FORWARD'), false);
  });

  it('IPv6 tables use ip6tables', async () => {
    const t = new IptablesTable({ table: 'filter', executor: new IptablesExecutor(fake, 'nft', 6) });
    t.setChain({ name: 'tabby-x', rules: [accept({ source: 'fd00::/64' })] });
    await t.apply();
    assert.deepEqual(fake.calls.map((c) => c.cmd), ['ip6tables-nft-save', 'ip6tables-nft-restore']);
  });

  it('concurrent applies are serialised', async () => {
    const t = newTable(fake);
    const [a, b] = await Promise.all([t.apply(), t.apply()]);
    assert.equal(a.restoreRan, true);
    assert.equal(b.restoreRan, false);
    assert.equal(fake.restores().length, 1);
  });

  it('createIptablesTables builds the four tables on the detected backend', async () => {
    fake = new FakeIptables();
    fake.table('filter', 'legacy').get('INPUT')!.rules.push('-j ACCEPT');
    const { detection, tables } = await createIptablesTables({ runner: fake, backend: 'auto' });
    assert.equal(detection.backend, 'legacy');
    assert.deepEqual(Object.keys(tables).sort(), ['filter', 'mangle', 'nat', 'raw']);
    assert.equal(tables.nat.table, 'nat');
  });
});
