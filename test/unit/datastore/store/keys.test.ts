import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../../../src/datastore/store/errors.js';
import { checkTxn, decodeKey, encodeKey, selectorPrefix } from '../../../../src/datastore/store/keys.js';

describe('store keys', () => {
  it('encodes cluster-scoped and namespaced keys reversibly', () => {
    const cases = [
      { kind: 'IPPool', name: 'default-ipv4' },
      { kind: 'WorkloadEndpoint', namespace: 'kube-system', name: 'node1-k8s-coredns-eth0' },
      { kind: 'ipam-block', name: 'fd00:10::-122' },
      { kind: 'ipam-handle', name: 'k8s-pod-network.0123abcd' },
    ];
    for (const k of cases) assert.deepEqual(decodeKey(encodeKey(k)), k);
    assert.equal(encodeKey({ kind: 'IPPool', name: 'a' }), 'IPPool/a');
    assert.equal(encodeKey({ kind: 'WorkloadEndpoint', namespace: 'ns', name: 'a' }), 'WorkloadEndpoint/ns/a');
  });

  it('rejects segments that would break the layout', () => {
    for (const bad of [
      { kind: 'IPPool', name: 'a/b' },
      { kind: 'IPPool', name: '' },
      { kind: 'IPPool', name: '..' },
      { kind: 'IPPool', name: 'tab\there' },
      { kind: 'IP/Pool', name: 'a' },
      { kind: '-x', name: 'a' },
      { kind: 'IPPool', namespace: '', name: 'a' },
    ]) {
      assert.throws(() => encodeKey(bad), InvalidArgumentError, JSON.stringify(bad));
    }
    assert.equal(decodeKey('a/b/c/d'), undefined);
    assert.equal(decodeKey('only'), undefined);
    assert.equal(decodeKey('K//x'), undefined);
  });

  it('turns selectors into prefixes that cannot match a longer kind', () => {
    assert.equal(selectorPrefix({ kind: 'IPPool' }), 'IPPool/');
    assert.equal(selectorPrefix({ kind: 'WorkloadEndpoint', namespace: 'ns' }), 'WorkloadEndpoint/ns/');
    assert.equal(selectorPrefix({ prefix: 'ipam-' }), 'ipam-');
  });

  it('validates transactions', () => {
    const k = { kind: 'K', name: 'a' };
    assert.throws(() => checkTxn({ compare: [{ key: k, revision: -1 }], ops: [] }), InvalidArgumentError);
    assert.throws(() => checkTxn({ compare: [{ key: k, revision: 1.5 }], ops: [] }), InvalidArgumentError);
    assert.throws(() => checkTxn({ compare: [], ops: [{ type: 'put', key: k, value: 1 }, { type: 'put', key: k, value: 2 }] }), /more than once/);
    assert.throws(() => checkTxn({ compare: [], ops: [{ type: 'put', key: k, value: () => 1 }] }), /not serialisable/);
    const c = checkTxn({ compare: [{ key: k, exists: true }], ops: [{ type: 'put', key: k, value: { a: 1 }, lease: '5' }] });
    assert.deepEqual(c.ops, [{ type: 'put', key: k, k: 'K/a', value: { a: 1 }, json: '{"a":1}', lease: '5' }]);
  });
});
