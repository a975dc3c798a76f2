/**
 * A throwaway etcd inside a lab: it runs in the fabric netns and listens on
 * the fabric gateway address, which every lab host reaches over its uplink
 * (the plugin runs in a host netns, where 127.0.0.1 is that netns's own
 * loopback). The test process, in the root netns, reaches it through a
 * socat bridge on 127.0.0.1 whose per-connection child enters the fabric
 * netns. Stopped by PID (etcd by the lab, the bridge by its process group).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createServer } from 'node:net';
import type { Lab } from '../../../src/lab/lab.js';
import type { ManagedProcess } from '../../../src/lab/process.js';
import { sleep } from '../../../src/lab/wait.js';

export const ETCD_BINARY = '/usr/bin/etcd';
const CLIENT_PORT = 2379;
const PEER_PORT = 2380;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export class LabEtcd {
  private constructor(
    /** For node configs inside the lab. */
    readonly endpointInLab: string,
    /** For the test process (root netns). */
    readonly endpointFromRoot: string,
    private readonly bridge: ChildProcess,
    private readonly lab: Lab,
    private readonly args: string[],
    /** The running etcd (replaced by restart()). */
    public process: ManagedProcess,
  ) {}

  /** Stop etcd (SIGTERM, by PID): the datastore is gone until restart(). */
  async kill(): Promise<void> {
    await this.process.stop();
  }

  /** Start etcd again on the same data directory and wait until it is healthy. */
  async restart(): Promise<void> {
    this.process = this.lab.startProcess(this.lab.fabricNs, 'etcd', ETCD_BINARY, this.args);
    await this.waitHealthy();
  }

  private async waitHealthy(): Promise<void> {
    const giveUp = Date.now() + 30_000;
    for (;;) {
      if (!this.process.alive) throw new Error(`etcd exited while starting: ${this.process.logTail(10)}`);
      try {
        const res = await fetch(`${this.endpointFromRoot}/health`, { signal: AbortSignal.timeout(2000) });
        if (res.ok && ((await res.json()) as { health?: string }).health === 'true') return;
      } catch {
        // not up yet
      }
      if (Date.now() > giveUp) throw new Error(`etcd not healthy within 30 s: ${this.process.logTail(10)}`);
      await sleep(100);
    }
  }

  static async start(lab: Lab): Promise<LabEtcd> {
    const addr = lab.gateway;
    const inLab = `http://${addr}:${CLIENT_PORT}`;
    const peer = `http://127.0.0.1:${PEER_PORT}`;
    const args = [
      '--name', 'lab',
      '--data-dir', join(lab.dir, 'etcd-data'),
      '--listen-client-urls', `${inLab},http://127.0.0.1:${CLIENT_PORT}`,
      '--advertise-client-urls', inLab,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `lab=${peer}`,
      '--initial-cluster-state', 'new',
    ];
    const etcd = lab.startProcess(lab.fabricNs, 'etcd', ETCD_BINARY, args);
    const port = await freePort();
    const bridge = spawn(
      'socat',
      [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `EXEC:ip netns exec ${lab.fabricNs} socat STDIO TCP\\:${addr}\\:${CLIENT_PORT}`],
      { stdio: 'ignore', detached: true },
    );
    const e = new LabEtcd(inLab, `http://127.0.0.1:${port}`, bridge, lab, args, etcd);
    try {
      await e.waitHealthy();
    } catch (err) {
      await e.stop();
      throw err;
    }
    return e;
  }

  /** Stops the bridge (its process group: socat and its per-connection children). etcd stops with the lab. */
  async stop(): Promise<void> {
    const pid = this.bridge.pid;
    if (pid === undefined || this.bridge.exitCode !== null) return;
    const exited = new Promise<void>((r) => this.bridge.once('exit', () => r()));
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    await Promise.race([exited, sleep(3000)]);
  }
}
