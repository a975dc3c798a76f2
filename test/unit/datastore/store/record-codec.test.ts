import assert from 'node:assert/strict';
import {
  decodeFrames,
  encodeFrame,
  encodeRecord,
  FRAME_HEADER_BYTES,
  hasValidFrameAfter,
  parseRecord,
} from '../../../../src/datastore/store/embedded/record-codec.js';

describe('embedded store record codec', () => {
  const a = encodeFrame(Buffer.from('{"seq":1}'));
  const b = encodeFrame(Buffer.from('{"seq":2,"rev":1,"kv":[{"t":"del","k":"x/y"}]}'));

  it('round-trips frames back to back', () => {
    const d = decodeFrames(Buffer.concat([a, b]));
    assert.equal(d.tail, 'clean');
    assert.equal(d.consumed, a.length + b.length);
    assert.deepEqual(d.frames.map((f) => f.toString()), ['{"seq":1}', '{"seq":2,"rev":1,"kv":[{"t":"del","k":"x/y"}]}']);
  });

  it('stops before a frame cut at any byte, and calls it incomplete', () => {
    const both = Buffer.concat([a, b]);
    for (let cut = a.length + 1; cut < both.length; cut++) {
      const d = decodeFrames(both.subarray(0, cut));
      assert.equal(d.frames.length, 1, `cut at ${cut}`);
      assert.equal(d.consumed, a.length);
      assert.equal(d.tail, 'incomplete', `cut at ${cut}`);
    }
  });

  it('calls a checksum mismatch, a bad magic or an absurd length corrupt', () => {
    const flipped = Buffer.from(b);
    flipped[FRAME_HEADER_BYTES + 3] ^= 1;
    assert.equal(decodeFrames(Buffer.concat([a, flipped])).tail, 'corrupt');
    assert.equal(decodeFrames(Buffer.concat([a, flipped])).consumed, a.length);
    const badMagic = Buffer.from(b);
    badMagic[0] = 0;
    assert.equal(decodeFrames(badMagic).tail, 'corrupt');
    const huge = Buffer.from(b);
    huge.writeUInt32BE(0xffffffff, 4);
    assert.equal(decodeFrames(huge).tail, 'corrupt');
    assert.equal(decodeFrames(Buffer.from([0x00, 0x01])).tail, 'corrupt');
  });

  it('tells a torn tail from damage followed by valid records', () => {
    const torn = Buffer.concat([a, b.subarray(0, b.length - 2)]);
    assert.equal(hasValidFrameAfter(torn, a.length + 1), false);
    const damagedMiddle = Buffer.concat([a, Buffer.from(b).fill(7, FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + 2), a]);
    assert.equal(hasValidFrameAfter(damagedMiddle, a.length + 1), true);
  });

  it('parses records and rejects malformed ones', () => {
    const rec = { seq: 3, rev: 2, kv: [{ t: 'put' as const, k: 'IPPool/a', v: '{"x":[1,"two"]}', l: '7' }], leases: [{ t: 'keepalive' as const, id: '7', exp: 5 }] };
    const frame = encodeRecord(rec);
    assert.deepEqual(parseRecord(decodeFrames(frame).frames[0]!), rec);
    const bad = (o: unknown) => () => parseRecord(Buffer.from(JSON.stringify(o)));
    assert.throws(bad({ seq: 0 }), /bad seq/);
    assert.throws(bad({ seq: 1, kv: [{ t: 'del', k: 'a/b' }] }), /without a rev/);
    assert.throws(bad({ seq: 1, rev: 1 }), /no kv ops/);
    assert.throws(bad({ seq: 1, rev: 1, kv: [{ t: 'zap', k: 'a/b' }] }), /bad kv ops/);
    assert.throws(bad({ seq: 1, leases: [{ t: 'grant', id: '1' }] }), /bad lease ops/);
    assert.throws(() => parseRecord(Buffer.from('{nope')), /not JSON/);
  });
});
