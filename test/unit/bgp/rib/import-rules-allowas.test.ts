import assert from 'node:assert/strict';
import { AttrTable } from '../../../../src/bgp/rib/attrs.js';
import { checkImport } from '../../../../src/bgp/rib/import-rules.js';

describe('import rules: allowas-in', () => {
  const table = new AttrTable();
  const attrs = (asns: number[]) => table.intern({ origin: 'igp', asPath: [{ type: 'sequence', asns }], nextHop: '10.0.0.1' } as never);
  const ctx = { localAs: 65001, routerId: 1, clusterId: 1, peerAs: 65101, ebgp: true, enforceFirstAs: true };

  it('drops our AS in the path by default (RFC 4271 §9.1.2 loop detection)', () => {
    assert.equal(checkImport(attrs([65101, 65001]), ctx), 'as-loop');
  });

  it('accepts it up to allowOwnAs times, and not beyond', () => {
    assert.equal(checkImport(attrs([65101, 65001]), { ...ctx, allowOwnAs: 1 }), 'ok');
    assert.equal(checkImport(attrs([65101, 65001, 65001]), { ...ctx, allowOwnAs: 1 }), 'as-loop');
    assert.equal(checkImport(attrs([65101, 65001, 65001]), { ...ctx, allowOwnAs: 2 }), 'ok');
  });
});
