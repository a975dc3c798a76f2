import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { renderRules, type RenderedRules } from '../../../../src/felix/iptables/hash.js';
import { computePlan, describeDrift, isEmptyPlan, renderRestoreInput, stateAfter, type DesiredHooks } from '../../../../src/felix/iptables/plan.js';
import { emptyOwnedState, type OwnedTableState } from '../../../../src/felix/iptables/save-parser.js';

function desired(): { chains: Map<string, RenderedRules>; hooks: Map<string, DesiredHooks> } {
  const chains = new Map<string, RenderedRules>([
    ['tabby-a', renderRules('tabby-a', [{ action: { type: 'jump', target: 'tabby-b' } }])],
    ['tabby-b', renderRules('tabby-b', [{ match: { source: '10.0.0.0/8' }, action: { type: 'drop' } }, { action: { type: 'accept' } }])],
  ]);
  const hooks = new Map<string, DesiredHooks>([['FORWARD', { mode: 'insert', rendered: renderRules('FORWARD', [{ action: { type: 'jump', target: 'tabby-a' } }]) }]]);
  return { chains, hooks };
}

function inSync(): OwnedTableState {
  const d = desired();
  const st = emptyOwnedState();
  for (const [n, r] of d.chains) st.chains.set(n, [...r.hashes]);
  const h = d.hooks.get('FORWARD')!.rendered;
  st.hooks.set('FORWARD', [{ hash: h.hashes[0]!, spec: h.specs[0]!, index: 0 }]);
  return st;
}

