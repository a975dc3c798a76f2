/**
 * BgpRib behaviour over time: change batches, multipath, next-hop
 * resolution, graceful restart, Adj-RIB-Out replay and grouping, policies,
 * counters, max-prefix, reference counting.
 */
import assert from 'node:assert/strict';
import { bgpConfigSchema } from '../../../../src/bgp/config.js';
import { compileFilters } from '../../../../src/bgp/policy/filter.js';
import { routeViews } from '../../../../src/bgp/rib/view.js';
import { Ipv4Batch } from '../../../../src/bgp/rib/nlri.js';
import { pa } from './helpers.js';
import { LOCAL_AS, newRib, Receiver, upPeer } from './rib-helpers.js';

const policies = compileFilters(
  bgpConfigSchema.parse({
    asNumber: LOCAL_AS,
    routerId: '10.0.0.100',
    filters: {
      only10: { terms: [{ match: { prefix: ['10.0.0.0/8 le 32'] }, action: 'accept' }], default: 'reject' },
      prefer: { terms: [{ match: { prefix: ['10.1.0.0/16'] }, action: 'accept', set: { localPref: 500, addCommunities: ['65000:7'] } }], default: 'accept' },
      prependOut: { terms: [{ match: {}, action: 'accept', set: { prepend: 2, med: 9 } }] },
    },
  }).filters,
);

