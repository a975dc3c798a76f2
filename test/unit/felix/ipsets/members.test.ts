import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { canonicalAddress, canonicalMember, canonicalMembers, canonicalNets, MemberError } from '../../../../src/felix/ipsets/members.js';
import { canonicalSet, DEFAULT_MAXELEM, renderCreate, tabbySetName, MAX_SET_NAME } from '../../../../src/felix/ipsets/model.js';
import { parseIpsetSave } from '../../../../src/felix/ipsets/save-parser.js';
import { IPSET_SAVE } from './fixtures.js';

describe('felix/ipsets members and model', () => {
  it('prints IPv6 the way the kernel does (forms checked against ipset save)', () => {
    const cases: [string, string][] = [
      ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
      ['::1.2.3.4', '::1.2.3.4'],
      ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:DB8::', '2001:db8::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['0:0:0:0:0:0:0:2', '::2'],
      ['fd00:0065:0000::0001', 'fd00:65::1'],
    ];
    for (const [input, want] of cases) assert.equal(canonicalAddress(input, 'inet6'), want, input);
  });

  it('clears host bits and prints full-length prefixes bare', () => {
    assert.deepEqual(canonicalNets('10.3.0.7/24', 'inet'), ['10.3.0.0/24']);
    assert.deepEqual(canonicalNets('10.2.0.1/32', 'inet'), ['10.2.0.1']);
    assert.deepEqual(canonicalNets('10.2.0.1', 'inet'), ['10.2.0.1']);
    assert.deepEqual(canonicalNets('fe80::1:2/64', 'inet6'), ['fe80::/64']);
    assert.deepEqual(canonicalNets('fd00::1/128', 'inet6'), ['fd00::1']);
    assert.deepEqual(canonicalNets('255.255.255.255/1', 'inet'), ['128.0.0.0/1']);
  });

  it('splits /0, which hash:net cannot store, into two halves', () => {
    assert.deepEqual(canonicalNets('0.0.0.0/0', 'inet'), ['0.0.0.0/1', '128.0.0.0/1']);
    assert.deepEqual(canonicalNets('::/0', 'inet6'), ['::/1', '8000::/1']);
  });

  it('canonicalises ,port members with tcp as the default protocol', () => {
    assert.deepEqual(canonicalMember('hash:ip,port', 'inet', '10.0.0.1,80'), ['10.0.0.1,tcp:80']);
    assert.deepEqual(canonicalMember('hash:net,port', 'inet', '10.65.1.9/24,UDP:53'), ['10.65.1.0/24,udp:53']);
  });

  it('refuses members that do not fit the set', () => {
    assert.throws(() => canonicalMember('hash:ip', 'inet', '10.0.0.0/24'), MemberError);
    assert.throws(() => canonicalMember('hash:ip', 'inet', 'fd00::1'), MemberError);
    assert.throws(() => canonicalMember('hash:ip', 'inet6', '10.0.0.1'), MemberError);
    assert.throws(() => canonicalMember('hash:net', 'inet', '10.0.0.0/33'), MemberError);
    assert.throws(() => canonicalMember('hash:net', 'inet', 'banana'), MemberError);
    assert.throws(() => canonicalMember('hash:net,port', 'inet', '10.0.0.0/8'), MemberError);
    assert.throws(() => canonicalMember('hash:net,port', 'inet', '10.0.0.0/8,tcp:80-90'), MemberError);
    assert.throws(() => canonicalMember('hash:net,port', 'inet', '10.0.0.0/8,icmp:8'), MemberError);
    assert.throws(() => canonicalMember('list:set', 'inet', 'has space'), MemberError);
  });

  it('de-duplicates members that mean the same', () => {
    assert.deepEqual([...canonicalMembers('hash:net', 'inet', ['10.0.0.1/32', '10.0.0.1', '10.1.0.5/16', '10.1.0.0/16'])], ['10.0.0.1', '10.1.0.0/16']);
  });

  it('names sets tabby-..., hashing long names down to 31 characters', () => {
    assert.equal(tabbySetName('s-web'), 'tabby-s-web');
    const long = tabbySetName('s-namespace/very-long-selector-expression');
    assert.equal(long.length, MAX_SET_NAME);
    assert.equal(long, tabbySetName('s-namespace/very-long-selector-expression'));
  });

  it('validates specs', () => {
    assert.throws(() => canonicalSet({ name: 'other', type: 'hash:ip', members: [] }), /not owned/);
    assert.throws(() => canonicalSet({ name: 'tabby-' + 'x'.repeat(30), type: 'hash:ip', members: [] }), /invalid ipset name/);
    assert.throws(() => canonicalSet({ name: 'tabby-x', type: 'hash:ip', maxElem: 1, members: ['10.0.0.1', '10.0.0.2'] }), /exceed maxElem/);
    const s = canonicalSet({ name: 'tabby-x', type: 'hash:net', members: ['10.0.0.0/8'] });
    assert.deepEqual(s.meta, { type: 'hash:net', family: 'inet', maxElem: DEFAULT_MAXELEM });
  });

  it('renders create lines (golden)', () => {
    assert.equal(renderCreate('tabby-a', { type: 'hash:ip', family: 'inet', maxElem: 1024 }), 'create tabby-a hash:ip family inet maxelem 1024');
    assert.equal(renderCreate('tabby-l', { type: 'list:set', family: null, maxElem: 8 }), 'create tabby-l list:set size 8');
  });

  it('parses real ipset save output, keeping only tabby sets', () => {
    const sets = parseIpsetSave(IPSET_SAVE);
    assert.deepEqual([...sets.keys()], ['tabby-s-a', 'tabby-n-pool', 'tabby-np-web', 'tabby-6-pool', 'tabby-l-all']);
    assert.deepEqual(sets.get('tabby-s-a')!.meta, { type: 'hash:ip', family: 'inet', maxElem: 1048576 });
    assert.deepEqual(sets.get('tabby-np-web')!.meta, { type: 'hash:net,port', family: 'inet', maxElem: 65536 });
    assert.deepEqual(sets.get('tabby-l-all')!.meta, { type: 'list:set', family: null, maxElem: 8 });
    assert.deepEqual([...sets.get('tabby-l-all')!.members], ['tabby-s-a', 'tabby-n-pool']);
  });

  it('what tabby would write equals what the kernel printed back (canonical round trip)', () => {
    const sets = parseIpsetSave(IPSET_SAVE);
    // The members as they were written into the kernel for the fixture.
    const written: Record<string, string[]> = {
      'tabby-s-a': ['10.65.0.1', '10.65.0.2'],
      'tabby-n-pool': ['10.65.0.0/16', '172.31.0.7/32', '0.0.0.0/1'],
      'tabby-np-web': ['10.65.1.0/24,tcp:80', '10.65.2.1,udp:53'],
      'tabby-6-pool': ['fd00:65::/48', 'fd00:65:1::1', '::ffff:10.0.0.1'],
    };
    for (const [name, members] of Object.entries(written)) {
      const s = sets.get(name)!;
      assert.deepEqual([...canonicalMembers(s.meta.type, s.meta.family!, members)].sort(), [...s.members].sort(), name);
    }
  });

  it('refuses garbage in ipset save output', () => {
    assert.throws(() => parseIpsetSave('add tabby-x 10.0.0.1'), /before its create/);
    assert.throws(() => parseIpsetSave('flush tabby-x'), /unexpected/);
  });
});
