/**
 * A throwaway etcd for tests: Debian's /usr/bin/etcd as a child process on
 * 127.0.0.1, free ports, a temporary data directory; stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './helpers.js';

export const ETCD_BINARY = '/usr/bin/etcd';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export class EtcdServer {
  private child: ChildProcess | undefined;
  private dir = '';
  private clientPort = 0;
  private peerPort = 0;

  static available(): boolean {
    return existsSync(ETCD_BINARY);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  async start(): Promise<void> {
    if (!this.dir) {
      this.dir = await mkdtemp(join(tmpdir(), `tby-etcd-${process.pid}-`));
      this.clientPort = await freePort();
      this.peerPort = await freePort();
    }
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const logFd = openSync(join(this.dir, 'etcd.log'), 'a');
    const child = spawn(
      ETCD_BINARY,
      [
        '--name', 'tabby-test',
        '--data-dir', join(this.dir, 'data'),
        '--listen-client-urls', this.endpoint,
        '--advertise-client-urls', this.endpoint,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `tabby-test=${peer}`,
        '--initial-cluster-state', 'new',
      ],
      { stdio: ['ignore', logFd, logFd], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.env.ETCD_UNSUPPORTED_ARCH ?? '' } },
    );
    closeSync(logFd);
    this.child = child;
    let exited: number | null | undefined;
    child.once('exit', (code) => (exited = code));
    const giveUp = Date.now() + 30_000;
    for (;;) {
      if (exited !== undefined) throw new Error(`etcd exited with ${exited} while starting: ${await this.logTail()}`);
      try {
        const res = await fetch(`${this.endpoint}/health`);
        const body = (await res.json()) as { health?: string };
        if (res.ok && body.health === 'true') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > giveUp) throw new Error(`etcd did not become healthy within 30 s: ${await this.logTail()}`);
      await sleep(50);
    }
  }

  /** Kills etcd (SIGKILL, by PID) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }

  /** Kill and start again on the same ports and data: clients must reconnect and resume. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async destroy(): Promise<void> {
    await this.stop();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = '';
  }

  private async logTail(): Promise<string> {
    try {
      return (await readFile(join(this.dir, 'etcd.log'), 'utf8')).split('\n').slice(-10).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
