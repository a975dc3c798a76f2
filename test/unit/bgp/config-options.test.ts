import assert from 'node:assert/strict';
import { bgpConfigSchema } from '../../../src/bgp/config.js';

describe('BGP config: decision and import options', () => {
  const base = { asNumber: 65001, routerId: '10.0.0.1', peers: [{ address: '10.0.0.2', asNumber: 65002 }] };

  it('defaults: enforce first AS, no soft reconfiguration, no allowas-in, MED compared per neighbour AS', () => {
    const c = bgpConfigSchema.parse(base);
    assert.equal(c.alwaysCompareMed, false);
    assert.equal(c.selectionDeferralTime, 60);
    assert.deepEqual([c.peers[0]!.enforceFirstAs, c.peers[0]!.softReconfigInbound, c.peers[0]!.allowOwnAs], [true, false, 0]);
  });

  it('accepts them set, and refuses out-of-range allowOwnAs', () => {
    const c = bgpConfigSchema.parse({ ...base, alwaysCompareMed: true, peers: [{ ...base.peers[0], enforceFirstAs: false, softReconfigInbound: true, allowOwnAs: 2 }] });
    assert.deepEqual([c.alwaysCompareMed, c.peers[0]!.enforceFirstAs, c.peers[0]!.softReconfigInbound, c.peers[0]!.allowOwnAs], [true, false, true, 2]);
    assert.equal(bgpConfigSchema.safeParse({ ...base, peers: [{ ...base.peers[0], allowOwnAs: 11 }] }).success, false);
  });
});
