import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  BgpFramer,
  ERR_MESSAGE_HEADER,
  KEEPALIVE,
  SUB_BAD_MESSAGE_LENGTH,
  SUB_CONNECTION_NOT_SYNCHRONIZED,
  encodeMessage,
  packUpdates,
  sessionContext,
  shutdownNotification,
} from '../../../../src/bgp/wire/index.js';
import { BASIC_ATTRS, MARKER, assertBgpError, bytes, msg, msgWithLength, nlri4, u16, update } from './helpers.js';

const ctx = sessionContext();

/** A stream of several different messages, back to back. */
function sampleStream(): { stream: Buffer; frames: Buffer[] } {
  const frames = [
    encodeMessage(KEEPALIVE, ctx),
    update([], BASIC_ATTRS, nlri4('10.1.0.0/16', '10.2.3.0/24')),
    msg(5, u16(1), 0, 1), // ROUTE-REFRESH
    encodeMessage(shutdownNotification('maintenance'), ctx),
    encodeMessage(KEEPALIVE, ctx),
  ];
  return { stream: Buffer.concat(frames), frames };
}

function collect(framer: BgpFramer, chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) framer.push(c, (f) => out.push(Buffer.from(f)));
  return out;
}

describe('bgp/wire BgpFramer', () => {
  it('returns one whole message pushed at once', () => {
    const k = encodeMessage(KEEPALIVE, ctx);
    assert.deepEqual(new BgpFramer().push(k), [k]);
  });

  it('returns every message of a chunk holding several, in order', () => {
    const { stream, frames } = sampleStream();
    assert.deepEqual(new BgpFramer().push(stream), frames);
  });

  it('gives the same frames when the stream is split at every byte offset', () => {
    const { stream, frames } = sampleStream();
    for (let k = 0; k <= stream.length; k++) {
      const f = new BgpFramer();
      const got = collect(f, [stream.subarray(0, k), stream.subarray(k)]);
      assert.deepEqual(got, frames, `split at ${k}`);
      assert.equal(f.buffered, 0);
    }
  });

  it('gives the same frames when split at every pair of offsets', () => {
    const { stream, frames } = sampleStream();
    for (let a = 0; a <= stream.length; a += 3) {
      for (let b = a; b <= stream.length; b += 5) {
        const got = collect(new BgpFramer(), [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]);
        assert.deepEqual(got, frames, `split at ${a},${b}`);
      }
    }
  });

  it('gives the same frames fed one octet at a time, and holds partial input', () => {
    const { stream, frames } = sampleStream();
    const f = new BgpFramer();
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) {
      f.push(stream.subarray(i, i + 1), (fr) => got.push(Buffer.from(fr)));
    }
    assert.deepEqual(got, frames);
    const g = new BgpFramer();
    assert.deepEqual(g.push(stream.subarray(0, 30)), [encodeMessage(KEEPALIVE, ctx)]);
    assert.equal(g.buffered, 11);
  });

  it('frames a full-size (close to 4096 octets) UPDATE split at many offsets', () => {
    const prefixes = Array.from({ length: 4000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const pack = packUpdates({ origin: 'igp', asPath: [], nextHop: '10.0.0.1' }, prefixes, ctx);
    const first = pack.messages[0]!;
    assert.ok(first.length > 4092 && first.length <= 4096, `length ${first.length}`);
    const stream = Buffer.concat([first, encodeMessage(KEEPALIVE, ctx)]);
    for (let k = 0; k <= stream.length; k += 7) {
      const got = collect(new BgpFramer(), [stream.subarray(0, k), stream.subarray(k)]);
      assert.equal(got.length, 2);
      assert.deepEqual(got[0], first);
    }
  });

  it('rejects a bad marker octet at any position and in any split (Connection Not Synchronized)', () => {
    const k = encodeMessage(KEEPALIVE, ctx);
    for (let i = 0; i < 16; i++) {
      const bad = Buffer.from(k);
      bad[i] = 0xfe;
      assertBgpError(() => new BgpFramer().push(bad), ERR_MESSAGE_HEADER, SUB_CONNECTION_NOT_SYNCHRONIZED);
      for (let s = 1; s < bad.length; s++) {
        const f = new BgpFramer();
        assertBgpError(() => collect(f, [bad.subarray(0, s), bad.subarray(s)]), ERR_MESSAGE_HEADER, SUB_CONNECTION_NOT_SYNCHRONIZED);
      }
    }
  });

  it('fails as soon as a bad marker octet arrives, before the header is complete', () => {
    const f = new BgpFramer();
    f.push(Buffer.from([0xff, 0xff]));
    assertBgpError(() => f.push(Buffer.from([0x00])), ERR_MESSAGE_HEADER, SUB_CONNECTION_NOT_SYNCHRONIZED);
  });

  it('rejects Length below 19 and above 4096 with the Length as data (RFC 4271 §6.1)', () => {
    for (const len of [0, 1, 18, 4097, 65535]) {
      const m = msgWithLength(len, 4);
      assertBgpError(() => new BgpFramer().push(m), ERR_MESSAGE_HEADER, SUB_BAD_MESSAGE_LENGTH, Buffer.from(u16(len)));
      for (let s = 1; s < m.length; s++) {
        assertBgpError(() => collect(new BgpFramer(), [m.subarray(0, s), m.subarray(s)]), ERR_MESSAGE_HEADER, SUB_BAD_MESSAGE_LENGTH, Buffer.from(u16(len)));
      }
    }
  });

  it('accepts up to 65535 octets once extended messages are on (RFC 8654)', () => {
    const big = msg(2, u16(0), u16(65535 - 23), bytes(new Array(65535 - 23).fill(0)));
    assert.equal(big.length, 65535);
    assertBgpError(() => new BgpFramer().push(big), ERR_MESSAGE_HEADER, SUB_BAD_MESSAGE_LENGTH, Buffer.from(u16(65535)));
    const f = new BgpFramer({ extendedMessages: true });
    assert.deepEqual(f.push(big), [big]);
    const got = collect(new BgpFramer({ extendedMessages: true }), [big.subarray(0, 30000), big.subarray(30000)]);
    assert.deepEqual(got, [big]);
  });

  it('applies setExtendedMessages to the very next frame when called from the callback', () => {
    const open = msg(1, 4, u16(65001), u16(90), [10, 0, 0, 1], 0);
    const big = msg(2, u16(0), u16(5000), bytes(new Array(5000).fill(0)));
    const f = new BgpFramer();
    const got: number[] = [];
    f.push(Buffer.concat([open, big]), (frame) => {
      got.push(frame.length);
      if (frame[18] === 1) f.setExtendedMessages(true);
    });
    assert.deepEqual(got, [open.length, big.length]);
  });

  it('delivers the frames before a bad header, then throws, and stays failed', () => {
    const k = encodeMessage(KEEPALIVE, ctx);
    const f = new BgpFramer();
    const got: Buffer[] = [];
    const stream = Buffer.concat([k, k, bytes(MARKER.slice(0, 10), 0)]);
    assertBgpError(() => f.push(stream, (fr) => got.push(fr)), ERR_MESSAGE_HEADER, SUB_CONNECTION_NOT_SYNCHRONIZED);
    assert.equal(got.length, 2);
    assert.ok(f.error);
    assertBgpError(() => f.push(k), ERR_MESSAGE_HEADER, SUB_CONNECTION_NOT_SYNCHRONIZED);
  });

  it('returns frames of a single chunk as views, and copies split frames', () => {
    const { stream } = sampleStream();
    const f = new BgpFramer();
    const whole = f.push(stream);
    assert.equal(whole[0]!.buffer, stream.buffer);
    const split = new BgpFramer();
    const frames = collect(split, [stream.subarray(0, 25), stream.subarray(25)]);
    assert.deepEqual(frames[1], whole[1]);
  });
});
