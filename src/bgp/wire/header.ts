/**
 * The 19-octet message header (RFC 4271 §4.1) and its checks (§6.1).
 */
import { HEADER_LENGTH, MARKER_LENGTH } from './constants.js';
import {
  BgpMessageError,
  ERR_MESSAGE_HEADER,
  SUB_BAD_MESSAGE_LENGTH,
  SUB_CONNECTION_NOT_SYNCHRONIZED,
  u16Data,
} from './errors.js';

/** Writes marker, length and type at buf[off]. */
export function writeHeader(buf: Buffer, off: number, length: number, type: number): void {
  buf.fill(0xff, off, off + MARKER_LENGTH);
  buf[off + 16] = length >>> 8;
  buf[off + 17] = length & 0xff;
  buf[off + 18] = type;
}

/**
 * Checks the marker octets available in buf[off, off + n) (n <= 16), so a
 * framer can fail as soon as a bad marker octet arrives.
 */
export function checkMarker(buf: Buffer, off: number, n: number): void {
  for (let i = 0; i < n; i++) {
    // RFC 4271 §6.1: the marker must be all ones.
    if (buf[off + i] !== 0xff) throw new BgpMessageError(ERR_MESSAGE_HEADER, SUB_CONNECTION_NOT_SYNCHRONIZED, undefined, `marker octet ${i} is 0x${buf[off + i]!.toString(16)}`);
  }
}

/** Checks the Length field against 19..max; returns it. */
export function checkLength(length: number, max: number): number {
  // RFC 4271 §6.1: the data field carries the erroneous Length field.
  if (length < HEADER_LENGTH || length > max) {
    throw new BgpMessageError(ERR_MESSAGE_HEADER, SUB_BAD_MESSAGE_LENGTH, u16Data(length), `length ${length} outside ${HEADER_LENGTH}..${max}`);
  }
  return length;
}

export function badLength(length: number, why: string): BgpMessageError {
  return new BgpMessageError(ERR_MESSAGE_HEADER, SUB_BAD_MESSAGE_LENGTH, u16Data(length), why);
}
