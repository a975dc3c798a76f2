/**
 * Removes leftovers of earlier test runs that were killed before they could
 * clean up: namespaces named `tby-<pid>-...` whose PID is no longer alive,
 * with the processes inside them (killed by PID). Never touches namespaces of
 * live runs, of `tabby lab up`, or of anything else.
 */
import { listNetns, deleteNetns, pidAlive } from './netns.js';
import { ownerPidOf } from './names.js';

export async function sweepDeadRuns(): Promise<string[]> {
  const dead = listNetns().filter((n) => {
    const pid = ownerPidOf(n);
    return pid !== undefined && pid !== process.pid && !pidAlive(pid);
  });
  if (dead.length) await deleteNetns(dead, 500);
  return dead;
}
