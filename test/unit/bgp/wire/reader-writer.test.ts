import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { BufferReader, BufferWriter } from '../../../../src/bgp/wire/index.js';
import { assertBgpError } from './helpers.js';

describe('bgp/wire BufferReader / BufferWriter', () => {
  it('reads big-endian fields and throws its own NOTIFICATION on overrun', () => {
    const r = new BufferReader(Buffer.from([1, 0, 2, 0, 0, 0, 3, 9]), 0, 7, { code: 2, subcode: 0, what: 'test' });
    assert.equal(r.u8(), 1);
    assert.equal(r.u16(), 2);
    assert.equal(r.u32(), 3);
    assert.ok(r.done);
    // Octet 7 exists in the buffer but lies outside the reader's end.
    assertBgpError(() => r.u8(), 2, 0);
  });

  it('gives sub-readers their own bounds and error, and copies bytes', () => {
    const buf = Buffer.from([3, 7, 8, 9, 4]);
    const r = new BufferReader(buf, 0, 5, { code: 3, subcode: 1, what: 'outer' });
    const sub = r.sub(r.u8(), { code: 2, subcode: 4, what: 'inner', data: Buffer.from([1]) });
    const copy = sub.bytes(2);
    buf[1] = 0;
    assert.deepEqual(copy, Buffer.from([7, 8]));
    assertBgpError(() => sub.u16(), 2, 4, Buffer.from([1]));
    assert.equal(r.u8(), 4);
    assertBgpError(() => r.sub(1), 3, 1);
    assert.throws(() => new BufferReader(buf, 2, 9, { code: 1, subcode: 1, what: 'x' }), RangeError);
  });

  it('grows, back-patches lengths and opens gaps', () => {
    const w = new BufferWriter(16);
    const at = w.reserveU16();
    for (let i = 0; i < 100; i++) w.u32(i);
    w.patchU16(at, 400);
    const lenAt = w.reserveU8();
    w.bytes(Buffer.from([0xaa, 0xbb]));
    w.insertGap(lenAt + 1, 1);
    w.patchU16(lenAt, 0x0102);
    w.zeros(2).u8(0x1ff).u16(0x12345);
    const out = w.finish();
    assert.equal(out.length, 2 + 400 + 2 + 2 + 2 + 1 + 2);
    assert.equal(out.readUInt16BE(0), 400);
    assert.equal(out.readUInt32BE(2 + 99 * 4), 99);
    assert.deepEqual(out.subarray(402), Buffer.from([1, 2, 0xaa, 0xbb, 0, 0, 0xff, 0x23, 0x45]));
  });
});
