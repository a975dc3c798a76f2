import assert from 'node:assert/strict';
import { parseBatchErrors } from '../../../../src/felix/routes/batch-errors.js';
import { normaliseRoute, routeKey, routeMatches, type RouteSpec } from '../../../../src/felix/routes/model.js';
import { parseIpRouteJson } from '../../../../src/felix/routes/parse.js';
import { renderWrite } from '../../../../src/felix/routes/render.js';
import { BOTH_ALL_PROTO80, FIXTURE_BATCH, FIXTURE_BATCH_STDERR, V4_ALL_PROTO80, V4_MAIN_ALL, V4_MAIN_NAMES, V6_ALL_PROTO80 } from './fixtures.js';

/** The routes of FIXTURE_BATCH that the kernel took (and kept), as a producer would give them. */
const PROGRAMMED: RouteSpec[] = [
  { dst: '10.65.0.2/32', dev: 'calia' },
  { dst: '10.65.0.0/26', type: 'blackhole' },
  { dst: '10.65.1.0/26', via: '172.31.9.2' },
  { dst: '10.65.2.0/26', via: '10.65.2.192', dev: 'tunl0', onlink: true },
  { dst: '10.70.0.0/24', nextHops: [{ via: '172.31.9.2', dev: 'eth0' }, { via: '172.31.9.3', dev: 'eth0', weight: 2 }] },
  { dst: '10.90.0.0/24', via: '172.31.9.2', tos: 0x10 },
  { dst: '10.80.0.0/24', via: '172.31.9.2', table: 100 },
  { dst: 'fd00:65::2/128', dev: 'calia' },
  { dst: 'fd00:65::/122', type: 'blackhole' },
  { dst: 'fd00:70::/64', nextHops: [{ via: 'fd00:9::2', dev: 'eth0' }, { via: 'fd00:9::3', dev: 'eth0' }] },
  { dst: 'fd00:71::/64', via: 'fd00:9::2', metric: 50 },
];

