/**
 * Changing decision and import options of a running RIB (what a SIGHUP
 * reload does): alwaysCompareMed re-runs the decision in place;
 * enforceFirstAs / allowOwnAs re-evaluate like an import-policy change;
 * softReconfigInbound can be switched either way with exact counters.
 */
import assert from 'node:assert/strict';
import { pa } from './helpers.js';
import { LOCAL_AS, newRib, upPeer } from './rib-helpers.js';

describe('BgpRib: options changed at runtime', () => {
  it('alwaysCompareMed on and off re-runs the decision across neighbouring ASes', () => {
    const rib = newRib();
    // Same path length; B has the lower MED but a higher router id and address.
    const a = upPeer(rib, { address: '10.0.1.1', asNumber: 65001, routerId: '1.1.1.1' });
    const b = upPeer(rib, { address: '10.0.1.2', asNumber: 65002, routerId: '2.2.2.2' });
    rib.announce(a, pa([65001], { med: 50 }), ['10.9.0.0/16']);
    rib.announce(b, pa([65002], { med: 10 }), ['10.9.0.0/16']);
    rib.flush();
    const pid = rib.prefixes.findText('10.9.0.0/16');
    assert.equal(rib.best(pid)!.peer, a, 'MED not compared across ASes: router id decides');
    const changed: number[] = [];
    rib.onChange((pids) => changed.push(...pids));
    rib.setAlwaysCompareMed(true);
    assert.equal(rib.flush(), 1);
    assert.equal(rib.best(pid)!.peer, b, 'the lower MED wins');
    assert.deepEqual(changed, [pid]);
    rib.setAlwaysCompareMed(false);
    rib.flush();
    assert.equal(rib.best(pid)!.peer, a);
  });

  it('enforceFirstAs turned off: re-evaluated in place with soft reconfiguration, else a ROUTE-REFRESH is needed', () => {
    const rib = newRib();
    const soft = upPeer(rib, { address: '10.0.2.1', asNumber: 65001, softReconfigInbound: true });
    const hard = upPeer(rib, { address: '10.0.2.2', asNumber: 65002 });
    // Route-server style paths: the first AS is not the peer's.
    rib.announce(soft, pa([65100, 65101]), ['10.1.0.0/16']);
    rib.announce(hard, pa([65200]), ['10.2.0.0/16']);
    rib.flush();
    assert.deepEqual([rib.counters(soft), rib.counters(hard)].map((c) => [c.received, c.accepted]), [[1, 0], [1, 0]]);
    assert.equal(rib.setImportRules(soft, { enforceFirstAs: false }), true);
    assert.equal(rib.setImportRules(hard, { enforceFirstAs: false }), false, 'no unfiltered copy: ROUTE-REFRESH');
    rib.flush();
    assert.equal(rib.best(rib.prefixes.findText('10.1.0.0/16'))?.peer, soft);
    assert.equal(rib.counters(soft).accepted, 1);
    // The peer answers the ROUTE-REFRESH by re-sending: now accepted.
    rib.announce(hard, pa([65200]), ['10.2.0.0/16']);
    rib.flush();
    assert.equal(rib.counters(hard).accepted, 1);
    // And back on: both routes go again.
    rib.setImportRules(soft, { enforceFirstAs: true });
    rib.flush();
    assert.equal(rib.counters(soft).accepted, 0);
    assert.equal(rib.counters(soft).received, 1);
  });

  it('softReconfigInbound switched on asks for the routes again (false) and keeps them unfiltered; off keeps the counts exact', () => {
    const rib = newRib();
    const p = upPeer(rib, { address: '10.0.3.1', asNumber: 65003 });
    rib.announce(p, pa([65003]), ['10.3.0.0/16']);
    rib.announce(p, pa([65003, LOCAL_AS]), ['10.4.0.0/16']); // our AS in the path: rejected
    rib.flush();
    assert.deepEqual(rib.counters(p), { received: 2, accepted: 1, advertised: 0 });
    assert.equal(rib.setSoftReconfigInbound(p, true), false, 'what was received before was not kept: ROUTE-REFRESH');
    // The refresh: everything re-sent, now kept unfiltered.
    rib.announce(p, pa([65003]), ['10.3.0.0/16']);
    rib.announce(p, pa([65003, LOCAL_AS]), ['10.4.0.0/16']);
    rib.flush();
    assert.deepEqual(rib.counters(p), { received: 2, accepted: 1, advertised: 0 });
    assert.equal(rib.setImportRules(p, { allowOwnAs: 1 }), true, 'soft reconfiguration: no ROUTE-REFRESH needed');
    rib.flush();
    assert.equal(rib.counters(p).accepted, 2);
    rib.setImportRules(p, { allowOwnAs: 0 });
    rib.flush();
    assert.equal(rib.setSoftReconfigInbound(p, false), true);
    assert.deepEqual(rib.counters(p), { received: 2, accepted: 1, advertised: 0 }, 'the rejected route still counts as received');
    rib.withdraw(p, ['10.4.0.0/16', '10.3.0.0/16']);
    rib.flush();
    assert.deepEqual(rib.counters(p), { received: 0, accepted: 0, advertised: 0 });
    assert.equal(rib.prefixes.size, 0, 'no prefix id leaked');
  });

  it('softReconfigInbound switched on with no routes needs nothing', () => {
    const rib = newRib();
    const p = upPeer(rib, { address: '10.0.4.1', asNumber: 65004 });
    assert.equal(rib.setSoftReconfigInbound(p, true), true);
    rib.announce(p, pa([65004]), ['10.5.0.0/16']);
    rib.flush();
    assert.equal(rib.setImportRules(p, { enforceFirstAs: false }), true);
  });
});
