/**
 * What went wrong on which line of an `ip -force -batch -` run (pure).
 *
 * iproute2 prints a command's error (one or more lines) and then
 * `Command failed -:N` with the 1-based line number; `-force` goes on with the
 * next line, and the exit code is 1 if any line failed. Warnings of commands
 * that succeeded are printed without a "Command failed" line and are
 * ignored here.
 */

export type BatchErrorKind =
  /** `Cannot find device "X"`: the interface does not exist (yet). */
  | 'no-device'
  /** The next hop's device is administratively down. */
  | 'device-down'
  /** EEXIST: some route (possibly foreign) already holds the key. */
  | 'exists'
  /** ESRCH: nothing to delete. */
  | 'not-found'
  /** The gateway is not reachable on any link (no onlink, no covering route). */
  | 'bad-gateway'
  | 'other';

export interface BatchLineError {
  /** 1-based line number in the batch. */
  line: number;
  message: string;
  kind: BatchErrorKind;
  /** For `no-device`, the device named. */
  device?: string;
}

export function classifyBatchError(message: string): { kind: BatchErrorKind; device?: string } {
  const dev = /Cannot find device "([^"]+)"/.exec(message) ?? /Device "([^"]+)" does not exist/.exec(message);
  if (dev) return { kind: 'no-device', device: dev[1]! };
  if (/Device for nexthop is not up|Nexthop device is not up|Network is down/i.test(message)) return { kind: 'device-down' };
  if (/File exists/i.test(message)) return { kind: 'exists' };
  if (/No such process/i.test(message)) return { kind: 'not-found' };
  if (/invalid gateway|Network is unreachable|No route to host/i.test(message)) return { kind: 'bad-gateway' };
  return { kind: 'other' };
}

export function parseBatchErrors(stderr: string): BatchLineError[] {
  const out: BatchLineError[] = [];
  let pending: string[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.trimEnd();
    const m = /^Command failed (?:-|\S+):(\d+)\s*$/.exec(line);
    if (m) {
      // The error is the last non-indented line before the marker; indented
      // lines continue a warning.
      const message = [...pending].reverse().find((l) => l !== '' && !/^\s/.test(l) && !/^Warning:/.test(l)) ?? pending.join(' ').trim();
      out.push({ line: Number(m[1]), message, ...classifyBatchError(message) });
      pending = [];
    } else {
      pending.push(line);
    }
  }
  return out;
}
