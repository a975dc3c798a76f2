import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  AsPath,
  asPathLength,
  canonicalIpv6,
  canonicalPrefix,
  decodePrefixes,
  encodePrefixAt,
  reconstructAsPath,
  textAfi,
} from '../../../../src/bgp/wire/index.js';
import { prng } from './helpers.js';

/** Node's WHATWG URL serializer writes IPv6 in RFC 5952 form: an independent oracle. */
function oracleIpv6(addr: string): string {
  return new URL(`http://[${addr}]/`).hostname.slice(1, -1);
}

describe('bgp/wire prefixes and AS paths', () => {
  describe('text form', () => {
    it('writes IPv6 in RFC 5952 form', () => {
      const cases: [string, string][] = [
        ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
        ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs (§4.2.3)
        ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group is not compressed (§4.2.2)
        ['2001:DB8::AbCd', '2001:db8::abcd'],
        ['::', '::'],
        ['::1', '::1'],
        ['1::', '1::'],
        ['fe80::', 'fe80::'],
        ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
        ['::ffff:1.2.3.4', '::ffff:102:304'],
      ];
      for (const [input, expected] of cases) {
        assert.equal(canonicalIpv6(input), expected, input);
        assert.equal(oracleIpv6(input), expected, `oracle agrees on ${input}`);
      }
    });

    it('gives canonical prefixes with host bits cleared', () => {
      assert.equal(canonicalPrefix('10.1.2.3/24'), '10.1.2.0/24');
      assert.equal(canonicalPrefix('10.1.2.3/0'), '0.0.0.0/0');
      assert.equal(canonicalPrefix(' 192.168.1.1/32 '), '192.168.1.1/32');
      assert.equal(canonicalPrefix('2001:DB8:0:0:1::1/64'), '2001:db8::/64');
      assert.equal(canonicalPrefix('fd00:10::/64'), 'fd00:10::/64');
      assert.equal(canonicalPrefix('::/0'), '::/0');
      assert.equal(canonicalPrefix('2001:db8::1/127'), '2001:db8::/127');
    });

    it('rejects malformed prefixes', () => {
      for (const bad of ['', '10.0.0.0', '10.0.0.0/33', '10.0.0/8', '10.0.0.0.0/8', '256.0.0.0/8', '1.2.3.4/-1', '1.2.3.4/3a', '::/129', 'zz::/8', '1:2:3:4:5:6:7:8:9/64', '1::2::3/64', ':1/64', '1:/64', '1:2:3:4:5:6:7:8::/64', '12345::/16', '/24']) {
        assert.equal(canonicalPrefix(bad), undefined, bad);
      }
      assert.throws(() => encodePrefixAt('10.0.0.0/33', new Uint8Array(17), 0), RangeError);
    });

    it('tells the family from the text', () => {
      assert.equal(textAfi('10.0.0.0/8'), 1);
      assert.equal(textAfi('::/0'), 2);
    });
  });

  describe('NLRI codec', () => {
    it('round-trips random IPv4 and IPv6 prefixes of every length against independent formatting', () => {
      const rand = prng(42);
      const buf = Buffer.alloc(17);
      for (let i = 0; i < 3000; i++) {
        const v6 = i % 2 === 1;
        const max = v6 ? 128 : 32;
        const len = i % (max + 1);
        const addr = Buffer.alloc(16);
        for (let j = 0; j < 16; j++) addr[j] = Math.floor(rand() * 256);
        // Clear host bits by hand.
        for (let bit = len; bit < max; bit++) addr[bit >> 3] = addr[bit >> 3]! & ~(0x80 >> (bit & 7));
        const n = (len + 7) >> 3;
        const wire = Buffer.concat([Buffer.from([len]), addr.subarray(0, n)]);
        const out: string[] = [];
        assert.equal(decodePrefixes(wire, 0, wire.length, v6 ? 2 : 1, out), undefined);
        const expectedAddr = v6
          ? oracleIpv6(Array.from({ length: 8 }, (_, g) => addr.readUInt16BE(2 * g).toString(16)).join(':'))
          : `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
        assert.equal(out[0], `${expectedAddr}/${len}`);
        const end = encodePrefixAt(out[0]!, buf, 0);
        assert.deepEqual(buf.subarray(0, end), wire);
      }
    });

    it('decodes many prefixes across its internal batches', () => {
      const parts: number[] = [];
      const expected: string[] = [];
      for (let i = 0; i < 40000; i++) {
        parts.push(128, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, (i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255);
        expected.push(`2001:db8::${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}/128`.replace('::0:', '::'));
      }
      const wire = Buffer.from(parts);
      const out: string[] = [];
      assert.equal(decodePrefixes(wire, 0, wire.length, 2, out), undefined);
      assert.equal(out.length, 40000);
      for (let i = 0; i < out.length; i += 997) assert.equal(out[i], canonicalPrefix(expected[i]!));
    });

    it('reports a prefix length over the maximum, and a prefix overrunning the field', () => {
      assert.match(decodePrefixes(Buffer.from([33, 1, 2, 3, 4, 5]), 0, 6, 1, [])!, /exceeds 32/);
      assert.match(decodePrefixes(Buffer.from([129]), 0, 1, 2, [])!, /exceeds 128/);
      const out: string[] = [];
      assert.match(decodePrefixes(Buffer.from([8, 10, 24, 10, 1]), 0, 5, 1, out)!, /overruns/);
      assert.deepEqual(out, ['10.0.0.0/8']);
    });
  });

  describe('AS_PATH + AS4_PATH (RFC 6793 §4.2.3)', () => {
    const seq = (...asns: number[]) => ({ type: 'sequence' as const, asns });
    const set = (...asns: number[]) => ({ type: 'set' as const, asns });

    it('replaces the tail AS_TRANS entries with AS4_PATH', () => {
      assert.deepEqual(reconstructAsPath([seq(65001, 23456, 23456)], [seq(4200000000, 4200000001)]), [seq(65001, 4200000000, 4200000001)]);
    });

    it('ignores AS4_PATH when it is longer than AS_PATH', () => {
      const p: AsPath = [seq(23456)];
      assert.deepEqual(reconstructAsPath(p, [seq(1, 2)]), p);
    });

    it('counts an AS_SET as one and keeps the leading AS_PATH segments', () => {
      assert.deepEqual(reconstructAsPath([seq(1, 2), set(3, 4)], [set(4200000000, 4)]), [seq(1, 2), set(4200000000, 4)]);
      assert.deepEqual(reconstructAsPath([seq(1, 2, 23456)], [seq(4200000000)]), [seq(1, 2, 4200000000)]);
    });

    it('keeps leading confederation segments and drops any in AS4_PATH', () => {
      const confed = { type: 'confed-sequence' as const, asns: [64512] };
      assert.deepEqual(reconstructAsPath([confed, seq(65001, 23456)], [seq(4200000000)]), [confed, seq(65001, 4200000000)]);
      assert.deepEqual(reconstructAsPath([seq(65001, 23456)], [confed, seq(4200000000)]), [seq(65001, 4200000000)]);
    });

    it('leaves AS_PATH alone without AS4_PATH', () => {
      assert.deepEqual(reconstructAsPath([seq(1)], undefined), [seq(1)]);
      assert.deepEqual(reconstructAsPath([seq(1)], []), [seq(1)]);
    });

    it('counts path length per RFC 4271 §9.1.2.2 (set = 1, confed = 0)', () => {
      assert.equal(asPathLength([seq(1, 2, 3), set(4, 5), { type: 'confed-sequence', asns: [9, 9] }]), 4);
    });
  });
});
