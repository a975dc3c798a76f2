/**
 * A restore that waits for ipsets: the lines of chains naming a set (and
 * the COMMIT) reach iptables-restore only once the sets exist; everything
 * else is fed at once, so the restore parses it while the ipset restore
 * runs. A failed set phase aborts the restore before its COMMIT.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { IptablesExecutor } from '../../../../src/felix/iptables/backend.js';
import { accept, jump, type Chain } from '../../../../src/felix/iptables/model.js';
import { ProcessRunner, type CommandResult } from '../../../../src/felix/iptables/runner.js';
import { IptablesTable } from '../../../../src/felix/iptables/table.js';
import { FakeIptables } from './fake-iptables.js';

/** The fake, plus the streamed form: records what was fed before the gate opened. */
class StreamingFake extends FakeIptables {
  heads: string[] = [];
  async runStreamed(cmd: string, args: readonly string[], head: string, tail: Promise<string>): Promise<CommandResult> {
    this.heads.push(head);
    const rest = await tail;
    return this.run(cmd, args, head + rest);
  }
}

function chains(): Chain[] {
  return [
    { name: 'tabby-FORWARD', rules: [jump('tabby-pi-a'), jump('tabby-plain')] },
    { name: 'tabby-pi-a', rules: [accept({ sets: [{ set: 'tabby-s-x', direction: 'src' }] })] },
    { name: 'tabby-plain', rules: [accept({ protocol: 'tcp', dstPorts: [80] })] },
  ];
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('felix/iptables: restores gated on ipsets', () => {
  it('feeds every chain not naming a set first, the rest after the gate; one atomic restore', async () => {
    const fake = new StreamingFake();
    const t = new IptablesTable({ table: 'filter', executor: new IptablesExecutor(fake, 'nft') });
    t.replaceChains(chains());
    t.setHooks('FORWARD', [jump('tabby-FORWARD')]);
    const gate = deferred();
    const applied = t.apply({ setsReady: gate.promise });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(fake.heads.length, 1, 'the restore started before the sets were ready');
    const head = fake.heads[0]!;
    assert.match(head, /^-A tabby-plain /m);
    assert.match(head, /^-A tabby-FORWARD /m);
    assert.doesNotMatch(head, /tabby-s-x/, 'no line naming a set before the gate');
    assert.doesNotMatch(head, /COMMIT/);
    gate.resolve();
    const r = await applied;
    assert.deepEqual(r.rewritten, ['tabby-FORWARD', 'tabby-pi-a', 'tabby-plain']);
    assert.ok(r.input!.startsWith(head));
    assert.equal(fake.table('filter').get('tabby-pi-a')!.rules.length, 1);
  });

  it('a rejected gate aborts the restore: nothing committed, the error rethrown, the next apply writes it all', async () => {
    const fake = new StreamingFake();
    const t = new IptablesTable({ table: 'filter', executor: new IptablesExecutor(fake, 'nft') });
    t.replaceChains(chains());
    const gate = deferred();
    const applied = t.apply({ setsReady: gate.promise });
    gate.reject(new Error('ipset restore failed'));
    await assert.rejects(applied, /ipset restore failed/);
    assert.equal(fake.table('filter').has('tabby-plain'), false);
    const r = await t.apply();
    assert.deepEqual(r.rewritten, ['tabby-FORWARD', 'tabby-pi-a', 'tabby-plain']);
  });

  it('without a chain naming a set nothing waits for the gate', async () => {
    const fake = new StreamingFake();
    const t = new IptablesTable({ table: 'filter', executor: new IptablesExecutor(fake, 'nft') });
    t.replaceChains([{ name: 'tabby-plain', rules: [accept()] }]);
    const r = await t.apply({ setsReady: new Promise(() => undefined) });
    assert.deepEqual(r.rewritten, ['tabby-plain']);
    assert.equal(fake.heads.length, 0);
  });

  it('ProcessRunner.runStreamed: a real process gets head then tail; a rejected tail kills it', async () => {
    const runner = new ProcessRunner({ timeoutMs: 10_000 });
    const ok = await runner.runStreamed('cat', [], 'one\n', new Promise((r) => setTimeout(() => r('two\n'), 30)));
    assert.deepEqual([ok.code, ok.stdout], [0, 'one\ntwo\n']);
    const aborted = runner.runStreamed('cat', [], 'one\n', new Promise((_, rej) => setTimeout(() => rej(new Error('sets failed')), 30)));
    await assert.rejects(aborted, /sets failed/);
  });
});
