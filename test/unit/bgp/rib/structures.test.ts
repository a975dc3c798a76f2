import assert from 'node:assert/strict';
import { AttrTable, asPathText } from '../../../../src/bgp/rib/attrs.js';
import { IdMap } from '../../../../src/bgp/rib/id-map.js';
import { decodeIpv4Nlri, encodeIpv4Nlri, Ipv4Batch, PidNlriSource } from '../../../../src/bgp/rib/nlri.js';
import { decodeUpdateBody, packUpdatesFrom, packWithdrawalsFrom, sessionContext } from '../../../../src/bgp/wire/index.js';
import { parseV4Prefix, PrefixIndex } from '../../../../src/bgp/rib/prefix-index.js';
import { pa, rng } from './helpers.js';

describe('bgp/rib IdMap', () => {
  it('behaves like a Map through random sets and deletes, across both layouts', () => {
    let universe = 64;
    const m = new IdMap({ get universe() { return universe; }, get capacity() { return universe; } });
    const ref = new Map<number, number>();
    const r = rng(7);
    const layouts = new Set<string>();
    for (let step = 0; step < 60000; step++) {
      if (step === 2000) universe = 4096; // the universe grows like the prefix index does
      const id = Math.floor(r() * universe);
      const op = r();
      if (op < 0.6 || step > 20000 && step < 30000) {
        const v = 1 + Math.floor(r() * 1000);
        assert.equal(m.set(id, v), ref.get(id) ?? 0);
        ref.set(id, v);
      } else {
        assert.equal(m.delete(id), ref.get(id) ?? 0);
        ref.delete(id);
      }
      layouts.add(m.layout);
      if (step % 997 === 0) {
        assert.equal(m.size, ref.size);
        for (const [k, v] of ref) assert.equal(m.get(k), v);
        let n = 0;
        m.forEach((k, v) => {
          assert.equal(ref.get(k), v);
          n++;
        });
        assert.equal(n, ref.size);
      }
    }
    // Drain to make it sparse again.
    for (const k of [...ref.keys()]) {
      m.delete(k);
      ref.delete(k);
    }
    assert.equal(m.size, 0);
    assert.ok(layouts.has('hash') && layouts.has('dense'), `saw layouts ${[...layouts]}`);
  });

  it('copyTo, ids and mapValues', () => {
    const m = new IdMap({ universe: 100, capacity: 128 });
    for (let i = 0; i < 50; i += 5) m.set(i, i + 1);
    const ids = new Int32Array(3);
    const vals = new Int32Array(3);
    assert.equal(m.copyTo(ids, vals), 3);
    for (let i = 0; i < 3; i++) assert.equal(vals[i], ids[i]! + 1);
    assert.deepEqual([...m.ids()].sort((a, b) => a - b), [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]);
    m.mapValues((v) => v * 2);
    assert.equal(m.get(45), 92);
    m.clear();
    assert.equal(m.size, 0);
    assert.equal(m.get(45), 0);
  });
});

