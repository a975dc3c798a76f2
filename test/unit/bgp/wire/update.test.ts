import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  AS_TRANS,
  ATTR_COMMUNITIES,
  COMMUNITY_NO_ADVERTISE,
  COMMUNITY_NO_EXPORT,
  COMMUNITY_NO_EXPORT_SUBCONFED,
  PathAttributes,
  ReceivedUpdate,
  SessionContext,
  UpdateMessage,
  communityName,
  decodeMessage,
  encodeMessage,
  endOfRib,
  endOfRibFamily,
  formatCommunity,
  formatLargeCommunity,
  mergeAs4,
  parseCommunity,
  parseLargeCommunity,
  sessionContext,
} from '../../../../src/bgp/wire/index.js';
import { AS_PATH_2, BASIC_ATTRS, MARKER, NEXT_HOP, ORIGIN_IGP, attr, bytes, ip4, msg, nlri4, u16, u32, update } from './helpers.js';

const ctx = sessionContext();
const ctx2 = sessionContext({ fourOctetAs: false });
const ibgp = sessionContext({ ibgp: true });
const ext = sessionContext({ extendedMessage: true });

function upd(attributes: PathAttributes, nlri: string[] = [], withdrawn: string[] = []): UpdateMessage {
  return { type: 'UPDATE', withdrawn, attributes, nlri };
}

function decode(wire: Buffer, c: SessionContext = ctx): ReceivedUpdate {
  const d = decodeMessage(wire, c);
  assert.equal(d.type, 'UPDATE');
  return d as ReceivedUpdate;
}

function strip(d: ReceivedUpdate): UpdateMessage {
  const { verdict: _verdict, ...rest } = d;
  return rest;
}

/** encode -> decode -> deep-equal -> encode byte-identical. */
function roundTrip(u: UpdateMessage, c: SessionContext = ctx): Buffer {
  const wire = encodeMessage(u, c);
  const d = decode(wire, c);
  assert.deepEqual(d.verdict, { action: 'ok' });
  assert.deepEqual(strip(d), u);
  assert.deepEqual(encodeMessage(d, c), wire);
  return wire;
}

const base: PathAttributes = { origin: 'igp', asPath: [{ type: 'sequence', asns: [65001] }], nextHop: '10.0.0.1' };

