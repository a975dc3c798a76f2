import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../../../src/datastore/store/index.js';

const STORE_INDEX = new URL('../../../../src/datastore/store/index.js', import.meta.url).href;

describe('embedded store: many processes opening one fresh directory at once', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tby-open-race-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('in one process: every concurrent open succeeds and sees one store', async () => {
    const path = join(dir, 'store');
    const stores = await Promise.all(Array.from({ length: 8 }, () => openStore({ type: 'embedded', path, unsafeNoSync: true })));
    await stores[0]!.put({ kind: 'x', name: 'a' }, 1);
    assert.deepEqual((await stores[7]!.get({ kind: 'x', name: 'a' }))?.value, 1);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('across processes: none sees the others half-way and refuses the directory', async () => {
    const path = join(dir, 'store');
    const script = join(dir, 'opener.mjs');
    writeFileSync(script, `const { openStore } = await import(${JSON.stringify(STORE_INDEX)});
const s = await openStore({ type: 'embedded', path: ${JSON.stringify(path)}, unsafeNoSync: true });
await s.put({ kind: 'x', name: String(process.pid) }, 1);
await s.close();
`);
    for (let round = 0; round < 3; round++) {
      rmSync(path, { recursive: true, force: true });
      const codes = await Promise.all(
        Array.from({ length: 6 }, () => new Promise<number | null>((resolve) => fork(script, [], { stdio: 'ignore' }).once('exit', resolve))),
      );
      assert.deepEqual(codes, [0, 0, 0, 0, 0, 0], `round ${round}`);
      const s = await openStore({ type: 'embedded', path, unsafeNoSync: true });
      assert.equal((await s.list({ kind: 'x' })).items.length, 6);
      await s.close();
    }
  });
});
