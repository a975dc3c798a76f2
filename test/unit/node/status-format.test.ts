import assert from 'node:assert/strict';
import { formatDaemonParts } from '../../../src/cli/status-cmd.js';

describe('tabby status: the daemon lines', () => {
  it('shows the node, the dataplane counts and problems, an unreachable datastore, and BGP problems', () => {
    const lines = formatDaemonParts({
      node: { name: 'n1', address: '172.31.0.1/24', asNumber: 64512, routerId: '172.31.0.1', routeReflectorClusterID: '244.0.0.1', startedAt: new Date(Date.now() - 65_000).toISOString() },
      dataplane: {
        inSync: true, iptablesBackend: 'nft', workloads: { local: 3, plumbed: 2 }, routes: { desired: 10, inSync: 9, retrying: 1 },
        applies: 7, applyFailures: 1, consecutiveFailures: 0, resyncs: 2, repairsTotal: 4,
        lastPass: { kind: 'resync', at: new Date(Date.now() - 5_000).toISOString(), durationMs: 12.4 }, problems: ['workload default/x: no address'],
      },
      datastore: { type: 'etcd', connected: false, inSync: true, revision: 42, lastProbeError: 'no answer within 3000 ms', watchLagSeconds: 61 },
      bgp: { asNumber: 64512, routerId: '172.31.0.1', peers: [], problems: ['BGPPeer tor: password secret bgp/pw cannot be read'] },
    });
    assert.deepEqual(lines, [
      'Node: n1, address 172.31.0.1/24, route reflector (cluster 244.0.0.1), up 1m5s',
      'Dataplane: in sync, iptables nft; workloads 2/3 plumbed; routes 9/10 in the kernel (1 retrying); 7 passes, 1 failed, 2 resyncs repaired 4 drifts',
      '  last pass: resync 12 ms, 5s ago',
      '  problem: workload default/x: no address',
      'Datastore: etcd, UNREACHABLE (no answer within 3000 ms): running on the last known state, revision 42, behind for 61 s',
      'BGP problem: BGPPeer tor: password secret bgp/pw cannot be read',
    ]);
  });

  it('prints nothing extra for `tabby bgp` (no node, dataplane or datastore)', () => {
    assert.deepEqual(formatDaemonParts({ bgp: { asNumber: 1, routerId: '10.0.0.1', peers: [] } }), []);
  });
});
