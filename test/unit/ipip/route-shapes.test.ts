import assert from 'node:assert/strict';
import { computeRouteShapes, routeShapeToIpLine, type RouteShapeInput } from '../../../src/ipip/route-shapes.js';
import type { EncapMode, PoolEncap } from '../../../src/ipip/types.js';

const local = { name: 'h1', address: '172.31.0.1/24' };
// h2 shares h1's /24; h3 is in another subnet.
const remotes = [
  { name: 'h2', address: '172.31.0.2', vxlanTunnelAddress: '10.65.2.0', blocks: ['10.65.2.0/26'] },
  { name: 'h3', address: '172.31.1.3/24', vxlanTunnelAddress: '10.65.3.0', blocks: ['10.65.3.0/26', '10.65.3.64/26'] },
];
const pool = (ipipMode: EncapMode, vxlanMode: EncapMode, cidr = '10.65.0.0/16'): PoolEncap => ({ cidr, ipipMode, vxlanMode });
const shapes = (pools: PoolEncap[], rs: RouteShapeInput['remotes'] = remotes) => computeRouteShapes({ local, remotes: rs, pools });

describe('encap: route shapes of remote blocks', () => {
  it('IPIP Always: every remote block via the node address dev tunl0 onlink', () => {
    const r = shapes([pool('Always', 'Never')]);
    assert.deepEqual(r.skipped, []);
    assert.deepEqual(r.routes, [
      { cidr: '10.65.2.0/26', node: 'h2', encap: 'ipip', gateway: '172.31.0.2', device: 'tunl0', onlink: true, why: 'always' },
      { cidr: '10.65.3.0/26', node: 'h3', encap: 'ipip', gateway: '172.31.1.3', device: 'tunl0', onlink: true, why: 'always' },
      { cidr: '10.65.3.64/26', node: 'h3', encap: 'ipip', gateway: '172.31.1.3', device: 'tunl0', onlink: true, why: 'always' },
    ]);
  });

  it('IPIP CrossSubnet: same subnet goes direct, other subnet through tunl0', () => {
    const r = shapes([pool('CrossSubnet', 'Never')]);
    assert.deepEqual(
      r.routes.map((s) => [s.cidr, s.encap, s.gateway, s.why]),
      [
        ['10.65.2.0/26', 'none', '172.31.0.2', 'cross-subnet-same-subnet'],
        ['10.65.3.0/26', 'ipip', '172.31.1.3', 'cross-subnet-other-subnet'],
        ['10.65.3.64/26', 'ipip', '172.31.1.3', 'cross-subnet-other-subnet'],
      ],
    );
  });

  it('VXLAN Always: via the remote VTEP (tunnel address) dev vxlan.tabby onlink', () => {
    const r = shapes([pool('Never', 'Always')]);
    assert.deepEqual(r.routes[0], { cidr: '10.65.2.0/26', node: 'h2', encap: 'vxlan', gateway: '10.65.2.0', device: 'vxlan.tabby', onlink: true, why: 'always' });
    assert.equal(r.routes[2]!.gateway, '10.65.3.0');
  });

  it('VXLAN CrossSubnet: the subnet test uses this node\'s prefix', () => {
    const r = shapes([pool('Never', 'CrossSubnet')]);
    assert.deepEqual(r.routes.map((s) => s.encap), ['none', 'vxlan', 'vxlan']);
    // With a /16 on this node both remotes are "same subnet".
    const wide = computeRouteShapes({ local: { name: 'h1', address: '172.31.0.1/16' }, remotes, pools: [pool('Never', 'CrossSubnet')] });
    assert.deepEqual(wide.routes.map((s) => s.encap), ['none', 'none', 'none']);
  });

  it('Never/Never: direct routes marked pool-not-encapsulated (BGP\'s to install)', () => {
    const r = shapes([pool('Never', 'Never')]);
    assert.deepEqual(r.routes.map((s) => [s.encap, s.why]), [
      ['none', 'pool-not-encapsulated'],
      ['none', 'pool-not-encapsulated'],
      ['none', 'pool-not-encapsulated'],
    ]);
  });

  it('VXLAN without a remote VTEP yet: no route, skipped with the reason', () => {
    const r = shapes([pool('Never', 'Always')], [{ name: 'h4', address: '172.31.0.4', blocks: ['10.65.4.0/26'] }]);
    assert.deepEqual(r.routes, []);
    assert.deepEqual(r.skipped, [{ cidr: '10.65.4.0/26', node: 'h4', reason: 'no-vtep' }]);
  });

  it('the most specific pool decides; blocks outside every pool are skipped', () => {
    const r = shapes([pool('Always', 'Never', '10.65.0.0/16'), pool('Never', 'Always', '10.65.3.0/24')], [
      ...remotes,
      { name: 'h5', address: '172.31.0.5', blocks: ['10.99.0.0/26'] },
    ]);
    assert.deepEqual(r.routes.map((s) => [s.cidr, s.encap]), [
      ['10.65.2.0/26', 'ipip'],
      ['10.65.3.0/26', 'vxlan'],
      ['10.65.3.64/26', 'vxlan'],
    ]);
    assert.deepEqual(r.skipped, [{ cidr: '10.99.0.0/26', node: 'h5', reason: 'no-pool' }]);
  });

  it('a pool with both modes on (invalid in Calico) uses VXLAN', () => {
    assert.deepEqual(shapes([pool('Always', 'Always')]).routes.map((s) => s.encap), ['vxlan', 'vxlan', 'vxlan']);
  });

  it('one shape per block: a second claimant is skipped; this node and bad CIDRs are ignored/skipped', () => {
    const r = shapes([pool('Always', 'Never')], [
      { name: 'h1', address: '172.31.0.1', blocks: ['10.65.1.0/26'] },
      { name: 'h2', address: '172.31.0.2', blocks: ['10.65.2.0/26', 'garbage'] },
      { name: 'h6', address: '172.31.0.6', blocks: ['10.65.2.0/26'] },
    ]);
    assert.deepEqual(r.routes.map((s) => [s.cidr, s.node]), [['10.65.2.0/26', 'h2']]);
    assert.deepEqual(r.skipped, [
      { cidr: 'garbage', node: 'h2', reason: 'bad-cidr' },
      { cidr: '10.65.2.0/26', node: 'h6', reason: 'claimed-by-other-node' },
    ]);
  });

  it('this node\'s address must carry its prefix (CrossSubnet needs it)', () => {
    assert.throws(() => computeRouteShapes({ local: { name: 'h1', address: '172.31.0.1' }, remotes, pools: [] }), /IPv4 CIDR/);
  });

  it('routeShapeToIpLine renders the canonical ip route lines', () => {
    const [ipip] = shapes([pool('Always', 'Never')]).routes;
    const [vx] = shapes([pool('Never', 'Always')]).routes;
    const [direct] = shapes([pool('Never', 'Never')]).routes;
    assert.equal(routeShapeToIpLine(ipip!, { proto: 80 }), 'route replace 10.65.2.0/26 via 172.31.0.2 dev tunl0 onlink proto 80');
    assert.equal(routeShapeToIpLine(vx!, { proto: 80 }), 'route replace 10.65.2.0/26 via 10.65.2.0 dev vxlan.tabby onlink proto 80');
    assert.equal(routeShapeToIpLine(direct!, { proto: 80, uplink: 'eth0' }), 'route replace 10.65.2.0/26 via 172.31.0.2 dev eth0 proto 80');
    assert.equal(routeShapeToIpLine(direct!, { proto: 80 }), 'route replace 10.65.2.0/26 via 172.31.0.2 proto 80');
  });
});
