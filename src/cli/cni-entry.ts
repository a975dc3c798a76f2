/**
 * CNI entry point: `bin/tabby` with CNI_COMMAND set (see src/cni/README.md).
 * Reads stdin, runs the command, writes the result or error JSON to stdout,
 * and exits. The exit is explicit: a plugin must never linger because a
 * datastore client left a handle open, and a watchdog turns a hang into the
 * spec's "try again later" error instead of a runtime waiting forever.
 */
import { runCni } from '../cni/run.js';
import { ErrorCode, LATEST_VERSION, SUPPORTED_VERSIONS } from '../cni/spec.js';

export const CNI_SUPPORTED_VERSIONS: readonly string[] = SUPPORTED_VERSIONS;

/** Whole-invocation deadline; override with TABBY_CNI_TIMEOUT (seconds). */
const DEFAULT_TIMEOUT_S = 120;

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    if (process.stdin.isTTY) {
      resolve('');
      return;
    }
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => (text += d));
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}

/** What went to stdout: once the answer is out, a stall (closing a datastore client) must not add a second one. */
let written: string | undefined;

function writeStdout(text: string): Promise<void> {
  written = text;
  return new Promise((resolve) => process.stdout.write(text, () => resolve()));
}

/** The exit code that matches an answer already written: 1 for an error JSON, else 0. */
function codeOfAnswer(text: string): number {
  try {
    return typeof (JSON.parse(text) as { code?: unknown }).code === 'number' ? 1 : 0;
  } catch {
    return 1;
  }
}

export async function runCniStub(): Promise<number> {
  const timeoutS = Number(process.env.TABBY_CNI_TIMEOUT) > 0 ? Number(process.env.TABBY_CNI_TIMEOUT) : DEFAULT_TIMEOUT_S;
  const watchdog = setTimeout(() => {
    if (written !== undefined) process.exit(codeOfAnswer(written));
    const err = { cniVersion: LATEST_VERSION, code: ErrorCode.TryAgainLater, msg: 'timed out', details: `the tabby CNI plugin did not finish within ${timeoutS} s` };
    process.stderr.write(`tabby cni: ${process.env.CNI_COMMAND ?? ''}: timed out after ${timeoutS} s\n`);
    process.stdout.write(JSON.stringify(err) + '\n', () => process.exit(1));
  }, timeoutS * 1000);
  // Not unref'd: it also keeps the process alive should the work stall with no handle open.
  const code = await runCni({
    env: process.env,
    readStdin,
    writeStdout,
    writeStderr: (text) => process.stderr.write(text),
  });
  clearTimeout(watchdog);
  process.exit(code);
}
