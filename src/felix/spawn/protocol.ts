/**
 * Frames between the agent and its spawn helper (helper.ts), both ways over
 * a pipe:
 *
 *   u32 BE  total length of what follows
 *   u32 BE  header length
 *   header  JSON (utf8): { t: kind, id, ... }
 *   body    raw bytes (stdin data; stdout then stderr of an exit)
 *
 * Raw bodies, not JSON strings: an `iptables-save` of 100k rules is ~15 MB
 * and should cost a copy, not an encode and a parse.
 */

/** Agent -> helper. */
export type Request =
  /** Spawn `file args`; body: the first stdin bytes. `stdin` false: no stdin at all. */
  | { t: 'start'; id: number; file: string; args: string[]; stdin: boolean; end: boolean; timeoutMs: number }
  /** More stdin for `id`; `end`: then close it. */
  | { t: 'data'; id: number; end: boolean }
  /** Kill `id` (SIGKILL), e.g. its input was abandoned. */
  | { t: 'kill'; id: number };

/** Helper -> agent. */
export type Response =
  /** The process ended; body: stdout bytes (`outLength`) then stderr bytes. */
  | { t: 'exit'; id: number; code: number | null; signal: string | null; timedOut: boolean; outLength: number }
  /** It could not be spawned (ENOENT, ...). */
  | { t: 'error'; id: number; message: string; code?: string };

export function encodeFrame(header: object, body?: Buffer): Buffer {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const b = body ?? Buffer.alloc(0);
  const out = Buffer.allocUnsafe(8 + h.length + b.length);
  out.writeUInt32BE(4 + h.length + b.length, 0);
  out.writeUInt32BE(h.length, 4);
  h.copy(out, 8);
  b.copy(out, 8 + h.length);
  return out;
}

/** Accumulates bytes and yields whole frames. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private length = 0;

  push(chunk: Buffer): Array<{ header: Record<string, unknown>; body: Buffer }> {
    this.chunks.push(chunk);
    this.length += chunk.length;
    const out: Array<{ header: Record<string, unknown>; body: Buffer }> = [];
    for (;;) {
      if (this.length < 4) break;
      const head = this.peek(8);
      const total = head.readUInt32BE(0);
      if (this.length < 4 + total) break;
      const frame = this.take(4 + total);
      const hl = frame.readUInt32BE(4);
      const header = JSON.parse(frame.toString('utf8', 8, 8 + hl)) as Record<string, unknown>;
      out.push({ header, body: frame.subarray(8 + hl) });
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const frame = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    return frame;
  }
}