describe('bgp/rib BgpRib', () => {
  it('hands listeners one array of changed prefixes per flush, deduplicated', () => {
    const rib = newRib();
    const e = upPeer(rib, { address: '172.16.0.1', asNumber: 65001 });
    const seen: string[][] = [];
    const off = rib.onChange((pids) => seen.push([...pids].map((p) => rib.prefixes.text(p)).sort()));
    rib.announce(e, pa([65001]), ['10.0.0.0/24', '10.0.1.0/24']);
    rib.announce(e, pa([65001, 2]), ['10.0.0.0/24']);
    assert.equal(rib.pendingChanges, 2);
    assert.equal(rib.flush(), 2);
    rib.announce(e, pa([65001, 2]), ['10.0.0.0/24']); // same attributes: no change
    assert.equal(rib.flush(), 0);
    rib.withdraw(e, ['10.0.1.0/24', '10.9.9.0/24']);
    rib.flush();
    off();
    rib.withdraw(e, ['10.0.0.0/24']);
    rib.flush();
    assert.deepEqual(seen, [['10.0.0.0/24', '10.0.1.0/24'], ['10.0.1.0/24']]);
  });

  it('a throwing listener does not stop the other listeners or the export; its error surfaces after', () => {
    const rib = newRib();
    const e = upPeer(rib, { address: '172.16.0.1', asNumber: 65001 });
    const out = new Receiver(rib, upPeer(rib, { address: '172.16.0.3', asNumber: 65003 }));
    let second = 0;
    rib.onChange(() => {
      throw new Error('fib down');
    });
    rib.onChange((pids) => (second += pids.length));
    rib.announce(e, pa([65001]), ['10.0.0.0/24']);
    assert.throws(() => rib.flush(), /fib down/);
    assert.equal(second, 1);
    assert.equal(rib.pendingChanges, 0);
    out.apply(rib.takeOutbound(out.peer));
    assert.deepEqual(out.prefixes, ['10.0.0.0/24']);
  });

  it('switches the best path when a better one arrives and back when it goes', () => {
    const rib = newRib();
    const a = upPeer(rib, { address: '172.16.0.1', asNumber: 65001 });
    const b = upPeer(rib, { address: '172.16.0.2', asNumber: 65002 });
    const out = new Receiver(rib, upPeer(rib, { address: '172.16.0.3', asNumber: 65003 }));
    const P = '10.0.0.0/24';
    rib.announce(a, pa([65001, 1, 2]), [P]);
    out.sync();
    assert.deepEqual(out.routes.get(P)!.asPath[0]!.asns, [LOCAL_AS, 65001, 1, 2]);
    rib.announce(b, pa([65002]), [P]);
    out.sync();
    const pid = rib.prefixes.findText(P);
    assert.equal(rib.best(pid)!.peer, b);
    assert.equal(rib.candidates(pid)[0]!.reason, 'as-path-length');
    assert.deepEqual(out.routes.get(P)!.asPath[0]!.asns, [LOCAL_AS, 65002]);
    rib.peerDown(b);
    out.sync();
    assert.equal(rib.best(pid)!.peer, a);
    assert.deepEqual(out.routes.get(P)!.asPath[0]!.asns, [LOCAL_AS, 65001, 1, 2]);
    rib.withdraw(a, [P]);
    out.sync();
    assert.equal(out.routes.size, 0);
    assert.equal(rib.loc.size, 0);
  });

  it('multipath sets: changes of the set are reported even when the best route stays', () => {
    const rib = newRib({ multipath: 4 });
    const a = upPeer(rib, { address: '172.16.0.1', asNumber: 65001, routerId: '1.1.1.1' });
    const b = upPeer(rib, { address: '172.16.0.2', asNumber: 65001, routerId: '2.2.2.2' });
    const c = upPeer(rib, { address: '172.16.0.3', asNumber: 65001, routerId: '3.3.3.3' });
    const P = '10.0.0.0/24';
    let batches = 0;
    rib.onChange(() => batches++);
    rib.announce(a, pa([65001, 5], { nextHop: '172.16.0.1' }), [P]);
    rib.flush();
    rib.announce(b, pa([65001, 6], { nextHop: '172.16.0.2' }), [P]);
    rib.announce(c, pa([65001, 7, 8], { nextHop: '172.16.0.3' }), [P]); // longer: not in the set
    rib.flush();
    const pid = rib.prefixes.findText(P);
    assert.equal(batches, 2, 'adding b changed the set though a stays best');
    assert.deepEqual(rib.multipath(pid).map((r) => r.attrs.nextHop), ['172.16.0.1', '172.16.0.2']);
    rib.withdraw(b, [P]);
    rib.flush();
    assert.equal(batches, 3);
    assert.deepEqual(rib.multipath(pid).map((r) => r.peer), [a]);
    rib.withdraw(c, [P]);
    assert.equal(rib.flush(), 0, 'c was never in the set');
    rib.announce(b, pa([65001, 6], { nextHop: '172.16.0.2' }), [P]);
    rib.flush();
    rib.withdraw(b, [P]); // back to a single candidate: the set shrinks from 2 to 1
    assert.equal(rib.flush(), 1);
    assert.equal(rib.multipath(pid).length, 1);
  });

  it('routes whose next hop does not resolve are not eligible; nextHopsChanged re-runs the decision', () => {
    const unreachable = new Set(['10.9.9.9']);
    const rib = newRib({ resolveNextHop: (nh) => (unreachable.has(nh) ? undefined : nh === '10.8.8.8' ? 10 : 1) });
    const n1 = upPeer(rib, { address: '10.0.2.1', asNumber: LOCAL_AS, routerId: '1.1.1.1' });
    const n2 = upPeer(rib, { address: '10.0.2.2', asNumber: LOCAL_AS, routerId: '2.2.2.2' });
    rib.announce(n1, pa([65009], { nextHop: '10.9.9.9' }), ['10.1.0.0/16', '10.2.0.0/16']);
    rib.announce(n2, pa([65009], { nextHop: '10.8.8.8' }), ['10.2.0.0/16']);
    rib.flush();
    const p1 = rib.prefixes.findText('10.1.0.0/16');
    const p2 = rib.prefixes.findText('10.2.0.0/16');
    assert.equal(rib.best(p1), undefined);
    assert.equal(rib.best(p2)!.peer, n2);
    unreachable.clear();
    rib.nextHopsChanged();
    assert.equal(rib.flush(), 2);
    assert.equal(rib.best(p1)!.peer, n1);
    assert.equal(rib.best(p2)!.peer, n1, 'IGP cost 1 beats 10');
    assert.equal(rib.candidates(p2)[0]!.reason, 'igp-cost');
  });

  it('graceful restart: routes kept stale, refreshed by re-announcement, the rest swept at End-of-RIB', () => {
    const rib = newRib();
    const e = upPeer(rib, { address: '172.16.0.1', asNumber: 65001 });
    const out = new Receiver(rib, upPeer(rib, { address: '172.16.0.3', asNumber: 65003 }));
    rib.announce(e, pa([65001]), ['10.0.0.0/24', '10.0.1.0/24']);
    rib.announce(e, pa([65001], { nextHop: '2001:db8::1' }), ['2001:db8:1::/48']);
    out.sync();
    rib.peerDown(e, { gracefulRestart: true });
    assert.equal(rib.flush(), 0, 'nothing changes while the peer restarts');
    assert.equal(rib.counters(e).accepted, 3);
    assert.ok(routeViews(rib, { prefix: '10.0.1.0/24' })[0]!.stale);
    rib.peerUp(e, { routerId: '172.16.0.1', nextHopV4: '10.0.0.100' });
    rib.announce(e, pa([65001, 7]), ['10.0.0.0/24']);
    out.sync();
    assert.equal(routeViews(rib, { prefix: '10.0.0.0/24' })[0]!.stale, undefined);
    rib.endOfRib(e, 4);
    out.sync();
    assert.deepEqual(out.prefixes, ['10.0.0.0/24', '2001:db8:1::/48']);
    rib.staleTimerExpired(e);
    out.sync();
    assert.deepEqual(out.prefixes, ['10.0.0.0/24']);
  });

  it('a session coming up gets the whole table, grouped by attribute set, then End-of-RIB', () => {
    const rib = newRib();
    const e = upPeer(rib, { address: '172.16.0.1', asNumber: 65001 });
    const x = pa([65001, 10]);
    const y = pa([65001, 20], { communities: [1] });
    rib.announce(e, x, ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24', '10.0.4.0/24']);
    rib.announce(e, y, ['10.1.0.0/24', '10.1.1.0/24', '10.1.2.0/24']);
    rib.flush();
    const late = upPeer(rib, { address: '172.16.0.3', asNumber: 65003 });
    const rx = new Receiver(rib, late);
    const b = rib.takeOutbound(late);
    assert.deepEqual(b.groups.map((g) => g.pids.length).sort(), [3, 5]);
    assert.deepEqual(b.endOfRib, [4, 6]);
    rx.apply(b);
    assert.equal(rx.routes.size, 8);
    // Down and up again: replayed in chunks; End-of-RIB only once it is all out.
    rib.peerDown(late);
    rib.peerUp(late, { routerId: '172.16.0.3', nextHopV4: '10.0.0.100' });
    const rx2 = new Receiver(rib, late);
    let n = 0;
    while (!late.adjOut.idle) {
      const c = rib.takeOutbound(late, 3);
      rx2.apply(c);
      if (++n < 3) assert.deepEqual(c.endOfRib, []);
    }
    assert.equal(n, 3);
    assert.deepEqual(rx2.eor, [4, 6]);
    assert.equal(rx2.routes.size, 8);
    assert.deepEqual(rib.counters(late), { received: 0, accepted: 0, advertised: 8 });
  });

  it('pending output coalesces: flaps between two takes send nothing, the newest route replaces a queued one', () => {
    const rib = newRib();
    const e = upPeer(rib, { address: '172.16.0.1', asNumber: 65001 });
    const out = new Receiver(rib, upPeer(rib, { address: '172.16.0.3', asNumber: 65003 }));
    out.sync();
    rib.announce(e, pa([65001]), ['10.0.0.0/24']);
    out.sync();
    const before = out.batches;
    rib.announce(e, pa([65001, 2]), ['10.0.0.0/24']);
    rib.flush();
    rib.announce(e, pa([65001]), ['10.0.0.0/24']);
    rib.flush();
    let b = rib.takeOutbound(out.peer);
    assert.equal(b.groups.length + b.withdrawnV4.length, 0, 'back to what was advertised');
    rib.announce(e, pa([65001, 3]), ['10.0.5.0/24']);
    rib.flush();
    rib.withdraw(e, ['10.0.5.0/24']);
    rib.flush();
    b = rib.takeOutbound(out.peer);
    assert.equal(b.groups.length + b.withdrawnV4.length, 0, 'never advertised: nothing to withdraw');
    rib.announce(e, pa([65001, 4]), ['10.0.0.0/24']);
    rib.flush();
    rib.announce(e, pa([65001, 5]), ['10.0.0.0/24']);
    out.sync();
    assert.deepEqual(out.routes.get('10.0.0.0/24')!.asPath[0]!.asns, [LOCAL_AS, 65001, 5]);
    assert.ok(out.batches > before);
  });

  it('import policy: set actions affect the decision; soft reconfiguration re-evaluates without ROUTE-REFRESH', () => {
    const rib = newRib();
    const soft = upPeer(rib, { address: '10.0.2.1', asNumber: LOCAL_AS, routerId: '9.9.9.9', softReconfigInbound: true, importPolicy: policies('prefer') });
    const other = upPeer(rib, { address: '10.0.2.2', asNumber: LOCAL_AS, routerId: '1.1.1.1' });
    rib.announce(soft, pa([65009]), ['10.1.0.0/16', '20.0.0.0/8']);
    rib.announce(other, pa([65009]), ['10.1.0.0/16', '20.0.0.0/8']);
    rib.flush();
    const p = rib.prefixes.findText('10.1.0.0/16');
    const q = rib.prefixes.findText('20.0.0.0/8');
    assert.equal(rib.best(p)!.peer, soft);
    assert.equal(rib.best(p)!.attrs.localPref, 500);
    assert.deepEqual(rib.best(p)!.attrs.communities, [((65000 << 16) | 7) >>> 0]);
    assert.equal(rib.best(q)!.peer, other, 'router id');
    assert.equal(rib.setImportPolicy(soft, policies('only10')), true);
    rib.flush();
    assert.equal(rib.best(p)!.peer, other, 'local pref 500 gone');
    assert.equal(rib.counters(soft).accepted, 1);
    assert.equal(rib.counters(soft).received, 2);
    assert.equal(rib.setImportPolicy(soft, policies('all')), true);
    rib.flush();
    assert.equal(rib.counters(soft).accepted, 2);
    assert.equal(rib.setImportPolicy(other, policies('none')), false, 'no unfiltered copy: ROUTE-REFRESH needed');
    rib.announce(other, pa([65009]), ['20.0.0.0/8']);
    rib.flush();
    assert.deepEqual(rib.counters(other), { received: 2, accepted: 1, advertised: 0 });
  });

  it('export policy: per-prefix filter, prepend and MED on eBGP; changing it re-exports', () => {
    const rib = newRib();
    const e = upPeer(rib, { address: '172.16.0.1', asNumber: 65001 });
    const dest = upPeer(rib, { address: '172.16.0.3', asNumber: 65003, exportPolicy: policies('only10') });
    const out = new Receiver(rib, dest);
    rib.announce(e, pa([65001], { med: 3 }), ['10.0.0.0/24', '20.0.0.0/24']);
    out.sync();
    assert.deepEqual(out.prefixes, ['10.0.0.0/24']);
    rib.setExportPolicy(dest, policies('prependOut'));
    out.sync();
    assert.deepEqual(out.prefixes, ['10.0.0.0/24', '20.0.0.0/24']);
    const a = out.routes.get('20.0.0.0/24')!;
    assert.deepEqual(a.asPath[0]!.asns, [LOCAL_AS, LOCAL_AS, LOCAL_AS, 65001]);
    assert.equal(a.med, 9);
    rib.setExportPolicy(dest, policies('none'));
    out.sync();
    assert.equal(out.routes.size, 0);
    assert.equal(rib.counters(dest).advertised, 0);
  });

  it('max-prefix: the hook fires once when received goes over the limit, again after falling back', () => {
    const calls: [string, number, number][] = [];
    const rib = newRib({ onMaxPrefixes: (p, n, l) => calls.push([p.address, n, l]) });
    const e = upPeer(rib, { address: '172.16.0.1', asNumber: 65001, maxPrefixes: 3, importPolicy: policies('only10') });
    rib.announce(e, pa([65001]), ['10.0.0.0/24', '10.0.1.0/24', '20.0.0.0/24']);
    assert.equal(calls.length, 0);
    rib.announce(e, pa([65001]), ['10.0.2.0/24', '10.0.3.0/24']);
    rib.announce(e, pa([65001]), ['10.0.4.0/24']);
    assert.deepEqual(calls, [['172.16.0.1', 5, 3]], 'rejected routes count as received');
    rib.withdraw(e, ['10.0.2.0/24', '10.0.3.0/24', '10.0.4.0/24']);
    rib.announce(e, pa([65001]), ['10.0.2.0/24', '10.0.3.0/24']);
    assert.equal(calls.length, 2);
  });

  it('the IPv4 batch path and the text path agree', () => {
    const rib = newRib();
    const e = upPeer(rib, { address: '172.16.0.1', asNumber: 65001 });
    const b = new Ipv4Batch();
    b.push(0x0a000000, 24);
    b.push(0x0a000100, 24);
    rib.announceV4(e, pa([65001]), b);
    rib.flush();
    assert.ok(rib.best(rib.prefixes.findText('10.0.1.0/24')));
    b.clear();
    b.push(0x0a000100, 24);
    rib.withdrawV4(e, b);
    rib.flush();
    assert.equal(rib.prefixes.findText('10.0.1.0/24'), -1);
    assert.equal(rib.counters(e).accepted, 1);
  });

  it('every attribute set and prefix id is freed after everything is withdrawn', () => {
    const rib = newRib({ multipath: 2 });
    const soft = upPeer(rib, { address: '172.16.0.1', asNumber: 65001, softReconfigInbound: true, importPolicy: policies('prefer') });
    const e2 = upPeer(rib, { address: '172.16.0.2', asNumber: 65001 });
    const ibgp = new Receiver(rib, upPeer(rib, { address: '10.0.2.1', asNumber: LOCAL_AS }));
    const ebgp = new Receiver(rib, upPeer(rib, { address: '172.16.0.9', asNumber: 65009, exportPolicy: policies('prependOut') }));
    for (let i = 0; i < 50; i++) {
      const prefixes = [`10.1.${i}.0/24`, `10.2.${i}.0/24`, `2001:db8:${i}::/48`];
      rib.announce(soft, pa([65001, i % 7], { communities: [i % 3] }), prefixes);
      rib.announce(e2, pa([65001, i % 5]), prefixes.slice(1));
      rib.originate(`10.3.${i}.0/24`);
    }
    rib.flush();
    ibgp.apply(rib.takeOutbound(ibgp.peer));
    ebgp.apply(rib.takeOutbound(ebgp.peer));
    assert.ok(rib.attrs.size > 10);
    assert.equal(ebgp.routes.size, 200);
    rib.peerDown(soft);
    for (let i = 0; i < 50; i++) rib.withdrawOriginated(`10.3.${i}.0/24`);
    rib.removePeer(e2);
    rib.flush();
    ibgp.apply(rib.takeOutbound(ibgp.peer));
    ebgp.apply(rib.takeOutbound(ebgp.peer));
    assert.equal(ebgp.routes.size, 0);
    rib.flush(); // collect what the last take released
    assert.equal(rib.attrs.size, 0, 'attribute sets leaked');
    assert.equal(rib.prefixes.size, 0, 'prefix ids leaked');
  });

  it('routeViews renders the contract fields', () => {
    const rib = newRib();
    const e = upPeer(rib, { address: '172.16.0.1', asNumber: 65001 });
    rib.announce(e, pa([{ type: 'sequence', asns: [65001, 7] }, { type: 'set', asns: [8, 9] }], { origin: 2, med: 4, communities: [((65001 << 16) | 5) >>> 0], largeCommunities: [{ globalAdmin: 1, localData1: 2, localData2: 3 }] }), ['10.0.0.0/24']);
    rib.originate('10.5.0.0/16');
    rib.flush();
    const rows = routeViews(rib);
    assert.equal(rows.length, 2);
    assert.deepEqual(routeViews(rib, { prefix: '10.0.0.0/24' }), [
      {
        prefix: '10.0.0.0/24',
        nextHop: '10.0.0.1',
        asPath: [65001, 7, [8, 9]],
        origin: 'incomplete',
        med: 4,
        localPref: null,
        communities: ['65001:5'],
        largeCommunities: ['1:2:3'],
        peer: '172.16.0.1',
        best: true,
        reason: 'only-path',
      },
    ]);
    assert.equal(routeViews(rib, { prefix: '10.5.0.0/16' })[0]!.peer, 'local');
    assert.deepEqual(routeViews(rib, { prefix: '10.6.0.0/16' }), []);
  });
});
