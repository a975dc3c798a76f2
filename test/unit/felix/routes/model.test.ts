import assert from 'node:assert/strict';
import {
  describeRoute,
  mergeRoutes,
  normaliseRoute,
  ROUTE_CLASS_PRECEDENCE,
  routeKey,
  routeMatches,
  RouteSpecError,
  type KernelRoute,
} from '../../../../src/felix/routes/model.js';
import { renderDelete, renderWrite } from '../../../../src/felix/routes/render.js';

describe('felix/routes model and render', () => {
  it('normalises the Calico route shapes', () => {
    const wl = normaliseRoute({ dst: '10.65.0.2/32', dev: 'cali0123456789a' }, 80);
    assert.deepEqual(wl, {
      family: 4, dst: '10.65.0.2/32', table: 254, metric: 0, tos: 0, type: 'unicast', protocol: 80, scope: 253,
      nextHops: [{ dev: 'cali0123456789a', onlink: false, weight: 1 }],
    });
    const bh = normaliseRoute({ dst: '10.65.0.0/26', type: 'blackhole' }, 80);
    assert.equal(bh.scope, 0);
    assert.deepEqual(bh.nextHops, []);
    const v6 = normaliseRoute({ dst: 'fd00:65:0:0::2/128', dev: 'calia' }, 80);
    assert.equal(v6.dst, 'fd00:65::2/128');
    assert.equal(v6.metric, 1024, 'IPv6 routes get the kernel default metric');
    assert.equal(v6.scope, 0, 'IPv6 has no route scope');
    const ipip = normaliseRoute({ dst: '10.65.2.0/26', via: '10.65.2.192', dev: 'tunl0', onlink: true }, 80);
    assert.deepEqual(ipip.nextHops, [{ gateway: '10.65.2.192', dev: 'tunl0', onlink: true, weight: 1 }]);
    assert.equal(ipip.scope, 0);
  });

  it('refuses routes it cannot program, naming the route', () => {
    const bad: Array<[object, RegExp]> = [
      [{ dst: '10.65.0.1/26', dev: 'x' }, /route 10\.65\.0\.1\/26: .*host bits/],
      [{ dst: '10.65.0.0/26' }, /unicast route needs a next hop/],
      [{ dst: '10.65.0.0/26', type: 'blackhole', dev: 'x' }, /blackhole route has no next hop/],
      [{ dst: '10.65.0.0/26', via: 'fd00::1' }, /IPv6 but the destination is IPv4/],
      [{ dst: '10.65.0.0/26', via: '10.0.0.1', onlink: true }, /onlink needs dev/],
      [{ dst: '10.65.0.0/26', dev: 'has space' }, /not an interface name/],
      [{ dst: '10.65.0.0/26', dev: 'a'.repeat(16) }, /not an interface name/],
      [{ dst: '10.65.0.0/26', via: '10.0.0.1', nextHops: [{ via: '10.0.0.2' }] }, /either via\/dev or nextHops/],
      [{ dst: '10.65.0.0/26', nextHops: [{ via: '10.0.0.1' }, { dev: 'eth1' }] }, /every ECMP next hop needs a gateway/],
      [{ dst: '10.65.0.0/26', via: '10.0.0.1', weight: 0 }, /weight 0/],
      [{ dst: 'fd00::/64', dev: 'x', tos: 4 }, /bad tos/],
      [{ dst: '10.65.0.0/26', dev: 'x', table: 255 }, /bad table/],
    ];
    for (const [spec, re] of bad) assert.throws(() => normaliseRoute(spec as never, 80), (e: unknown) => e instanceof RouteSpecError && re.test(e.message), JSON.stringify(spec));
  });

  it('keys routes as the kernel does: family, table, prefix, metric, tos', () => {
    const a = normaliseRoute({ dst: '10.65.1.0/26', via: '172.31.0.2' }, 80);
    const b = normaliseRoute({ dst: '10.65.1.0/26', via: '172.31.0.3' }, 12);
    const c = normaliseRoute({ dst: '10.65.1.0/26', via: '172.31.0.2', metric: 32 }, 80);
    const d = normaliseRoute({ dst: '10.65.1.0/26', via: '172.31.0.2', table: 100 }, 80);
    assert.equal(routeKey(a), routeKey(b), 'gateway and protocol are not part of the key');
    assert.notEqual(routeKey(a), routeKey(c));
    assert.notEqual(routeKey(a), routeKey(d));
  });

  it('merges one class listing a prefix twice into one ECMP route, sorted', () => {
    const a = normaliseRoute({ dst: '10.70.0.0/24', via: '172.31.0.3' }, 80);
    const b = normaliseRoute({ dst: '10.70.0.0/24', via: '172.31.0.2' }, 80);
    const m = mergeRoutes(a, b);
    assert.deepEqual(m.nextHops.map((h) => h.gateway), ['172.31.0.2', '172.31.0.3']);
    assert.equal(renderWrite(m, 'add'), 'route add 10.70.0.0/24 table 254 metric 0 proto 80 nexthop via 172.31.0.2 weight 1 nexthop via 172.31.0.3 weight 1');
    assert.throws(() => mergeRoutes(a, normaliseRoute({ dst: '10.70.0.0/24', type: 'blackhole' }, 80)), /different types/);
    assert.deepEqual(mergeRoutes(a, a), a, 'the same route twice is one route');
  });

  it('a desired next hop without a device matches the device the kernel resolved', () => {
    const want = normaliseRoute({ dst: '10.65.1.0/26', via: '172.31.0.2' }, 80);
    const have: KernelRoute = { ...want, nextHops: [{ gateway: '172.31.0.2', dev: 'eth0', onlink: false, weight: 1 }] };
    assert.equal(routeMatches(want, have), true);
    assert.equal(routeMatches(want, { ...have, protocol: 81 }), false);
    assert.equal(routeMatches(want, { ...have, nextHops: [{ gateway: '172.31.0.9', dev: 'eth0', onlink: false, weight: 1 }] }), false);
    assert.equal(routeMatches(want, { ...have, src: '172.31.0.1' }), false, 'a preferred source nobody asked for is drift');
    const pinned = normaliseRoute({ dst: '10.65.1.0/26', via: '172.31.0.2', dev: 'eth0' }, 80);
    assert.equal(routeMatches(pinned, { ...have, nextHops: [{ gateway: '172.31.0.2', dev: 'eth1', onlink: false, weight: 1 }] }), false);
    const ecmp = normaliseRoute({ dst: '10.70.0.0/24', nextHops: [{ via: '172.31.0.2' }, { via: '172.31.0.3' }] }, 80);
    const ecmpHave: KernelRoute = { ...ecmp, nextHops: [{ gateway: '172.31.0.3', dev: 'eth0', onlink: false, weight: 1 }, { gateway: '172.31.0.2', dev: 'eth0', onlink: false, weight: 1 }] };
    assert.equal(routeMatches(ecmp, ecmpHave), true, 'next hop order does not matter');
    assert.equal(routeMatches(ecmp, { ...ecmpHave, nextHops: ecmpHave.nextHops.slice(0, 1) }), false);
  });

  it('renders add/replace/del lines that name table, metric and protocol', () => {
    const wl = normaliseRoute({ dst: '10.65.0.2/32', dev: 'calia' }, 80);
    assert.equal(renderWrite(wl, 'add'), 'route add 10.65.0.2/32 dev calia scope link table 254 metric 0 proto 80');
    assert.equal(renderWrite(wl, 'replace'), 'route replace 10.65.0.2/32 dev calia scope link table 254 metric 0 proto 80');
    assert.equal(renderDelete(wl), 'route del 10.65.0.2/32 table 254 metric 0 proto 80 dev calia');
    const bh = normaliseRoute({ dst: 'fd00:65::/122', type: 'blackhole' }, 80);
    assert.equal(renderWrite(bh, 'add'), 'route add blackhole fd00:65::/122 table 254 metric 1024 proto 80');
    assert.equal(renderDelete(bh), 'route del blackhole fd00:65::/122 table 254 metric 1024 proto 80');
    const vx = normaliseRoute({ dst: '10.65.1.0/26', via: '10.65.1.192', dev: 'vxlan.tabby', onlink: true, tos: 0x10, metric: 5, table: 100 }, 81);
    assert.equal(renderWrite(vx, 'add'), 'route add 10.65.1.0/26 via 10.65.1.192 dev vxlan.tabby onlink table 100 metric 5 tos 0x10 proto 81');
    const v6 = normaliseRoute({ dst: 'fd00:65::2/128', dev: 'calia' }, 80);
    assert.equal(renderWrite(v6, 'add'), 'route add fd00:65::2/128 dev calia table 254 metric 1024 proto 80', 'no scope on IPv6 lines');
    assert.equal(describeRoute(vx), '10.65.1.0/26 via 10.65.1.192 dev vxlan.tabby onlink table 100 metric 5 tos 0x10 proto 81');
  });

  it('documents a fixed precedence, local before remote before BGP', () => {
    assert.deepEqual(ROUTE_CLASS_PRECEDENCE, ['local-workload', 'local-block', 'remote-block', 'bgp-learned']);
  });
});
