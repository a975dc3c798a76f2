import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  AS_TRANS,
  PackedUpdates,
  PathAttributes,
  ReceivedUpdate,
  SessionContext,
  canonicalPrefix,
  decodeMessage,
  encodePrefixAt,
  endOfRib,
  endOfRibFamily,
  encodeMessage,
  NlriSource,
  decodeMessage as decode,
  packUpdates,
  packUpdatesFrom,
  packWithdrawals,
  packWithdrawalsFrom,
  prefixWireLength,
  sessionContext,
} from '../../../../src/bgp/wire/index.js';
import { assertBgpError, nlri4, prng, update } from './helpers.js';

const ctx = sessionContext();
const ext = sessionContext({ extendedMessage: true });
const ctx2 = sessionContext({ fourOctetAs: false });

const attrs: PathAttributes = {
  origin: 'igp',
  asPath: [{ type: 'sequence', asns: [65001, 4200000000] }],
  nextHop: '172.31.0.1',
  med: 7,
  communities: [0xfde80001],
  mpReach: { afi: 2, safi: 1, nextHop: '2001:db8::1', linkLocalNextHop: 'fe80::1', nlri: [] },
};

function v4(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${10 + (i >>> 16)}.${(i >>> 8) & 255}.${i & 255}.0/24`);
}

function v6(n: number): string[] {
  return Array.from({ length: n }, (_, i) => canonicalPrefix(`2001:db8:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::/64`)!);
}

function decodeAll(p: PackedUpdates, c: SessionContext): ReceivedUpdate[] {
  return p.messages.map((m) => {
    const d = decodeMessage(m, c);
    assert.equal(d.type, 'UPDATE');
    assert.deepEqual((d as ReceivedUpdate).verdict, { action: 'ok' });
    return d as ReceivedUpdate;
  });
}

/** Prefixes carried by one decoded UPDATE, whatever the field. */
function carried(d: ReceivedUpdate): number {
  return d.nlri.length + d.withdrawn.length + (d.attributes.mpReach?.nlri.length ?? 0) + (d.attributes.mpUnreach?.withdrawn.length ?? 0);
}

/** Every message but the last is too full to take the next message's first prefix. */
function assertGreedyFull(p: PackedUpdates, prefixes: string[], max: number, c: SessionContext = max > 4096 ? ext : ctx): void {
  const counts = decodeAll(p, c).map(carried);
  let idx = 0;
  for (let i = 0; i < p.messages.length; i++) {
    assert.ok(p.messages[i]!.length <= max, `message ${i} is ${p.messages[i]!.length} > ${max}`);
    idx += counts[i]!;
    if (i < p.messages.length - 1) {
      assert.ok(p.messages[i]!.length + prefixWireLength(prefixes[idx]!) > max, `message ${i} could have taken ${prefixes[idx]}`);
    }
  }
  assert.equal(idx, prefixes.length);
}

describe('bgp/wire packer', () => {
  it('packs IPv4 prefixes into the NLRI field of the fewest 4096-octet UPDATEs, in order', () => {
    const prefixes = v4(10000);
    const p = packUpdates(attrs, prefixes, ctx);
    const decoded = decodeAll(p, ctx);
    assert.deepEqual(decoded.flatMap((d) => d.nlri), prefixes);
    const attrLen = p.messages[0]!.readUInt16BE(21);
    const room = 4096 - 23 - attrLen;
    assert.equal(p.messages.length, Math.ceil((prefixes.length * 4) / (room - (room % 4))));
    assertGreedyFull(p, prefixes, 4096);
    for (const d of decoded) {
      assert.equal(d.attributes.nextHop, '172.31.0.1');
      assert.equal(d.attributes.mpReach, undefined);
      assert.deepEqual(d.attributes.communities, [0xfde80001]);
    }
    assert.deepEqual(p.bytes, Buffer.concat(p.messages));
  });

  it('packs prefixes of mixed lengths greedily, never exceeding the maximum', () => {
    const rand = prng(7);
    const prefixes: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const len = Math.floor(rand() * 33);
      const a = Math.floor(rand() * 2 ** 32) >>> 0;
      const masked = len === 0 ? 0 : (a & (0xffffffff << (32 - len))) >>> 0;
      prefixes.push(`${masked >>> 24}.${(masked >>> 16) & 255}.${(masked >>> 8) & 255}.${masked & 255}/${len}`);
    }
    const p = packUpdates(attrs, prefixes, ctx);
    assert.deepEqual(decodeAll(p, ctx).flatMap((d) => d.nlri), prefixes);
    assertGreedyFull(p, prefixes, 4096);
    const total = prefixes.reduce((s, x) => s + prefixWireLength(x), 0);
    const room = 4096 - 23 - p.messages[0]!.readUInt16BE(21);
    assert.ok(p.messages.length <= Math.ceil(total / room) + 1);
  });

  it('packs IPv6 prefixes into MP_REACH_NLRI with global and link-local next hops, without NEXT_HOP', () => {
    const prefixes = v6(3000);
    const p = packUpdates(attrs, prefixes, ctx);
    const decoded = decodeAll(p, ctx);
    assert.deepEqual(decoded.flatMap((d) => d.attributes.mpReach!.nlri), prefixes);
    for (const d of decoded) {
      assert.equal(d.nlri.length, 0);
      assert.equal(d.attributes.nextHop, undefined);
      assert.equal(d.attributes.mpReach!.nextHop, '2001:db8::1');
      assert.equal(d.attributes.mpReach!.linkLocalNextHop, 'fe80::1');
      assert.equal(d.attributes.med, 7);
    }
    assertGreedyFull(p, prefixes, 4096);
  });

  it('produces exactly what encodeMessage produces for one UPDATE', () => {
    const four = v4(3);
    const { mpReach, ...rest } = attrs;
    assert.deepEqual(packUpdates(attrs, four, ctx).messages, [encodeMessage({ type: 'UPDATE', withdrawn: [], attributes: rest, nlri: four }, ctx)]);
    const six = v6(3);
    const { nextHop: _nh, ...noNextHop } = rest;
    const expected = encodeMessage({ type: 'UPDATE', withdrawn: [], attributes: { ...noNextHop, mpReach: { ...mpReach!, nlri: six } }, nlri: [] }, ctx);
    assert.deepEqual(packUpdates(attrs, six, ctx).messages, [expected]);
    assert.deepEqual(packWithdrawals(four, ctx).messages, [encodeMessage({ type: 'UPDATE', withdrawn: four, attributes: {}, nlri: [] }, ctx)]);
    assert.deepEqual(packWithdrawals(six, ctx).messages, [encodeMessage({ type: 'UPDATE', withdrawn: [], attributes: { mpUnreach: { afi: 2, safi: 1, withdrawn: six } }, nlri: [] }, ctx)]);
  });

  it('splits a mixed list by family: IPv4 UPDATEs first, then IPv6', () => {
    const mixed = ['10.0.0.0/8', '2001:db8::/32', '192.168.0.0/16', '::/0'];
    const decoded = decodeAll(packUpdates(attrs, mixed, ctx), ctx);
    assert.equal(decoded.length, 2);
    assert.deepEqual(decoded[0]!.nlri, ['10.0.0.0/8', '192.168.0.0/16']);
    assert.deepEqual(decoded[1]!.attributes.mpReach!.nlri, ['2001:db8::/32', '::/0']);
  });

  it('uses 65535-octet UPDATEs when extended messages are negotiated (RFC 8654)', () => {
    const prefixes = v4(50000);
    const small = packUpdates(attrs, prefixes, ctx);
    const big = packUpdates(attrs, prefixes, ext);
    assert.ok(big.messages.length * 10 < small.messages.length);
    assert.ok(big.messages.some((m) => m.length > 65000));
    assert.deepEqual(decodeAll(big, ext).flatMap((d) => d.nlri), prefixes);
    assertGreedyFull(big, prefixes, 65535);
    const big6 = packUpdates(attrs, v6(10000), ext);
    assert.deepEqual(decodeAll(big6, ext).flatMap((d) => d.attributes.mpReach!.nlri), v6(10000));
  });

  it('packs withdrawals: IPv4 in Withdrawn Routes, IPv6 in MP_UNREACH_NLRI', () => {
    const prefixes = [...v4(3000), ...v6(2000)];
    const p = packWithdrawals(prefixes, ctx);
    const decoded = decodeAll(p, ctx);
    assert.deepEqual(decoded.flatMap((d) => d.withdrawn), v4(3000));
    assert.deepEqual(decoded.flatMap((d) => d.attributes.mpUnreach?.withdrawn ?? []), v6(2000));
    for (const m of p.messages) assert.ok(m.length <= 4096);
    assert.equal(decoded.filter((d) => d.withdrawn.length > 0).length, Math.ceil((3000 * 4) / (4096 - 23)));
  });

  it('encodes AS_TRANS and AS4_PATH in every UPDATE for a 2-octet peer', () => {
    const decoded = decodeAll(packUpdates(attrs, v4(2000), ctx2), ctx2);
    assert.ok(decoded.length > 1);
    for (const d of decoded) {
      assert.deepEqual(d.attributes.asPath, [{ type: 'sequence', asns: [65001, AS_TRANS] }]);
      assert.deepEqual(d.attributes.as4Path, [{ type: 'sequence', asns: [65001, 4200000000] }]);
    }
  });

  it('returns nothing for no prefixes, and refuses what cannot be encoded', () => {
    assert.equal(packUpdates(attrs, [], ctx).messages.length, 0);
    assert.equal(packWithdrawals([], ctx).messages.length, 0);
    assert.throws(() => packUpdates({ origin: 'igp', asPath: [] }, ['10.0.0.0/8'], ctx), RangeError);
    assert.throws(() => packUpdates({ origin: 'igp', asPath: [], nextHop: '1.1.1.1' }, ['::/0'], ctx), RangeError);
    assert.throws(() => packUpdates(attrs, ['10.0.0.0/33'], ctx), RangeError);
    assert.throws(() => packUpdates(attrs, ['not a prefix'], ctx), RangeError);
    const huge: PathAttributes = { ...attrs, communities: Array.from({ length: 1100 }, (_, i) => i) };
    assert.throws(() => packUpdates(huge, ['10.0.0.0/8'], ctx), RangeError);
  });

  it('clears host bits when encoding and keeps unusual but valid IPv4 text', () => {
    const d = decodeAll(packUpdates(attrs, ['10.1.2.3/24', '010.1.2.0/24', '1.2.3.4/32'], ctx), ctx);
    assert.deepEqual(d[0]!.nlri, ['10.1.2.0/24', '10.1.2.0/24', '1.2.3.4/32']);
  });

  describe('from an NlriSource (prefixes kept as numbers)', () => {
    /** A source over IPv4 prefixes held as uint32 + length, writing only what fits. */
    function numbers(addrs: number[], lens: number[]): NlriSource {
      let i = 0;
      return {
        afi: 1,
        write(buf, off, limit) {
          for (; i < addrs.length; i++) {
            const len = lens[i]!;
            const n = (len + 7) >> 3;
            if (off + 1 + n > limit) break;
            buf[off++] = len;
            for (let k = 0; k < n; k++) buf[off++] = (addrs[i]! >>> (24 - 8 * k)) & 0xff;
          }
          return off;
        },
      };
    }

    it('gives the same bytes as packing the same prefixes as text', () => {
      const text = v4(5000);
      const addrs = text.map((_, i) => ((10 + (i >>> 16)) * 2 ** 24 + (((i >>> 8) & 255) << 16) + ((i & 255) << 8)) >>> 0);
      const lens = text.map(() => 24);
      assert.deepEqual(packUpdatesFrom(attrs, numbers(addrs, lens), ctx).bytes, packUpdates(attrs, text, ctx).bytes);
      assert.deepEqual(packWithdrawalsFrom(numbers(addrs, lens), ctx).bytes, packWithdrawals(text, ctx).bytes);
      assert.equal(packUpdatesFrom(attrs, numbers([], []), ctx).messages.length, 0);
    });

    it('keeps results apart when a source packs from inside write(), and recovers after an error', () => {
      const inner: Buffer[] = [];
      let done = false;
      const source: NlriSource = {
        afi: 1,
        write(buf, off) {
          if (done) return off;
          inner.push(packUpdates(attrs, ['192.168.0.0/16'], ctx).bytes);
          done = true;
          buf[off] = 8;
          buf[off + 1] = 10;
          return off + 2;
        },
      };
      const outer = decodeAll(packUpdatesFrom(attrs, source, ctx), ctx);
      assert.deepEqual(outer.map((d) => d.nlri), [['10.0.0.0/8']]);
      assert.deepEqual((decode(inner[0]!, ctx) as ReceivedUpdate).nlri, ['192.168.0.0/16']);
      assert.throws(() => packUpdates(attrs, ['10.0.0.0/8', 'bad'], ctx), RangeError);
      assert.deepEqual(decodeAll(packUpdates(attrs, ['10.0.0.0/8'], ctx), ctx)[0]!.nlri, ['10.0.0.0/8']);
    });

    it('packs an IPv6 source into MP_REACH_NLRI', () => {
      const six = v6(500);
      let i = 0;
      const source: NlriSource = {
        afi: 2,
        write(buf, off, limit) {
          for (; i < six.length; i++) {
            const tmp = Buffer.alloc(17);
            const n = encodePrefixAt(six[i]!, tmp, 0);
            if (off + n > limit) break;
            tmp.copy(buf, off, 0, n);
            off += n;
          }
          return off;
        },
      };
      assert.deepEqual(packUpdatesFrom(attrs, source, ctx).bytes, packUpdates(attrs, six, ctx).bytes);
    });
  });

  describe("decoding with { ipv4: 'raw' }", () => {
    it('leaves the IPv4 fields as checked bytes, and re-encodes them', () => {
      const p = packUpdates(attrs, v4(300), ctx);
      const d = decode(p.messages[0]!, ctx, { ipv4: 'raw' }) as ReceivedUpdate;
      assert.deepEqual(d.nlri, []);
      assert.equal(d.ipv4Raw!.nlri.length, 300 * 4);
      assert.deepEqual(d.ipv4Raw!.nlri, p.messages[0]!.subarray(p.messages[0]!.length - 1200));
      assert.deepEqual(encodeMessage(d, ctx), p.messages[0]);
      const w = decode(packWithdrawals(v4(10), ctx).messages[0]!, ctx, { ipv4: 'raw' }) as ReceivedUpdate;
      assert.equal(w.ipv4Raw!.withdrawn.length, 40);
      assert.equal(endOfRibFamily(w), undefined);
    });

    it('still rejects a malformed field, and names the withdrawn prefixes in a verdict', () => {
      assertBgpError(() => decode(update([], [], [33, 1, 2, 3, 4, 5]), ctx, { ipv4: 'raw' }), 3, 10);
      const bad = decode(update([], [], nlri4('10.0.0.0/8')), ctx, { ipv4: 'raw' }) as ReceivedUpdate;
      assert.equal(bad.verdict.action, 'treat-as-withdraw');
      if (bad.verdict.action === 'treat-as-withdraw') assert.deepEqual(bad.verdict.withdraw, [{ afi: 1, safi: 1, prefixes: ['10.0.0.0/8'] }]);
      assert.deepEqual(endOfRibFamily(decode(encodeMessage(endOfRib(1, 1), ctx), ctx, { ipv4: 'raw' }) as ReceivedUpdate), { afi: 1, safi: 1 });
    });
  });
});
