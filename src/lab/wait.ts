/** Bounded waiting: every wait in the lab has a timeout and says what it waited for. */
export class WaitTimeoutError extends Error {
  constructor(what: string, timeoutMs: number, last?: string) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last: ${last})` : ''}`);
    this.name = 'WaitTimeoutError';
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Poll `check` until it returns a truthy value (returned), backing off from
 * `intervalMs` up to 8x; throws WaitTimeoutError after `timeoutMs`.
 * `check` may return a string explaining why it is not ready yet.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | false | undefined | null | { notYet: string }> | T | false | undefined | null | { notYet: string },
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let interval = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    try {
      const v = await check();
      if (v && !(typeof v === 'object' && 'notYet' in (v as object))) return v as T;
      if (v && typeof v === 'object' && 'notYet' in (v as object)) last = (v as { notYet: string }).notYet;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline) throw new WaitTimeoutError(what, timeoutMs, last);
    await sleep(Math.min(interval, Math.max(1, deadline - Date.now())));
    interval = Math.min(interval * 2, (opts.intervalMs ?? 50) * 8);
  }
}
