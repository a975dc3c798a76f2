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
  process: ManagedProcess;
  bridgePid: number;
  stopBridge(): void;
}

export async function startLabEtcd(lab: Lab): Promise<LabEtcd> {
  const addr = lab.gateway;
  const inLab = `http://${addr}:${CLIENT_PORT}`;
  const peer = 'http://127.0.0.1:2380';
  const proc = lab.startProcess(lab.fabricNs, 'etcd', ETCD_BINARY, [
    '--name', 'lab',
    '--data-dir', join(lab.dir, 'etcd-data'),
    '--listen-client-urls', `${inLab},http://127.0.0.1:${CLIENT_PORT}`,
    '--advertise-client-urls', inLab,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `lab=${peer}`,
    '--initial-cluster-state', 'new',
  ]);
  const port = await freePort();
  const bridge = spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `EXEC:ip netns exec ${lab.fabricNs} socat STDIO TCP\\:${addr}\\:${CLIENT_PORT}`], { stdio: 'ignore', detached: true });
  bridge.unref();
  const bridgePid = bridge.pid!;
  const e: LabEtcd = {
    endpointInLab: inLab,
    endpointFromRoot: `http://127.0.0.1:${port}`,
    process: proc,
    bridgePid,
    stopBridge: () => killGroup(bridgePid),
  };
  const giveUp = Date.now() + 30_000;
  for (;;) {
    if (!proc.alive) {
      e.stopBridge();
      throw new Error(`etcd exited while starting: ${proc.logTail(10)}`);
    }
    try {
      const res = await fetch(`${e.endpointFromRoot}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok && ((await res.json()) as { health?: string }).health === 'true') return e;
    } catch {
      // not up yet
    }
    if (Date.now() > giveUp) {
      e.stopBridge();
      throw new Error(`etcd not healthy within 30 s: ${proc.logTail(10)}`);
    }
    await sleep(100);
  }
}

/** SIGTERM a process group by its leader's PID (the socat bridge and its children). */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    /* gone */
  }
}
