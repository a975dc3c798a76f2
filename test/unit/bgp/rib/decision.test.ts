import assert from 'node:assert/strict';
import { addressSortKey, decide, type Candidate, type DecisionOptions } from '../../../../src/bgp/rib/decision.js';
import { cand, pa, u32 } from './helpers.js';

const OPTS: DecisionOptions = { localAs: 65000, defaultLocalPref: 100, alwaysCompareMed: false, multipath: 1 };

function winner(cands: Candidate[], opts: Partial<DecisionOptions> = {}) {
  const d = decide(cands, { ...OPTS, ...opts });
  assert.ok(d);
  return d;
}

/** The decision must not depend on the order of the candidates. */
function decideAllOrders(cands: Candidate[], opts: Partial<DecisionOptions> = {}): { best: Candidate; reason: string } {
  const first = winner(cands, opts);
  const best = cands[first.best]!;
  const perms = (xs: Candidate[]): Candidate[][] =>
    xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
  for (const p of perms(cands)) {
    const d = winner(p, opts);
    assert.equal(p[d.best], best, 'same winner whatever the order');
    assert.equal(d.reason, first.reason);
  }
  return { best, reason: first.reason };
}

describe('bgp/rib decision process (RFC 4271 §9.1.2.2)', () => {
  it('a single candidate wins as the only path', () => {
    const d = winner([cand(pa([65001]))]);
    assert.deepEqual(d, { best: 0, reason: 'only-path', multipath: [0] });
    assert.equal(decide([], OPTS), undefined);
  });

  const cases: { name: string; a: Candidate; b: Candidate; reason: string; opts?: Partial<DecisionOptions> }[] = [
    {
      name: 'highest LOCAL_PREF wins even over a shorter path',
      a: cand(pa([65001, 65002, 65003], { localPref: 200 }), { peer: '10.0.0.9' }),
      b: cand(pa([65001], { localPref: 150 }), { peer: '10.0.0.1' }),
      reason: 'local-pref',
    },
    {
      name: 'a missing LOCAL_PREF counts as defaultLocalPref (100)',
      a: cand(pa([65001, 65002]), { peer: '10.0.0.9' }),
      b: cand(pa([65001], { localPref: 99 }), { peer: '10.0.0.1' }),
      reason: 'local-pref',
    },
    {
      name: 'locally originated beats learned at equal LOCAL_PREF',
      a: cand(pa([], { nextHop: '' }), { local: true, ebgp: false, peer: '10.9.9.9' }),
      b: cand(pa([65001]), { peer: '10.0.0.1' }),
      reason: 'local-origin',
    },
    {
      name: 'shorter AS_PATH',
      a: cand(pa([65001, 65005]), { peer: '10.0.0.9' }),
      b: cand(pa([65002, 65005, 65006]), { peer: '10.0.0.1' }),
      reason: 'as-path-length',
    },
    {
      name: 'an AS_SET counts as one AS',
      a: cand(pa([{ type: 'sequence', asns: [65001] }, { type: 'set', asns: [1, 2, 3, 4] }]), { peer: '10.0.0.9' }),
      b: cand(pa([65002, 65005, 65006]), { peer: '10.0.0.1' }),
      reason: 'as-path-length',
    },
    {
      name: 'confederation segments count zero',
      a: cand(pa([{ type: 'confed-sequence', asns: [64512, 64513, 64514] }, { type: 'sequence', asns: [65001] }]), { peer: '10.0.0.9' }),
      b: cand(pa([65002, 65005]), { peer: '10.0.0.1' }),
      reason: 'as-path-length',
    },
    {
      name: 'lowest ORIGIN',
      a: cand(pa([65001], { origin: 0 }), { peer: '10.0.0.9' }),
      b: cand(pa([65002], { origin: 2 }), { peer: '10.0.0.1' }),
      reason: 'origin',
    },
    {
      name: 'lowest MED from the same neighbouring AS',
      a: cand(pa([65001, 1], { med: 10 }), { peer: '10.0.0.9' }),
      b: cand(pa([65001, 2], { med: 20 }), { peer: '10.0.0.1' }),
      reason: 'med',
    },
    {
      name: 'a missing MED counts as 0 (lowest)',
      a: cand(pa([65001, 1]), { peer: '10.0.0.9' }),
      b: cand(pa([65001, 2], { med: 1 }), { peer: '10.0.0.1' }),
      reason: 'med',
    },
    {
      name: 'MED across different neighbouring ASes only with alwaysCompareMed',
      a: cand(pa([65001, 1], { med: 10 }), { peer: '10.0.0.9' }),
      b: cand(pa([65002, 2], { med: 20 }), { peer: '10.0.0.1' }),
      reason: 'med',
      opts: { alwaysCompareMed: true },
    },
    {
      name: 'eBGP over iBGP',
      a: cand(pa([65001]), { peer: '10.0.0.9', ebgp: true }),
      b: cand(pa([65001]), { peer: '10.0.0.1', ebgp: false }),
      reason: 'ebgp-over-ibgp',
    },
    {
      name: 'lowest IGP cost to the next hop',
      a: cand(pa([65001], { nextHop: '10.1.1.1' }), { peer: '10.0.0.9', ebgp: false, igpCost: 5 }),
      b: cand(pa([65001], { nextHop: '10.1.1.2' }), { peer: '10.0.0.1', ebgp: false, igpCost: 10 }),
      reason: 'igp-cost',
    },
    {
      name: 'lowest router id',
      a: cand(pa([65001]), { peer: '10.0.0.9', routerId: '1.1.1.1' }),
      b: cand(pa([65002]), { peer: '10.0.0.1', routerId: '2.2.2.2' }),
      reason: 'router-id',
    },
    {
      name: 'ORIGINATOR_ID replaces the router id (RFC 4456 §9)',
      a: cand(pa([65001], { originatorId: u32('1.0.0.1') }), { peer: '10.0.0.9', routerId: '9.9.9.9', ebgp: false }),
      b: cand(pa([65001]), { peer: '10.0.0.1', routerId: '5.5.5.5', ebgp: false }),
      reason: 'router-id',
    },
    {
      name: 'shorter CLUSTER_LIST',
      a: cand(pa([65001], { originatorId: u32('3.3.3.3'), clusterList: [1] }), { peer: '10.0.0.9', ebgp: false }),
      b: cand(pa([65001], { originatorId: u32('3.3.3.3'), clusterList: [1, 2] }), { peer: '10.0.0.1', ebgp: false }),
      reason: 'cluster-list-length',
    },
    {
      name: 'lowest peer address',
      a: cand(pa([65001]), { peer: '10.0.0.2', routerId: '7.7.7.7' }),
      b: cand(pa([65001]), { peer: '10.0.0.10', routerId: '7.7.7.7' }),
      reason: 'peer-address',
    },
  ];
  for (const c of cases) {
    it(`${c.name} (reason ${c.reason})`, () => {
      const r = decideAllOrders([c.a, c.b], c.opts);
      assert.equal(r.best, c.a);
      assert.equal(r.reason, c.reason);
    });
  }

  it('MED is not compared between different neighbouring ASes by default', () => {
    // Same up to MED; different neighbour AS, so MED is skipped and router id decides.
    const a = cand(pa([65001, 1], { med: 50 }), { peer: '10.0.0.9', routerId: '1.1.1.1' });
    const b = cand(pa([65002, 2], { med: 0 }), { peer: '10.0.0.1', routerId: '2.2.2.2' });
    const r = decideAllOrders([a, b]);
    assert.equal(r.best, a);
    assert.equal(r.reason, 'router-id');
  });

  it('MED elimination is per neighbouring AS, so the outcome is order independent', () => {
    // The classic non-transitive trio: pairwise comparison would cycle.
    const a = cand(pa([65001, 9], { med: 10 }), { peer: '10.0.0.3', routerId: '3.3.3.3' });
    const b = cand(pa([65001, 9], { med: 5 }), { peer: '10.0.0.2', routerId: '2.2.2.2' });
    const c = cand(pa([65002, 9], { med: 0 }), { peer: '10.0.0.1', routerId: '4.4.4.4' });
    // a loses to b (same AS, higher MED); b vs c decided by router id -> b.
    const r = decideAllOrders([a, b, c]);
    assert.equal(r.best, b);
    assert.equal(r.reason, 'router-id');
  });

  it('a path starting with an AS_SET has the local AS as neighbour for MED (RFC 4271 §9.1.2.2 c)', () => {
    const c = cand(pa([{ type: 'set', asns: [1] }], { med: 1 }), { peer: '10.0.0.9', ebgp: false });
    const d = cand(pa([65000], { med: 5 }), { peer: '10.0.0.1', ebgp: false });
    // c starts with an AS_SET -> neighbour = local AS 65000, same as d's first AS: MED applies.
    const r2 = decideAllOrders([c, d]);
    assert.equal(r2.best, c);
    assert.equal(r2.reason, 'med');
  });

  it('ties go on to the next step', () => {
    // Equal LOCAL_PREF, path length, origin, MED, type, IGP cost: router id decides.
    const a = cand(pa([65001], { localPref: 100, med: 7 }), { peer: '10.0.0.9', routerId: '1.0.0.1' });
    const b = cand(pa([65001], { localPref: 100, med: 7 }), { peer: '10.0.0.1', routerId: '1.0.0.2' });
    assert.equal(decideAllOrders([a, b]).reason, 'router-id');
  });

  it('multipath: routes equal up to the IGP cost form the ECMP set, best first, capped', () => {
    const a = cand(pa([65001, 1]), { peer: '10.0.0.1', routerId: '1.1.1.3' });
    const b = cand(pa([65001, 2]), { peer: '10.0.0.2', routerId: '1.1.1.1' });
    const c = cand(pa([65001, 3]), { peer: '10.0.0.3', routerId: '1.1.1.2' });
    const longer = cand(pa([65001, 3, 4]), { peer: '10.0.0.4', routerId: '1.1.1.0' });
    const costly = cand(pa([65001, 5]), { peer: '10.0.0.5', routerId: '1.1.1.0', igpCost: 3 });
    const all = [a, b, c, longer, costly];
    const d = winner(all, { multipath: 8 });
    assert.equal(all[d.best], b);
    assert.deepEqual(d.multipath.map((i) => all[i]), [b, c, a]);
    const d2 = winner(all, { multipath: 2 });
    assert.deepEqual(d2.multipath.map((i) => all[i]), [b, c]);
    const d1 = winner(all, { multipath: 1 });
    assert.deepEqual(d1.multipath, [d1.best]);
  });

  it('multipath does not mix eBGP and iBGP routes', () => {
    const e = cand(pa([65001]), { peer: '10.0.0.1', ebgp: true });
    const i = cand(pa([65001]), { peer: '10.0.0.2', ebgp: false });
    const d = winner([e, i], { multipath: 4 });
    assert.deepEqual(d.multipath, [0]);
  });

  it('addressSortKey orders IPv4 numerically, before IPv6', () => {
    const keys = ['10.0.0.10', '10.0.0.2', '2001:db8::1', '::1', '9.255.255.255'].map((a) => [a, addressSortKey(a)] as const);
    keys.sort((x, y) => (x[1] < y[1] ? -1 : 1));
    assert.deepEqual(
      keys.map((k) => k[0]),
      ['9.255.255.255', '10.0.0.2', '10.0.0.10', '::1', '2001:db8::1'],
    );
  });
});
