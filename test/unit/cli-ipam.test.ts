import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/datastore/store/index.js';
import { Ipam, storePoolSource } from '../../src/ipam/index.js';

const TABBY = join(new URL('../../../', import.meta.url).pathname, 'bin', 'tabby');

describe('tabby ipam show / check', () => {
  let dir: string;
  let env: Record<string, string>;
  const tabby = (args: string[]) => spawnSync(TABBY, args, { encoding: 'utf8', env: { ...process.env, ...env } });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tabby-ipamcli-'));
    const cfg = join(dir, 'node.yaml');
    writeFileSync(cfg, `nodeName: n1\ndatastore: { type: embedded, path: ${join(dir, 'ds')} }\n`);
    writeFileSync(join(dir, 'pool.yaml'), 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: { name: p }\nspec: { cidr: 10.65.0.0/24, blockSize: 28 }\n');
    env = { TABBY_CONFIG: cfg };
    assert.equal(tabby(['apply', '-f', join(dir, 'pool.yaml')]).status, 0);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('shows blocks, affinity and use after allocations, and the owner of an address', async () => {
    const store = await openStore({ type: 'embedded', path: join(dir, 'ds') });
    try {
      const ipam = new Ipam({ store, pools: storePoolSource(store) });
      const a = await ipam.autoAssign({ handleId: 'ctr-1', node: 'n1', num4: 3 });
      assert.equal(a.ipv4.length, 3);
    } finally {
      await store.close();
    }
    const r = tabby(['ipam', 'show']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /10\.65\.0\.0\/28/);
    assert.match(r.stdout, /10\.65\.0\.0\/28 +p +n1 +confirmed +3 /);
    const ip = tabby(['ipam', 'show', '--ip', '10.65.0.0']);
    assert.match(ip.stdout, /ctr-1/);
    const c = tabby(['ipam', 'check']);
    assert.equal(c.status, 0, c.stdout + c.stderr);
    assert.match(c.stdout, /no problems found/);
  });

  it('check finds a leaked address (its handle deleted behind IPAM\'s back) and exits 1', async () => {
    const store = await openStore({ type: 'embedded', path: join(dir, 'ds') });
    try {
      await store.delete({ kind: 'ipam-handle', name: 'ctr-1' });
    } finally {
      await store.close();
    }
    const c = tabby(['ipam', 'check']);
    assert.equal(c.status, 1);
    assert.match(c.stdout, /ctr-1/);
    assert.match(c.stdout, /fix/i);
  });
});
