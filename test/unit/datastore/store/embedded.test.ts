import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, StoreCorruptError, type EmbeddedStoreConfig, type Store } from '../../../../src/datastore/store/index.js';
import { encodeRecord } from '../../../../src/datastore/store/embedded/record-codec.js';
import { storeContract } from './contract.js';
import { collect, summarise } from './helpers.js';

const dirs: string[] = [];
async function freshDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `tby-store-${process.pid}-`));
  dirs.push(d);
  return d;
}

after(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

storeContract({
  name: 'embedded',
  freshConfig: async () => ({ type: 'embedded', path: join(await freshDir(), 'store') }),
});

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith('log-')).sort();
}

describe('embedded store specifics', function () {
  this.timeout(120_000);
  const open: Store[] = [];
  const openAt = async (config: EmbeddedStoreConfig): Promise<Store> => {
    const s = await openStore(config);
    open.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  it('is consistent after writers are SIGKILLed in the middle of writing', async function () {
    this.timeout(300_000);
    const config: EmbeddedStoreConfig = { type: 'embedded', path: join(await freshDir(), 'store'), segmentMaxBytes: 256 * 1024 };
    const worker = fileURLToPath(new URL('./crash-writer.js', import.meta.url));
    let lastCounter = 0;
    for (let round = 0; round < 4; round++) {
      const child = fork(worker, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
      // Kill it once it has made some progress (a count, not a time).
      await new Promise<void>((resolve, reject) => {
        child.on('message', (m: { step: number }) => {
          if (m.step >= 20 + round * 7) resolve();
        });
        child.once('exit', (code) => reject(new Error(`writer exited by itself with ${code}`)));
      });
      process.kill(child.pid!, 'SIGKILL');
      assert.equal(await exited, 'SIGKILL');

      const store = await openAt(config);
      const counter = await store.get<{ n: number }>({ kind: 'counter', name: 'crash' });
      const items = await store.list<{ n: number }>('item');
      assert.ok(counter, 'the counter survived');
      assert.equal(items.items.length, counter.value.n, 'every committed step has its item, and no item lacks its step');
      assert.deepEqual(
        items.items.map((i) => i.value.n).sort((a, b) => a - b),
        Array.from({ length: counter.value.n }, (_, i) => i),
      );
      assert.ok(counter.value.n > lastCounter);
      lastCounter = counter.value.n;
      // The store still takes writes (the torn tail, if any, is repaired) and they are visible to a new opener.
      const rev = await store.put({ kind: 'marker', name: `round-${round}` }, { round });
      const again = await openAt(config);
      assert.equal((await again.get({ kind: 'marker', name: `round-${round}` }))?.revision, rev);
      for (const s of open.splice(0)) await s.close();
    }
  });

  it('ignores a torn record at the tail until a writer truncates it', async () => {
    const dir = join(await freshDir(), 'store');
    const a = await openAt({ type: 'embedded', path: dir });
    const r1 = await a.put({ kind: 'k', name: 'one' }, { v: 1 });
    const [seg] = await segmentFiles(dir);
    const segPath = join(dir, seg!);
    const goodSize = (await stat(segPath)).size;
    // Half of the frame a dying writer was appending.
    const frame = encodeRecord({ seq: 999, rev: 999, kv: [{ t: 'put', k: 'k/ghost', v: '1' }] });
    await appendFile(segPath, frame.subarray(0, frame.length - 3));

    const b = await openAt({ type: 'embedded', path: dir });
    assert.equal((await b.get({ kind: 'k', name: 'one' }))?.revision, r1);
    assert.equal(await b.get({ kind: 'k', name: 'ghost' }), undefined);
    assert.equal(await b.currentRevision(), r1);
    const r2 = await b.put({ kind: 'k', name: 'two' }, { v: 2 });
    assert.equal(r2, r1 + 1);
    assert.ok((await stat(segPath)).size > goodSize);
    // The first instance reads past the repaired spot.
    assert.deepEqual((await a.list('k')).items.map((i) => i.key.name), ['one', 'two']);
  });

  it('refuses to truncate damage that is followed by valid records', async () => {
    const dir = join(await freshDir(), 'store');
    const a = await openAt({ type: 'embedded', path: dir });
    await a.put({ kind: 'k', name: 'one' }, { v: 1 });
    await a.put({ kind: 'k', name: 'two' }, { v: 2 });
    await a.put({ kind: 'k', name: 'three' }, { v: 3 });
    await a.close();
    open.length = 0;
    const [seg] = await segmentFiles(dir);
    const segPath = join(dir, seg!);
    const bytes = await readFile(segPath);
    // Flip one byte inside the second record's payload.
    const first = bytes.readUInt32BE(4) + 12;
    bytes[first + 12 + 5] ^= 0xff;
    await writeFile(segPath, bytes);
    const b = await openAt({ type: 'embedded', path: dir });
    await assert.rejects(b.put({ kind: 'k', name: 'four' }, { v: 4 }), StoreCorruptError);
    assert.deepEqual(await readFile(segPath), bytes, 'nothing was truncated');
  });

  it('rolls segments with snapshots, keeps a bounded history, and resyncs watches older than it', async () => {
    const dir = join(await freshDir(), 'store');
    const config: EmbeddedStoreConfig = { type: 'embedded', path: dir, segmentMaxBytes: 4096, retainSegments: 2 };
    const a = await openAt(config);
    const w = await collect(a, 'k', 0);
    for (let i = 0; i < 200; i++) await a.put({ kind: 'k', name: `n${i % 20}` }, { i, pad: 'y'.repeat(100) });
    await w.waitCount(200);
    assert.equal(w.got.length, 200);
    assert.ok(w.got.every((n) => n.type === 'put'));
    const segs = await segmentFiles(dir);
    assert.equal(segs.length, 2, `retention keeps 2 segments, found ${segs.join(', ')}`);
    assert.equal((await readdir(dir)).filter((n) => n.startsWith('snap-')).length, 1);

    // A new process rebuilds the same state from the snapshot and the log.
    const b = await openAt(config);
    const list = await b.list<{ i: number }>('k');
    assert.equal(list.revision, await a.currentRevision());
    assert.deepEqual(
      list.items.map((i) => i.value.i),
      (await a.list<{ i: number }>('k')).items.map((i) => i.value.i),
    );
    // History from the start is gone; history from a recent revision is not.
    const old = await collect(b, 'k', 1);
    await old.waitCount(1);
    assert.equal(old.got[0]!.type, 'resync');
    const recent = await collect(b, 'k', list.revision - 3);
    await recent.waitCount(3);
    assert.deepEqual(
      summarise(recent.got).map((s) => s.replace(/,"pad":"y+"/, '')),
      ['put k/n17={"i":197}', 'put k/n18={"i":198}', 'put k/n19={"i":199}'],
    );
    await w.handle.stop();
    await old.handle.stop();
    await recent.handle.stop();
  });

  it('reloads a reader that fell behind the retained history', async () => {
    const dir = join(await freshDir(), 'store');
    const config: EmbeddedStoreConfig = { type: 'embedded', path: dir, segmentMaxBytes: 2048, retainSegments: 1 };
    const behind = await openAt(config);
    await behind.put({ kind: 'k', name: 'first' }, { v: 0 });
    const writer = await openAt(config);
    for (let i = 0; i < 100; i++) await writer.put({ kind: 'k', name: `n${i}` }, { v: i, pad: 'z'.repeat(100) });
    // `behind` never read meanwhile: its segment and the next ones are gone.
    const list = await behind.list('k');
    assert.equal(list.items.length, 101);
    assert.equal(list.revision, await writer.currentRevision());
  });

  it('refuses a non-empty directory that is not a store', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'important.txt'), 'do not touch');
    await assert.rejects(openStore({ type: 'embedded', path: dir }), (err: unknown) => err instanceof StoreCorruptError && /not a tabby store/.test(err.message));
    assert.deepEqual(await readdir(dir), ['important.txt']);
  });

  it('documents its layout: meta file, lock, segments', async () => {
    const dir = join(await freshDir(), 'store');
    const s = await openAt({ type: 'embedded', path: dir });
    await s.put({ kind: 'k', name: 'a' }, 1);
    assert.deepEqual((await readdir(dir)).sort(), ['lock', 'log-0000000000000000-0000000000000000.seg', 'tabby-store.json']);
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'tabby-store.json'), 'utf8')), { format: 'tabby-embedded-store', version: 1 });
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
  });
});
