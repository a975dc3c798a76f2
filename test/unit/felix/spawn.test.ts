/**
 * The spawn helper: commands run through it give what a direct spawn gives
 * (exit code, stdout, stderr, stdin, large output, timeout, abort, a command
 * that does not exist), and it keeps nothing alive when idle.
 */
import assert from 'node:assert/strict';
import { describe, it, after } from 'mocha';
import { closeSpawnHelper, spawnCommand, spawnDirect, SpawnHelper, type SpawnOptions } from '../../../src/felix/spawn/spawner.js';

describe('felix/spawn: the spawn helper', () => {
  const helper = new SpawnHelper();
  after(() => {
    helper.close();
    closeSpawnHelper();
  });

  const both = async (file: string, args: string[], opts: SpawnOptions) => {
    const [a, b] = await Promise.all([helper.run(file, args, opts), spawnDirect(file, args, opts)]);
    return { a, b };
  };

  it('exit codes, stdout and stderr as a direct spawn gives them', async () => {
    const { a, b } = await both('sh', ['-c', 'echo out; echo err >&2; exit 3'], { timeoutMs: 10_000 });
    assert.deepEqual(a, b);
    assert.deepEqual([a.code, a.stdout, a.stderr], [3, 'out\n', 'err\n']);
  });

  it('stdin in full, and in two parts (the second later)', async () => {
    const { a, b } = await both('cat', [], { input: 'x\ny\n', timeoutMs: 10_000 });
    assert.deepEqual(a, b);
    assert.equal(a.stdout, 'x\ny\n');
    const later = new Promise<string>((r) => setTimeout(() => r('two\n'), 30));
    const s = await helper.run('cat', [], { input: 'one\n', tail: later, timeoutMs: 10_000 });
    assert.equal(s.stdout, 'one\ntwo\n');
  });

  it('a rejected tail kills the command and rejects with that error', async () => {
    const p = helper.run('cat', [], { input: 'one\n', tail: new Promise((_, rej) => setTimeout(() => rej(new Error('no sets')), 20)), timeoutMs: 10_000 });
    await assert.rejects(p, /no sets/);
  });

  it('large output (several MB) arrives whole', async () => {
    const r = await helper.run('sh', ['-c', 'head -c 6000000 /dev/zero | tr "\\0" a'], { timeoutMs: 20_000 });
    assert.equal(r.code, 0);
    assert.equal(r.stdout.length, 6_000_000);
  });

  it('a timeout kills the command and says so', async () => {
    const r = await helper.run('sleep', ['5'], { timeoutMs: 100 });
    assert.equal(r.timedOut, true);
    assert.equal(r.code, -1);
    assert.equal(r.signal, 'SIGKILL');
  });

  it('a command that does not exist rejects, as a direct spawn does', async () => {
    await assert.rejects(helper.run('no-such-tabby-command', [], { timeoutMs: 1000 }), /ENOENT/);
    await assert.rejects(spawnDirect('no-such-tabby-command', [], { timeoutMs: 1000 }), /ENOENT/);
  });

  it('many commands in flight at once each get their own answer', async () => {
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => spawnCommand('sh', ['-c', `echo ${i}`], { timeoutMs: 10_000 })));
    assert.deepEqual(rs.map((r) => r.stdout.trim()), Array.from({ length: 40 }, (_, i) => String(i)));
  });

  it('an idle helper does not keep a process alive', async () => {
    const script = `
      import { spawnCommand } from ${JSON.stringify(new URL('../../../src/felix/spawn/spawner.js', import.meta.url).href)};
      const r = await spawnCommand('echo', ['hi'], { timeoutMs: 5000 });
      process.stdout.write(r.stdout);`;
    const r = await spawnDirect(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 10_000 });
    assert.equal(r.timedOut, false, 'the process exited by itself');
    assert.deepEqual([r.code, r.stdout], [0, 'hi\n']);
  });
});