describe('bgp/rib PrefixIndex', () => {
  it('parses and prints IPv4 prefixes, clearing host bits', () => {
    assert.deepEqual(parseV4Prefix('10.1.2.3/16'), [0x0a010000, 16]);
    assert.deepEqual(parseV4Prefix('0.0.0.0/0'), [0, 0]);
    assert.deepEqual(parseV4Prefix('255.255.255.255/32'), [0xffffffff, 32]);
    for (const bad of ['10.0.0/8', '10.0.0.0', '10.0.0.0/33', '256.0.0.0/8', '1.2.3.4/', 'a.b.c.d/8', '1.2.3.4.5/8', '::/0']) {
      assert.equal(parseV4Prefix(bad), undefined, bad);
    }
  });

  it('gives one id per prefix, keeps it while referenced and recycles it after collect', () => {
    const idx = new PrefixIndex(16);
    const a = idx.acquireText('10.0.0.0/24');
    assert.equal(idx.acquireText('10.0.0.7/24'), a, 'host bits ignored');
    assert.equal(idx.refCount(a), 2);
    const b = idx.acquireText('2001:DB8:0:0::/32');
    assert.equal(idx.text(b), '2001:db8::/32');
    assert.equal(idx.family(b), 6);
    assert.equal(idx.findText('2001:db8::/32'), b);
    assert.equal(idx.text(a), '10.0.0.0/24');
    assert.equal(idx.length(a), 24);
    idx.release(a);
    idx.release(a);
    assert.equal(idx.findText('10.0.0.0/24'), a, 'still there until collect');
    assert.equal(idx.collect(), 1);
    assert.equal(idx.findText('10.0.0.0/24'), -1);
    assert.equal(idx.isLive(a), false);
    const c = idx.acquireText('192.168.0.0/16');
    assert.equal(c, a, 'freed id is reused');
    assert.throws(() => idx.acquireText('nonsense'), RangeError);
    assert.throws(() => idx.release(idx.acquireText('1.0.0.0/8') + 100));
  });

  it('agrees with a Map through random churn of many prefixes (hash growth and deletion)', () => {
    const idx = new PrefixIndex(16);
    const ref = new Map<string, number>();
    const r = rng(11);
    for (let step = 0; step < 40000; step++) {
      const len = [8, 16, 22, 24, 24, 24, 26, 32][Math.floor(r() * 8)]!;
      const addr = (Math.floor(r() * 4096) << 20) >>> 0 | (Math.floor(r() * 4096) << 8);
      const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      const net = (addr & mask) >>> 0;
      const key = `${net}/${len}`;
      if (r() < 0.6) {
        const pid = idx.acquireV4(net, len);
        const had = ref.get(key);
        if (had !== undefined) {
          assert.equal(pid, had);
          idx.release(pid); // keep exactly one reference per live prefix
        }
        ref.set(key, pid);
      } else {
        const pid = idx.findV4(net, len);
        assert.equal(pid, ref.get(key) ?? -1);
        if (pid >= 0) {
          idx.release(pid);
          ref.delete(key);
          assert.equal(idx.collect(), 1);
        }
      }
    }
    idx.collect();
    assert.equal(idx.size, ref.size);
    for (const [key, pid] of ref) {
      const [net, len] = key.split('/').map(Number);
      assert.equal(idx.findV4(net!, len!), pid);
      assert.equal(idx.v4Addr(pid), net);
    }
  });
});

describe('bgp/rib AttrTable (interning)', () => {
  it('returns one object per distinct attribute set', () => {
    const t = new AttrTable();
    const a = t.intern(pa([65001, 65002], { communities: [1, 2], med: 5 }));
    const b = t.intern(pa([65001, 65002], { communities: [1, 2], med: 5 }));
    const c = t.intern(pa([65001, 65002], { communities: [2, 1], med: 5 }));
    const d = t.intern(pa([65001, 65002], { communities: [1, 2] }));
    assert.equal(a, b);
    assert.notEqual(a, c, 'community order is part of the set');
    assert.notEqual(a, d, 'MED absent differs from MED present');
    assert.equal(t.intern(a), a);
    assert.equal(t.size, 3);
  });

  it('frees sets at collect() once nothing references them, and reuses ids', () => {
    const t = new AttrTable();
    const a = t.intern(pa([1]));
    const b = t.intern(pa([2]));
    t.retain(a);
    t.retain(a);
    assert.equal(t.collect(), 1, 'b was never stored');
    assert.equal(b.id, 0);
    const e0 = t.epoch;
    t.release(a);
    assert.equal(t.collect(), 0, 'a still has a reference');
    t.release(a);
    assert.equal(t.get(a.id), a, 'alive until collect');
    assert.equal(t.collect(), 1);
    assert.equal(t.size, 0);
    assert.ok(t.epoch > e0);
    const c = t.intern(pa([3]));
    assert.ok(c.id > 0);
    assert.throws(() => t.release(c));
  });

  it('derives path length, neighbour AS and the regex text', () => {
    const t = new AttrTable();
    const s = t.intern(pa([{ type: 'sequence', asns: [65001, 65002] }, { type: 'set', asns: [7, 8] }]));
    assert.equal(s.pathLength, 3);
    assert.equal(s.neighbourAs, 65001);
    assert.equal(s.pathText, '65001 65002 {7,8}');
    assert.ok(s.pathContains(8) && !s.pathContains(9));
    assert.equal(asPathText([]), '');
    assert.equal(t.intern(pa([])).neighbourAs, 0);
  });

  it('copies input arrays, and shares arrays between derived sets when asked', () => {
    const t = new AttrTable();
    const input = pa([65001], { communities: [5] });
    const s = t.intern(input);
    assert.notEqual(s.communities, input.communities, 'copied to exact size');
    (input.communities as number[]).push(6);
    assert.deepEqual(s.communities, [5], 'later changes to the input do not leak in');
    const derived = t.intern(s.with({ med: 1 }), true);
    assert.notEqual(derived, s);
    assert.equal(derived.communities, s.communities, 'shared, not copied');
    assert.equal(derived.asPath, s.asPath);
  });

  it('keeps interning correct through growth, hash collisions and frees', () => {
    const t = new AttrTable();
    const sets = [];
    for (let i = 0; i < 5000; i++) sets.push(t.intern(pa([65001, i], { med: i % 7 })));
    for (let i = 0; i < 5000; i += 2) t.retain(sets[i]!);
    assert.equal(t.collect(), 2500);
    for (let i = 0; i < 5000; i++) {
      const again = t.intern(pa([65001, i], { med: i % 7 }));
      if (i % 2 === 0) assert.equal(again, sets[i], `set ${i} found again`);
      else assert.notEqual(again, sets[i]);
    }
    assert.equal(t.size, 5000);
  });
});

