/**
 * Import and export rules through the whole RIB: route reflection matrix
 * (RFC 4456), loop detection, enforce-first-AS, well-known communities,
 * attribute rewriting towards eBGP and iBGP peers.
 */
import assert from 'node:assert/strict';
import { checkImport, importChanges } from '../../../../src/bgp/rib/import-rules.js';
import { AttrTable } from '../../../../src/bgp/rib/attrs.js';
import { COMMUNITY_NO_ADVERTISE, COMMUNITY_NO_EXPORT, COMMUNITY_NO_EXPORT_SUBCONFED } from '../../../../src/bgp/wire/constants.js';
import { pa, u32 } from './helpers.js';
import { LOCAL_AS, newRib, Receiver, ROUTER_ID, upPeer } from './rib-helpers.js';

const P = '10.10.0.0/24';

function topology(opts: { clusterId?: string } = {}) {
  const rib = newRib(opts);
  const peers = {
    E: upPeer(rib, { address: '172.16.0.1', asNumber: 65001 }),
    E2: upPeer(rib, { address: '172.16.1.1', asNumber: 65002 }),
    C1: upPeer(rib, { address: '10.0.1.1', asNumber: LOCAL_AS, routeReflectorClient: true }),
    C2: upPeer(rib, { address: '10.0.1.2', asNumber: LOCAL_AS, routeReflectorClient: true }),
    N1: upPeer(rib, { address: '10.0.2.1', asNumber: LOCAL_AS }),
    N2: upPeer(rib, { address: '10.0.2.2', asNumber: LOCAL_AS }),
  };
  const rx = Object.fromEntries(Object.entries(peers).map(([k, p]) => [k, new Receiver(rib, p)])) as Record<keyof typeof peers, Receiver>;
  const syncAll = () => {
    rib.flush();
    for (const r of Object.values(rx)) r.apply(rib.takeOutbound(r.peer));
  };
  syncAll();
  return { rib, peers, rx, syncAll };
}

