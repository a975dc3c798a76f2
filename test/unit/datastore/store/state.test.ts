import assert from 'node:assert/strict';
import { StoreState } from '../../../../src/datastore/store/embedded/state.js';

describe('embedded store state', () => {
  function seeded(): StoreState {
    const st = new StoreState();
    st.apply({ seq: 1, rev: 1, kv: [{ t: 'put', k: 'K/a', v: '{"n":1}' }] });
    st.apply({ seq: 2, leases: [{ t: 'grant', id: '2', ttl: 10, exp: 1_000 }] });
    st.apply({ seq: 3, rev: 2, kv: [{ t: 'put', k: 'K/b', v: '{"n":2}', l: '2' }, { t: 'put', k: 'K/a', v: '{"n":3}' }] });
    return st;
  }

  it('applies records: revisions, create/mod revisions, versions, lease attachment', () => {
    const st = seeded();
    assert.equal(st.seq, 3);
    assert.equal(st.revision, 2);
    assert.deepEqual(st.entries.get('K/a'), { json: '{"n":3}', mod: 2, create: 1, ver: 2 });
    assert.deepEqual(st.entries.get('K/b'), { json: '{"n":2}', mod: 2, create: 2, ver: 1, lease: '2' });
    assert.deepEqual([...st.leases.get('2')!.keys], ['K/b']);
  });

  it('refuses a record out of sequence or with a skipped revision', () => {
    const st = seeded();
    assert.throws(() => st.apply({ seq: 5 }), /expected record seq 4/);
    assert.throws(() => st.apply({ seq: 4, rev: 4, kv: [{ t: 'del', k: 'K/a' }] }), /expected revision 3/);
    assert.equal(st.seq, 3);
  });

  it('hides keys of an expired lease before the revoke is written', () => {
    const st = seeded();
    assert.ok(st.visible('K/b', 999));
    assert.equal(st.visible('K/b', 1_001), undefined);
    assert.deepEqual(st.visibleWithPrefix('K/', 1_001).map(([k]) => k), ['K/a']);
    assert.deepEqual(st.expiredLeases(1_001), ['2']);
    assert.equal(st.nextLeaseDeadline(), 1_000);
  });

  it('plans a revoke that deletes exactly the keys still attached', () => {
    const st = seeded();
    st.apply({ seq: 4, rev: 3, kv: [{ t: 'put', k: 'K/c', v: '1', l: '2' }] });
    st.apply({ seq: 5, rev: 4, kv: [{ t: 'put', k: 'K/c', v: '2' }] }); // detached
    assert.deepEqual(st.planRevoke(['2', 'unknown']), { kv: [{ t: 'del', k: 'K/b' }], leases: [{ t: 'revoke', id: '2' }] });
  });

  it('plans transactions: compares on mod revision, absence and existence; no-op deletes dropped', () => {
    const st = seeded();
    assert.deepEqual(
      st.planTxn(
        [{ k: 'K/a', revision: 2 }, { k: 'K/z', revision: 0 }, { k: 'K/b', exists: true }],
        [{ type: 'delete', k: 'K/none' }, { type: 'put', k: 'K/z', json: '1' }, { type: 'delete', k: 'K/a' }],
      ),
      { ok: true, kv: [{ t: 'put', k: 'K/z', v: '1' }, { t: 'del', k: 'K/a' }] },
    );
    assert.deepEqual(st.planTxn([{ k: 'K/a', revision: 1 }, { k: 'K/q', exists: true }], []), { ok: false, current: [2, 0] });
    assert.deepEqual(st.planTxn([], [{ type: 'delete', k: 'K/none' }]), { ok: true, kv: [] });
    assert.deepEqual(st.planTxn([], [{ type: 'put', k: 'K/x', json: '1', lease: '99' }]), { ok: false, missingLease: '99' });
  });

  it('round-trips through a snapshot', () => {
    const st = seeded();
    const back = StoreState.fromSnapshot(JSON.parse(JSON.stringify(st.toSnapshot())));
    assert.equal(back.seq, st.seq);
    assert.equal(back.revision, st.revision);
    assert.deepEqual([...back.entries], [...st.entries]);
    assert.deepEqual([...back.leases.get('2')!.keys], ['K/b']);
    back.apply({ seq: 4, rev: 3, kv: [{ t: 'del', k: 'K/b' }] });
    assert.deepEqual([...back.leases.get('2')!.keys], []);
  });
});
