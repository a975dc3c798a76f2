import assert from 'node:assert/strict';
import { learnedRoutesOf } from '../../../src/node/felix-feed.js';

describe('daemon: learned routes to the kernel', () => {
  const best = new Map<string, readonly string[]>([
    ['10.65.1.0/26', ['172.31.0.2']],
    ['10.65.2.0/26', ['172.31.0.3', '172.31.0.1']],
    ['10.96.0.0/12', ['172.31.0.2']],
    ['10.96.5.0/24', ['172.31.0.2']],
    ['10.80.0.0/12', ['172.31.0.2']],
    ['10.65.3.0/26', ['172.31.0.1']],
  ]);
  it('never our own blocks nor via ourselves; nothing inside a service range (every node answers for those itself)', () => {
    const out = learnedRoutesOf(best, new Set(['10.65.1.0/26']), new Set(['172.31.0.1']), ['10.96.0.0/12']);
    assert.deepEqual(out, [
      { dst: '10.65.2.0/26', via: ['172.31.0.3'] },
      { dst: '10.80.0.0/12', via: ['172.31.0.2'] },
    ]);
  });
  it('a route wider than a service range is not inside it and stays', () => {
    const out = learnedRoutesOf(new Map([['10.0.0.0/8', ['172.31.0.2']]]), new Set(), new Set(), ['10.96.0.0/12']);
    assert.equal(out.length, 1);
  });
});
