import assert from 'node:assert/strict';
import { learnedRoutes, localBlockRoutes, remoteBlockRoutes, withBorrowed } from '../../../../src/felix/calc/routes.js';
import type { FelixNode, RemoteNodeInput } from '../../../../src/felix/calc/types.js';
import { pool } from './fixtures.js';

const node: FelixNode = { name: 'h1', address: '172.31.0.1/24' };
const h2: RemoteNodeInput = { name: 'h2', address: '172.31.0.2', vxlanTunnelAddress: '10.65.2.0', blocks: ['10.65.2.0/26'] };
const far: RemoteNodeInput = { name: 'h9', address: '172.32.0.9', vxlanTunnelAddress: '10.65.9.0', blocks: ['10.65.9.0/26'] };
const base = { node, ipipUsable: true, vxlanUsable: true, unencapsulated: 'bgp' as const };

describe('felix calc: block routes', () => {
  it('a blackhole per local affine block, none for a /32 block, bad input reported', () => {
    const r = localBlockRoutes(['10.65.1.64/26', '10.65.1.0/26', '10.65.1.0/26', '10.65.3.7/32', 'nonsense']);
    assert.deepEqual(r.routes, [
      { dst: '10.65.1.0/26', type: 'blackhole' },
      { dst: '10.65.1.64/26', type: 'blackhole' },
    ]);
    assert.deepEqual(r.problems, ['local block "nonsense" is not a CIDR; no blackhole for it']);
  });

  it('VXLAN pool: via the remote VTEP on vxlan.tabby, onlink', () => {
    const r = remoteBlockRoutes({ ...base, pools: [pool('p', '10.65.0.0/16', { vxlanMode: 'Always' })], remotes: [h2] });
    assert.deepEqual(r.routes, [{ dst: '10.65.2.0/26', via: '10.65.2.0', dev: 'vxlan.tabby', onlink: true }]);
    assert.deepEqual(r.unrouted, []);
  });

  it('no local VTEP or no usable tunl0: the block is unrouted with the reason, not sent into a missing device', () => {
    const vx = remoteBlockRoutes({ ...base, vxlanUsable: false, pools: [pool('p', '10.65.0.0/16', { vxlanMode: 'Always' })], remotes: [h2] });
    assert.deepEqual(vx.routes, []);
    assert.deepEqual(vx.unrouted, [{ cidr: '10.65.2.0/26', node: 'h2', reason: 'vxlan-unavailable' }]);
    const ip = remoteBlockRoutes({ ...base, ipipUsable: false, pools: [pool('p', '10.65.0.0/16', { ipipMode: 'Always' })], remotes: [h2] });
    assert.deepEqual(ip.unrouted, [{ cidr: '10.65.2.0/26', node: 'h2', reason: 'ipip-unavailable' }]);
    const ok = remoteBlockRoutes({ ...base, pools: [pool('p', '10.65.0.0/16', { ipipMode: 'Always' })], remotes: [h2] });
    assert.deepEqual(ok.routes, [{ dst: '10.65.2.0/26', via: '172.31.0.2', dev: 'tunl0', onlink: true }]);
  });

  it('unencapsulated pools are the BGP writer\'s unless the datastore is told to write them', () => {
    const pools = [pool('p', '10.65.0.0/16')];
    const bgp = remoteBlockRoutes({ ...base, pools, remotes: [h2] });
    assert.deepEqual(bgp.routes, []);
    assert.deepEqual(bgp.unrouted, [{ cidr: '10.65.2.0/26', node: 'h2', reason: 'left-to-bgp' }]);
    const ds = remoteBlockRoutes({ ...base, unencapsulated: 'datastore', pools, remotes: [h2] });
    assert.deepEqual(ds.routes, [{ dst: '10.65.2.0/26', via: '172.31.0.2' }]);
  });

  it('CrossSubnet: the same-subnet node is routed directly by calc (its pool is encapsulated), the far one through the tunnel', () => {
    const r = remoteBlockRoutes({ ...base, pools: [pool('p', '10.65.0.0/16', { vxlanMode: 'CrossSubnet' })], remotes: [far, h2] });
    assert.deepEqual(r.routes, [
      { dst: '10.65.2.0/26', via: '172.31.0.2' },
      { dst: '10.65.9.0/26', via: '10.65.9.0', dev: 'vxlan.tabby', onlink: true },
    ]);
  });

  it('borrowed addresses get a /32 in the shape of their pool; blocks in no pool are reported', () => {
    const remotes: RemoteNodeInput[] = [{ ...h2, borrowed: ['10.65.1.5', '10.77.0.1'] }];
    assert.deepEqual(withBorrowed(remotes)[0]!.blocks, ['10.65.2.0/26', '10.65.1.5/32', '10.77.0.1/32']);
    const r = remoteBlockRoutes({ ...base, pools: [pool('p', '10.65.0.0/16', { vxlanMode: 'Always' })], remotes });
    assert.deepEqual(r.routes, [
      { dst: '10.65.1.5/32', via: '10.65.2.0', dev: 'vxlan.tabby', onlink: true },
      { dst: '10.65.2.0/26', via: '10.65.2.0', dev: 'vxlan.tabby', onlink: true },
    ]);
    assert.deepEqual(r.unrouted, [{ cidr: '10.77.0.1/32', node: 'h2', reason: 'no-pool' }]);
  });

  it('a block claimed by two nodes is routed to the first (by name), the other reported', () => {
    const h3: RemoteNodeInput = { name: 'h3', address: '172.31.0.3', vxlanTunnelAddress: '10.65.3.0', blocks: ['10.65.2.0/26'] };
    const r = remoteBlockRoutes({ ...base, pools: [pool('p', '10.65.0.0/16', { vxlanMode: 'Always' })], remotes: [h3, h2] });
    assert.deepEqual(r.routes.map((x) => x.via), ['10.65.2.0']);
    assert.deepEqual(r.unrouted, [{ cidr: '10.65.2.0/26', node: 'h3', reason: 'claimed-by-other-node' }]);
  });

  it('learned routes: one route per prefix, several gateways become ECMP, bad entries reported', () => {
    const r = learnedRoutes([
      { dst: '10.65.2.0/26', via: ['172.31.0.2'] },
      { dst: '10.70.0.0/24', via: ['172.31.0.3'] },
      { dst: '10.70.0.0/24', via: ['172.31.0.2', '172.31.0.3'] },
      { dst: 'x', via: ['172.31.0.2'] },
      { dst: '10.71.0.0/24', via: ['nowhere'] },
    ]);
    assert.deepEqual(r.routes, [
      { dst: '10.65.2.0/26', via: '172.31.0.2' },
      { dst: '10.70.0.0/24', nextHops: [{ via: '172.31.0.2' }, { via: '172.31.0.3' }] },
    ]);
    assert.equal(r.problems.length, 2);
  });
});
