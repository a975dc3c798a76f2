/**
 * The etcd watch's resume logic against a scripted fake Watch stream, so
 * that disconnects land exactly where we want them (the real-server restart
 * test in the contract cannot place them deterministically).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Etcd3, IWatchRequest } from 'etcd3';
import { EtcdWatch } from '../../../../src/datastore/store/etcd/etcd-watch.js';
import { WatchDelivery } from '../../../../src/datastore/store/watch-delivery.js';
import type { WatchNotification } from '../../../../src/datastore/store/types.js';
import { summarise, waitFor } from './helpers.js';

class FakeStream extends EventEmitter {
  readonly written: IWatchRequest[] = [];
  cancelled = false;
  write(req: IWatchRequest): void {
    this.written.push(req);
  }
  end(): void {}
  cancel(): void {
    this.cancelled = true;
  }
}

const header = (revision: number) => ({ revision: String(revision), cluster_id: '1', member_id: '1', raft_term: '1' });
const kv = (name: string, rev: number, value?: unknown) => ({
  key: Buffer.from(`/p/K/${name}`),
  value: Buffer.from(value === undefined ? '' : JSON.stringify(value)),
  mod_revision: String(rev),
  create_revision: String(rev),
  version: '1',
  lease: '0',
});
const response = (events: { type: 'Put' | 'Delete'; kv: ReturnType<typeof kv> }[], rev: number, extra: Record<string, unknown> = {}) => ({
  header: header(rev),
  watch_id: '1',
  created: false,
  canceled: false,
  compact_revision: '0',
  cancel_reason: '',
  fragment: false,
  events: events.map((e) => ({ ...e, prev_kv: undefined })),
  ...extra,
});

describe('etcd watch resume (fake stream)', () => {
  it('resumes after the last fully queued revision, drops replays, honours progress, ends on compaction', async () => {
    const streams: FakeStream[] = [];
    const fake = { watchClient: { watch: async () => (streams.push(new FakeStream()), streams.at(-1)!) } } as unknown as Etcd3;
    const got: WatchNotification[] = [];
    const delivery = new WatchDelivery((n) => void got.push(n), 4, () => undefined);
    const w = new EtcdWatch(fake, { key: Buffer.from('/p/K/'), rangeEnd: Buffer.from('/p/K0'), decode: (b) => ({ kind: 'K', name: b.toString().slice(5) }) }, delivery, 4);
    const started = w.start(5_000);
    await waitFor('first stream', () => streams.length === 1 && streams[0]!.written.length === 1);
    assert.equal(streams[0]!.written[0]!.create_request!.start_revision, 5);
    streams[0]!.emit('data', response([], 4, { created: true }));
    await started;

    streams[0]!.emit('data', response([{ type: 'Put', kv: kv('a', 5, 1) }], 5));
    streams[0]!.emit('data', response([{ type: 'Put', kv: kv('b', 6, 2) }, { type: 'Delete', kv: kv('c', 6) }], 6));
    streams[0]!.emit('error', new Error('connection reset'));
    assert.ok(streams[0]!.cancelled);

    await waitFor('second stream', () => streams.length === 2 && streams[1]!.written.length === 1);
    assert.equal(streams[1]!.written[0]!.create_request!.start_revision, 7);
    streams[1]!.emit('data', response([], 9, { created: true }));
    // etcd replays from 7, but suppose a server sent 6 again: it must not be delivered twice.
    streams[1]!.emit('data', response([{ type: 'Put', kv: kv('b', 6, 2) }, { type: 'Put', kv: kv('d', 7, 4) }], 9));
    // Events from a stream that has been replaced are ignored.
    streams[0]!.emit('data', response([{ type: 'Put', kv: kv('zombie', 8, 0) }], 8));
    // Progress notification: all up to 20 sent.
    streams[1]!.emit('data', response([], 20));
    assert.equal(w.lastQueued, 20);
    streams[1]!.emit('end');

    await waitFor('third stream', () => streams.length === 3 && streams[2]!.written.length === 1);
    assert.equal(streams[2]!.written[0]!.create_request!.start_revision, 21);
    streams[2]!.emit('data', response([], 40, { created: true, canceled: true, compact_revision: '30' }));
    await delivery.idle();
    assert.deepEqual(summarise(got), ['put K/a=1', 'put K/b=2', 'delete K/c', 'put K/d=4', 'resync:compacted']);
    const last = got.at(-1)!;
    assert.ok(last.type === 'resync' && last.fromRevision === 20 && last.compactRevision === 30);
    assert.ok(streams[2]!.cancelled, 'a compacted watch closes its stream');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(streams.length, 3, 'and does not reconnect');
  });

  it('gives up establishing a watch after the timeout, and stops retrying', async () => {
    let attempts = 0;
    const fake = { watchClient: { watch: async () => { attempts++; throw new Error('No connection established'); } } } as unknown as Etcd3;
    const delivery = new WatchDelivery(() => undefined, 0, () => undefined);
    const w = new EtcdWatch(fake, { key: Buffer.from('a'), rangeEnd: Buffer.from('b'), decode: () => undefined }, delivery, 0);
    await assert.rejects(w.start(400), /could not establish an etcd watch/);
    const after = attempts;
    assert.ok(after >= 1);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(attempts, after);
  });
});
