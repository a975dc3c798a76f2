/**
 * The interface manager's reads, made cheaper without changing what they
 * return: links and the local table in one batch, if_inet6 parsed only for
 * the devices asked about, and /proc read in batches that give the event
 * loop a turn (a real directory stands in for /proc).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIfInet6, parseLinkAndLocalBatch, parseLinkShowBatch, parseLocalTable } from '../../../../src/felix/interfaces/parse.js';
import { LocalProc, PROC_BATCH } from '../../../../src/felix/interfaces/procfs.js';
import { IF_INET6, LINK_BATCH_STDOUT, LOCAL_TABLE } from '../routes/fixtures.js';

describe('felix/interfaces: batched reads give the same answers', () => {
  it('one batch with the local table and the links parses like the two commands did', () => {
    const stdout = `${LOCAL_TABLE.trim()}\n${LINK_BATCH_STDOUT}`;
    const r = parseLinkAndLocalBatch(stdout);
    assert.deepEqual(r.links, parseLinkShowBatch(LINK_BATCH_STDOUT));
    assert.deepEqual(r.local, parseLocalTable(LOCAL_TABLE));
    // No local route at all ("[]") and no link: empty maps.
    assert.deepEqual(parseLinkAndLocalBatch('[]\n'), { links: new Map(), local: new Map() });
  });

  it('if_inet6 parsed for some devices equals the full parse filtered to them', () => {
    const full = parseIfInet6(IF_INET6);
    const names = [...new Set(full.map((e) => e.ifname))];
    for (const pick of [new Set([names[0]!]), new Set(names), new Set(['nope'])]) {
      assert.deepEqual(parseIfInet6(IF_INET6, pick), full.filter((e) => pick.has(e.ifname)));
    }
  });

  describe('LocalProc', () => {
    let root: string;
    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), `tby-${process.pid}-proc-`));
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    it('reads many files in batches, yielding between them, with the contents a plain read gives', async () => {
      const n = PROC_BATCH * 3 + 7;
      const paths: string[] = [];
      mkdirSync(join(root, 'sys'));
      for (let i = 0; i < n; i++) {
        writeFileSync(join(root, 'sys', `f${i}`), `${i}\n`);
        paths.push(`sys/f${i}`);
      }
      // A file larger than the read buffer, and one that does not exist.
      const big = Array.from({ length: 5000 }, (_, i) => `fe80000000000000ecee eeff feee${String(i).padStart(4, '0')} 05 40 20 80 cali${i}`).join('\n') + '\n';
      writeFileSync(join(root, 'big'), big);
      paths.push('big', 'sys/missing');
      const immediates = (() => {
        let k = 0;
        const loop = () => {
          k++;
          if (k < 1000) setImmediate(loop);
        };
        setImmediate(loop);
        return () => k;
      })();
      const got = await new LocalProc(root).read(paths);
      assert.equal(got.size, n + 1);
      for (let i = 0; i < n; i++) assert.equal(got.get(`sys/f${i}`), String(i));
      assert.equal(got.get('big'), readFileSync(join(root, 'big'), 'utf8').replace(/\n$/, ''));
      assert.equal(got.has('sys/missing'), false);
      assert.ok(immediates() >= 3, 'other callbacks ran between the batches');
    });

    it('writes in batches and reports the files it could not write', async () => {
      mkdirSync(join(root, 'sys'));
      const entries: Array<[string, string]> = [];
      for (let i = 0; i < PROC_BATCH + 3; i++) entries.push([`sys/w${i}`, String(i)]);
      entries.push(['nodir/x', '1']);
      const failed = await new LocalProc(root).write(entries);
      assert.deepEqual(failed.map((f) => f.path), ['nodir/x']);
      assert.equal(readFileSync(join(root, 'sys', `w${PROC_BATCH}`), 'utf8'), `${PROC_BATCH}\n`);
    });
  });
});
