import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callControl, ControlServer } from '../../../src/node/control.js';
import { UserError } from '../../../src/util/errors.js';

describe('control socket', () => {
  let dir: string;
  let server: ControlServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tabby-ctl-'));
    server = new ControlServer(join(dir, 'sub', 'n.sock'), {
      status: () => ({ ok: true }),
      echo: async (p) => ({ got: p }),
      boom: () => {
        throw new Error('exploded');
      },
    });
    await server.start();
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is a socket with mode 0600', () => {
    const st = statSync(server.path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
  });

  it('answers requests, with params', async () => {
    assert.deepEqual(await callControl(server.path, 'status'), { ok: true });
    assert.deepEqual(await callControl(server.path, 'echo', { prefix: '10.0.0.0/8' }), { got: { prefix: '10.0.0.0/8' } });
  });

  it('turns handler errors and unknown methods into UserErrors', async () => {
    await assert.rejects(callControl(server.path, 'boom'), (e: unknown) => e instanceof UserError && /answered: exploded/.test(e.message));
    await assert.rejects(callControl(server.path, 'nope'), /unknown method "nope"/);
  });

  it('survives garbage and answers the next request on the same connection', async () => {
    const replies = await new Promise<string[]>((resolve, reject) => {
      const s = createConnection(server.path);
      let buf = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        buf += d;
        const lines = buf.split('\n').filter(Boolean);
        if (lines.length === 2) {
          s.end();
          resolve(lines);
        }
      });
      s.on('error', reject);
      s.write('{not json\n{"id":7,"method":"status"}\n');
    });
    assert.match(replies[0]!, /"error"/);
    assert.deepEqual(JSON.parse(replies[1]!), { id: 7, result: { ok: true } });
  });

  it('a missing daemon is a clear one-line error', async () => {
    await assert.rejects(callControl(join(dir, 'absent.sock'), 'status'), (e: unknown) => e instanceof UserError && e.message === `cannot reach the daemon at ${join(dir, 'absent.sock')}: no such socket; is tabby running?`);
  });

  it('refuses to start on a socket a live server holds, and replaces a stale file', async () => {
    const twin = new ControlServer(server.path, {});
    await assert.rejects(twin.start(), /in use by another running tabby/);
    const stalePath = join(dir, 'stale.sock');
    writeFileSync(stalePath, '');
    const s2 = new ControlServer(stalePath, { status: () => 2 });
    await s2.start();
    assert.equal(await callControl(stalePath, 'status'), 2);
    await s2.stop();
  });
});
