/**
 * Reading the kernel back and running programmes, through a ToolRunner.
 * Batches run with `-force` (keep going past a failing line); which lines
 * failed is recovered from iproute2's `Command failed -:N` markers, and the
 * managers read back afterwards to see what really happened.
 */
import { parseDevice, parseFdb, parseNeighbours, isNoSuchDevice } from './readback.js';
import { toBatches } from './plan.js';
import type { ToolRunner } from './runner.js';
import type { ObservedDevice, ObservedFdb, ObservedNeighbour, Op } from './types.js';

export class ReadbackError extends Error {
  constructor(command: string, stderr: string) {
    super(`${command} failed: ${stderr.trim().split('\n').slice(-2).join(' | ')}`);
    this.name = 'ReadbackError';
  }
}

export async function readDevice(runner: ToolRunner, name: string): Promise<ObservedDevice | undefined> {
  const r = await runner.run('ip', ['-d', '-j', 'addr', 'show', 'dev', name]);
  if (r.code !== 0) {
    if (isNoSuchDevice(r.stderr)) return undefined;
    throw new ReadbackError(`ip -d -j addr show dev ${name}`, r.stderr);
  }
  return parseDevice(r.stdout, name);
}

export async function readNeighbours(runner: ToolRunner, name: string): Promise<ObservedNeighbour[]> {
  const r = await runner.run('ip', ['-N', '-j', '-4', 'neigh', 'show', 'dev', name]);
  if (r.code !== 0) {
    if (isNoSuchDevice(r.stderr)) return [];
    throw new ReadbackError(`ip -N -j -4 neigh show dev ${name}`, r.stderr);
  }
  return parseNeighbours(r.stdout);
}

export async function readFdb(runner: ToolRunner, name: string): Promise<ObservedFdb[]> {
  const r = await runner.run('bridge', ['-j', 'fdb', 'show', 'dev', name]);
  if (r.code !== 0) {
    if (isNoSuchDevice(r.stderr)) return [];
    throw new ReadbackError(`bridge -j fdb show dev ${name}`, r.stderr);
  }
  return parseFdb(r.stdout);
}

/** One failed line of a batch: the op and the tool's message for it. */
export interface FailedOp {
  op: Op;
  message: string;
}

export interface ApplyResult {
  failed: FailedOp[];
  /** Error text that could not be tied to a line (a tool that did not start, a timeout). */
  unattributed: string[];
}

/**
 * iproute2 `-force -batch` stderr: each failing line prints its message(s)
 * followed by `Command failed -:N` (N = 1-based line of the batch).
 */
export function parseBatchErrors(stderr: string): { line: number; message: string }[] {
  const out: { line: number; message: string }[] = [];
  let pending: string[] = [];
  for (const raw of stderr.split('\n')) {
    const l = raw.trim();
    if (!l) continue;
    const m = /^Command failed (?:-|\S+):(\d+)$/.exec(l);
    if (m) {
      out.push({ line: Number(m[1]), message: pending.join(' | ') });
      pending = [];
    } else {
      pending.push(l);
    }
  }
  return out;
}

/** Run the ops, one `-force -batch -` process per run of same-tool ops. */
export async function applyOps(runner: ToolRunner, ops: readonly Op[]): Promise<ApplyResult> {
  const result: ApplyResult = { failed: [], unattributed: [] };
  let index = 0;
  for (const batch of toBatches(ops)) {
    const batchOps = ops.slice(index, index + batch.lines.length);
    index += batch.lines.length;
    const r = await runner.run(batch.tool, ['-force', '-batch', '-'], batch.lines.join('\n') + '\n');
    if (r.code === 0) continue;
    const errors = parseBatchErrors(r.stderr);
    for (const e of errors) {
      const failedOp = batchOps[e.line - 1];
      if (failedOp) result.failed.push({ op: failedOp, message: e.message });
    }
    if (errors.length === 0) result.unattributed.push(`${batch.tool} -batch exit ${r.code}: ${r.stderr.trim() || '(no output)'}`);
  }
  return result;
}
