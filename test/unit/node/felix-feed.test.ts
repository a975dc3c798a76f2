import assert from 'node:assert/strict';
import type { Node } from '../../../src/datastore/resources/index.js';
import type { BlockValue } from '../../../src/ipam/types.js';
import { blocksOf, borrowedByNode, felixNodeOf, learnedRoutesOf, remoteNodesOf, type StoredBlock } from '../../../src/node/felix-feed.js';
import { mergeNode } from '../../../src/node/registration.js';

function block(cidr: string, owner: string | null, allocs: Record<string, string> = {}): StoredBlock {
  const attributes: BlockValue['attributes'] = [];
  const allocations: Record<string, number> = {};
  for (const [ord, node] of Object.entries(allocs)) {
    allocations[ord] = attributes.length;
    attributes.push({ handle: `h-${ord}`, attrs: { node } });
  }
  return { name: cidr.replace('/', '-'), value: { cidr, affinity: owner ? `host:${owner}` : null, allocations, attributes, next: 0, sequence: 0 } };
}

function node(name: string, spec: Node['spec']): Node {
  return { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name }, spec };
}

describe('daemon: datastore -> Felix derivations', () => {
  const blocks = [
    block('10.65.0.0/26', 'a', { '1': 'a', '5': 'b' }),
    block('10.65.0.64/26', 'b'),
    block('10.65.1.0/26', 'a'),
    block('10.65.2.0/26', null, { '3': 'c' }),
  ];

  it('blocksOf lists the blocks affine to a node, sorted', () => {
    assert.deepEqual(blocksOf(blocks, 'a'), ['10.65.0.0/26', '10.65.1.0/26']);
    assert.deepEqual(blocksOf(blocks, 'b'), ['10.65.0.64/26']);
    assert.deepEqual(blocksOf(blocks, 'z'), []);
  });

  it('borrowedByNode finds addresses held in blocks that are not the holder\'s (also orphan blocks)', () => {
    const m = borrowedByNode(blocks);
    assert.deepEqual(Object.fromEntries(m), { b: ['10.65.0.5'], c: ['10.65.2.3'] });
  });

  it('remoteNodesOf: every other node with an address, its blocks, VTEP and borrowed addresses; nodes without an address are skipped', () => {
    const nodes = [
      node('a', { bgp: { ipv4Address: '172.31.0.1/24' } }),
      node('b', { bgp: { ipv4Address: '172.31.0.2/24' }, ipv4VXLANTunnelAddr: '10.65.0.66', vxlanTunnelMACAddr: '66:00:00:00:00:02' }),
      node('c', { addresses: [{ address: '172.31.0.3/24', type: 'InternalIP' }] }),
      node('d', {}),
    ];
    assert.deepEqual(remoteNodesOf(nodes, blocks, 'a'), [
      { name: 'b', address: '172.31.0.2', blocks: ['10.65.0.64/26'], vxlanTunnelAddress: '10.65.0.66', vxlanMac: '66:00:00:00:00:02', borrowed: ['10.65.0.5'] },
      { name: 'c', address: '172.31.0.3', blocks: [], borrowed: ['10.65.2.3'] },
    ]);
  });

  it('felixNodeOf takes the configured address and the Node\'s tunnel addresses', () => {
    const n = node('a', { bgp: { ipv4Address: '172.31.0.1/24', ipv4IPIPTunnelAddr: '10.65.0.1' }, ipv4VXLANTunnelAddr: '10.65.0.2' });
    assert.deepEqual(felixNodeOf('a', '172.31.0.1/24', n, 1500), { name: 'a', address: '172.31.0.1/24', ipipTunnelAddress: '10.65.0.1', vxlanTunnelAddress: '10.65.0.2', underlayMtu: 1500 });
    assert.deepEqual(felixNodeOf('a', '172.31.0.1/24', undefined, undefined), { name: 'a', address: '172.31.0.1/24' });
  });

  it('learnedRoutesOf drops our own blocks and next hops that are ourselves', () => {
    const best = new Map<string, string[]>([
      ['10.65.0.0/26', ['172.31.0.2']],
      ['10.65.0.64/26', ['172.31.0.2', '172.31.0.1']],
      ['10.65.1.0/26', ['172.31.0.1']],
      ['10.66.0.0/16', ['172.31.0.9']],
    ]);
    assert.deepEqual(learnedRoutesOf(best, new Set(['10.65.0.0/26']), new Set(['172.31.0.1'])), [
      { dst: '10.65.0.64/26', via: ['172.31.0.2'] },
      { dst: '10.66.0.0/16', via: ['172.31.0.9'] },
    ]);
  });
});

describe('daemon: Node registration merge', () => {
  const fields = { bgp: { ipv4Address: '172.31.0.1/24', asNumber: 65001 }, addresses: [{ address: '172.31.0.1/24', type: 'CalicoNodeIP' as const }] };

  it('creates a Node when there is none', () => {
    assert.deepEqual(mergeNode(undefined, 'a', fields), {
      apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'a' },
      spec: { bgp: { ipv4Address: '172.31.0.1/24', asNumber: 65001 }, addresses: [{ address: '172.31.0.1/24', type: 'CalicoNodeIP' }] },
    });
  });

  it('keeps labels, foreign addresses, tunnel addresses and the route reflector id someone else set', () => {
    const existing = node('a', {
      bgp: { ipv4Address: '10.0.0.9/8', routeReflectorClusterID: '244.0.0.1', ipv4IPIPTunnelAddr: '10.65.0.1' },
      ipv4VXLANTunnelAddr: '10.65.0.2',
      addresses: [{ address: '10.0.0.9/8', type: 'CalicoNodeIP' }, { address: '203.0.113.5', type: 'ExternalIP' }],
    });
    existing.metadata.labels = { rack: 'r1' };
    const m = mergeNode(existing, 'a', fields);
    assert.deepEqual(m.metadata.labels, { rack: 'r1' });
    assert.deepEqual(m.spec.bgp, { ipv4Address: '172.31.0.1/24', asNumber: 65001, routeReflectorClusterID: '244.0.0.1', ipv4IPIPTunnelAddr: '10.65.0.1' });
    assert.equal(m.spec.ipv4VXLANTunnelAddr, '10.65.0.2');
    assert.deepEqual(m.spec.addresses, [{ address: '172.31.0.1/24', type: 'CalicoNodeIP' }, { address: '203.0.113.5', type: 'ExternalIP' }]);
    assert.equal(existing.spec.bgp!.ipv4Address, '10.0.0.9/8', 'the input is not modified');
  });
});
