/**
 * Deterministic fuzzing: valid encodings mutated (octets flipped, cut,
 * inserted, length fields changed, messages spliced) plus random bodies, fed
 * to the framer and the decoder. Nothing may throw anything but
 * BgpMessageError, and a decoded UPDATE that was judged ok must re-encode
 * to bytes that decode and re-encode identically.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  BgpFramer,
  BgpMessage,
  BgpMessageError,
  KEEPALIVE,
  PathAttributes,
  SessionContext,
  decodeMessage,
  encodeMessage,
  endOfRib,
  makeOpen,
  packUpdates,
  packWithdrawals,
  sessionContext,
  shutdownNotification,
} from '../../../../src/bgp/wire/index.js';
import { BASIC_ATTRS, attr, bytes, nlri4, prng, u16, u32, update } from './helpers.js';

const CONTEXTS: SessionContext[] = [
  sessionContext(),
  sessionContext({ fourOctetAs: false }),
  sessionContext({ ibgp: true }),
  sessionContext({ extendedMessage: true, ibgp: true, fourOctetAs: false }),
];

function corpus(): Buffer[] {
  const ctx = CONTEXTS[0]!;
  const ctx2 = CONTEXTS[1]!;
  const ibgp = CONTEXTS[2]!;
  const attrs: PathAttributes = {
    origin: 'egp',
    asPath: [{ type: 'sequence', asns: [65001, 4200000000] }, { type: 'set', asns: [1, 2] }],
    nextHop: '10.0.0.1',
    med: 5,
    localPref: 100,
    atomicAggregate: true,
    aggregator: { asn: 4200000001, address: '10.0.0.9' },
    communities: [0xffffff01, 0xfde80001],
    originatorId: '10.0.0.2',
    clusterList: ['10.0.0.3', '10.0.0.4'],
    largeCommunities: [{ globalAdmin: 1, localData1: 2, localData2: 3 }],
    unknown: [{ typeCode: 99, flags: 0xe0, value: Buffer.from([1, 2, 3]) }],
    mpReach: { afi: 2, safi: 1, nextHop: '2001:db8::1', linkLocalNextHop: 'fe80::1', nlri: [] },
  };
  const msgs: BgpMessage[] = [
    KEEPALIVE,
    makeOpen({
      asn: 4200000000,
      holdTime: 90,
      bgpId: '10.0.0.1',
      capabilities: [
        { kind: 'multiprotocol', afi: 1, safi: 1 },
        { kind: 'multiprotocol', afi: 2, safi: 1 },
        { kind: 'route-refresh' },
        { kind: 'enhanced-route-refresh' },
        { kind: 'graceful-restart', restarting: false, notification: true, restartTime: 120, families: [{ afi: 1, safi: 1, forwarding: true }] },
        { kind: 'extended-message' },
        { kind: 'unknown', code: 200, value: Buffer.from([9, 9]) },
      ],
    }),
    shutdownNotification('going down'),
    { type: 'NOTIFICATION', code: 3, subcode: 1, data: Buffer.from([1, 2]) },
    { type: 'ROUTE-REFRESH', afi: 2, safi: 1, subtype: 1 },
    endOfRib(1, 1),
    endOfRib(2, 1),
    { type: 'UPDATE', withdrawn: ['10.9.0.0/16', '0.0.0.0/0'], attributes: { ...attrs, mpReach: { ...attrs.mpReach!, nlri: ['2001:db8::/32', '::/0'] }, mpUnreach: undefined }, nlri: ['10.1.0.0/16', '192.168.1.0/24'] },
    { type: 'UPDATE', withdrawn: [], attributes: { mpUnreach: { afi: 2, safi: 1, withdrawn: ['2001:db8:1::/48'] } }, nlri: [] },
  ];
  const out: Buffer[] = [];
  for (const m of msgs) out.push(encodeMessage(m, m.type === 'UPDATE' ? ibgp : ctx));
  out.push(encodeMessage(msgs[7]!, ctx2));
  out.push(...packUpdates(attrs, ['10.0.0.0/8', '10.1.0.0/16', '2001:db8::/32'], ctx).messages);
  out.push(...packWithdrawals(['10.0.0.0/8', 'fd00::/8'], ctx).messages);
  out.push(update([], bytes(BASIC_ATTRS, attr(0xd0, 8, u32(1), u32(2))), nlri4('10.0.0.0/8', '10.2.0.0/20')));
  out.push(update([], bytes(BASIC_ATTRS, attr(0xc0, 17, 2, 1, u32(1)), attr(0xc0, 18, u32(1), 1, 1, 1, 1))));
  return out;
}

function fixLength(b: Buffer): void {
  if (b.length >= 18) {
    const len = Math.min(b.length, 0xffff);
    b[16] = len >>> 8;
    b[17] = len & 0xff;
  }
}

function mutate(rand: () => number, base: Buffer[], seedMsg: Buffer): Buffer {
  const pick = (n: number) => Math.floor(rand() * n);
  let b: Buffer = Buffer.from(seedMsg);
  const op = pick(8);
  switch (op) {
    case 0: {
      const flips = 1 + pick(4);
      for (let i = 0; i < flips; i++) {
        const at = rand() < 0.9 && b.length > 19 ? 19 + pick(b.length - 19) : pick(b.length);
        b[at] = pick(256);
      }
      break;
    }
    case 1:
      b = b.subarray(0, pick(b.length + 1));
      break;
    case 2: {
      const at = pick(b.length + 1);
      const extra = Buffer.from(Array.from({ length: 1 + pick(20) }, () => pick(256)));
      b = Buffer.concat([b.subarray(0, at), extra, b.subarray(at)]);
      break;
    }
    case 3: {
      // A boundary value into a 1- or 2-octet field somewhere in the body.
      if (b.length < 21) break;
      const at = 19 + pick(b.length - 20);
      const v = [0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, b.length - at, b.length - at + 1, b.length - at - 1][pick(11)]!;
      if (rand() < 0.5) b[at] = v & 0xff;
      else {
        b[at] = (v >>> 8) & 0xff;
        b[at + 1] = v & 0xff;
      }
      break;
    }
    case 4: {
      const other = base[pick(base.length)]!;
      b = Buffer.concat([b.subarray(0, pick(b.length + 1)), other.subarray(pick(other.length + 1))]);
      break;
    }
    case 5: {
      const body = Buffer.from(Array.from({ length: pick(120) }, () => pick(256)));
      b = Buffer.concat([b.subarray(0, 19), body]);
      break;
    }
    case 6: {
      if (b.length < 24) break;
      const from = 19 + pick(b.length - 19);
      const to = from + pick(Math.min(30, b.length - from) + 1);
      const at = 19 + pick(b.length - 19);
      b = Buffer.concat([b.subarray(0, at), b.subarray(from, to), b.subarray(at)]);
      break;
    }
    default: {
      const type = 1 + pick(6);
      const body = Buffer.from(Array.from({ length: pick(60) }, () => (rand() < 0.3 ? 0 : pick(256))));
      b = bytes(new Array(16).fill(0xff), u16(19 + body.length), type, body);
    }
  }
  if (rand() < 0.8) fixLength(b);
  return b;
}

function check(fn: () => void, input: Buffer): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof BgpMessageError)) {
      assert.fail(`non-BgpMessageError ${String((err as Error)?.stack ?? err)} for input ${input.toString('hex')}`);
    }
  }
}

describe('bgp/wire fuzz', () => {
  it('survives 100,000 mutated and random messages with only BgpMessageError', function () {
    this.timeout(120000);
    const rand = prng(20240601);
    const base = corpus();
    let decoded = 0;
    let rejected = 0;
    let reencoded = 0;
    const keepalive = encodeMessage(KEEPALIVE, CONTEXTS[0]!);
    for (let i = 0; i < 100000; i++) {
      const input = mutate(rand, base, base[Math.floor(rand() * base.length)]!);
      const ctx = CONTEXTS[i & 3]!;
      const options = i % 5 === 0 ? ({ ipv4: 'raw' } as const) : {};
      check(() => {
        try {
          const m = decodeMessage(input, ctx, options);
          decoded++;
          if (m.type === 'UPDATE' && m.verdict.action === 'ok') {
            // Idempotence: encode(decode(x)) is a fixed point of decode+encode.
            let once: Buffer;
            try {
              once = encodeMessage(m, ctx);
            } catch (err) {
              assert.fail(`re-encoding a decoded UPDATE threw ${String(err)} for ${input.toString('hex')}`);
            }
            const again = decodeMessage(once, ctx, options);
            assert.deepEqual(encodeMessage(again, ctx), once, `not idempotent for ${input.toString('hex')}`);
            reencoded++;
          }
        } catch (err) {
          if (err instanceof BgpMessageError) rejected++;
          throw err;
        }
      }, input);
      if ((i & 7) === 0) {
        // Through the framer, in up to three chunks, followed by a KEEPALIVE.
        const stream = Buffer.concat([input, keepalive]);
        const a = Math.floor(rand() * (stream.length + 1));
        const b = a + Math.floor(rand() * (stream.length - a + 1));
        const framer = new BgpFramer({ extendedMessages: (i & 16) !== 0 });
        check(() => {
          for (const chunk of [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]) {
            framer.push(chunk, (frame) => check(() => void decodeMessage(frame, ctx), input));
          }
        }, input);
      }
    }
    if (process.env.FUZZ_STATS) console.log({ decoded, rejected, reencoded });
    // The mix reaches both outcomes in bulk (guards against a fuzzer that only feeds garbage).
    assert.ok(decoded > 10000, `decoded ${decoded}`);
    assert.ok(rejected > 10000, `rejected ${rejected}`);
    assert.ok(reencoded > 1000, `re-encoded ${reencoded}`);
  });
});
