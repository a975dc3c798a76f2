import assert from 'node:assert/strict';
import { AttrTable } from '../../../../src/bgp/rib/attrs.js';
import { exportAttrs, SourceKind, type ExportDestination } from '../../../../src/bgp/rib/export-rules.js';

describe('export rules: next hop keep towards eBGP (Calico keepOriginalNextHop)', () => {
  const table = new AttrTable();
  const learned = table.intern({ origin: 'igp', asPath: [{ type: 'sequence', asns: [65002] }], nextHop: '172.31.0.7' } as never);
  const local = table.intern({ origin: 'igp', asPath: [], nextHop: '' } as never);
  const dest = (keep: boolean): ExportDestination => ({ ebgp: true, routeReflectorClient: false, nextHopSelf: false, nextHopKeep: keep, nextHopV4: '172.31.0.1', nextHopV6: '', linkLocalV6: '' });
  const opts = { localAs: 65001, prepend: 0, defaultLocalPref: 100, sourceRouterId: '10.0.0.9', clusterId: '10.0.0.1' } as never;

  it('by default eBGP gets our address as next hop (RFC 4271 §5.1.3)', () => {
    assert.equal(exportAttrs(SourceKind.Ibgp, learned, dest(false), false, opts)!.nextHop, '172.31.0.1');
  });

  it('with nextHopKeep a learned route keeps its next hop, and our own routes still get ours', () => {
    const kept = exportAttrs(SourceKind.Ibgp, learned, dest(true), false, opts)!;
    assert.equal(kept.nextHop, '172.31.0.7');
    assert.deepEqual(kept.asPath, [{ type: 'sequence', asns: [65001, 65002] }], 'the AS is still prepended');
    assert.equal(exportAttrs(SourceKind.Local, local, dest(true), false, opts)!.nextHop, '172.31.0.1');
  });
});
