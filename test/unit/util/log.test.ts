import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { configureLogging, logger } from '../../../src/util/log.js';

function sink(): { stream: Writable; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

describe('logging', () => {
  after(() => configureLogging({ level: 'silent' }));

  it('writes JSON lines with component, event, level, and respects the level', () => {
    const s = sink();
    const log = logger('bgp', { peer: '10.0.0.2' }); // created before configuring: must follow it
    configureLogging({ level: 'info', format: 'json', destination: s.stream });
    log.debug('bgp.session.debug', { x: 1 });
    log.info('bgp.session.up', { holdTime: 90 }, 'session established');
    log.child({ afi: 'ipv4' }).warn('bgp.prefix.limit', { count: 5 });
    const lines = s.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 2, 'debug is below the level');
    assert.equal(lines[0]!.event, 'bgp.session.up');
    assert.equal(lines[0]!.component, 'bgp');
    assert.equal(lines[0]!.peer, '10.0.0.2');
    assert.equal(lines[0]!.holdTime, 90);
    assert.equal(lines[0]!.msg, 'session established');
    assert.equal(lines[0]!.level, 30);
    assert.match(String(lines[0]!.time), /^\d{4}-\d\d-\d\dT/);
    assert.equal(lines[1]!.afi, 'ipv4');
    assert.equal(lines[1]!.level, 40);
  });

  it('text format gives one readable line per event', () => {
    const s = sink();
    configureLogging({ level: 'debug', format: 'text', destination: s.stream });
    logger('felix').debug('felix.apply.done', { routes: 3 });
    const lines = s.lines();
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /DEBUG/);
    assert.match(lines[0]!, /felix\.apply\.done/);
    assert.match(lines[0]!, /routes/);
    assert.throws(() => JSON.parse(lines[0]!));
  });
});
