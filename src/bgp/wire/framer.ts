/**
 * Cuts a TCP byte stream into whole BGP messages. Checks only what framing
 * needs (RFC 4271 §6.1): the marker is all ones (Connection Not
 * Synchronized) and the Length is within 19..4096, or 19..65535 once RFC 8654
 * extended messages are negotiated (Bad Message Length, data = the Length
 * field). Types and per-type lengths are `decodeMessage`'s job.
 *
 * Frames that arrive whole in one chunk are returned as views of that chunk
 * (no copy); only a frame split across chunks is copied, once, into a buffer
 * of its exact size. Pushed chunks must therefore not be reused by the caller
 * (Node's socket chunks never are).
 */
import { HEADER_LENGTH, MARKER_LENGTH, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH } from './constants.js';
import { BgpMessageError } from './errors.js';
import { checkLength, checkMarker } from './header.js';

export class BgpFramer {
  private maxLength: number;
  /** Header octets of a frame whose header arrived split. */
  private readonly head = Buffer.alloc(HEADER_LENGTH);
  private headFilled = 0;
  /** A frame being assembled across chunks (its length known). */
  private frame: Buffer | undefined;
  private frameFilled = 0;
  private failure: BgpMessageError | undefined;

  constructor(options: { extendedMessages?: boolean } = {}) {
    this.maxLength = options.extendedMessages ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  }

  /**
   * RFC 8654: allow 65535-octet messages from now on. A session calls this
   * when both OPENs carried the capability, from the frame callback, so that
   * it applies to the very next frame.
   */
  setExtendedMessages(on: boolean): void {
    this.maxLength = on ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  }

  /** The error that stopped the framer, if any; every later push throws it again. */
  get error(): BgpMessageError | undefined {
    return this.failure;
  }

  /** Octets held for an incomplete frame. */
  get buffered(): number {
    return this.frame ? this.frameFilled : this.headFilled;
  }

  /**
   * Feeds a chunk. With `onFrame`, every whole frame is handed over in order,
   * and a bad header throws BgpMessageError only after the frames before it
   * were delivered (use this form in a session). Without it, the frames are
   * returned as an array, and a bad header throws and the frames before it
   * in that chunk are lost.
   */
  push(chunk: Buffer): Buffer[];
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void;
  push(chunk: Buffer, onFrame?: (frame: Buffer) => void): Buffer[] | void {
    const out: Buffer[] | undefined = onFrame ? undefined : [];
    const emit = onFrame ?? ((f: Buffer) => void out!.push(f));
    if (this.failure) throw this.failure;
    try {
      this.consume(chunk, emit);
    } catch (err) {
      if (err instanceof BgpMessageError) this.failure = err;
      throw err;
    }
    return out;
  }

  private consume(chunk: Buffer, emit: (frame: Buffer) => void): void {
    const end = chunk.length;
    let p = 0;
    while (p < end) {
      if (this.frame) {
        const frame = this.frame;
        const n = Math.min(frame.length - this.frameFilled, end - p);
        chunk.copy(frame, this.frameFilled, p, p + n);
        this.frameFilled += n;
        p += n;
        if (this.frameFilled === frame.length) {
          this.frame = undefined;
          this.frameFilled = 0;
          emit(frame);
        }
        continue;
      }
      if (this.headFilled === 0 && end - p >= HEADER_LENGTH) {
        // Fast path: the whole header is in this chunk.
        checkMarker(chunk, p, MARKER_LENGTH);
        const len = checkLength((chunk[p + 16]! << 8) | chunk[p + 17]!, this.maxLength);
        if (end - p >= len) {
          emit(chunk.subarray(p, p + len));
          p += len;
        } else {
          const frame = Buffer.allocUnsafe(len);
          chunk.copy(frame, 0, p, end);
          this.frame = frame;
          this.frameFilled = end - p;
          p = end;
        }
        continue;
      }
      // The header itself is split: gather it, checking marker octets as they come.
      const n = Math.min(HEADER_LENGTH - this.headFilled, end - p);
      chunk.copy(this.head, this.headFilled, p, p + n);
      const markerWasComplete = this.headFilled >= MARKER_LENGTH;
      this.headFilled += n;
      p += n;
      if (!markerWasComplete) checkMarker(this.head, 0, Math.min(this.headFilled, MARKER_LENGTH));
      if (this.headFilled < HEADER_LENGTH) continue;
      const len = checkLength((this.head[16]! << 8) | this.head[17]!, this.maxLength);
      this.headFilled = 0;
      const frame = Buffer.allocUnsafe(len);
      this.head.copy(frame, 0, 0, HEADER_LENGTH);
      if (len === HEADER_LENGTH) {
        emit(frame);
      } else {
        this.frame = frame;
        this.frameFilled = HEADER_LENGTH;
      }
    }
  }
}