describe('felix/routes parsing of real iproute2 output', () => {
  it('the renderer writes exactly the lines the fixture was produced from', () => {
    const lines = FIXTURE_BATCH.trim().split('\n');
    const want = new Set(lines);
    for (const spec of PROGRAMMED) {
      const line = renderWrite(normaliseRoute(spec, 80), 'add');
      // The fixture wrote ECMP hops with explicit devices, as the spec here does.
      assert.ok(want.has(line), `rendered line not in fixture: ${line}`);
    }
  });

  it('reads back every programmed route as matching its desired form (v4 + v6, proto filter)', () => {
    const v4 = parseIpRouteJson(V4_ALL_PROTO80, 4, 80);
    const v6 = parseIpRouteJson(V6_ALL_PROTO80, 6, 80);
    assert.equal(v4.skipped + v6.skipped, 0);
    const actual = new Map([...v4.routes, ...v6.routes].map((r) => [routeKey(r), r]));
    assert.equal(actual.size, PROGRAMMED.length);
    for (const spec of PROGRAMMED) {
      const d = normaliseRoute(spec, 80);
      const a = actual.get(routeKey(d));
      assert.ok(a, `missing in read-back: ${d.dst}`);
      assert.ok(routeMatches(d, a), `differs: ${JSON.stringify(d)} vs ${JSON.stringify(a)}`);
    }
  });

  it('a dump of both families at once parses like the two dumps, default routes included', () => {
    const both = parseIpRouteJson(BOTH_ALL_PROTO80, 'any', 80).routes;
    const v4 = parseIpRouteJson(V4_ALL_PROTO80, 4, 80).routes;
    const v6 = parseIpRouteJson(V6_ALL_PROTO80, 6, 80).routes;
    const keys = (rs: typeof both) => rs.map(routeKey).sort();
    const defaults = both.filter((r) => r.dst.endsWith('/0'));
    assert.deepEqual(defaults.map((r) => `${r.family} ${r.dst} ${r.type} table ${r.table} metric ${r.metric}`).sort(), [
      '4 0.0.0.0/0 blackhole table 100 metric 5',
      '4 0.0.0.0/0 unicast table 100 metric 0',
      '6 ::/0 blackhole table 100 metric 1024',
      '6 ::/0 unicast table 101 metric 1024',
    ]);
    assert.deepEqual(keys(both.filter((r) => !r.dst.endsWith('/0'))), keys([...v4, ...v6]));
  });

  it('parses defaults the kernel leaves out: type, table, scope, metric, tos', () => {
    const { routes } = parseIpRouteJson(V4_ALL_PROTO80, 4, 80);
    const by = new Map(routes.map((r) => [r.dst, r]));
    assert.equal(by.get('10.65.0.0/26')!.type, 'blackhole');
    assert.equal(by.get('10.65.0.2/32')!.scope, 253);
    assert.equal(by.get('10.80.0.0/24')!.table, 100);
    assert.equal(by.get('10.90.0.0/24')!.tos, 0x10);
    assert.equal(by.get('10.65.1.0/26')!.metric, 0);
    assert.deepEqual(by.get('10.65.2.0/26')!.nextHops, [{ gateway: '10.65.2.192', dev: 'tunl0', onlink: true, weight: 1 }]);
    assert.deepEqual(by.get('10.70.0.0/24')!.nextHops.map((h) => h.weight), [1, 2]);
    const v6 = parseIpRouteJson(V6_ALL_PROTO80, 6, 80).routes;
    const bh = v6.find((r) => r.dst === 'fd00:65::/122')!;
    assert.deepEqual(bh.nextHops, [], 'the "dev lo" of an IPv6 blackhole is not a next hop');
    assert.equal(v6.find((r) => r.dst === 'fd00:71::/64')!.metric, 50);
  });

  it('reads foreign protocols without a filter, numeric (-N) or named', () => {
    const numeric = parseIpRouteJson(V4_MAIN_ALL, 4).routes;
    const named = parseIpRouteJson(V4_MAIN_NAMES, 4).routes;
    const protos = (rs: typeof numeric) => Object.fromEntries(rs.map((r) => [r.dst, r.protocol]));
    assert.deepEqual(protos(numeric), protos(named));
    const p = protos(numeric);
    assert.equal(p['10.65.3.0/26'], 12, 'bird');
    assert.equal(p['10.65.4.0/26'], 4, 'static');
    assert.equal(p['10.65.5.0/26'], 81, "the lab's");
    assert.equal(p['172.31.9.0/24'], 2, 'kernel');
    assert.equal(numeric.find((r) => r.dst === '172.31.9.0/24')!.src, '172.31.9.1');
    assert.deepEqual(parseIpRouteJson('', 4), { routes: [], skipped: 0 });
  });

  it('maps batch errors to their lines and kinds', () => {
    const errs = parseBatchErrors(FIXTURE_BATCH_STDERR);
    assert.deepEqual(errs.map((e) => [e.line, e.kind, e.device]), [
      [13, 'no-device', 'caliNope'],
      [14, 'exists', undefined],
      [15, 'not-found', undefined],
      [16, 'bad-gateway', undefined],
      [17, 'exists', undefined],
    ]);
    const lines = FIXTURE_BATCH.trim().split('\n');
    assert.match(lines[13 - 1]!, /caliNope/);
    assert.match(lines[14 - 1]!, /metric 32/, 'EEXIST: bird holds 10.65.3.0/26 at metric 32');
  });

  it('ignores warnings of lines that succeeded', () => {
    const stderr = 'Warning: Executing wildcard deletion to stay compatible with old scripts.\n         Explicitly specify the prefix length (10.9.9.9/32) to avoid this warning.\nError: Nexthop device is not up.\nCommand failed -:3\n';
    assert.deepEqual(parseBatchErrors(stderr).map((e) => [e.line, e.kind, e.message]), [[3, 'device-down', 'Error: Nexthop device is not up.']]);
  });
});
