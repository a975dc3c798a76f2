/**
 * Malformed input, one case per rule: each asserts the exact NOTIFICATION
 * (code/subcode, and data where the RFC defines it) or the exact RFC 7606
 * verdict.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  ErrorAction,
  ReceivedUpdate,
  SessionContext,
  decodeMessage,
  decodeUpdateBody,
  sessionContext,
} from '../../../../src/bgp/wire/index.js';
import {
  AS_PATH_2,
  AS_PATH_4,
  BASIC_ATTRS,
  MARKER,
  NEXT_HOP,
  ORIGIN_IGP,
  assertBgpError,
  attr,
  bytes,
  ip4,
  msg,
  msgWithLength,
  nlri4,
  u16,
  u32,
  update,
} from './helpers.js';

const ctx = sessionContext();
const ctx2 = sessionContext({ fourOctetAs: false });
const ibgp = sessionContext({ ibgp: true });
const ext = sessionContext({ extendedMessage: true });

const OPEN_BODY = (over: { version?: number; as?: number; hold?: number; id?: string; params?: number[] } = {}) => {
  const params = over.params ?? [];
  return bytes(over.version ?? 4, u16(over.as ?? 65001), u16(over.hold ?? 90), ip4(over.id ?? '10.0.0.1'), params.length, params);
};

interface ThrowCase {
  name: string;
  wire: Buffer;
  ctx?: SessionContext;
  code: number;
  subcode: number;
  data?: Buffer;
}

const THROWS: ThrowCase[] = [
  // Message header (RFC 4271 §6.1)
  { name: 'marker not all ones', wire: bytes(MARKER.slice(0, 15), 0xfe, 0, 19, 4), code: 1, subcode: 1 },
  { name: 'Length 18', wire: msgWithLength(18, 4), code: 1, subcode: 2, data: Buffer.from(u16(18)) },
  { name: 'Length 4097 without extended messages', wire: msgWithLength(4097, 2, new Array(4078).fill(0)), code: 1, subcode: 2, data: Buffer.from(u16(4097)) },
  { name: 'Length beyond the frame', wire: msgWithLength(40, 4), code: 1, subcode: 2, data: Buffer.from(u16(40)) },
  { name: 'type 0', wire: msg(0), code: 1, subcode: 3, data: Buffer.from([0]) },
  { name: 'type 6', wire: msg(6, 1, 2, 3), code: 1, subcode: 3, data: Buffer.from([6]) },
  { name: 'KEEPALIVE of 20 octets', wire: msg(4, 0), code: 1, subcode: 2, data: Buffer.from(u16(20)) },
  { name: 'OPEN of 28 octets', wire: msg(1, OPEN_BODY().subarray(0, 9)), code: 1, subcode: 2, data: Buffer.from(u16(28)) },
  { name: 'UPDATE of 22 octets', wire: msg(2, 0, 0, 0), code: 1, subcode: 2, data: Buffer.from(u16(22)) },
  { name: 'NOTIFICATION of 20 octets', wire: msg(3, 6), code: 1, subcode: 2, data: Buffer.from(u16(20)) },
  { name: 'OPEN above 4096 octets even with extended messages (RFC 8654 §4)', wire: msgWithLength(5000, 1, new Array(4981).fill(0)), ctx: ext, code: 1, subcode: 2, data: Buffer.from(u16(5000)) },
  // ROUTE-REFRESH (RFC 7313 §5): data is the whole message
  { name: 'ROUTE-REFRESH BoRR of 24 octets', wire: msg(5, u16(1), 1, 1, 0), code: 7, subcode: 1, data: msg(5, u16(1), 1, 1, 0) },
  { name: 'ROUTE-REFRESH EoRR of 24 octets', wire: msg(5, u16(1), 2, 1, 0), code: 7, subcode: 1, data: msg(5, u16(1), 2, 1, 0) },
  { name: 'ROUTE-REFRESH of 22 octets', wire: msg(5, u16(1), 0), code: 7, subcode: 1, data: msg(5, u16(1), 0) },
  // OPEN (RFC 4271 §6.2)
  { name: 'OPEN version 3', wire: msg(1, OPEN_BODY({ version: 3 })), code: 2, subcode: 1, data: Buffer.from(u16(4)) },
  { name: 'OPEN My AS 0 (RFC 7607)', wire: msg(1, OPEN_BODY({ as: 0 })), code: 2, subcode: 2 },
  { name: 'OPEN hold time 1', wire: msg(1, OPEN_BODY({ hold: 1 })), code: 2, subcode: 6 },
  { name: 'OPEN hold time 2', wire: msg(1, OPEN_BODY({ hold: 2 })), code: 2, subcode: 6 },
  { name: 'OPEN BGP Identifier 0.0.0.0', wire: msg(1, OPEN_BODY({ id: '0.0.0.0' })), code: 2, subcode: 3 },
  { name: 'OPEN optional parameter type 1', wire: msg(1, OPEN_BODY({ params: [1, 2, 0, 0] })), code: 2, subcode: 4 },
  { name: 'OPEN Opt Parm Len beyond the message', wire: msg(1, OPEN_BODY().subarray(0, 9), 10, 2, 2), code: 2, subcode: 0 },
  { name: 'OPEN capability overrunning its parameter', wire: msg(1, OPEN_BODY({ params: [2, 3, 65, 4, 0] })), code: 2, subcode: 0 },
  { name: 'OPEN 4-octet AS capability with AS 0 (RFC 7607)', wire: msg(1, OPEN_BODY({ params: [2, 6, 65, 4, ...u32(0)] })), code: 2, subcode: 2 },
  { name: 'OPEN multiprotocol capability of length 3', wire: msg(1, OPEN_BODY({ params: [2, 5, 1, 3, 0, 1, 0] })), code: 2, subcode: 0 },
  { name: 'OPEN graceful restart capability of length 3', wire: msg(1, OPEN_BODY({ params: [2, 5, 64, 3, 0, 90, 0] })), code: 2, subcode: 0 },
  { name: 'OPEN octets after an empty parameter list', wire: msg(1, OPEN_BODY(), 0), code: 2, subcode: 0 },
  { name: 'OPEN RFC 9072 extended length inconsistent', wire: msg(1, OPEN_BODY().subarray(0, 9), 255, 255, u16(9), 2, u16(2), 2, 0), code: 2, subcode: 0 },
  // UPDATE errors that reset the session (RFC 4271 §6.3 as revised by RFC 7606 §3, §5.3)
  { name: 'UPDATE Withdrawn Routes Length too large', wire: msg(2, u16(10), 0, 0), code: 3, subcode: 1 },
  { name: 'UPDATE Total Path Attribute Length too large', wire: msg(2, u16(0), u16(5), 1), code: 3, subcode: 1 },
  { name: 'UPDATE withdrawn prefix length 33', wire: update([33, 10, 0, 0, 0, 0], []), code: 3, subcode: 10 },
  { name: 'UPDATE withdrawn prefix overrunning the field', wire: update([24, 10, 0], []), code: 3, subcode: 10 },
  { name: 'UPDATE NLRI prefix length 33', wire: update([], BASIC_ATTRS, [33, 1, 2, 3, 4, 5]), code: 3, subcode: 10 },
  { name: 'UPDATE NLRI prefix overrunning the message', wire: update([], BASIC_ATTRS, [24, 10, 0]), code: 3, subcode: 10 },
  { name: 'UPDATE MP_REACH_NLRI twice (RFC 7606 §3)', wire: update([], bytes(attr(0x80, 14, u16(2), 1, 16, new Array(16).fill(1), 0), attr(0x80, 14, u16(2), 1, 16, new Array(16).fill(1), 0), ORIGIN_IGP, AS_PATH_4())), code: 3, subcode: 1 },
  { name: 'UPDATE MP_UNREACH_NLRI twice (RFC 7606 §3)', wire: update([], bytes(attr(0x80, 15, u16(2), 1), attr(0x80, 15, u16(2), 1))), code: 3, subcode: 1 },
  { name: 'UPDATE unrecognized well-known attribute (data = the attribute)', wire: update([], bytes(BASIC_ATTRS, attr(0x40, 100, 1, 2)), nlri4('10.0.0.0/8')), code: 3, subcode: 2, data: bytes(0x40, 100, 2, 1, 2) },
  { name: 'UPDATE MP_REACH_NLRI without AFI/SAFI', wire: update([], bytes(attr(0x80, 14, 0, 2), ORIGIN_IGP, AS_PATH_4())), code: 3, subcode: 9 },
];

interface VerdictCase {
  name: string;
  wire: Buffer;
  ctx?: SessionContext;
  action: ErrorAction;
  /** The problem that decides the verdict. */
  typeCode?: number;
  subcode: number;
  data?: Buffer;
  withdraw?: { afi: number; safi: number; prefixes: string[] }[];
  families?: { afi: number; safi: number }[];
  /** Attribute fields that must be absent / present after decoding. */
  absent?: string[];
  present?: string[];
}

