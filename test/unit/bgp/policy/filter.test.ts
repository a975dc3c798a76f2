import assert from 'node:assert/strict';
import { bgpConfigSchema, parsePrefixMatch, type PrefixMatch } from '../../../../src/bgp/config.js';
import { parseConfigCommunity, parseConfigLargeCommunity, prependAs, SetActions } from '../../../../src/bgp/policy/actions.js';
import { ACCEPT_ALL, compileFilters, REJECT, REJECT_ALL } from '../../../../src/bgp/policy/filter.js';
import { PrefixSet } from '../../../../src/bgp/policy/prefix-set.js';
import { AttrTable, type PathAttrs } from '../../../../src/bgp/rib/attrs.js';
import { PrefixIndex } from '../../../../src/bgp/rib/prefix-index.js';
import { COMMUNITY_NO_EXPORT } from '../../../../src/bgp/wire/constants.js';

function pm(s: string): PrefixMatch {
  const p = parsePrefixMatch(s);
  if (typeof p === 'string') throw new Error(p);
  return p;
}

function set(...entries: string[]): PrefixSet {
  return new PrefixSet(entries.map(pm));
}

describe('bgp/policy PrefixSet', () => {
  it('exact entries match only that prefix', () => {
    const s = set('10.0.0.0/8');
    assert.ok(s.matchesText('10.0.0.0/8'));
    assert.ok(!s.matchesText('10.0.0.0/9'));
    assert.ok(!s.matchesText('10.0.0.0/7'));
    assert.ok(!s.matchesText('11.0.0.0/8'));
  });

  it('ge/le bounds are inclusive, and the covered prefix must be inside', () => {
    const s = set('10.0.0.0/8 ge 16 le 24');
    assert.ok(!s.matchesText('10.0.0.0/8'));
    assert.ok(!s.matchesText('10.1.0.0/15'));
    assert.ok(s.matchesText('10.1.0.0/16'));
    assert.ok(s.matchesText('10.255.255.0/24'));
    assert.ok(!s.matchesText('10.1.1.128/25'));
    assert.ok(!s.matchesText('11.1.0.0/16'));
    const le = set('192.168.0.0/16 le 20');
    assert.ok(le.matchesText('192.168.0.0/16'), 'le alone starts at the entry length');
    assert.ok(le.matchesText('192.168.240.0/20'));
    assert.ok(!le.matchesText('192.168.240.0/21'));
    const ge = set('172.16.0.0/12 ge 32');
    assert.ok(ge.matchesText('172.31.255.255/32'), 'ge alone ends at 32');
    assert.ok(!ge.matchesText('172.16.0.0/31'));
  });

  it('0.0.0.0/0 le 32 matches everything; several entries and lengths combine', () => {
    assert.ok(set('0.0.0.0/0 le 32').matchesText('1.2.3.4/32'));
    assert.ok(set('0.0.0.0/0').matchesText('0.0.0.0/0'));
    assert.ok(!set('0.0.0.0/0').matchesText('1.0.0.0/8'));
    const s = set('10.0.0.0/8 le 16', '10.1.0.0/16 ge 24 le 24', '192.0.0.0/3 ge 26 le 26');
    assert.ok(s.matchesText('10.1.2.0/24'));
    assert.ok(!s.matchesText('10.2.2.0/24'));
    assert.ok(s.matchesText('10.2.0.0/16'));
    assert.ok(s.matchesText('200.1.2.64/26'));
    assert.ok(!s.matchesText('100.1.2.64/26'));
  });

  it('IPv6 entries, including bit boundaries inside an octet', () => {
    const s = set('2001:db8::/32 ge 48 le 64', 'fd00:10::/29');
    assert.ok(s.matchesText('2001:db8:1::/48'));
    assert.ok(s.matchesText('2001:db8:1:2::/64'));
    assert.ok(!s.matchesText('2001:db8::/32'));
    assert.ok(!s.matchesText('2001:db9::/48'));
    assert.ok(s.matchesText('fd00:10::/29'));
    assert.ok(!s.matchesText('fd00:18::/29'), '0x18 differs from 0x10 in the 29th bit');
    assert.ok(!s.matchesText('10.0.0.0/8'), 'no IPv4 entries');
  });
});

describe('bgp/policy actions', () => {
  it('parses config communities, named ones too', () => {
    assert.equal(parseConfigCommunity('65000:1'), ((65000 << 16) | 1) >>> 0);
    assert.equal(parseConfigCommunity('no-export'), COMMUNITY_NO_EXPORT);
    assert.throws(() => parseConfigCommunity('70000:1'), RangeError);
    assert.deepEqual(parseConfigLargeCommunity('4200000000:1:2'), { globalAdmin: 4200000000, localData1: 1, localData2: 2 });
    assert.throws(() => parseConfigLargeCommunity('1:2'), RangeError);
  });

  it('applies local pref, MED, community removal then addition without duplicates', () => {
    const a = new SetActions({ localPref: 300, med: 7, removeCommunities: ['65000:1', '65000:2'], addCommunities: ['65000:2', '65000:3', '65000:3'], addLargeCommunities: ['1:2:3'] });
    const out = a.apply({ origin: 0, asPath: [], nextHop: '', communities: [((65000 << 16) | 1) >>> 0, 5], largeCommunities: [{ globalAdmin: 1, localData1: 2, localData2: 3 }] });
    assert.equal(out.localPref, 300);
    assert.equal(out.med, 7);
    assert.deepEqual(out.communities, [5, ((65000 << 16) | 2) >>> 0, ((65000 << 16) | 3) >>> 0]);
    assert.equal(out.largeCommunities!.length, 1);
    assert.equal(a.onlyPrepend, false);
    assert.equal(new SetActions({ prepend: 3 }).onlyPrepend, true);
  });

  it('prepends into the leading sequence or as a new one', () => {
    assert.deepEqual(prependAs([{ type: 'sequence', asns: [2, 3] }], 1, 2), [{ type: 'sequence', asns: [1, 1, 2, 3] }]);
    assert.deepEqual(prependAs([{ type: 'set', asns: [2, 3] }], 1, 1), [{ type: 'sequence', asns: [1] }, { type: 'set', asns: [2, 3] }]);
    assert.deepEqual(prependAs([], 1, 1), [{ type: 'sequence', asns: [1] }]);
  });
});

