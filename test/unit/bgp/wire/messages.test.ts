import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  AS_TRANS,
  BgpMessage,
  BgpMessageError,
  Capability,
  ERR_CEASE,
  ERR_HOLD_TIMER_EXPIRED,
  ERR_OPEN_MESSAGE,
  ERR_UPDATE_MESSAGE,
  KEEPALIVE,
  NotificationMessage,
  OpenMessage,
  ROUTE_REFRESH_BORR,
  ROUTE_REFRESH_EORR,
  ROUTE_REFRESH_NORMAL,
  SUB_ADMINISTRATIVE_RESET,
  SUB_ADMINISTRATIVE_SHUTDOWN,
  SUB_BAD_PEER_AS,
  SUB_MALFORMED_AS_PATH,
  SUB_UNSPECIFIC,
  decodeMessage,
  describeNotification,
  encodeMessage,
  makeOpen,
  notificationName,
  openAsn,
  sessionContext,
  shutdownNotification,
} from '../../../../src/bgp/wire/index.js';
import { MARKER, bytes, ip4, msg, u16, u32 } from './helpers.js';

const ctx = sessionContext();

/** encode -> decode -> deep-equal -> encode byte-identical. */
function roundTrip(m: BgpMessage, c = ctx): Buffer {
  const wire = encodeMessage(m, c);
  const decoded = decodeMessage(wire, c);
  if (decoded.type === 'UPDATE') {
    const { verdict, ...rest } = decoded;
    assert.equal(verdict.action, 'ok');
    assert.deepEqual(rest, m);
  } else {
    assert.deepEqual(decoded, m);
  }
  assert.deepEqual(encodeMessage(decoded, c), wire);
  return wire;
}

const ALL_CAPS: Capability[] = [
  { kind: 'multiprotocol', afi: 1, safi: 1 },
  { kind: 'multiprotocol', afi: 2, safi: 1 },
  { kind: 'route-refresh' },
  { kind: 'enhanced-route-refresh' },
  { kind: 'four-octet-as', asn: 4200000001 },
  {
    kind: 'graceful-restart',
    restarting: true,
    notification: true,
    restartTime: 120,
    families: [
      { afi: 1, safi: 1, forwarding: true },
      { afi: 2, safi: 1, forwarding: false },
    ],
  },
  { kind: 'extended-message' },
  { kind: 'unknown', code: 73, value: Buffer.from('0568656c6c6f', 'hex') },
];