describe('bgp/rib export rules: route reflection matrix (RFC 4456 §6)', () => {
  const matrix: { from: 'E' | 'C1' | 'N1' | 'local'; to: string[] }[] = [
    { from: 'E', to: ['E2', 'C1', 'C2', 'N1', 'N2'] },
    { from: 'C1', to: ['E', 'E2', 'C2', 'N1', 'N2'] },
    { from: 'N1', to: ['E', 'E2', 'C1', 'C2'] },
    { from: 'local', to: ['E', 'E2', 'C1', 'C2', 'N1', 'N2'] },
  ];
  for (const m of matrix) {
    it(`a route from ${m.from} goes to ${m.to.join(', ')}`, () => {
      const t = topology();
      if (m.from === 'local') t.rib.originate(P);
      else {
        const src = t.peers[m.from];
        t.rib.announce(src, pa(src.ebgp ? [65001] : [65009], { nextHop: src.address }), [P]);
      }
      t.syncAll();
      const got = Object.entries(t.rx)
        .filter(([, r]) => r.routes.has(P))
        .map(([k]) => k)
        .sort();
      assert.deepEqual(got, m.to.slice().sort());
    });
  }

  it('without clients, iBGP-learned routes go to no iBGP peer (split horizon, RFC 4271 §9.2.1)', () => {
    const rib = newRib();
    const a = upPeer(rib, { address: '10.0.2.1', asNumber: LOCAL_AS });
    const b = new Receiver(rib, upPeer(rib, { address: '10.0.2.2', asNumber: LOCAL_AS }));
    const e = new Receiver(rib, upPeer(rib, { address: '172.16.1.1', asNumber: 65002 }));
    rib.announce(a, pa([65009]), [P]);
    b.sync();
    e.sync();
    assert.equal(b.routes.size, 0);
    assert.ok(e.routes.has(P));
  });

  it('reflected routes get ORIGINATOR_ID (source router id) and our CLUSTER_ID, next hop kept', () => {
    const t = topology({ clusterId: '1.2.3.4' });
    t.rib.announce(t.peers.C1, pa([65009], { nextHop: '10.0.1.1', localPref: 120 }), [P]);
    t.syncAll();
    const toN1 = t.rx.N1.routes.get(P)!;
    assert.equal(toN1.originatorId, u32('10.0.1.1'));
    assert.deepEqual(toN1.clusterList, [u32('1.2.3.4')]);
    assert.equal(toN1.nextHop, '10.0.1.1');
    assert.equal(toN1.localPref, 120);
    assert.deepEqual(toN1.asPath, [{ type: 'sequence', asns: [65009] }]);
    // An existing ORIGINATOR_ID is kept and the CLUSTER_LIST grows at the front.
    t.rib.announce(t.peers.C1, pa([65009], { nextHop: '10.0.1.1', originatorId: u32('9.9.9.9'), clusterList: [u32('5.5.5.5')] }), [P]);
    t.syncAll();
    const again = t.rx.C2.routes.get(P)!;
    assert.equal(again.originatorId, u32('9.9.9.9'));
    assert.deepEqual(again.clusterList, [u32('1.2.3.4'), u32('5.5.5.5')]);
  });

  it('eBGP-learned routes to iBGP: no ORIGINATOR_ID, LOCAL_PREF 100 added, next hop kept unless nextHopSelf', () => {
    const rib = newRib();
    const e = upPeer(rib, { address: '172.16.0.1', asNumber: 65001 });
    const keep = new Receiver(rib, upPeer(rib, { address: '10.0.2.1', asNumber: LOCAL_AS }));
    const self = new Receiver(rib, upPeer(rib, { address: '10.0.2.2', asNumber: LOCAL_AS, nextHopSelf: true }));
    rib.announce(e, pa([65001], { nextHop: '172.16.0.1', med: 30 }), [P]);
    keep.sync();
    self.sync();
    const a = keep.routes.get(P)!;
    assert.equal(a.nextHop, '172.16.0.1');
    assert.equal(a.localPref, 100);
    assert.equal(a.med, 30, 'MED is kept inside the AS');
    assert.equal(a.originatorId, undefined);
    assert.deepEqual(a.clusterList, []);
    assert.equal(self.routes.get(P)!.nextHop, '10.0.0.100');
  });

  it('to eBGP: own AS prepended, next hop self, LOCAL_PREF and received MED stripped, originated MED kept', () => {
    const rib = newRib();
    const ibgp = upPeer(rib, { address: '10.0.2.1', asNumber: LOCAL_AS });
    const e = new Receiver(rib, upPeer(rib, { address: '172.16.1.1', asNumber: 65002 }));
    rib.announce(ibgp, pa([65009, 65010], { nextHop: '10.0.2.1', med: 30, localPref: 300, originatorId: 7, clusterList: [8] }), [P]);
    rib.originate('10.20.0.0/16', { med: 5 });
    e.sync();
    const a = e.routes.get(P)!;
    assert.deepEqual(a.asPath, [{ type: 'sequence', asns: [LOCAL_AS, 65009, 65010] }]);
    assert.equal(a.nextHop, '10.0.0.100');
    assert.equal(a.localPref, undefined);
    assert.equal(a.med, undefined);
    assert.equal(a.originatorId, undefined);
    assert.deepEqual(a.clusterList, []);
    const o = e.routes.get('10.20.0.0/16')!;
    assert.deepEqual(o.asPath, [{ type: 'sequence', asns: [LOCAL_AS] }]);
    assert.equal(o.med, 5);
    assert.equal(o.origin, 0);
  });

  it('never sends a route back to the peer it came from', () => {
    const t = topology();
    t.rib.announce(t.peers.E, pa([65001]), [P]);
    t.syncAll();
    assert.equal(t.rx.E.routes.size, 0);
    assert.ok(t.rx.E2.routes.has(P));
  });

  it('IPv6: next hop self uses the session global address plus link-local; no IPv6 address, no route', () => {
    const rib = newRib();
    const e = upPeer(rib, { address: '2001:db8::1', asNumber: 65001 });
    const e2 = new Receiver(rib, upPeer(rib, { address: '2001:db8:1::1', asNumber: 65002, nextHopV6: '2001:db8:1::100', linkLocalV6: 'fe80::1' }));
    const e3 = new Receiver(rib, upPeer(rib, { address: '2001:db8:2::1', asNumber: 65003, nextHopV6: '' }));
    const v4only = new Receiver(rib, upPeer(rib, { address: '172.16.9.1', asNumber: 65004, families: [4] }));
    rib.announce(e, pa([65001], { nextHop: '2001:db8::1', nextHopLinkLocal: 'fe80::99' }), ['2001:db8:abcd::/48']);
    e2.sync();
    e3.sync();
    v4only.sync();
    const a = e2.routes.get('2001:db8:abcd::/48')!;
    assert.equal(a.nextHop, '2001:db8:1::100');
    assert.equal(a.nextHopLinkLocal, 'fe80::1');
    assert.equal(e3.routes.size, 0);
    assert.equal(v4only.routes.size, 0, 'family not configured');
  });

  it('unknown transitive attributes pass on with the Partial bit; non-transitive ones are dropped on import', () => {
    const rib = newRib();
    const e = upPeer(rib, { address: '172.16.0.1', asNumber: 65001 });
    const e2 = new Receiver(rib, upPeer(rib, { address: '172.16.1.1', asNumber: 65002 }));
    rib.announce(e, pa([65001], { unknown: [{ flags: 0xc0, type: 99, value: Uint8Array.of(1, 2) }, { flags: 0x80, type: 98, value: Uint8Array.of(3) }] }), [P]);
    e2.sync();
    const u = e2.routes.get(P)!.unknown;
    assert.equal(u.length, 1);
    assert.equal(u[0]!.type, 99);
    assert.equal(u[0]!.flags, 0xe0);
  });
});