const NLRI = nlri4('10.1.0.0/16', '10.2.0.0/16');
const W_NLRI = [{ afi: 1, safi: 1, prefixes: ['10.1.0.0/16', '10.2.0.0/16'] }];
const MP6 = attr(0x80, 14, u16(2), 1, 16, bytes('20010db8000000000000000000000001'), 0, 32, u16(0x2001), u16(0xdb8));
const W_MP6 = [{ afi: 2, safi: 1, prefixes: ['2001:db8::/32'] }];
const taw = (name: string, attrs: Buffer, typeCode: number | undefined, subcode: number, more: Partial<VerdictCase> = {}): VerdictCase => ({
  name,
  wire: update([], attrs, NLRI),
  action: 'treat-as-withdraw',
  typeCode,
  subcode,
  withdraw: W_NLRI,
  ...more,
});
const discard = (name: string, attrs: Buffer, typeCode: number, subcode: number, more: Partial<VerdictCase> = {}): VerdictCase => ({
  name,
  wire: update([], attrs, NLRI),
  action: 'attribute-discard',
  typeCode,
  subcode,
  ...more,
});

const VERDICTS: VerdictCase[] = [
  // treat-as-withdraw (RFC 7606 §7 per attribute)
  taw('ORIGIN value 3 (§7.1)', bytes(attr(0x40, 1, 3), AS_PATH_4(65001), NEXT_HOP('10.0.0.1')), 1, 6, { data: bytes(0x40, 1, 1, 3) }),
  taw('ORIGIN of length 2 (§7.1)', bytes(attr(0x40, 1, 0, 0), AS_PATH_4(65001), NEXT_HOP('10.0.0.1')), 1, 5, { data: bytes(0x40, 1, 2, 0, 0) }),
  taw('AS_PATH unknown segment type (§7.2)', bytes(ORIGIN_IGP, attr(0x40, 2, 7, 1, u32(1)), NEXT_HOP('10.0.0.1')), 2, 11),
  taw('AS_PATH segment of length zero (§7.2)', bytes(ORIGIN_IGP, attr(0x40, 2, 2, 0), NEXT_HOP('10.0.0.1')), 2, 11),
  taw('AS_PATH segment overrunning the attribute (§7.2)', bytes(ORIGIN_IGP, attr(0x40, 2, 2, 2, u32(1)), NEXT_HOP('10.0.0.1')), 2, 11),
  taw('AS_PATH single octet left over (§7.2)', bytes(ORIGIN_IGP, attr(0x40, 2, 2, 1, u32(1), 2), NEXT_HOP('10.0.0.1')), 2, 11),
  taw('AS_PATH 2-octet segments on a 4-octet session', bytes(ORIGIN_IGP, AS_PATH_2(65001, 65002, 65003), NEXT_HOP('10.0.0.1')), 2, 11),
  taw('AS_PATH confederation segment from an external peer (RFC 5065 §5)', bytes(ORIGIN_IGP, attr(0x40, 2, 3, 1, u32(64512)), NEXT_HOP('10.0.0.1')), 2, 11),
  taw('NEXT_HOP of length 5 (§7.3)', bytes(ORIGIN_IGP, AS_PATH_4(65001), attr(0x40, 3, 10, 0, 0, 1, 0)), 3, 5),
  taw('NEXT_HOP 0.0.0.0 (RFC 4271 §6.3)', bytes(ORIGIN_IGP, AS_PATH_4(65001), NEXT_HOP('0.0.0.0')), 3, 8, { data: bytes(0x40, 3, 4, 0, 0, 0, 0) }),
  taw('NEXT_HOP multicast 224.0.0.5', bytes(ORIGIN_IGP, AS_PATH_4(65001), NEXT_HOP('224.0.0.5')), 3, 8),
  taw('NEXT_HOP 255.255.255.255', bytes(ORIGIN_IGP, AS_PATH_4(65001), NEXT_HOP('255.255.255.255')), 3, 8),
  taw('MULTI_EXIT_DISC of length 3 (§7.4)', bytes(BASIC_ATTRS, attr(0x80, 4, 0, 0, 1)), 4, 5),
  taw('LOCAL_PREF of length 3 from an internal peer (§7.5)', bytes(BASIC_ATTRS, attr(0x40, 5, 0, 0, 1)), 5, 5, { ctx: ibgp }),
  taw('COMMUNITIES of length 5 (§7.8)', bytes(BASIC_ATTRS, attr(0xc0, 8, 1, 2, 3, 4, 5)), 8, 5),
  taw('COMMUNITIES of length 0 (§7.8)', bytes(BASIC_ATTRS, attr(0xc0, 8)), 8, 5),
  taw('ORIGINATOR_ID of length 5 from an internal peer (§7.9)', bytes(BASIC_ATTRS, attr(0x80, 9, 1, 2, 3, 4, 5)), 9, 5, { ctx: ibgp }),
  taw('CLUSTER_LIST of length 6 from an internal peer (§7.10)', bytes(BASIC_ATTRS, attr(0x80, 10, 1, 2, 3, 4, 5, 6)), 10, 5, { ctx: ibgp }),
  taw('LARGE_COMMUNITIES of length 13 (RFC 8092 §6)', bytes(BASIC_ATTRS, attr(0xc0, 32, new Array(13).fill(1))), 32, 5),
  taw('ORIGIN flagged optional (flags conflict, §3)', bytes(attr(0xc0, 1, 0), AS_PATH_4(65001), NEXT_HOP('10.0.0.1')), 1, 4, { data: bytes(0xc0, 1, 1, 0) }),
  taw('MULTI_EXIT_DISC flagged transitive (flags conflict, §3)', bytes(BASIC_ATTRS, attr(0xc0, 4, u32(1))), 4, 4),
  taw('COMMUNITIES flagged non-transitive (flags conflict, §3)', bytes(BASIC_ATTRS, attr(0x80, 8, u32(1))), 8, 4),
  taw('missing ORIGIN (§3)', bytes(AS_PATH_4(65001), NEXT_HOP('10.0.0.1')), 1, 3, { data: Buffer.from([1]) }),
  taw('missing AS_PATH (§3)', bytes(ORIGIN_IGP, NEXT_HOP('10.0.0.1')), 2, 3, { data: Buffer.from([2]) }),
  taw('missing NEXT_HOP with an NLRI field (§3)', bytes(ORIGIN_IGP, AS_PATH_4(65001)), 3, 3, { data: Buffer.from([3]) }),
  taw('last attribute overrunning the attributes field (§4)', bytes(BASIC_ATTRS, 0xc0, 8, 8, 0, 0, 0, 1), 8, 5),
  taw('two octets left in the attributes field (§4)', bytes(BASIC_ATTRS, 0xc0, 8), undefined, 1),
  taw('extended-length header cut short (§4)', bytes(BASIC_ATTRS, 0xd0, 8, 0), undefined, 1),
  {
    name: 'missing ORIGIN with only MP_REACH_NLRI: the MP NLRI are withdrawn',
    wire: update([], bytes(MP6, AS_PATH_4(65001))),
    action: 'treat-as-withdraw',
    typeCode: 1,
    subcode: 3,
    withdraw: W_MP6,
  },
  {
    name: 'treat-as-withdraw covers the NLRI field and MP_REACH_NLRI together',
    wire: update([], bytes(MP6, attr(0x40, 1, 9), AS_PATH_4(65001), NEXT_HOP('10.0.0.1')), NLRI),
    action: 'treat-as-withdraw',
    typeCode: 1,
    subcode: 6,
    withdraw: [...W_NLRI, ...W_MP6],
  },
  {
    name: 'MP_REACH_NLRI with bad flags: its NLRI are still parsed and withdrawn',
    wire: update([], bytes(attr(0xc0, 14, u16(2), 1, 16, bytes('20010db8000000000000000000000001'), 0, 32, u16(0x2001), u16(0xdb8)), ORIGIN_IGP, AS_PATH_4())),
    action: 'treat-as-withdraw',
    typeCode: 14,
    subcode: 4,
    withdraw: W_MP6,
  },
  // attribute-discard
  discard('ATOMIC_AGGREGATE of length 1 (§7.6)', bytes(BASIC_ATTRS, attr(0x40, 6, 0)), 6, 5, { absent: ['atomicAggregate'] }),
  discard('AGGREGATOR of length 7 (§7.7)', bytes(BASIC_ATTRS, attr(0xc0, 7, new Array(7).fill(1))), 7, 5, { absent: ['aggregator'] }),
  discard('AGGREGATOR of length 6 on a 4-octet session (§7.7)', bytes(BASIC_ATTRS, attr(0xc0, 7, u16(65001), ip4('1.1.1.1'))), 7, 5, { absent: ['aggregator'] }),
  discard('AGGREGATOR of length 8 on a 2-octet session (§7.7)', bytes(ORIGIN_IGP, AS_PATH_2(65001), NEXT_HOP('10.0.0.1'), attr(0xc0, 7, u32(65001), ip4('1.1.1.1'))), 7, 5, { ctx: ctx2, absent: ['aggregator'] }),
  discard('AS4_AGGREGATOR of length 6 (RFC 6793 §6)', bytes(ORIGIN_IGP, AS_PATH_2(65001), NEXT_HOP('10.0.0.1'), attr(0xc0, 18, u16(1), ip4('1.1.1.1'))), 18, 5, { ctx: ctx2 }),
  discard('AS4_PATH malformed (RFC 6793 §6)', bytes(ORIGIN_IGP, AS_PATH_2(65001), NEXT_HOP('10.0.0.1'), attr(0xc0, 17, 2, 5, u32(1))), 17, 9, { ctx: ctx2, absent: ['as4Path'] }),
  discard('AS4_PATH with a confederation segment (RFC 6793 §3)', bytes(ORIGIN_IGP, AS_PATH_2(65001), NEXT_HOP('10.0.0.1'), attr(0xc0, 17, 3, 1, u32(1))), 17, 9, { ctx: ctx2, absent: ['as4Path'] }),
  discard('AS4_PATH from a 4-octet speaker (RFC 6793 §3)', bytes(BASIC_ATTRS, attr(0xc0, 17, 2, 1, u32(1))), 17, 9, { absent: ['as4Path'] }),
  discard('LOCAL_PREF from an external peer (§7.5)', bytes(BASIC_ATTRS, attr(0x40, 5, u32(100))), 5, 5, { absent: ['localPref'] }),
  discard('LOCAL_PREF with bad flags from an external peer is still only discarded (§7.5)', bytes(BASIC_ATTRS, attr(0xc0, 5, u32(100))), 5, 5, { absent: ['localPref'] }),
  discard('ORIGINATOR_ID from an external peer (§7.9)', bytes(BASIC_ATTRS, attr(0x80, 9, ip4('1.1.1.1'))), 9, 9, { absent: ['originatorId'] }),
  discard('CLUSTER_LIST from an external peer (§7.10)', bytes(BASIC_ATTRS, attr(0x80, 10, ip4('1.1.1.1'))), 10, 9, { absent: ['clusterList'] }),
  discard('ORIGIN twice: the repeat is dropped (§3)', bytes(BASIC_ATTRS, attr(0x40, 1, 2)), 1, 1, { present: ['origin'] }),
  {
    name: 'bad NEXT_HOP without an NLRI field is only ignored (RFC 4760 §3)',
    wire: update([], bytes(MP6, ORIGIN_IGP, AS_PATH_4(65001), NEXT_HOP('0.0.0.0'))),
    action: 'attribute-discard',
    typeCode: 3,
    subcode: 8,
  },
  // af-disable (RFC 7606 §7.11/§7.12, RFC 4760 §7)
  {
    name: 'MP_REACH_NLRI next hop length 5 for IPv6',
    wire: update([], bytes(attr(0x80, 14, u16(2), 1, 5, 1, 2, 3, 4, 5, 0), ORIGIN_IGP, AS_PATH_4())),
    action: 'af-disable',
    typeCode: 14,
    subcode: 9,
    families: [{ afi: 2, safi: 1 }],
  },
  {
    name: 'MP_REACH_NLRI prefix length 129',
    wire: update([], bytes(attr(0x80, 14, u16(2), 1, 16, new Array(16).fill(0x20), 0, 129, new Array(17).fill(0)), ORIGIN_IGP, AS_PATH_4())),
    action: 'af-disable',
    typeCode: 14,
    subcode: 9,
    families: [{ afi: 2, safi: 1 }],
  },
  {
    name: 'MP_UNREACH_NLRI prefix overrunning the attribute',
    wire: update([], bytes(attr(0x80, 15, u16(2), 1, 64, 0x20, 0x01))),
    action: 'af-disable',
    typeCode: 15,
    subcode: 9,
    families: [{ afi: 2, safi: 1 }],
  },
  {
    name: 'MP_REACH_NLRI of an unsupported AFI/SAFI (1/128)',
    wire: update([], bytes(attr(0x80, 14, u16(1), 128, 12, new Array(12).fill(0), 0, 88, new Array(11).fill(0)), ORIGIN_IGP, AS_PATH_4())),
    action: 'af-disable',
    typeCode: 14,
    subcode: 9,
    families: [{ afi: 1, safi: 128 }],
  },
  {
    name: 'MP_REACH_NLRI overrunning the attributes field',
    wire: update([], bytes(0x80, 14, 60, u16(2), 1, 16, new Array(16).fill(0x20))),
    action: 'af-disable',
    typeCode: 14,
    subcode: 9,
    families: [{ afi: 2, safi: 1 }],
  },
  {
    name: 'af-disable with a treat-as-withdraw problem: other families are withdrawn',
    wire: update([], bytes(attr(0x80, 14, u16(2), 1, 3, 0, 0, 0, 0), attr(0x40, 1, 7), AS_PATH_4(65001), NEXT_HOP('10.0.0.1')), NLRI),
    action: 'af-disable',
    typeCode: 14,
    subcode: 9,
    families: [{ afi: 2, safi: 1 }],
    withdraw: W_NLRI,
  },
  // strongest action wins (RFC 7606 §3)
  taw('attribute-discard and treat-as-withdraw together: treat-as-withdraw', bytes(attr(0x40, 1, 5), AS_PATH_4(65001), NEXT_HOP('10.0.0.1'), attr(0x40, 6, 1)), 1, 6),
];

