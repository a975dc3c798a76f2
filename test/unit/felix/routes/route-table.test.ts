import assert from 'node:assert/strict';
import { configureLogging } from '../../../../src/util/log.js';
import { RouteTable, type RouteTableOptions } from '../../../../src/felix/routes/route-table.js';
import type { RouteSpec } from '../../../../src/felix/routes/model.js';
import { FakeKernel, fakeKey } from './fake-kernel.js';

function setup(opts: Partial<RouteTableOptions> = {}) {
  const kernel = new FakeKernel();
  let now = 1_000_000;
  const clock = { advance: (ms: number) => (now += ms) };
  const make = () => new RouteTable({ runner: kernel, now: () => now, interfaceGraceMs: 10_000, ...opts });
  return { kernel, clock, make, table: make() };
}

const workloads = (n: number, dev = (i: number) => `cali${i}`) =>
  Array.from({ length: n }, (_, i) => ({ dst: `10.65.0.${i + 1}/32`, dev: dev(i + 1) }));

describe('felix RouteTable (fake kernel)', () => {
  before(() => configureLogging({ level: 'silent' }));
  after(() => configureLogging({ level: 'info' }));

  it('cold start: one read (both families) and ONE batch for all routes; a second apply does nothing', async () => {
    const { kernel, table } = setup();
    for (let i = 1; i <= 50; i++) kernel.devices.set(`cali${i}`, true);
    table.setRoutes('local-workload', workloads(50));
    table.setRoutes('local-block', [{ dst: '10.65.0.0/26', type: 'blackhole' }]);
    const r = await table.apply();
    assert.equal(r.added, 51);
    assert.equal(r.processes, 2, 'one read of both families + one batch');
    assert.equal(kernel.batches.length, 1);
    assert.equal(kernel.routes.size, 51);
    assert.equal(r.inSync, 51);
    const again = await table.apply();
    assert.equal(again.processes, 0);
    assert.equal(again.lines, 0);
  });

  it('incremental changes write only the difference, in one batch', async () => {
    const { kernel, table } = setup();
    for (let i = 1; i <= 10; i++) kernel.devices.set(`cali${i}`, true);
    table.setRoutes('local-workload', workloads(10));
    await table.apply();
    table.setRoutes('local-workload', [...workloads(9), { dst: '10.65.0.10/32', dev: 'cali9' }]);
    const r = await table.apply();
    assert.deepEqual(kernel.batches.at(-1), ['route replace 10.65.0.10/32 dev cali9 scope link table 254 metric 0 proto 80']);
    assert.equal(r.replaced, 1);
    table.setRoutes('local-workload', workloads(8));
    const d = await table.apply();
    assert.equal(d.deleted, 2);
    assert.equal(d.processes, 1);
    assert.equal(kernel.routes.size, 8);
  });

  it('precedence: local-workload beats remote-block beats bgp-learned for the same key; losing routes come back', async () => {
    const { kernel, table } = setup({ classProtocols: { 'bgp-learned': 90 } });
    kernel.devices.set('calix', true);
    table.setRoutes('bgp-learned', [{ dst: '10.65.1.0/26', via: '172.31.0.9' }]);
    table.setRoutes('remote-block', [{ dst: '10.65.1.0/26', via: '172.31.0.2' }]);
    table.setRoutes('local-workload', [{ dst: '10.65.1.5/32', dev: 'calix' }]);
    await table.apply();
    const key = fakeKey({ family: 4, table: 254, dst: '10.65.1.0/26', metric: 0, tos: 0 });
    assert.equal(kernel.routes.get(key)!.hops[0]!.gateway, '172.31.0.2');
    assert.equal(kernel.routes.get(key)!.protocol, 80);
    table.setRoutes('remote-block', []);
    const r = await table.apply();
    assert.equal(r.replaced, 1, 'the key is ours already: replace, no gap');
    assert.equal(kernel.routes.get(key)!.hops[0]!.gateway, '172.31.0.9');
    assert.equal(kernel.routes.get(key)!.protocol, 90, 'the class protocol of bgp-learned');
    assert.deepEqual([...table.protocols], [80, 90]);
    assert.equal(kernel.commands.filter((c) => c.includes('show') && c.includes('proto 90')).length, 1, 'both owned protocols are read back');
    assert.equal(kernel.commands.filter((c) => c.includes('show') && c.includes('proto 80')).length, 1);
  });

  it('one class listing a prefix twice gets one ECMP route', async () => {
    const { kernel, table } = setup();
    table.setRoutes('bgp-learned', [{ dst: '10.70.0.0/24', via: '172.31.0.3' }, { dst: '10.70.0.0/24', via: '172.31.0.2' }]);
    await table.apply();
    assert.deepEqual(kernel.batches[0], ['route add 10.70.0.0/24 table 254 metric 0 proto 80 nexthop via 172.31.0.2 weight 1 nexthop via 172.31.0.3 weight 1']);
    const r = await table.apply();
    assert.equal(r.lines, 0);
  });

  it('a new instance adopts correct routes without writing them and removes stale ones', async () => {
    const { kernel, table, make } = setup();
    for (let i = 1; i <= 20; i++) kernel.devices.set(`cali${i}`, true);
    table.setRoutes('local-workload', workloads(20));
    await table.apply();
    const batches = kernel.batches.length;
    const fresh = make();
    fresh.setRoutes('local-workload', workloads(15));
    const r = await fresh.apply();
    assert.equal(r.adopted, 15);
    assert.equal(r.added + r.replaced, 0);
    assert.equal(r.deleted, 5);
    assert.equal(r.repairs.filter((x) => x.kind === 'removed').length, 5);
    assert.equal(kernel.batches.length, batches + 1);
    assert.ok(kernel.batches.at(-1)!.every((l) => l.startsWith('route del ')), 'only deletes were written');
  });

  it('never overwrites or deletes a foreign route: a clash on a key is a conflict, retried with back-off', async () => {
    const { kernel, table, clock } = setup();
    kernel.add({ dst: '10.65.5.0/26', protocol: 81, hops: [{ gateway: '172.31.0.4', dev: 'eth0', onlink: false, weight: 1 }] });
    kernel.add({ dst: '10.65.6.0/26', protocol: 12, metric: 32, hops: [{ gateway: '172.31.0.4', dev: 'eth0', onlink: false, weight: 1 }] });
    kernel.add({ dst: '10.65.7.0/26', protocol: 3, hops: [{ gateway: '172.31.0.4', dev: 'eth0', onlink: false, weight: 1 }] });
    table.setRoutes('remote-block', [
      { dst: '10.65.5.0/26', via: '172.31.0.2' }, // same key as the lab's route
      { dst: '10.65.6.0/26', via: '172.31.0.2' }, // same prefix as bird's, other metric: no clash
    ]);
    const r = await table.apply();
    assert.equal(r.conflicts.length, 1);
    assert.match(r.conflicts[0]!.route, /^10\.65\.5\.0\/26/);
    assert.equal(r.added, 1);
    assert.equal(kernel.routes.get(fakeKey({ family: 4, table: 254, dst: '10.65.5.0/26', metric: 0, tos: 0 }))!.protocol, 81, 'foreign route intact');
    assert.ok(r.nextRetryInMs !== undefined && r.nextRetryInMs > 0);
    // Not retried before the back-off expires, retried after.
    const early = await table.apply();
    assert.equal(early.lines, 0);
    assert.equal(early.conflicts.length, 1);
    clock.advance(r.nextRetryInMs!);
    const later = await table.apply();
    assert.equal(later.lines, 1);
    assert.equal(later.conflicts[0]!.attempts, 2);
    // Removing everything deletes only ours.
    table.setRoutes('remote-block', []);
    await table.apply();
    assert.deepEqual([...kernel.routes.values()].map((x) => x.protocol).sort(), [12, 3, 81]);
    assert.ok(kernel.batches.flat().every((l) => !l.startsWith('route replace') || !l.includes('10.65.5.0')), 'never a replace on a foreign key');
  });

  it('routes to a missing or down device are pending, then failed after the grace period, and go in when the device comes up', async () => {
    const { kernel, table, clock } = setup();
    kernel.devices.set('calidown', false);
    table.setRoutes('local-workload', [{ dst: '10.65.0.1/32', dev: 'calinew' }, { dst: '10.65.0.2/32', dev: 'calidown' }]);
    const r = await table.apply();
    assert.deepEqual(r.pending.map((p) => [p.device, p.reason]).sort(), [['calidown', 'pending-interface'], ['calinew', 'pending-interface']]);
    assert.equal(r.failed.length, 0);
    clock.advance(11_000);
    const late = await table.apply();
    assert.equal(late.pending.length, 0);
    assert.equal(late.failed.length, 2, 'after the grace period they are reported as failed');
    assert.ok(late.failed.every((f) => f.reason === 'failed'));
    const batchesBefore = kernel.batches.length;
    kernel.devices.set('calinew', true);
    table.onIfaceStateChanged('calinew', true);
    const up = await table.apply();
    assert.equal(up.added, 1, 'retried at once when the device came up');
    assert.equal(kernel.batches.length, batchesBefore + 1);
    assert.deepEqual(kernel.batches.at(-1), ['route add 10.65.0.1/32 dev calinew scope link table 254 metric 0 proto 80']);
    assert.equal(up.failed.length, 1);
  });

  it('a device going down drops the routes over it; they return when it comes back', async () => {
    const { kernel, table } = setup();
    kernel.devices.set('cali1', true);
    table.setRoutes('local-workload', [{ dst: '10.65.0.1/32', dev: 'cali1' }]);
    await table.apply();
    kernel.setDevice('cali1', false);
    table.onIfaceStateChanged('cali1', false);
    const down = await table.apply();
    assert.equal(down.pending.length, 1);
    kernel.setDevice('cali1', true);
    table.onIfaceStateChanged('cali1', true);
    const up = await table.apply();
    assert.equal(up.added, 1);
    assert.equal(kernel.routes.size, 1);
  });

  it('resync repairs each kind of drift and lists it; foreign routes are untouched', async () => {
    const { kernel, table } = setup();
    for (let i = 1; i <= 3; i++) kernel.devices.set(`cali${i}`, true);
    kernel.devices.set('cali9', true);
    table.setRoutes('local-workload', workloads(3));
    table.setRoutes('remote-block', [{ dst: '10.65.1.0/26', via: '172.31.0.2' }]);
    await table.apply();
    // Drift: one deleted, one edited, one stray route of our protocol, one foreign.
    kernel.routes.delete(fakeKey({ family: 4, table: 254, dst: '10.65.0.1/32', metric: 0, tos: 0 }));
    kernel.routes.get(fakeKey({ family: 4, table: 254, dst: '10.65.1.0/26', metric: 0, tos: 0 }))!.hops[0]!.gateway = '172.31.0.66';
    kernel.add({ dst: '10.99.0.0/24', protocol: 80, hops: [{ dev: 'cali9', onlink: false, weight: 1 }] });
    kernel.add({ dst: '10.98.0.0/24', protocol: 4, hops: [{ dev: 'cali9', onlink: false, weight: 1 }] });
    const quiet = await table.apply();
    assert.equal(quiet.lines, 0, 'without a resync the driver trusts its view');
    table.requestResync();
    const r = await table.apply();
    assert.equal(r.resynced, true);
    assert.deepEqual(r.repairs.map((x) => `${x.kind} ${x.route.split(' ')[0]}`).sort(), [
      'corrected 10.65.1.0/26',
      'removed 10.99.0.0/24',
      'restored 10.65.0.1/32',
    ]);
    assert.deepEqual(r.repairCounts, { restored: 1, corrected: 1, removed: 1 });
    assert.equal(r.repairs.find((x) => x.kind === 'corrected')!.found, '10.65.1.0/26 via 172.31.0.66 dev eth0 proto 80');
    assert.equal(r.processes, 2, 'one read, one batch');
    assert.ok(kernel.routes.has(fakeKey({ family: 4, table: 254, dst: '10.98.0.0/24', metric: 0, tos: 0 })), 'foreign static route survives');
    table.requestResync();
    const clean = await table.apply();
    assert.equal(clean.repairs.length, 0);
    assert.equal(clean.lines, 0);
  });

  it('an add that hits a route of our own we did not know of adopts it instead of calling it a conflict', async () => {
    const { kernel, table } = setup();
    kernel.devices.set('cali1', true);
    table.setRoutes('local-workload', [{ dst: '10.65.0.1/32', dev: 'cali1' }]);
    await table.apply();
    // Someone (an old instance) writes a different route of our protocol at a key we are about to add.
    table.setRoutes('remote-block', [{ dst: '10.65.1.0/26', via: '172.31.0.2' }]);
    kernel.add({ dst: '10.65.1.0/26', protocol: 80, hops: [{ gateway: '172.31.0.7', dev: 'eth0', onlink: false, weight: 1 }] });
    const r = await table.apply();
    assert.equal(r.conflicts.length, 0);
    assert.equal(r.replaced, 1);
    assert.equal(kernel.routes.get(fakeKey({ family: 4, table: 254, dst: '10.65.1.0/26', metric: 0, tos: 0 }))!.hops[0]!.gateway, '172.31.0.2');
  });

  it('returns the routes it cannot program and programs the others', async () => {
    const { kernel, table } = setup();
    kernel.devices.set('cali1', true);
    const rejected = table.setRoutes('local-workload', [{ dst: '10.65.0.1/32', dev: 'cali1' }, { dst: '10.65.0.3/31', dev: 'cali1' }]);
    assert.equal(rejected.length, 1);
    assert.match(rejected[0]!.error, /host bits/);
    assert.equal((await table.apply()).added, 1);
  });

  it('a batch failing without line errors throws, and the next apply starts with a full read', async () => {
    const { kernel, table } = setup();
    kernel.devices.set('cali1', true);
    table.setRoutes('local-workload', [{ dst: '10.65.0.1/32', dev: 'cali1' }]);
    kernel.failNextBatch = true;
    await assert.rejects(table.apply(), /exit 1/);
    const r = await table.apply();
    assert.equal(r.resynced, true);
    assert.equal(r.added, 1);
  });

  it('upsertRoutes/removeRoutes change single routes of a class, keeping the rest', async () => {
    const { kernel, table } = setup();
    for (let i = 1; i <= 3; i++) kernel.devices.set(`cali${i}`, true);
    table.setRoutes('local-workload', workloads(2));
    await table.apply();
    table.upsertRoutes('local-workload', [{ dst: '10.65.0.3/32', dev: 'cali3' }, { dst: '10.65.0.1/32', dev: 'cali3' }]);
    const r = await table.apply();
    assert.deepEqual(kernel.batches.at(-1)!.sort(), [
      'route add 10.65.0.3/32 dev cali3 scope link table 254 metric 0 proto 80',
      'route replace 10.65.0.1/32 dev cali3 scope link table 254 metric 0 proto 80',
    ]);
    assert.equal(r.added + r.replaced, 2);
    const notThere: RouteSpec = { dst: '10.65.0.9/32', dev: 'cali1' };
    table.removeRoutes('local-workload', [{ dst: '10.65.0.2/32' }, notThere]);
    assert.equal((await table.apply()).deleted, 1);
    const third: RouteSpec = { dst: '10.65.0.3/32', dev: 'cali3' };
    table.removeRoutes('local-workload', [third]);
    table.upsertRoutes('local-workload', [third]);
    assert.equal((await table.apply()).lines, 0, 'removed and put back before an apply: nothing to do');
    assert.deepEqual(table.routesOf('local-workload').map((x) => x.dst).sort(), ['10.65.0.1/32', '10.65.0.3/32']);
  });

  it('setRoutes with the same set again changes nothing, a changed spec is picked up', async () => {
    const { kernel, table } = setup();
    for (let i = 1; i <= 3; i++) kernel.devices.set(`cali${i}`, true);
    table.setRoutes('local-workload', workloads(3));
    await table.apply();
    table.setRoutes('local-workload', workloads(3));
    assert.equal(table.stats().inSync, 3);
    assert.equal((await table.apply()).processes, 0);
    table.setRoutes('local-workload', workloads(3, (i) => (i === 2 ? 'cali3' : `cali${i}`)));
    assert.equal((await table.apply()).replaced, 1);
  });

  it('refuses a second apply() while one is running', async () => {
    const { table } = setup();
    table.setRoutes('local-block', [{ dst: '10.65.0.0/26', type: 'blackhole' }]);
    const first = table.apply();
    await assert.rejects(table.apply(), /already running/);
    assert.equal((await first).added, 1);
  });

  it('refuses the kernel\'s own protocol numbers', () => {
    assert.throws(() => new RouteTable({ protocol: 4 }), /not usable/);
    assert.throws(() => new RouteTable({ classProtocols: { 'bgp-learned': 2 } }), /classProtocols\.bgp-learned/);
  });
});
