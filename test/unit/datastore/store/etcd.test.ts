import assert from 'node:assert/strict';
import { EtcdStore, StoreUnavailableError, openStore } from '../../../../src/datastore/store/index.js';
import { prefixRangeEnd } from '../../../../src/datastore/store/etcd/etcd-store.js';
import { storeContract } from './contract.js';
import { EtcdServer, ETCD_BINARY } from './etcd-server.js';

describe('etcd store backend', function () {
  this.timeout(120_000);

  it('computes prefix range ends as etcd does', () => {
    assert.deepEqual(prefixRangeEnd(Buffer.from('/tabby/v1/')), Buffer.from('/tabby/v10'));
    assert.deepEqual(prefixRangeEnd(Buffer.from([0x61, 0xff])), Buffer.from([0x62]));
    assert.deepEqual(prefixRangeEnd(Buffer.from([0xff, 0xff])), Buffer.from([0]));
  });

  if (!EtcdServer.available()) {
    it.skip(`needs a real etcd: ${ETCD_BINARY} is absent`, () => undefined);
    return;
  }

  const server = new EtcdServer();
  let n = 0;
  before(() => server.start());
  after(() => server.destroy());

  storeContract({
    name: 'etcd',
    freshConfig: async () => ({ type: 'etcd', endpoints: [server.endpoint], prefix: `/tabby-test-${process.pid}-${n++}/v1/`, dialTimeoutMs: 15_000 }),
    restartServer: () => server.restart(),
  });

  describe('etcd specifics', () => {
    it('lays keys out under the prefix as <kind>/<namespace>/<name> with JSON values', async () => {
      const prefix = `/tabby-layout-${process.pid}/`;
      const store = (await openStore({ type: 'etcd', endpoints: [server.endpoint], prefix })) as EtcdStore;
      try {
        await store.put({ kind: 'WorkloadEndpoint', namespace: 'ns1', name: 'w1' }, { a: 1 });
        await store.put({ kind: 'IPPool', name: 'p1' }, { b: 2 });
        // Read back with the raw etcd client API, bypassing the store.
        const { Etcd3 } = await import('etcd3');
        const raw = new Etcd3({ hosts: server.endpoint });
        try {
          assert.deepEqual(await raw.getAll().prefix(prefix).strings(), {
            [`${prefix}IPPool/p1`]: '{"b":2}',
            [`${prefix}WorkloadEndpoint/ns1/w1`]: '{"a":1}',
          });
        } finally {
          raw.close();
        }
      } finally {
        await store.close();
      }
    });

    it('fails to open with StoreUnavailableError naming the endpoint when etcd is not there', async () => {
      await assert.rejects(openStore({ type: 'etcd', endpoints: ['http://127.0.0.1:1'], dialTimeoutMs: 500 }), (err: unknown) => {
        assert.ok(err instanceof StoreUnavailableError);
        assert.match(err.message, /cannot reach etcd at http:\/\/127\.0\.0\.1:1/);
        return true;
      });
    });
  });
});