function decodeUpdate(wire: Buffer, c: SessionContext): ReceivedUpdate {
  const d = decodeMessage(wire, c);
  assert.equal(d.type, 'UPDATE');
  return d as ReceivedUpdate;
}

describe('bgp/wire malformed input', () => {
  it(`covers at least 40 cases (${THROWS.length + VERDICTS.length})`, () => {
    assert.ok(THROWS.length + VERDICTS.length >= 40);
  });

  describe('errors that end the session (exact NOTIFICATION)', () => {
    for (const c of THROWS) {
      it(`${c.name} -> ${c.code}/${c.subcode}`, () => {
        assertBgpError(() => decodeMessage(c.wire, c.ctx ?? ctx), c.code, c.subcode, c.data);
      });
    }
  });

  describe('RFC 7606 verdicts', () => {
    for (const c of VERDICTS) {
      it(`${c.name} -> ${c.action}`, () => {
        const d = decodeUpdate(c.wire, c.ctx ?? ctx);
        const v = d.verdict;
        if (v.action === 'ok') assert.fail(`expected ${c.action}, got ok`);
        assert.equal(v.action, c.action, JSON.stringify(v));
        const deciding = v.problems.find((p) => p.action === c.action && p.typeCode === c.typeCode);
        assert.ok(deciding, `a ${c.action} problem for type ${c.typeCode} in ${JSON.stringify(v.problems.map((p) => p.reason))}`);
        assert.equal(deciding.subcode, c.subcode, deciding.reason);
        if (c.data) assert.deepEqual(deciding.data, c.data);
        if (c.withdraw) {
          assert.ok(v.action === 'treat-as-withdraw' || v.action === 'af-disable');
          assert.deepEqual(v.withdraw, c.withdraw);
        }
        if (c.families) {
          assert.equal(v.action, 'af-disable');
          if (v.action === 'af-disable') {
            assert.deepEqual(v.families, c.families);
            assert.equal(v.notification.code, 3);
            assert.equal(v.notification.subcode, 9);
          }
        }
        for (const k of c.absent ?? []) assert.equal((d.attributes as Record<string, unknown>)[k], undefined, `${k} dropped`);
        for (const k of c.present ?? []) assert.notEqual((d.attributes as Record<string, unknown>)[k], undefined, `${k} kept`);
      });
    }
  });

  it('keeps the first of a repeated attribute', () => {
    const d = decodeUpdate(update([], bytes(BASIC_ATTRS, attr(0x40, 1, 2)), NLRI), ctx);
    assert.equal(d.attributes.origin, 'igp');
  });

  it('decodeUpdateBody returns the session-reset verdict instead of throwing', () => {
    const wire = update([], BASIC_ATTRS, [40, 1, 2, 3, 4, 5]);
    const { verdict } = decodeUpdateBody(wire, 19, wire.length, ctx);
    assert.equal(verdict.action, 'session-reset');
    if (verdict.action === 'session-reset') {
      assert.equal(verdict.notification.code, 3);
      assert.equal(verdict.notification.subcode, 10);
    }
  });

  it('an unrecognized well-known attribute beats milder problems', () => {
    const wire = update([], bytes(attr(0x40, 1, 9), AS_PATH_4(65001), NEXT_HOP('10.0.0.1'), attr(0x40, 101)), NLRI);
    assertBgpError(() => decodeMessage(wire, ctx), 3, 2, bytes(0x40, 101, 0));
  });
});