describe('bgp/policy compiled filters', () => {
  const cfg = bgpConfigSchema.parse({
    asNumber: 65000,
    routerId: '10.0.0.1',
    filters: {
      customers: {
        terms: [
          { match: { prefix: ['10.0.0.0/8 le 24'], community: ['65000:666'] }, action: 'reject' },
          { match: { prefix: ['10.0.0.0/8 le 24'] }, action: 'accept', set: { localPref: 200, addCommunities: ['65000:100'] } },
          { match: { asPath: '^65010( |$)' }, action: 'accept', set: { med: 50 } },
          { match: { asPathContains: [64999] }, action: 'reject' },
          { match: { origin: 'incomplete', family: 'ipv6-unicast' }, action: 'accept' },
          { match: { largeCommunity: ['65000:1:2'] }, action: 'accept', set: { prepend: 2 } },
        ],
        default: 'reject',
      },
      open: { terms: [{ match: { family: 'ipv4-unicast' }, action: 'reject' }], default: 'accept' },
    },
  });
  const policy = compileFilters(cfg.filters);
  const table = new AttrTable();
  const index = new PrefixIndex();
  const run = (name: string, prefix: string, a: Partial<PathAttrs>) => {
    const p = policy(name);
    const s = table.intern({ origin: 0, asPath: [{ type: 'sequence', asns: [65001] }], nextHop: '10.0.0.2', ...a });
    return p.decide(p.attrFlags(s), index, index.acquireText(prefix));
  };
  const C666 = parseConfigCommunity('65000:666');

  it('resolves all / none / names', () => {
    assert.equal(policy('all'), ACCEPT_ALL);
    assert.equal(policy('none'), REJECT_ALL);
    assert.equal(policy('customers').kind, 'filter');
    assert.throws(() => policy('missing'), RangeError);
  });

  it('the first matching term decides; its index selects the set actions', () => {
    assert.equal(run('customers', '10.1.0.0/16', { communities: [C666] }), REJECT);
    const t = run('customers', '10.1.0.0/16', {});
    assert.equal(t, 1);
    assert.equal(policy('customers').actions(t)!.localPref, 200);
    assert.equal(run('customers', '10.1.1.0/25', {}), REJECT, 'le 24 excludes /25 and nothing else matches');
  });

  it('AS-path regex runs over the space-separated path', () => {
    assert.equal(run('customers', '20.0.0.0/8', { asPath: [{ type: 'sequence', asns: [65010, 3] }] }), 2);
    assert.equal(run('customers', '20.0.0.0/8', { asPath: [{ type: 'sequence', asns: [65010] }] }), 2);
    assert.equal(run('customers', '20.0.0.0/8', { asPath: [{ type: 'sequence', asns: [650100] }] }), REJECT);
    assert.equal(run('customers', '20.0.0.0/8', { asPath: [{ type: 'sequence', asns: [1, 65010] }] }), REJECT);
  });

  it('asPathContains, origin + family, large communities, default', () => {
    assert.equal(run('customers', '20.0.0.0/8', { asPath: [{ type: 'sequence', asns: [1, 64999, 2] }] }), REJECT);
    assert.equal(run('customers', '2001:db8::/32', { origin: 2 }), 4);
    assert.equal(run('customers', '20.0.0.0/8', { origin: 2 }), REJECT, 'family condition fails for IPv4');
    const t = run('customers', '20.0.0.0/8', { largeCommunities: [{ globalAdmin: 65000, localData1: 1, localData2: 2 }] });
    assert.equal(t, 5);
    assert.equal(policy('customers').actions(t)!.prepend, 2);
    assert.equal(run('open', '2001:db8::/32', {}), policy('open').defaultAccepted, 'default accept, no actions');
    assert.equal(policy('open').actions(policy('open').defaultAccepted), undefined);
    assert.equal(run('open', '20.0.0.0/8', {}), REJECT);
  });

  it('attribute flags are computed per set, prefix conditions per prefix', () => {
    const p = policy('customers');
    const s = table.intern({ origin: 0, asPath: [{ type: 'sequence', asns: [65001] }], nextHop: '10.0.0.2', communities: [C666] });
    const flags = p.attrFlags(s);
    assert.deepEqual([...flags], [1, 1, 0, 0, 0, 0]);
    assert.equal(p.decide(flags, index, index.acquireText('10.9.0.0/16')), REJECT);
    assert.equal(p.decide(flags, index, index.acquireText('30.0.0.0/8')), REJECT);
  });
});