describe('felix/iptables plan', () => {
  it('writes everything into an empty table, in the documented order (golden)', () => {
    const d = desired();
    const dp = emptyOwnedState();
    const plan = computePlan('filter', d.chains, d.hooks, dp);
    assert.deepEqual(plan, { table: 'filter', rewrite: ['tabby-a', 'tabby-b'], delete: [], flushOnly: [], hooks: ['FORWARD'] });
    const a = d.chains.get('tabby-a')!;
    const b = d.chains.get('tabby-b')!;
    const h = d.hooks.get('FORWARD')!.rendered;
    assert.equal(
      renderRestoreInput(plan, d.chains, d.hooks, dp),
      [
        '*filter',
        ':tabby-a - [0:0]',
        ':tabby-b - [0:0]',
        `-A tabby-a -m comment --comment "tabby:${a.hashes[0]}" -j tabby-b`,
        `-A tabby-b -m comment --comment "tabby:${b.hashes[0]}" -s 10.0.0.0/8 -j DROP`,
        `-A tabby-b -m comment --comment "tabby:${b.hashes[1]}" -j ACCEPT`,
        `-I FORWARD 1 -m comment --comment "tabby:${h.hashes[0]}" -j tabby-a`,
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it('does nothing when the dataplane matches', () => {
    const d = desired();
    const plan = computePlan('filter', d.chains, d.hooks, inSync());
    assert.ok(isEmptyPlan(plan));
    assert.equal(renderRestoreInput(plan, d.chains, d.hooks, inSync()), undefined);
  });

  it('rewrites only the changed chain', () => {
    const d = desired();
    d.chains.set('tabby-b', renderRules('tabby-b', [{ action: { type: 'drop' } }]));
    const dp = inSync();
    const plan = computePlan('filter', d.chains, d.hooks, dp);
    assert.deepEqual(plan.rewrite, ['tabby-b']);
    const input = renderRestoreInput(plan, d.chains, d.hooks, dp)!;
    assert.ok(!input.includes('tabby-a'), input);
    assert.deepEqual(input.split('\n').slice(0, 2), ['*filter', ':tabby-b - [0:0]']);
  });

  it('only compares the chains in scope', () => {
    const d = desired();
    d.chains.set('tabby-b', renderRules('tabby-b', [{ action: { type: 'drop' } }]));
    const plan = computePlan('filter', d.chains, d.hooks, inSync(), { chains: ['tabby-a'], hooks: [] });
    assert.ok(isEmptyPlan(plan));
  });

  it('deletes a chain after removing the references to it, keeps one a foreign rule references', () => {
    const d = desired();
    d.chains.set('tabby-a', renderRules('tabby-a', [{ action: { type: 'accept' } }]));
    d.chains.delete('tabby-b');
    const dp = inSync();
    dp.chains.set('tabby-stale', ['x']);
    dp.foreignRefs.add('tabby-stale');
    const plan = computePlan('filter', d.chains, d.hooks, dp);
    assert.deepEqual(plan, { table: 'filter', rewrite: ['tabby-a'], delete: ['tabby-b'], flushOnly: ['tabby-stale'], hooks: [] });
    const lines = renderRestoreInput(plan, d.chains, d.hooks, dp)!.split('\n');
    assert.deepEqual(lines.slice(0, 4), ['*filter', ':tabby-a - [0:0]', ':tabby-b - [0:0]', ':tabby-stale - [0:0]']);
    assert.ok(lines.indexOf('-X tabby-b') > lines.findIndex((l) => l.startsWith('-A tabby-a')));
    assert.ok(!lines.includes('-X tabby-stale'));
    const after = stateAfter(plan, d.chains, d.hooks, dp);
    assert.equal(after.chains.has('tabby-b'), false);
    assert.deepEqual(after.chains.get('tabby-stale'), []);
  });

  it('replaces hook rules by deleting the exact old text, then inserting at the top', () => {
    const d = desired();
    const dp = inSync();
    const old = dp.hooks.get('FORWARD')![0]!;
    dp.hooks.set('FORWARD', [{ ...old, index: 0 }, { ...old, index: 3 }]);
    const plan = computePlan('filter', d.chains, d.hooks, dp);
    assert.deepEqual(plan.hooks, ['FORWARD']);
    const lines = renderRestoreInput(plan, d.chains, d.hooks, dp)!.split('\n');
    assert.deepEqual(lines, ['*filter', `-D FORWARD ${old.spec}`, `-D FORWARD ${old.spec}`, `-I FORWARD 1 ${old.spec}`, 'COMMIT', '']);
  });

  it('insert mode wants the hooks at the top; append mode does not care where', () => {
    const d = desired();
    const dp = inSync();
    dp.hooks.get('FORWARD')![0]!.index = 2;
    assert.deepEqual(computePlan('filter', d.chains, d.hooks, dp).hooks, ['FORWARD']);
    d.hooks.set('FORWARD', { ...d.hooks.get('FORWARD')!, mode: 'append' });
    assert.deepEqual(computePlan('filter', d.chains, d.hooks, dp).hooks, []);
  });

  it('removes hooks that are no longer wanted', () => {
    const d = desired();
    const dp = inSync();
    d.hooks.clear();
    const plan = computePlan('filter', d.chains, d.hooks, dp);
    assert.deepEqual(plan.hooks, ['FORWARD']);
    assert.deepEqual(renderRestoreInput(plan, d.chains, d.hooks, dp)!.split('\n').slice(1, -2), [`-D FORWARD ${dp.hooks.get('FORWARD')![0]!.spec}`]);
    assert.equal(stateAfter(plan, d.chains, d.hooks, dp).hooks.has('FORWARD'), false);
  });

  it('describes each kind of drift', () => {
    const d = desired();
    d.chains.set('tabby-c', renderRules('tabby-c', [{ action: { type: 'accept' } }]));
    d.chains.set('tabby-d', renderRules('tabby-d', [{ action: { type: 'accept' } }, { action: { type: 'drop' } }]));
    d.hooks.set('INPUT', { mode: 'insert', rendered: renderRules('INPUT', [{ action: { type: 'jump', target: 'tabby-c' } }]) });
    d.hooks.set('OUTPUT', { mode: 'insert', rendered: renderRules('OUTPUT', [{ action: { type: 'jump', target: 'tabby-c' } }]) });
    const dp = inSync();
    dp.chains.set('tabby-a', []); // flushed
    dp.chains.set('tabby-b', [...d.chains.get('tabby-b')!.hashes, null]); // foreign rule appended
    // tabby-c missing
    dp.chains.set('tabby-d', [d.chains.get('tabby-d')!.hashes[0]!]); // a rule deleted
    dp.chains.set('tabby-old', ['zzz']);
    const fwd = dp.hooks.get('FORWARD')![0]!;
    dp.hooks.set('FORWARD', [fwd, { ...fwd, index: 1 }]); // duplicated
    const inp = d.hooks.get('INPUT')!.rendered;
    dp.hooks.set('INPUT', [{ hash: inp.hashes[0]!, spec: inp.specs[0]!, index: 4 }]); // moved
    dp.hooks.set('PREROUTING', [{ hash: 'q', spec: 'x', index: 0 }]); // unexpected
    // OUTPUT hook missing
    const kinds = describeDrift('filter', d.chains, d.hooks, dp).map((x) => `${x.kind}:${x.chain}`);
    assert.deepEqual(kinds.sort(), [
      'chain-flushed:tabby-a',
      'chain-foreign-rule:tabby-b',
      'chain-missing:tabby-c',
      'chain-modified:tabby-d',
      'chain-unexpected:tabby-old',
      'hook-duplicated:FORWARD',
      'hook-missing:OUTPUT',
      'hook-moved:INPUT',
      'hook-unexpected:PREROUTING',
    ]);
  });
});
