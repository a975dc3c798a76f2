import assert from 'node:assert/strict';
import { formatCheck, formatShow, table, type CheckReport, type ShowData } from '../../../src/ipam/index.js';

const show: ShowData = {
  revision: 42,
  config: { strictAffinity: false, maxBlocksPerHost: 0, autoAllocateBlocks: true },
  pools: [
    { name: 'default', cidr: '10.65.0.0/16', blockSize: 26, disabled: false, nodeSelector: 'all()', size: '65536', blocks: 2, allocated: 3 },
    { name: 'v6', cidr: 'fd00:10::/64', blockSize: 122, disabled: true, nodeSelector: 'all()', size: '18446744073709551616', blocks: 0, allocated: 0 },
  ],
  blocks: [
    { cidr: '10.65.0.0/26', pool: 'default', node: 'node-1', affinityState: 'confirmed', size: 64, allocated: 2, free: 62, borrowed: 0 },
    { cidr: '10.65.0.64/26', pool: 'default', node: null, affinityState: null, size: 64, allocated: 1, free: 63, borrowed: 1 },
    { cidr: '10.9.0.0/26', pool: null, node: null, affinityState: null, size: 64, allocated: 0, free: 0, borrowed: 0, malformed: 'allocations is not an object' },
  ],
};

describe('ipam formatting', () => {
  it('aligns table columns', () => {
    assert.equal(table(['A', 'LONGER'], [['xyz', '1'], ['q', '22']]), 'A     LONGER\nxyz   1\nq     22');
  });

  it('renders pools and blocks for tabby ipam show', () => {
    const text = formatShow(show);
    const lines = text.split('\n');
    assert.equal(lines[0], 'POOLS');
    assert.match(lines[1]!, /^NAME\s+CIDR\s+BLOCK SIZE\s+SELECTOR\s+DISABLED\s+BLOCKS\s+IN USE\s+SIZE\s+USED$/);
    assert.match(lines[2]!, /^default\s+10\.65\.0\.0\/16\s+\/26\s+all\(\)\s+no\s+2\s+3\s+65536\s+0\.00%$/);
    assert.match(lines[3]!, /^v6\s+fd00:10::\/64\s+\/122\s+all\(\)\s+yes\s+0\s+0\s+18446744073709551616\s+0\.00%$/);
    assert.ok(lines.includes('BLOCKS'));
    assert.ok(lines.some((l) => /^10\.65\.0\.0\/26\s+default\s+node-1\s+confirmed\s+2\s+62\s+0\s+3\.12%$/.test(l)), text);
    assert.ok(lines.some((l) => /^10\.65\.0\.64\/26\s+default\s+\(none\)\s+-\s+1\s+63\s+1\s+1\.56%$/.test(l)), text);
    assert.ok(lines.some((l) => /^10\.9\.0\.0\/26\s+-\s+-\s+malformed/.test(l)), text);
    assert.equal(lines[lines.length - 1], 'strictAffinity: false   maxBlocksPerHost: unlimited   autoAllocateBlocks: true');
  });

  it('renders one address for tabby ipam show --ip', () => {
    const text = formatShow({
      ...show,
      address: { ip: '10.65.0.1', pool: 'default', block: '10.65.0.0/26', blockNode: 'node-1', allocated: true, handle: 'k8s-pod-network.abc', attrs: { pod: 'web-1', namespace: 'prod', node: 'node-1' } },
    });
    assert.equal(
      text,
      [
        'address          10.65.0.1',
        'pool             default',
        'block            10.65.0.0/26',
        'block affinity   node-1',
        'allocated        yes',
        'handle           k8s-pod-network.abc',
        'namespace        prod',
        'node             node-1',
        'pod              web-1',
      ].join('\n'),
    );
  });

  it('reports check results with exit code 0 when clean and 1 with problems', () => {
    const clean: CheckReport = { revision: 7, counts: { pools: 1, blocks: 2, affinities: 2, handles: 3, allocations: 4 }, problems: [] };
    assert.deepEqual(formatCheck(clean), {
      exitCode: 0,
      text: 'checked 2 block(s), 2 affinities, 3 handle(s), 4 allocated address(es) in 1 pool(s) at revision 7: no problems found',
    });
    const bad: CheckReport = {
      ...clean,
      problems: [
        { kind: 'leaked-address', subject: 'h', message: '10.65.0.1 in block 10.65.0.0/26 is allocated to handle "h", which does not exist', fix: 'release 10.65.0.1', repair: { type: 'release-handle', handle: 'h' } },
        { kind: 'duplicate-address', subject: '10.65.0.5', message: '10.65.0.5 is allocated twice', fix: 'recreate the workload' },
      ],
    };
    const r = formatCheck(bad, { repairCommand: 'tabby ipam check --repair' });
    assert.equal(r.exitCode, 1);
    assert.deepEqual(r.text.split('\n'), [
      'checked 2 block(s), 2 affinities, 3 handle(s), 4 allocated address(es) in 1 pool(s) at revision 7: 2 problem(s)',
      '',
      '1. [leaked-address] 10.65.0.1 in block 10.65.0.0/26 is allocated to handle "h", which does not exist',
      '   fix: release 10.65.0.1 [auto]',
      '2. [duplicate-address] 10.65.0.5 is allocated twice',
      '   fix: recreate the workload',
      '',
      '1 of these can be fixed automatically: run `tabby ipam check --repair` (each fix applies only if nothing changed since this check).',
    ]);
    assert.ok(!formatCheck(bad).text.includes('--repair'), 'no command is named unless the caller has one');
  });
});