describe('bgp/rib IPv4 NLRI fast path', () => {
  it('decodes, clears host bits and encodes back', () => {
    const wire = Buffer.from([24, 10, 1, 2, 32, 192, 0, 2, 1, 0, 17, 172, 16, 255]);
    const b = new Ipv4Batch(1);
    assert.equal(decodeIpv4Nlri(wire, 0, wire.length, b), undefined);
    assert.equal(b.count, 4);
    assert.deepEqual([...b.lens.subarray(0, 4)], [24, 32, 0, 17]);
    assert.equal(b.addrs[0], 0x0a010200);
    assert.equal(b.addrs[3], 0xac108000, '/17 host bit cleared');
    const idx = new PrefixIndex();
    const pids = new Int32Array(b.count);
    for (let i = 0; i < b.count; i++) pids[i] = idx.acquireV4(b.addrs[i]!, b.lens[i]!);
    const out = Buffer.alloc(64);
    const [next, off] = encodeIpv4Nlri(idx, pids, 0, out, 0, out.length);
    assert.equal(next, 4);
    assert.deepEqual([...out.subarray(0, off)], [24, 10, 1, 2, 32, 192, 0, 2, 1, 0, 17, 172, 16, 128]);
    const [stop, off2] = encodeIpv4Nlri(idx, pids, 0, out, 0, 6);
    assert.equal(stop, 1, 'stops before overrunning the limit');
    assert.equal(off2, 4);
  });

  it('reports malformed fields', () => {
    const b = new Ipv4Batch();
    assert.match(decodeIpv4Nlri(Buffer.from([33, 1, 2, 3, 4]), 0, 5, b)!, /exceeds 32/);
    assert.match(decodeIpv4Nlri(Buffer.from([24, 1, 2]), 0, 3, b)!, /overruns/);
  });

  it('PidNlriSource feeds the codec packer for both families without text', () => {
    const idx = new PrefixIndex();
    const v4 = Int32Array.from(Array.from({ length: 1500 }, (_, i) => idx.acquireText(`10.${i >> 8}.${i & 255}.0/24`)));
    const v6 = Int32Array.from(['2001:db8::/32', '2001:db8:1::/48', 'fd00::/8'].map((p) => idx.acquireText(p)));
    const ctx = sessionContext({ fourOctetAs: true });
    const packed = packUpdatesFrom({ origin: 'igp', asPath: [{ type: 'sequence', asns: [65000] }], nextHop: '10.0.0.1' }, new PidNlriSource(1, idx, v4), ctx);
    assert.ok(packed.messages.length >= 2, 'split over several 4096-octet messages');
    const seen: string[] = [];
    for (const m of packed.messages) seen.push(...decodeUpdateBody(m, 19, m.length, ctx).update.nlri);
    assert.deepEqual(seen, [...v4].map((p) => idx.text(p)));
    const w = packWithdrawalsFrom(new PidNlriSource(2, idx, v6), ctx);
    const gone = decodeUpdateBody(w.messages[0]!, 19, w.messages[0]!.length, ctx).update.attributes.mpUnreach!.withdrawn;
    assert.deepEqual(gone, ['2001:db8::/32', '2001:db8:1::/48', 'fd00::/8']);
  });
});
