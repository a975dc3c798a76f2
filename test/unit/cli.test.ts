import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const TABBY = join(new URL('../../../', import.meta.url).pathname, 'bin', 'tabby');
const tabby = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(TABBY, args, { encoding: 'utf8', env: { ...process.env, ...env } });

describe('tabby CLI', () => {
  const contract = ['daemon', 'apply', 'delete', 'get', 'status', 'routes', 'bgp', 'ipam', 'lab', 'policy'];

  it('--help lists every command of the contract', () => {
    const r = tabby(['--help']);
    assert.equal(r.status, 0);
    for (const c of contract) assert.match(r.stdout, new RegExp(`^  ${c}\\b`, 'm'), `missing ${c}`);
  });

  for (const c of [...contract, 'ipam show', 'ipam check', 'policy explain', 'lab up', 'lab down', 'lab status']) {
    it(`${c} --help works`, () => {
      const r = tabby([...c.split(' '), '--help']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^Usage: tabby /);
    });
  }

  it('lab up refuses an unknown topology or a bad lab name before building anything', () => {
    const bad = tabby(['lab', 'up', '--topology', 'star', '--name', 'neverup']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /star/);
    const name = tabby(['lab', 'up', '--name', 'Not_A_Name']);
    assert.notEqual(name.status, 0);
    assert.match(name.stderr, /lab name "Not_A_Name"/);
  });

  it('--version prints one line (the benchmark harness reads it)', () => {
    const r = tabby(['--version']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^tabby \d+\.\d+\.\d+\n$/);
  });

  it('an unknown command or option is a usage error with exit 2', () => {
    const r = tabby(['frobnicate']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^tabby: unknown command 'frobnicate'/);
    const r2 = tabby(['get', 'ippools', '-o', 'xml']);
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /argument 'xml' is invalid/);
  });

  it('as a CNI plugin, VERSION lists the supported versions', () => {
    const r = tabby([], { CNI_COMMAND: 'VERSION' });
    assert.equal(r.status, 0);
    const out = JSON.parse(r.stdout) as { supportedVersions: string[] };
    assert.deepEqual(out.supportedVersions, ['0.3.1', '0.4.0', '1.0.0']);
  });
});
