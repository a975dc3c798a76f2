/**
 * The embedded store's cross-process write lock: flock(2) on `<dir>/lock`,
 * called through koffi because Node has no flock.
 *
 * Why flock rather than an O_EXCL or mkdir lock file: the kernel drops a
 * flock lock the moment its holder dies (SIGKILL included), so there is no
 * stale lock to detect, no PID to trust (PIDs are reused), and no race
 * between two processes "breaking" the same stale lock. Locks belong to an
 * open file description, so two store instances in one process exclude each
 * other as well.
 *
 * Waiting: a non-blocking attempt first (no thread hop when uncontended),
 * then a blocking flock on a libuv worker thread, so the kernel wakes the
 * waiter as soon as the holder releases (no polling). A wait that exceeds
 * the timeout is abandoned: its descriptor is retired and, should the
 * abandoned call still obtain the lock later, it is released at once.
 */
import { open, type FileHandle } from 'node:fs/promises';
import koffi from 'koffi';
import { StoreUnavailableError } from '../errors.js';

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

type FlockFn = ((fd: number, op: number) => number) & {
  async: (fd: number, op: number, cb: (err: unknown, result: number) => void) => void;
};

let flockFn: FlockFn | undefined;

function flock(): FlockFn {
  if (!flockFn) {
    try {
      flockFn = koffi.load('libc.so.6').func('int flock(int fd, int op)') as unknown as FlockFn;
    } catch (err) {
      throw new StoreUnavailableError(`cannot load flock(2) from libc through koffi: ${(err as Error).message}`, err);
    }
  }
  return flockFn;
}

export interface HeldLock {
  release(): void;
}

/**
 * Within one process, holders of the same lock file queue here first, so
 * that at most one of them at a time blocks a libuv worker thread in
 * flock(2). Without it, four store instances of one process waiting on the
 * same directory would occupy the whole thread pool, and the holder could
 * not finish its file I/O to release the lock.
 */
class ProcessQueue {
  private tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const prev = this.tail;
    this.tail = prev.then(() => mine);
    return prev.then(() => release);
  }
}

const processQueues = new Map<string, ProcessQueue>();

function processQueue(path: string): ProcessQueue {
  let q = processQueues.get(path);
  if (!q) {
    q = new ProcessQueue();
    processQueues.set(path, q);
  }
  return q;
}

export class FileLock {
  private handle: FileHandle | undefined;

  constructor(readonly path: string) {}

  private async fd(): Promise<FileHandle> {
    if (!this.handle) this.handle = await open(this.path, 'a', 0o600);
    return this.handle;
  }

  async acquire(timeoutMs: number): Promise<HeldLock> {
    const fn = flock();
    const releaseLocal = await processQueue(this.path).acquire();
    try {
      const fh = await this.fd();
      const fd = fh.fd;
      const held: HeldLock = {
        release: () => {
          fn(fd, LOCK_UN);
          releaseLocal();
        },
      };
      if (fn(fd, LOCK_EX | LOCK_NB) === 0) return held;
      return await this.wait(fn, fh, held, timeoutMs);
    } catch (err) {
      releaseLocal();
      throw err;
    }
  }

  private wait(fn: FlockFn, fh: FileHandle, held: HeldLock, timeoutMs: number): Promise<HeldLock> {
    const fd = fh.fd;
    return new Promise<HeldLock>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        // This descriptor may still get the lock from the pending call: retire it.
        this.handle = undefined;
        reject(new StoreUnavailableError(`timed out after ${timeoutMs} ms waiting for the store lock ${this.path} (another process holds it)`));
      }, timeoutMs);
      const attempt = (): void => {
        fn.async(fd, LOCK_EX, (err, result) => {
          if (settled) {
            // Abandoned: drop whatever we got and the retired descriptor with it.
            void fh.close().catch(() => undefined);
            return;
          }
          if (err || result !== 0) {
            // EINTR and the like: try again (bounded by the timer).
            setTimeout(attempt, 5);
            return;
          }
          settled = true;
          clearTimeout(timer);
          resolve(held);
        });
      };
      attempt();
    });
  }

  async close(): Promise<void> {
    const fh = this.handle;
    this.handle = undefined;
    await fh?.close();
  }
}
