import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { countSavedRules, detectBackend, IptablesExecutor, IptablesRestoreError, iptablesCommands } from '../../../../src/felix/iptables/backend.js';
import type { CommandResult, CommandRunner } from '../../../../src/felix/iptables/runner.js';
import { LEGACY_SAVE, LEGACY_SAVE_COUNTERS_FILTER, NFT_SAVE } from './fixtures.js';

/** A runner answering each command from a table (missing: command not found). */
function scripted(answers: Record<string, CommandResult | Error>): CommandRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async run(cmd, args) {
      calls.push([cmd, ...args].join(' '));
      const a = answers[cmd];
      if (a instanceof Error) throw a;
      return a ?? { code: 127, stdout: '', stderr: 'not found' };
    },
  };
}
const ok = (stdout: string): CommandResult => ({ code: 0, stdout, stderr: '' });

describe('felix/iptables backend', () => {
  it('names the commands of each backend and version', () => {
    assert.deepEqual(iptablesCommands('nft'), { save: 'iptables-nft-save', restore: 'iptables-nft-restore', restoreArgs: ['--noflush'] });
    assert.deepEqual(iptablesCommands('legacy', 6), { save: 'ip6tables-legacy-save', restore: 'ip6tables-legacy-restore', restoreArgs: ['-w', '10', '--noflush'] });
  });

  it('counts rules in real dumps, with and without counters', () => {
    assert.equal(countSavedRules(NFT_SAVE), 24);
    assert.equal(countSavedRules(LEGACY_SAVE), 24);
    assert.equal(countSavedRules(LEGACY_SAVE_COUNTERS_FILTER), 18);
    assert.equal(countSavedRules(''), 0);
  });

  it('explicit modes are taken as given, without running anything', async () => {
    const r = scripted({});
    assert.equal((await detectBackend(r, 'legacy')).backend, 'legacy');
    assert.equal((await detectBackend(r, 'nft')).backend, 'nft');
    assert.deepEqual(r.calls, []);
  });

  it('auto picks legacy only when legacy holds rules and nft none', async () => {
    const legacyOnly = await detectBackend(scripted({ 'iptables-legacy-save': ok(LEGACY_SAVE), 'iptables-nft-save': ok('') }), 'auto');
    assert.deepEqual(legacyOnly, { backend: 'legacy', legacyRules: 24, nftRules: 0 });
    const both = await detectBackend(scripted({ 'iptables-legacy-save': ok(LEGACY_SAVE), 'iptables-nft-save': ok(NFT_SAVE) }), 'auto');
    assert.equal(both.backend, 'nft');
    const none = await detectBackend(scripted({ 'iptables-legacy-save': ok(''), 'iptables-nft-save': ok('') }), 'auto');
    assert.equal(none.backend, 'nft');
    const v6legacy = await detectBackend(scripted({ 'ip6tables-legacy-save': ok('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n') }), 'auto');
    assert.equal(v6legacy.backend, 'legacy');
  });

  it('auto treats a missing or failing -save as no rules', async () => {
    const r = await detectBackend(scripted({ 'iptables-legacy-save': new Error('spawn ENOENT'), 'iptables-nft-save': ok(NFT_SAVE) }), 'auto');
    assert.deepEqual(r, { backend: 'nft', legacyRules: 0, nftRules: 24 });
  });

  it('a failed restore names the input line iptables complained about', async () => {
    const runner = scripted({
      'iptables-nft-restore': { code: 2, stdout: '', stderr: "iptables-nft-restore v1.8.9 (nf_tables): Chain 'nonexist' does not exist\nError occurred at line: 3\n" },
    });
    const ex = new IptablesExecutor(runner, 'nft');
    const err = await ex.restore('*filter\n:tabby-b - [0:0]\n-A tabby-b -j nonexist\nCOMMIT\n').catch((e: unknown) => e);
    assert.ok(err instanceof IptablesRestoreError);
    assert.equal(err.failedLine, '-A tabby-b -j nonexist');
    assert.match(err.message, /Chain 'nonexist' does not exist at "-A tabby-b -j nonexist"/);
  });
});