/** One case per attribute (and per variant), each on top of the mandatory ones. */
const ATTRIBUTE_CASES: [string, PathAttributes, SessionContext?][] = [
  ['ORIGIN egp', { ...base, origin: 'egp' }],
  ['ORIGIN incomplete', { ...base, origin: 'incomplete' }],
  ['AS_PATH empty', { ...base, asPath: [] }],
  ['AS_PATH sequence + AS_SET', { ...base, asPath: [{ type: 'sequence', asns: [65001, 4200000000, 1] }, { type: 'set', asns: [65010, 65011] }] }],
  ['AS_PATH confed segments (iBGP)', { ...base, asPath: [{ type: 'confed-sequence', asns: [64512, 64513] }, { type: 'confed-set', asns: [64514] }, { type: 'sequence', asns: [65001] }] }, ibgp],
  ['AS_PATH 2-octet session', { ...base, asPath: [{ type: 'sequence', asns: [65001, 65002] }, { type: 'set', asns: [1, 2, 3] }] }, ctx2],
  ['MULTI_EXIT_DISC', { ...base, med: 0xfffffffe }],
  ['MULTI_EXIT_DISC 0', { ...base, med: 0 }],
  ['LOCAL_PREF (iBGP)', { ...base, localPref: 200 }, ibgp],
  ['ATOMIC_AGGREGATE', { ...base, atomicAggregate: true }],
  ['AGGREGATOR 4-octet', { ...base, aggregator: { asn: 4200000000, address: '10.9.9.9' } }],
  ['AGGREGATOR 2-octet session', { ...base, aggregator: { asn: 65001, address: '10.9.9.9' } }, ctx2],
  ['COMMUNITIES', { ...base, communities: [COMMUNITY_NO_EXPORT, COMMUNITY_NO_ADVERTISE, COMMUNITY_NO_EXPORT_SUBCONFED, 0xfde80001] }],
  ['ORIGINATOR_ID (iBGP)', { ...base, originatorId: '10.0.0.7' }, ibgp],
  ['CLUSTER_LIST (iBGP)', { ...base, clusterList: ['10.0.0.1', '1.2.3.4'] }, ibgp],
  ['MP_REACH_NLRI IPv6 global', { origin: 'igp', asPath: [], mpReach: { afi: 2, safi: 1, nextHop: '2001:db8::1', nlri: ['2001:db8:1::/48', '::/0', 'fd00::1/128'] } }],
  ['MP_REACH_NLRI IPv6 global + link-local', { origin: 'igp', asPath: [], mpReach: { afi: 2, safi: 1, nextHop: '2001:db8::1', linkLocalNextHop: 'fe80::1:2', nlri: ['2001:db8::/32'] } }],
  ['MP_REACH_NLRI IPv4 unicast', { origin: 'igp', asPath: [], mpReach: { afi: 1, safi: 1, nextHop: '10.0.0.1', nlri: ['10.0.0.0/8', '0.0.0.0/0'] } }],
  ['MP_REACH_NLRI IPv6 multicast', { origin: 'igp', asPath: [], mpReach: { afi: 2, safi: 2, nextHop: 'fe80::1', nlri: ['ff00::/8'] } }],
  ['MP_UNREACH_NLRI', { mpUnreach: { afi: 2, safi: 1, withdrawn: ['2001:db8::/32', '::/0', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128'] } }],
  ['AS4_PATH + AS4_AGGREGATOR (2-octet session)', { ...base, asPath: [{ type: 'sequence', asns: [65001, AS_TRANS] }], as4Path: [{ type: 'sequence', asns: [4200000000] }], aggregator: { asn: AS_TRANS, address: '10.1.1.1' }, as4Aggregator: { asn: 4200000000, address: '10.1.1.1' } }, ctx2],
  ['LARGE_COMMUNITIES', { ...base, largeCommunities: [{ globalAdmin: 4200000000, localData1: 1, localData2: 0xffffffff }, { globalAdmin: 65001, localData1: 0, localData2: 0 }] }],
  ['unknown optional transitive (Partial already set)', { ...base, unknown: [{ typeCode: 99, flags: 0xe0, value: Buffer.from('abcdef', 'hex') }] }],
  ['Partial bit on a recognized optional transitive', { ...base, communities: [1], partial: [ATTR_COMMUNITIES] }],
];

describe('bgp/wire UPDATE', () => {
  describe('round trips', () => {
    for (const [name, attrs, c] of ATTRIBUTE_CASES) {
      it(`round-trips ${name}`, () => {
        const nlri = attrs.nextHop !== undefined ? ['10.1.0.0/16'] : [];
        roundTrip(upd(attrs, nlri), c ?? ctx);
      });
    }

    it('round-trips every attribute at once (iBGP, 4-octet AS)', () => {
      const all: PathAttributes = {
        mpReach: { afi: 2, safi: 1, nextHop: '2001:db8::1', linkLocalNextHop: 'fe80::1', nlri: ['2001:db8:1::/48'] },
        mpUnreach: { afi: 2, safi: 1, withdrawn: ['2001:db8:2::/48'] },
        origin: 'incomplete',
        asPath: [{ type: 'confed-sequence', asns: [64512] }, { type: 'sequence', asns: [65001, 4200000000] }, { type: 'set', asns: [7, 8] }],
        nextHop: '10.0.0.1',
        med: 10,
        localPref: 100,
        atomicAggregate: true,
        aggregator: { asn: 65001, address: '10.0.0.9' },
        communities: [COMMUNITY_NO_EXPORT],
        originatorId: '10.0.0.2',
        clusterList: ['10.0.0.3'],
        largeCommunities: [{ globalAdmin: 1, localData1: 2, localData2: 3 }],
        unknown: [
          { typeCode: 40, flags: 0xe0, value: Buffer.from([1]) },
          { typeCode: 250, flags: 0xe0, value: Buffer.alloc(0) },
        ],
      };
      roundTrip(upd(all, ['10.1.0.0/16', '192.168.0.0/24'], ['10.9.0.0/16']), ibgp);
    });

    it('round-trips withdrawals only, and zero-length prefixes', () => {
      roundTrip(upd({}, [], ['10.0.0.0/8', '0.0.0.0/0', '255.255.255.255/32']));
      roundTrip(upd(base, ['0.0.0.0/0']));
    });
  });

  describe('wire details', () => {
    it('encodes an UPDATE to hand-built bytes (RFC 4271 §4.3)', () => {
      const u = upd({ origin: 'igp', asPath: [{ type: 'sequence', asns: [65001, 65002] }], nextHop: '192.0.2.254', med: 5, communities: [0xfde90064] }, ['10.1.2.0/24', '172.16.0.0/12'], ['10.9.0.0/16']);
      const expected = msg(
        2,
        u16(3), [16, 10, 9], // withdrawn 10.9.0.0/16
        u16(4 + 13 + 7 + 7 + 7),
        [0x40, 1, 1, 0], // ORIGIN IGP
        [0x40, 2, 10, 2, 2, u32(65001), u32(65002)], // AS_PATH AS_SEQUENCE
        [0x40, 3, 4, ip4('192.0.2.254')], // NEXT_HOP
        [0x80, 4, 4, u32(5)], // MED
        [0xc0, 8, 4, u16(65001), u16(100)], // COMMUNITIES 65001:100
        [24, 10, 1, 2], [12, 172, 16], // NLRI
      );
      assert.deepEqual(encodeMessage(u, ctx), expected);
      assert.deepEqual(strip(decode(expected)), u);
    });

    it('encodes an IPv6 MP_REACH_NLRI with a link-local next hop to hand-built bytes (RFC 4760 §3, RFC 2545 §3)', () => {
      const u = upd({ mpReach: { afi: 2, safi: 1, nextHop: '2001:db8::1', linkLocalNextHop: 'fe80::1', nlri: ['2001:db8:1::/48'] }, origin: 'igp', asPath: [] });
      const nh = bytes('20010db8000000000000000000000001', 'fe800000000000000000000000000001');
      const expected = msg(
        2,
        u16(0),
        u16(3 + 5 + 32 + 7 + 4 + 3),
        [0x80, 14, 5 + 32 + 7, u16(2), 1, 32, nh, 0, 48, '20010db80001'],
        [0x40, 1, 1, 0],
        [0x40, 2, 0],
      );
      assert.deepEqual(encodeMessage(u, ctx), expected);
      assert.deepEqual(strip(decode(expected)), u);
    });

    it('uses Extended Length only for values over 255 octets, and accepts it on short values', () => {
      const communities = Array.from({ length: 100 }, (_, i) => i + 1);
      const wire = roundTrip(upd({ ...base, communities }, ['10.0.0.0/8']));
      const at = wire.indexOf(Buffer.from([0xd0, 8]));
      assert.ok(at > 0, 'COMMUNITIES written with flags 0xd0 (optional transitive + extended length)');
      assert.deepEqual(wire.subarray(at + 2, at + 4), Buffer.from(u16(400)));
      const short = update([], bytes(attr(0x50, 1, 2), attr(0x50, 2, 2, 1, u32(65001)), NEXT_HOP('10.0.0.1')), nlri4('10.0.0.0/8'));
      const d = decode(short);
      assert.equal(d.attributes.origin, 'incomplete');
      assert.deepEqual(encodeMessage(d, ctx).length, short.length - 2);
    });

    it('splits an AS_SEQUENCE longer than 255 AS into several segments', () => {
      const asns = Array.from({ length: 300 }, (_, i) => 64512 + i);
      const wire = encodeMessage(upd({ ...base, asPath: [{ type: 'sequence', asns }] }, ['10.0.0.0/8']), ctx);
      const d = decode(wire);
      assert.deepEqual(d.attributes.asPath, [
        { type: 'sequence', asns: asns.slice(0, 255) },
        { type: 'sequence', asns: asns.slice(255) },
      ]);
    });

    it('clears host bits of received prefixes (RFC 4271 §4.3: trailing bits are irrelevant)', () => {
      const d = decode(update([20, 10, 1, 0xff], BASIC_ATTRS, [20, 10, 1, 0xff, 1, 0xff, 31, 1, 2, 3, 0xff]));
      assert.deepEqual(d.nlri, ['10.1.240.0/20', '128.0.0.0/1', '1.2.3.254/31']);
      assert.deepEqual(d.withdrawn, ['10.1.240.0/20']);
    });

    it('passes an unknown optional transitive attribute on with the Partial bit set, drops unknown non-transitive', () => {
      const wire = update([], bytes(BASIC_ATTRS, attr(0xc0, 99, 1, 2, 3), attr(0x80, 98, 4, 5)), nlri4('10.0.0.0/8'));
      const d = decode(wire);
      assert.deepEqual(d.verdict, { action: 'ok' });
      assert.deepEqual(d.attributes.unknown, [{ typeCode: 99, flags: 0xc0, value: Buffer.from([1, 2, 3]) }]);
      const again = encodeMessage(d, ctx);
      assert.ok(again.includes(bytes(0xe0, 99, 3, 1, 2, 3)), 're-encoded with flags 0xe0');
      assert.ok(!again.includes(bytes(0x80, 98)));
    });

    it('writes MP_REACH_NLRI first and the rest by type code (RFC 7606 §5.1)', () => {
      const wire = encodeMessage(upd({ origin: 'igp', asPath: [], communities: [1], mpReach: { afi: 2, safi: 1, nextHop: '::1', nlri: ['::/0'] } }), ctx);
      assert.equal(wire[23 + 1], 14);
    });
  });

  it('never sends LOCAL_PREF, ORIGINATOR_ID or CLUSTER_LIST to an external peer', () => {
    const d = decode(encodeMessage(upd({ ...base, localPref: 100, originatorId: '1.1.1.1', clusterList: ['2.2.2.2'], med: 1 }, ['10.0.0.0/8']), ctx));
    assert.deepEqual(d.verdict, { action: 'ok' });
    assert.deepEqual(strip(d), upd({ ...base, med: 1 }, ['10.0.0.0/8']));
  });

  describe('4-octet AS numbers (RFC 6793)', () => {
    const truePath = [{ type: 'sequence' as const, asns: [65001, 4200000000, 65002] }, { type: 'set' as const, asns: [4200000001, 7] }];

    it('encodes for a 2-octet peer with AS_TRANS and AS4_PATH / AS4_AGGREGATOR', () => {
      const u = upd({ ...base, asPath: truePath, aggregator: { asn: 4200000002, address: '10.0.0.9' } }, ['10.0.0.0/8']);
      const wire = encodeMessage(u, ctx2);
      const d = decode(wire, ctx2);
      assert.deepEqual(d.verdict, { action: 'ok' });
      assert.deepEqual(d.attributes.asPath, [{ type: 'sequence', asns: [65001, AS_TRANS, 65002] }, { type: 'set', asns: [AS_TRANS, 7] }]);
      assert.deepEqual(d.attributes.as4Path, truePath);
      assert.deepEqual(d.attributes.aggregator, { asn: AS_TRANS, address: '10.0.0.9' });
      assert.deepEqual(d.attributes.as4Aggregator, { asn: 4200000002, address: '10.0.0.9' });
      const merged = mergeAs4(d.attributes);
      assert.deepEqual(merged.asPath, truePath);
      assert.deepEqual(merged.aggregator, { asn: 4200000002, address: '10.0.0.9' });
      assert.equal(merged.as4Path, undefined);
      assert.equal(merged.as4Aggregator, undefined);
      // The 2-octet AS_PATH on the wire: AS_SEQUENCE of 3 with AS_TRANS in the middle.
      assert.ok(wire.includes(bytes(0x40, 2, 14, 2, 3, u16(65001), u16(AS_TRANS), u16(65002), 1, 2, u16(AS_TRANS), u16(7))));
    });

    it('sends no AS4_PATH to a 2-octet peer when every AS fits 2 octets, and never to a 4-octet peer', () => {
      const d2 = decode(encodeMessage(upd(base, ['10.0.0.0/8']), ctx2), ctx2);
      assert.equal(d2.attributes.as4Path, undefined);
      const u4 = upd({ ...base, asPath: truePath, as4Path: truePath, as4Aggregator: { asn: 5, address: '1.1.1.1' } }, ['10.0.0.0/8']);
      const d4 = decode(encodeMessage(u4, ctx));
      assert.equal(d4.attributes.as4Path, undefined);
      assert.equal(d4.attributes.as4Aggregator, undefined);
    });

    it('discards AS4_PATH / AS4_AGGREGATOR received from a 4-octet speaker', () => {
      const wire = update([], bytes(BASIC_ATTRS, attr(0xc0, 17, 2, 1, u32(7)), attr(0xc0, 18, u32(7), ip4('1.1.1.1'))), nlri4('10.0.0.0/8'));
      const d = decode(wire);
      assert.equal(d.verdict.action, 'attribute-discard');
      assert.equal(d.attributes.as4Path, undefined);
      assert.equal(d.attributes.as4Aggregator, undefined);
    });

    it('ignores AS4_PATH when AGGREGATOR carries a real 2-octet AS (RFC 6793 §4.2.3)', () => {
      const attrs: PathAttributes = {
        ...base,
        asPath: [{ type: 'sequence', asns: [65001, AS_TRANS] }],
        aggregator: { asn: 65009, address: '10.0.0.9' },
        as4Path: [{ type: 'sequence', asns: [4200000000] }],
        as4Aggregator: { asn: 4200000009, address: '10.0.0.9' },
      };
      const merged = mergeAs4(attrs);
      assert.deepEqual(merged.asPath, attrs.asPath);
      assert.deepEqual(merged.aggregator, attrs.aggregator);
    });

    it('decodes a 2-octet AS_PATH received from an OLD speaker', () => {
      const d = decode(update([], bytes(ORIGIN_IGP, AS_PATH_2(65001, AS_TRANS), NEXT_HOP('10.0.0.1')), nlri4('10.0.0.0/8')), ctx2);
      assert.deepEqual(d.attributes.asPath, [{ type: 'sequence', asns: [65001, AS_TRANS] }]);
    });
  });

  describe('message size limits', () => {
    /** An UPDATE padded with an unknown optional transitive attribute to exactly `size` octets. */
    function sized(size: number): UpdateMessage {
      const fixed = encodeMessage(upd(base, ['10.0.0.0/8']), ext).length;
      const pad = size - fixed - 4; // extended-length header
      return upd({ ...base, unknown: [{ typeCode: 200, flags: 0xe0, value: Buffer.alloc(pad, 0xab) }] }, ['10.0.0.0/8']);
    }

    it('round-trips a 4096-octet UPDATE, and refuses to encode 4097 without extended messages', () => {
      assert.equal(roundTrip(sized(4096)).length, 4096);
      assert.throws(() => encodeMessage(sized(4097), ctx), RangeError);
    });

    it('round-trips a 65535-octet UPDATE with extended messages (RFC 8654)', () => {
      assert.equal(roundTrip(sized(65535), ext).length, 65535);
      assert.equal(roundTrip(sized(4097), ext).length, 4097);
    });
  });

  describe('End-of-RIB (RFC 4724 §2)', () => {
    it('is the 23-octet empty UPDATE for IPv4 unicast', () => {
      const wire = encodeMessage(endOfRib(1, 1), ctx);
      assert.deepEqual(wire, bytes(MARKER, 0, 23, 2, 0, 0, 0, 0));
      assert.deepEqual(endOfRibFamily(decode(wire)), { afi: 1, safi: 1 });
    });

    it('is an UPDATE holding only an empty MP_UNREACH_NLRI for other families', () => {
      const wire = encodeMessage(endOfRib(2, 1), ctx);
      assert.deepEqual(wire, msg(2, u16(0), u16(6), 0x80, 15, 3, u16(2), 1));
      assert.deepEqual(endOfRibFamily(decode(wire)), { afi: 2, safi: 1 });
      // A family we do not speak (VPNv4) still reads as End-of-RIB.
      assert.deepEqual(endOfRibFamily(decode(msg(2, u16(0), u16(6), 0x80, 15, 3, u16(1), 128))), { afi: 1, safi: 128 });
    });

    it('is not an UPDATE carrying anything else', () => {
      assert.equal(endOfRibFamily(upd({}, [], ['10.0.0.0/8'])), undefined);
      assert.equal(endOfRibFamily(upd(base, ['10.0.0.0/8'])), undefined);
      assert.equal(endOfRibFamily(upd({ mpUnreach: { afi: 2, safi: 1, withdrawn: ['::/0'] } })), undefined);
      assert.equal(endOfRibFamily(upd({ origin: 'igp', mpUnreach: { afi: 2, safi: 1, withdrawn: [] } })), undefined);
    });
  });

  describe('communities', () => {
    it('formats, parses and names communities (RFC 1997) and large communities (RFC 8092)', () => {
      assert.equal(formatCommunity(0xfde80001), '65000:1');
      assert.equal(parseCommunity('65000:1'), 0xfde80001);
      assert.equal(parseCommunity('no_export'), COMMUNITY_NO_EXPORT);
      assert.equal(parseCommunity('65536:1'), undefined);
      assert.equal(communityName(COMMUNITY_NO_EXPORT), 'NO_EXPORT');
      assert.equal(communityName(COMMUNITY_NO_ADVERTISE), 'NO_ADVERTISE');
      assert.equal(communityName(COMMUNITY_NO_EXPORT_SUBCONFED), 'NO_EXPORT_SUBCONFED');
      assert.equal(communityName(1), undefined);
      assert.equal(formatLargeCommunity({ globalAdmin: 65000, localData1: 1, localData2: 2 }), '65000:1:2');
      assert.deepEqual(parseLargeCommunity('4200000000:0:4294967295'), { globalAdmin: 4200000000, localData1: 0, localData2: 4294967295 });
      assert.equal(parseLargeCommunity('4294967296:0:0'), undefined);
    });

    it('removes duplicate large communities on receipt (RFC 8092 §5)', () => {
      const lc = bytes(u32(1), u32(2), u32(3));
      const d = decode(update([], bytes(BASIC_ATTRS, attr(0xc0, 32, lc, lc, u32(1), u32(2), u32(4))), nlri4('10.0.0.0/8')));
      assert.deepEqual(d.attributes.largeCommunities, [
        { globalAdmin: 1, localData1: 2, localData2: 3 },
        { globalAdmin: 1, localData1: 2, localData2: 4 },
      ]);
    });
  });
});
