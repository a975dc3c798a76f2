/**
 * A real etcd (Debian's etcd-server) for a lab: it runs in the fabric
 * namespace and listens on the fabric gateway address, which every lab host
 * reaches over its uplink. The process that builds the lab (root netns)
 * reaches it through a socat bridge on 127.0.0.1 whose per-connection child
 * enters the fabric namespace; nothing is added to the root namespace's
 * network. Stopped by PID: etcd with its namespace, the bridge by its
 * process group.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Lab } from './lab.js';
import type { ManagedProcess } from './process.js';
import { sleep } from './wait.js';

export const ETCD_BINARY = '/usr/bin/etcd';
const CLIENT_PORT = 2379;

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

export interface LabEtcd {
  /** For node configs inside the lab. */
  endpointInLab: string;
  /** For processes in the root netns (the lab builder, `tabby get` with the lab's CLI config). */
  endpointFromRoot: string;
  /** The running etcd (replaced by start()). */
  process: ManagedProcess;
  bridgePid: number;
  stopBridge(): void;
  /** Stop etcd (SIGTERM by PID, SIGKILL after 3 s): the datastore is unreachable until start(). */
  stop(): Promise<void>;
  /** Start etcd again on the same data directory and wait (bounded) until it is healthy. */
  start(): Promise<void>;
  /** Whether etcd answers /health now. */
  healthy(): Promise<boolean>;
}

function etcdArgs(lab: Lab): string[] {
  const inLab = `http://${lab.gateway}:${CLIENT_PORT}`;
  const peer = 'http://127.0.0.1:2380';
  return [
    '--name', 'lab',
    '--data-dir', join(lab.dir, 'etcd-data'),
    '--listen-client-urls', `${inLab},http://127.0.0.1:${CLIENT_PORT}`,
    '--advertise-client-urls', inLab,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `lab=${peer}`,
    '--initial-cluster-state', 'new',
  ];
}

export async function startLabEtcd(lab: Lab): Promise<LabEtcd> {
  const addr = lab.gateway;
  const inLab = `http://${addr}:${CLIENT_PORT}`;
  const proc = lab.startProcess(lab.fabricNs, 'etcd', ETCD_BINARY, etcdArgs(lab));
  const port = await freePort();
  const bridge = spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `EXEC:ip netns exec ${lab.fabricNs} socat STDIO TCP\\:${addr}\\:${CLIENT_PORT}`], { stdio: 'ignore', detached: true });
  bridge.unref();
  const bridgePid = bridge.pid!;
  const fromRoot = `http://127.0.0.1:${port}`;
  const healthy = async (): Promise<boolean> => {
    try {
      const res = await fetch(`${fromRoot}/health`, { signal: AbortSignal.timeout(2000) });
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    } catch {
      return false;
    }
  };
  const waitHealthy = async (p: ManagedProcess): Promise<void> => {
    const giveUp = Date.now() + 30_000;
    for (;;) {
      if (!p.alive) throw new Error(`etcd exited while starting: ${p.logTail(10)}`);
      if (await healthy()) return;
      if (Date.now() > giveUp) throw new Error(`etcd not healthy within 30 s: ${p.logTail(10)}`);
      await sleep(100);
    }
  };
  const e: LabEtcd = {
    endpointInLab: inLab,
    endpointFromRoot: fromRoot,
    process: proc,
    bridgePid,
    stopBridge: () => killGroup(bridgePid),
    stop: async () => {
      await e.process.stop(3000);
    },
    start: async () => {
      if (e.process.alive) return;
      e.process = lab.startProcess(lab.fabricNs, 'etcd', ETCD_BINARY, etcdArgs(lab));
      await waitHealthy(e.process);
    },
    healthy,
  };
  try {
    await waitHealthy(proc);
  } catch (err) {
    e.stopBridge();
    throw err;
  }
  return e;
}

/** SIGTERM a process group by its leader's PID (the socat bridge and its children). */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    /* gone */
  }
}