describe('bgp/wire messages: KEEPALIVE, OPEN, NOTIFICATION, ROUTE-REFRESH', () => {
  describe('KEEPALIVE', () => {
    it('is exactly the 19-octet header of type 4', () => {
      assert.deepEqual(encodeMessage(KEEPALIVE, ctx), bytes(MARKER, 0, 19, 4));
      roundTrip(KEEPALIVE);
    });
  });

  describe('OPEN', () => {
    it('round-trips every capability kind', () => {
      roundTrip({ type: 'OPEN', myAs: AS_TRANS, holdTime: 90, bgpId: '10.0.0.1', capabilities: ALL_CAPS });
    });

    it('round-trips each capability alone, and none', () => {
      for (const c of ALL_CAPS) roundTrip({ type: 'OPEN', myAs: 65001, holdTime: 0, bgpId: '192.168.1.1', capabilities: [c] });
      roundTrip({ type: 'OPEN', myAs: 65001, holdTime: 3, bgpId: '1.2.3.4', capabilities: [] });
    });

    it('graceful restart: restart time, flags and per-family forwarding bit on the wire (RFC 4724 §3)', () => {
      const open: OpenMessage = {
        type: 'OPEN',
        myAs: 65001,
        holdTime: 90,
        bgpId: '10.0.0.1',
        capabilities: [{ kind: 'graceful-restart', restarting: true, notification: false, restartTime: 0xabc, families: [{ afi: 2, safi: 1, forwarding: true }] }],
      };
      const wire = roundTrip(open);
      // cap 64, len 6, flags R (0x8) in the top nibble + 12-bit time, AFI 2, SAFI 1, F bit
      assert.deepEqual(wire.subarray(29), bytes(2, 8, 64, 6, 0x8a, 0xbc, u16(2), 1, 0x80));
    });

    it('encodes to hand-built bytes (RFC 4271 §4.2, RFC 5492 §4, RFC 6793 §3)', () => {
      const open = makeOpen({ asn: 65001, holdTime: 90, bgpId: '10.0.0.1', capabilities: [{ kind: 'multiprotocol', afi: 1, safi: 1 }] });
      const expected = msg(
        1,
        4, // version
        u16(65001),
        u16(90),
        ip4('10.0.0.1'),
        14, // Opt Parm Len
        [2, 12], // one Capabilities parameter of 12 octets
        [1, 4, u16(1), 0, 1], // multiprotocol IPv4 unicast
        [65, 4, u32(65001)], // 4-octet AS
      );
      assert.deepEqual(encodeMessage(open, ctx), expected);
      assert.deepEqual(decodeMessage(expected, ctx), open);
    });

    it('makeOpen puts AS_TRANS in My AS for a 4-octet AS, and openAsn reads the capability', () => {
      const open = makeOpen({ asn: 4200000000, holdTime: 90, bgpId: '10.0.0.1' });
      assert.equal(open.myAs, AS_TRANS);
      assert.equal(openAsn(open), 4200000000);
      assert.equal(openAsn({ ...open, capabilities: [] }), AS_TRANS);
      roundTrip(open);
    });

    it('uses RFC 9072 extended optional parameters only when capabilities exceed 255 octets', () => {
      const many: Capability[] = [];
      for (let i = 0; i < 70; i++) many.push({ kind: 'multiprotocol', afi: 1, safi: i + 1 });
      const open: OpenMessage = { type: 'OPEN', myAs: 65001, holdTime: 90, bgpId: '10.0.0.1', capabilities: many };
      const wire = roundTrip(open);
      const capLen = 70 * 6;
      assert.deepEqual(wire.subarray(28, 35), bytes(255, 255, u16(capLen + 3), 2, u16(capLen)));
      assert.equal(wire.length, 35 + capLen);
      // 42 capabilities (252 octets) still fit the classic format.
      const fits = roundTrip({ ...open, capabilities: many.slice(0, 42) });
      assert.deepEqual(fits.subarray(28, 31), bytes(254, 2, 252));
    });

    it('decodes several Capabilities parameters (one capability each), classic and RFC 9072 forms', () => {
      const classic = msg(1, 4, u16(65001), u16(90), ip4('10.0.0.1'), 14, [2, 4, 65, 2, 0, 0], [2, 6, 1, 4, u16(2), 0, 1]);
      // A 4-octet AS capability with a 2-octet value is malformed: OPEN Message Error / Unspecific.
      assert.throws(() => decodeMessage(classic, ctx), (e: unknown) => e instanceof BgpMessageError && e.code === ERR_OPEN_MESSAGE && e.subcode === SUB_UNSPECIFIC);
      const good = msg(1, 4, u16(65001), u16(90), ip4('10.0.0.1'), 16, [2, 6, 65, 4, u32(65001)], [2, 6, 1, 4, u16(2), 0, 1]);
      const d = decodeMessage(good, ctx) as OpenMessage;
      assert.deepEqual(d.capabilities, [
        { kind: 'four-octet-as', asn: 65001 },
        { kind: 'multiprotocol', afi: 2, safi: 1 },
      ]);
      const ext = msg(1, 4, u16(65001), u16(90), ip4('10.0.0.1'), 255, 255, u16(16), [2, u16(6), 65, 4, u32(65001)], [2, u16(4), 2, 0, 70, 0]);
      const e = decodeMessage(ext, ctx) as OpenMessage;
      assert.deepEqual(e.capabilities, [{ kind: 'four-octet-as', asn: 65001 }, { kind: 'route-refresh' }, { kind: 'enhanced-route-refresh' }]);
    });

    it('refuses to encode My AS above 65535 and OPENs above 4096 octets (RFC 8654 §4)', () => {
      assert.throws(() => encodeMessage({ type: 'OPEN', myAs: 70000, holdTime: 90, bgpId: '10.0.0.1', capabilities: [] }, ctx), RangeError);
      const huge: Capability[] = Array.from({ length: 700 }, (_, i) => ({ kind: 'multiprotocol' as const, afi: 1, safi: i & 255 }));
      assert.throws(() => encodeMessage({ type: 'OPEN', myAs: 1, holdTime: 90, bgpId: '10.0.0.1', capabilities: huge }, sessionContext({ extendedMessage: true })), RangeError);
    });
  });

  describe('NOTIFICATION', () => {
    it('round-trips code, subcode and data', () => {
      roundTrip({ type: 'NOTIFICATION', code: ERR_UPDATE_MESSAGE, subcode: SUB_MALFORMED_AS_PATH, data: Buffer.alloc(0) });
      roundTrip({ type: 'NOTIFICATION', code: ERR_OPEN_MESSAGE, subcode: SUB_BAD_PEER_AS, data: Buffer.from([0xfd, 0xe9]) });
      roundTrip({ type: 'NOTIFICATION', code: ERR_HOLD_TIMER_EXPIRED, subcode: 0, data: Buffer.alloc(0) });
      assert.deepEqual(encodeMessage({ type: 'NOTIFICATION', code: 4, subcode: 0, data: Buffer.alloc(0) }, ctx), bytes(MARKER, 0, 21, 3, 4, 0));
    });

    it('carries an RFC 9003 shutdown communication in Cease / Administrative Shutdown and Reset', () => {
      for (const sub of [SUB_ADMINISTRATIVE_SHUTDOWN, SUB_ADMINISTRATIVE_RESET]) {
        const n = shutdownNotification('maintenance window, back at 14:00 — ünïcode', sub);
        const wire = roundTrip(n);
        const text = Buffer.from('maintenance window, back at 14:00 — ünïcode', 'utf8');
        assert.deepEqual(wire.subarray(19), bytes(ERR_CEASE, sub, text.length, text));
      }
      assert.equal(describeNotification(shutdownNotification('bye')), 'Cease / Administrative Shutdown: "bye"');
    });

    it('cuts a shutdown communication to 255 octets on a character boundary (RFC 9003 §2)', () => {
      const n = shutdownNotification('é'.repeat(200)); // 400 octets of UTF-8
      assert.equal(n.data[0], 254);
      assert.equal(n.shutdownMessage, 'é'.repeat(127));
      roundTrip(n);
    });

    it('encodes shutdownMessage when data is empty', () => {
      const wire = encodeMessage({ type: 'NOTIFICATION', code: ERR_CEASE, subcode: SUB_ADMINISTRATIVE_SHUTDOWN, data: Buffer.alloc(0), shutdownMessage: 'x' }, ctx);
      assert.deepEqual(wire.subarray(19), bytes(6, 2, 1, 0x78));
    });

    it('leaves a malformed shutdown communication undecoded but keeps the data', () => {
      const cases = [bytes(5, 0x61), bytes(2, 0xc3, 0x28), bytes(0)];
      for (const data of cases) {
        const d = decodeMessage(msg(3, 6, 2, data), ctx) as NotificationMessage;
        assert.equal(d.shutdownMessage, undefined);
        assert.deepEqual(d.data, data);
      }
      // Not a shutdown subcode: no decoding attempted.
      const other = decodeMessage(msg(3, 6, 3, 1, 0x61), ctx) as NotificationMessage;
      assert.equal(other.shutdownMessage, undefined);
      assert.equal(describeNotification(other), 'Cease / Peer De-configured (data 0161)');
    });
  });

  describe('ROUTE-REFRESH', () => {
    it('round-trips the RFC 7313 subtypes, and keeps an unknown one for the session to ignore', () => {
      for (const subtype of [ROUTE_REFRESH_NORMAL, ROUTE_REFRESH_BORR, ROUTE_REFRESH_EORR, 7]) {
        roundTrip({ type: 'ROUTE-REFRESH', afi: 2, safi: 1, subtype });
      }
      assert.deepEqual(encodeMessage({ type: 'ROUTE-REFRESH', afi: 1, safi: 1, subtype: ROUTE_REFRESH_BORR }, ctx), bytes(MARKER, 0, 23, 5, u16(1), 1, 1));
    });

    it('ignores ORF entries (RFC 5291) after a normal request', () => {
      assert.deepEqual(decodeMessage(msg(5, u16(1), 0, 1, 1, 2, 3), ctx), { type: 'ROUTE-REFRESH', afi: 1, safi: 1, subtype: 0 });
    });
  });

  describe('notificationName', () => {
    it('names codes and subcodes from RFC 4271, RFC 4486, RFC 7313', () => {
      assert.equal(notificationName(1, 1), 'Message Header Error / Connection Not Synchronized');
      assert.equal(notificationName(2, 6), 'OPEN Message Error / Unacceptable Hold Time');
      assert.equal(notificationName(2, 0), 'OPEN Message Error');
      assert.equal(notificationName(3, 11), 'UPDATE Message Error / Malformed AS_PATH');
      assert.equal(notificationName(4, 0), 'Hold Timer Expired');
      assert.equal(notificationName(6, 1), 'Cease / Maximum Number of Prefixes Reached');
      assert.equal(notificationName(6, 7), 'Cease / Connection Collision Resolution');
      assert.equal(notificationName(6, 8), 'Cease / Out of Resources');
      assert.equal(notificationName(7, 1), 'ROUTE-REFRESH Message Error / Invalid Message Length');
      assert.equal(notificationName(6, 99), 'Cease / subcode 99');
      assert.equal(notificationName(42, 1), 'code 42 / subcode 1');
    });

    it('BgpMessageError carries its NOTIFICATION', () => {
      const e = new BgpMessageError(6, 2, Buffer.from([0]), 'operator');
      assert.equal(e.message, 'Cease / Administrative Shutdown: operator');
      assert.deepEqual(e.toNotification(), { type: 'NOTIFICATION', code: 6, subcode: 2, data: Buffer.from([0]) });
      assert.equal(e.action, 'session-reset');
    });
  });
});