describe('bgp/rib well-known communities (RFC 1997)', () => {
  const cases = [
    { c: COMMUNITY_NO_EXPORT, name: 'NO_EXPORT', to: ['C1', 'C2', 'N1', 'N2'] },
    { c: COMMUNITY_NO_EXPORT_SUBCONFED, name: 'NO_EXPORT_SUBCONFED', to: ['C1', 'C2', 'N1', 'N2'] },
    { c: COMMUNITY_NO_ADVERTISE, name: 'NO_ADVERTISE', to: [] as string[] },
  ];
  for (const k of cases) {
    it(`${k.name} from an eBGP peer reaches ${k.to.join(', ') || 'nobody'}`, () => {
      const t = topology();
      t.rib.announce(t.peers.E, pa([65001], { communities: [k.c] }), [P]);
      t.syncAll();
      const got = Object.entries(t.rx)
        .filter(([, r]) => r.routes.has(P))
        .map(([k2]) => k2)
        .sort();
      assert.deepEqual(got, k.to);
      assert.ok(t.rib.best(t.rib.prefixes.findText(P)), 'still used locally');
    });
  }
});

describe('bgp/rib import checks', () => {
  const ctx = { localAs: LOCAL_AS, routerId: u32(ROUTER_ID), clusterId: u32('1.2.3.4'), peerAs: 65001, ebgp: true, enforceFirstAs: true };
  const t = new AttrTable();
  it('classifies loops and first-AS violations', () => {
    assert.equal(checkImport(t.intern(pa([65001, 7])), ctx), 'ok');
    assert.equal(checkImport(t.intern(pa([65001, LOCAL_AS, 7])), ctx), 'as-loop');
    assert.equal(checkImport(t.intern(pa([{ type: 'sequence', asns: [65001] }, { type: 'set', asns: [1, LOCAL_AS] }])), ctx), 'as-loop');
    assert.equal(checkImport(t.intern(pa([65009, 7])), ctx), 'first-as');
    assert.equal(checkImport(t.intern(pa([])), ctx), 'first-as');
    assert.equal(checkImport(t.intern(pa([65009])), { ...ctx, enforceFirstAs: false }), 'ok');
    const ibgp = { ...ctx, ebgp: false, peerAs: LOCAL_AS };
    assert.equal(checkImport(t.intern(pa([65009], { originatorId: u32(ROUTER_ID) })), ibgp), 'originator-id-loop');
    assert.equal(checkImport(t.intern(pa([65009], { clusterList: [5, u32('1.2.3.4')] })), ibgp), 'cluster-list-loop');
    assert.equal(checkImport(t.intern(pa([], { clusterList: [5] })), ibgp), 'ok');
  });

  it('normalises eBGP routes: no LOCAL_PREF, ORIGINATOR_ID or CLUSTER_LIST', () => {
    const s = t.intern(pa([65001], { localPref: 500, originatorId: 1, clusterList: [2] }));
    assert.deepEqual(importChanges(s, true), { localPref: undefined, originatorId: undefined, clusterList: [] });
    assert.equal(importChanges(s, false), undefined);
    assert.equal(importChanges(t.intern(pa([65001])), true), undefined);
  });

  it('loops and first-AS failures are treated as withdraw: counted received, not accepted, replacing an earlier route', () => {
    const rib = newRib();
    const e = upPeer(rib, { address: '172.16.0.1', asNumber: 65001 });
    rib.announce(e, pa([65001]), [P, '10.11.0.0/24']);
    rib.flush();
    assert.deepEqual(rib.counters(e), { received: 2, accepted: 2, advertised: 0 });
    rib.announce(e, pa([65001, LOCAL_AS]), [P]);
    rib.announce(e, pa([65099]), ['10.11.0.0/24']);
    rib.flush();
    assert.deepEqual(rib.counters(e), { received: 2, accepted: 0, advertised: 0 });
    assert.equal(rib.best(rib.prefixes.findText(P)), undefined);
    assert.equal(e.importRejects, 2);
    rib.withdraw(e, [P, '10.11.0.0/24']);
    rib.flush();
    assert.deepEqual(rib.counters(e), { received: 0, accepted: 0, advertised: 0 });
    assert.equal(rib.prefixes.size, 0);
  });

  it('an iBGP route carrying our router id as ORIGINATOR_ID or our cluster id is dropped', () => {
    const rib = newRib({ clusterId: '1.2.3.4' });
    const n = upPeer(rib, { address: '10.0.2.1', asNumber: LOCAL_AS });
    rib.announce(n, pa([65009], { originatorId: u32(ROUTER_ID) }), ['10.1.0.0/16']);
    rib.announce(n, pa([65009], { clusterList: [u32('1.2.3.4')] }), ['10.2.0.0/16']);
    rib.announce(n, pa([65009], { clusterList: [u32('4.3.2.1')] }), ['10.3.0.0/16']);
    rib.flush();
    assert.equal(rib.counters(n).accepted, 1);
    assert.ok(rib.best(rib.prefixes.findText('10.3.0.0/16')));
  });

  it('a LOCAL_PREF sent by an eBGP peer is ignored in the decision', () => {
    const rib = newRib();
    const a = upPeer(rib, { address: '172.16.0.1', asNumber: 65001, routerId: '9.9.9.9' });
    const b = upPeer(rib, { address: '172.16.0.2', asNumber: 65002, routerId: '1.1.1.1' });
    rib.announce(a, pa([65001], { localPref: 1000 }), [P]);
    rib.announce(b, pa([65002]), [P]);
    rib.flush();
    const best = rib.best(rib.prefixes.findText(P))!;
    assert.equal(best.peer, b, 'router id decides, not the stripped LOCAL_PREF');
    assert.equal(best.attrs.localPref, undefined);
  });
});
