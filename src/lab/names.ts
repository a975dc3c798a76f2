/**
 * Naming of everything a lab creates, so that a sweep can find it again.
 *
 * - Labs made by a test process: namespaces `tby-<pid>-<tag>-<name>`. The PID is
 *   the creating process, so a later sweep removes them once that PID is dead
 *   (a test process killed with -9 leaves them behind).
 * - Labs made by `tabby lab up` outlive the command: `tbl-<lab>-<name>`. Only
 *   `tabby lab down` removes them; sweeps of test runs never touch them.
 *
 * Links live inside these namespaces only (none in the root namespace), so
 * deleting a run's namespaces removes its links too.
 */
import { randomBytes } from 'node:crypto';

export const TEST_PREFIX = 'tby';
export const PERSISTENT_PREFIX = 'tbl';

export function newTestRunPrefix(pid = process.pid): string {
  return `${TEST_PREFIX}-${pid}-${randomBytes(2).toString('hex')}`;
}

export function persistentPrefix(labName: string): string {
  return `${PERSISTENT_PREFIX}-${labName}`;
}

/** The owning PID of a test-run namespace name, or undefined if not one of ours. */
export function ownerPidOf(netnsName: string): number | undefined {
  const m = /^tby-(\d+)-[0-9a-f]+-/.exec(netnsName);
  return m ? Number(m[1]) : undefined;
}
