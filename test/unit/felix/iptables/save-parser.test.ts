import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { chainedHashes, renderRules, RULE_HASH_LENGTH } from '../../../../src/felix/iptables/hash.js';
import type { Rule } from '../../../../src/felix/iptables/model.js';
import { ownedStateOf, parseIptablesSave, ruleHashOf, SaveParseError } from '../../../../src/felix/iptables/save-parser.js';
import { LEGACY_SAVE, LEGACY_SAVE_COUNTERS_FILTER, NFT_SAVE, NFT_SAVE_INCOMPATIBLE } from './fixtures.js';

/** Rules the fixture's tabby-INPUT was written from. */
const TABBY_INPUT: Rule[] = [
  { match: { inInterface: 'cali+', protocol: 'udp', dstPorts: [53] }, action: { type: 'accept' } },
  { action: { type: 'return' } },
];

describe('felix/iptables hashes and read-back', () => {
  describe('chained hashes', () => {
    it('are 16 base64url characters and deterministic', () => {
      const h = chainedHashes('tabby-x', ['-j ACCEPT', '-j DROP']);
      assert.equal(h.length, 2);
      for (const x of h) assert.match(x, new RegExp(`^[A-Za-z0-9_-]{${RULE_HASH_LENGTH}}$`));
      assert.deepEqual(chainedHashes('tabby-x', ['-j ACCEPT', '-j DROP']), h);
    });

    it('change from the edited rule onwards, never before it', () => {
      const a = chainedHashes('tabby-x', ['-j ACCEPT', '-j DROP', '-j RETURN']);
      const b = chainedHashes('tabby-x', ['-j ACCEPT', '-j REJECT', '-j RETURN']);
      assert.equal(a[0], b[0]);
      assert.notEqual(a[1], b[1]);
      assert.notEqual(a[2], b[2], 'the chain carries the change forward');
    });

    it('depend on the chain name and on the order', () => {
      assert.notDeepEqual(chainedHashes('tabby-x', ['-j ACCEPT']), chainedHashes('tabby-y', ['-j ACCEPT']));
      assert.notDeepEqual(chainedHashes('tabby-x', ['-j ACCEPT', '-j DROP']), chainedHashes('tabby-x', ['-j DROP', '-j ACCEPT']));
      // Two identical rules in one chain still get distinct tags.
      const [first, second] = chainedHashes('tabby-x', ['-j ACCEPT', '-j ACCEPT']);
      assert.notEqual(first, second);
    });

    it('match the tags the kernel holds for the same rules (fixture)', () => {
      assert.deepEqual(renderRules('tabby-INPUT', TABBY_INPUT).hashes, ['HZr2TX2fFh9R5blZ', 'YYNdttEGdgt0G3Dx']);
      assert.deepEqual(renderRules('FORWARD', [{ action: { type: 'jump', target: 'tabby-FORWARD' } }]).hashes, ['zXud4xcvyqM2DVdC']);
      const nat = renderRules('tabby-nat-outgoing', [{ match: { source: '10.65.0.0/16', notDestination: '10.65.0.0/16' }, action: { type: 'masquerade', fullyRandom: true } }]);
      assert.deepEqual(nat.hashes, ['fLBqyaS1e_Kf49Vc']);
      assert.equal(nat.specs[0], '-m comment --comment "tabby:fLBqyaS1e_Kf49Vc" -s 10.65.0.0/16 ! -d 10.65.0.0/16 -j MASQUERADE --random-fully');
    });
  });

  describe('iptables-save parsing', () => {
    for (const [label, text] of [
      ['nft', NFT_SAVE],
      ['legacy', LEGACY_SAVE],
    ] as const) {
      it(`${label}: finds every table, chain and rule`, () => {
        const tables = parseIptablesSave(text);
        assert.deepEqual([...tables.keys()].sort(), ['filter', 'mangle', 'nat', 'raw']);
        const filter = tables.get('filter')!;
        assert.deepEqual([...filter.chains.keys()], ['INPUT', 'FORWARD', 'OUTPUT', 'FOREIGN-FWD', 'tabby-FORWARD', 'tabby-INPUT', 'tabby-to-wl-dispatch', 'tabby-tw-cali1234567890a']);
        assert.equal(filter.chains.get('FORWARD')!.policy, 'ACCEPT');
        assert.equal(filter.chains.get('tabby-FORWARD')!.rules.length, 4);
      });

      it(`${label}: extracts only tabby's chains, tags, hooks and foreign references`, () => {
        const st = ownedStateOf(parseIptablesSave(text).get('filter'));
        assert.deepEqual([...st.chains.keys()].sort(), ['tabby-FORWARD', 'tabby-INPUT', 'tabby-to-wl-dispatch', 'tabby-tw-cali1234567890a']);
        // The foreign rule someone appended inside tabby-INPUT has no tag.
        assert.deepEqual(st.chains.get('tabby-INPUT'), ['HZr2TX2fFh9R5blZ', 'YYNdttEGdgt0G3Dx', null]);
        assert.equal(st.chains.get('tabby-tw-cali1234567890a')!.length, 4);
        // Hook in INPUT sits below a foreign rule (index 1); FORWARD's is on top.
        assert.deepEqual(st.hooks.get('INPUT'), [{ hash: 'RK4xtS8h7C1rZCSu', spec: '-m comment --comment "tabby:RK4xtS8h7C1rZCSu" -j tabby-INPUT', index: 1 }]);
        assert.deepEqual(st.hooks.get('FORWARD')!.map((h) => [h.hash, h.index]), [['zXud4xcvyqM2DVdC', 0]]);
        assert.equal(st.hooks.has('OUTPUT'), false);
        assert.equal(st.foreignRefs.size, 0, 'no foreign rule jumps into a tabby chain');
        assert.equal([...st.chains.keys()].includes('FOREIGN-FWD'), false);
      });

      it(`${label}: nat, raw and mangle`, () => {
        const tables = parseIptablesSave(text);
        const nat = ownedStateOf(tables.get('nat'));
        assert.deepEqual(nat.chains.get('tabby-nat-outgoing'), ['fLBqyaS1e_Kf49Vc']);
        assert.deepEqual(nat.hooks.get('POSTROUTING')!.map((h) => h.hash), ['3d2q4tYrrINEXpp6']);
        assert.deepEqual(ownedStateOf(tables.get('raw')).chains.get('tabby-PREROUTING'), ['vAmX0XvaDYhYqE-R']);
        assert.deepEqual(ownedStateOf(tables.get('mangle')).chains.get('tabby-mangle-PRE'), ['QrPa-9C_yRs-ROPw']);
      });
    }

    it('nft and legacy read back to the same owned state', () => {
      for (const t of ['filter', 'nat', 'raw', 'mangle']) {
        assert.deepEqual(ownedStateOf(parseIptablesSave(NFT_SAVE).get(t)), ownedStateOf(parseIptablesSave(LEGACY_SAVE).get(t)), t);
      }
    });

    it('strips [packets:bytes] counters', () => {
      const withCounters = ownedStateOf(parseIptablesSave(LEGACY_SAVE_COUNTERS_FILTER).get('filter'));
      assert.deepEqual(withCounters, ownedStateOf(parseIptablesSave(LEGACY_SAVE).get('filter')));
    });

    it('records foreign rules that jump into tabby chains', () => {
      const text = ['*filter', ':FORWARD ACCEPT [0:0]', ':tabby-a - [0:0]', ':other - [0:0]', '-A FORWARD -j tabby-a', '-A other -g tabby-a', '-A other -j ACCEPT', 'COMMIT'].join('\n');
      assert.deepEqual([...ownedStateOf(parseIptablesSave(text).get('filter')).foreignRefs], ['tabby-a']);
    });

    it('reads unquoted tags (older iptables) and ignores other comments', () => {
      assert.equal(ruleHashOf('-m comment --comment tabby:abcDEF_-123 -j ACCEPT'), 'abcDEF_-123');
      assert.equal(ruleHashOf('-m comment --comment "tabby:abc" -j ACCEPT'), 'abc');
      assert.equal(ruleHashOf('-m comment --comment "not tabby:abc" -j ACCEPT'), null);
      assert.equal(ruleHashOf('-j ACCEPT'), null);
    });

    it('an absent table means nothing owned; an empty dump parses to no tables', () => {
      assert.equal(parseIptablesSave('').size, 0);
      const st = ownedStateOf(undefined);
      assert.equal(st.chains.size + st.hooks.size, 0);
    });

    it('refuses a table nft cannot show as iptables', () => {
      assert.throws(() => parseIptablesSave(NFT_SAVE_INCOMPATIBLE), SaveParseError);
    });

    it('refuses garbage', () => {
      assert.throws(() => parseIptablesSave('-A FORWARD -j ACCEPT'), SaveParseError);
      assert.throws(() => parseIptablesSave('*filter\n-X foo\nCOMMIT'), SaveParseError);
    });
  });
});
