import assert from 'node:assert/strict';
import { encapDesired } from '../../../../src/felix/calc/encap.js';
import { ALL_POOLS_SET, MASQ_POOLS_SET, NAT_OUTGOING_CHAIN, natOutgoing } from '../../../../src/felix/calc/nat.js';
import { renderRules } from '../../../../src/felix/iptables/hash.js';
import { pool } from './fixtures.js';

describe('felix calc: tunnel devices and NAT outgoing', () => {
  const node = { name: 'h1', address: '172.31.0.1/24', vxlanTunnelAddress: '10.65.1.0', ipipTunnelAddress: '10.65.1.1', underlayMtu: 9000 };
  const remotes = [
    { name: 'h3', address: '172.31.0.3', blocks: ['10.65.3.0/26'] },
    { name: 'h2', address: '172.31.0.2', vxlanTunnelAddress: '10.65.2.0', blocks: ['10.65.2.0/26'] },
    { name: 'h1', address: '172.31.0.1', vxlanTunnelAddress: '10.65.1.0', blocks: [] },
  ];

  it('an encapsulation is on only with both the node\'s tunnel address and a pool using it', () => {
    const vx = encapDesired(node, [pool('p', '10.65.0.0/16', { vxlanMode: 'Always' })], remotes);
    assert.equal(vx.ipip, undefined);
    assert.deepEqual(vx.vxlan, { name: 'h1', address: '172.31.0.1/24', mtu: 9000, vxlanTunnelAddress: '10.65.1.0' });
    // Every other node, sorted, without its blocks (the VXLAN manager needs only the VTEP).
    assert.deepEqual(vx.vxlanRemotes.map((r) => [r.name, r.vxlanTunnelAddress, r.blocks.length]), [['h2', '10.65.2.0', 0], ['h3', undefined, 0]]);
    const ip = encapDesired(node, [pool('p', '10.65.0.0/16', { ipipMode: 'CrossSubnet' })], remotes);
    assert.deepEqual(ip.ipip, { name: 'h1', address: '172.31.0.1/24', mtu: 9000, ipipTunnelAddress: '10.65.1.1' });
    assert.equal(ip.vxlan, undefined);
    assert.deepEqual(ip.vxlanRemotes, []);
    const none = encapDesired({ name: 'h1', address: '172.31.0.1/24' }, [pool('p', '10.65.0.0/16', { vxlanMode: 'Always' })], remotes);
    assert.equal(none.vxlan, undefined, 'no tunnel address yet: off');
  });

  it('NAT outgoing: MASQUERADE from natOutgoing pools to destinations outside every pool, hooked at the top of POSTROUTING', () => {
    const n = natOutgoing([pool('a', '10.65.0.0/16', { natOutgoing: true }), pool('b', '10.66.0.0/16', { disabled: true }), pool('v6', 'fd00:10::/48', { natOutgoing: true })]);
    assert.deepEqual(n.ipsets, [
      { name: ALL_POOLS_SET, type: 'hash:net', family: 'inet', members: ['10.65.0.0/16', '10.66.0.0/16'] },
      { name: MASQ_POOLS_SET, type: 'hash:net', family: 'inet', members: ['10.65.0.0/16'] },
    ]);
    const chain = n.table.chains[0]!;
    assert.equal(chain.name, NAT_OUTGOING_CHAIN);
    const spec = renderRules(chain.name, chain.rules).specs;
    assert.equal(spec.length, 1);
    assert.match(spec[0]!, /-m set --match-set tabby-masq-ipam-pools src -m set ! --match-set tabby-all-ipam-pools dst -j MASQUERADE --random-fully$/);
    assert.deepEqual(n.table.hooks, { POSTROUTING: [{ action: { type: 'jump', target: NAT_OUTGOING_CHAIN } }] });
  });

  it('no natOutgoing pool: the chain stays (empty) with its hook and sets, so the table does not churn', () => {
    const n = natOutgoing([pool('a', '10.65.0.0/16')], { randomFully: false });
    assert.deepEqual(n.table.chains, [{ name: NAT_OUTGOING_CHAIN, rules: [] }]);
    assert.deepEqual(n.ipsets.map((s) => [s.name, s.members]), [[ALL_POOLS_SET, ['10.65.0.0/16']], [MASQ_POOLS_SET, []]]);
    const on = natOutgoing([pool('a', '10.65.0.0/16', { natOutgoing: true })], { randomFully: false });
    assert.match(renderRules(NAT_OUTGOING_CHAIN, on.table.chains[0]!.rules).specs[0]!, /-j MASQUERADE$/);
  });
});
