/**
 * The spawn helper: a small long-lived process that starts the agent's
 * commands (`ip`, `iptables-restore`, `ipset`, ...) for it.
 *
 * Why: spawning blocks the caller's one thread until the child has called
 * exec (fork, or the wait for exec, grows with the caller's memory): 2.5-12
 * ms per command measured in an agent holding 1k workloads, ~10 commands on
 * a start-up pass and 4-5 on each workload change. This process stays small,
 * so its forks are cheap, and whatever it blocks is not the agent.
 *
 * Protocol: protocol.ts, on stdin (requests) and stdout (responses).
 * Children get SIGKILL on timeout or when asked; when the agent goes away
 * (stdin closes), the helper exits and leaves running children to finish.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { encodeFrame, FrameReader, type Request, type Response } from './protocol.js';

interface Job {
  child: ChildProcess;
  out: Buffer[];
  err: Buffer[];
  timer: NodeJS.Timeout;
  timedOut: boolean;
}

const jobs = new Map<number, Job>();

function send(r: Response, body?: Buffer): void {
  process.stdout.write(encodeFrame(r, body));
}

function start(req: Extract<Request, { t: 'start' }>, body: Buffer): void {
  let child: ChildProcess;
  try {
    child = spawn(req.file, req.args, { stdio: [req.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  } catch (err) {
    send({ t: 'error', id: req.id, message: (err as Error).message, ...((err as NodeJS.ErrnoException).code ? { code: (err as NodeJS.ErrnoException).code! } : {}) });
    return;
  }
  const job: Job = {
    child,
    out: [],
    err: [],
    timedOut: false,
    timer: setTimeout(() => {
      job.timedOut = true;
      child.kill('SIGKILL');
    }, req.timeoutMs),
  };
  jobs.set(req.id, job);
  let failed = false;
  child.on('error', (err: NodeJS.ErrnoException) => {
    failed = true;
    clearTimeout(job.timer);
    jobs.delete(req.id);
    send({ t: 'error', id: req.id, message: err.message, ...(err.code ? { code: err.code } : {}) });
  });
  child.stdout!.on('data', (b: Buffer) => job.out.push(b));
  child.stderr!.on('data', (b: Buffer) => job.err.push(b));
  child.on('close', (code, signal) => {
    if (failed) return;
    clearTimeout(job.timer);
    jobs.delete(req.id);
    const out = Buffer.concat(job.out);
    send({ t: 'exit', id: req.id, code, signal, timedOut: job.timedOut, outLength: out.length }, Buffer.concat([out, ...job.err]));
  });
  if (req.stdin) {
    // A child that exits before reading all of its input: its exit code tells.
    child.stdin!.on('error', () => {});
    if (body.length) child.stdin!.write(body);
    if (req.end) child.stdin!.end();
  }
}

const reader = new FrameReader();
process.stdin.on('data', (chunk: Buffer) => {
  for (const { header, body } of reader.push(chunk)) {
    const req = header as Request;
    if (req.t === 'start') start(req, body);
    else if (req.t === 'data') {
      const job = jobs.get(req.id);
      if (!job?.child.stdin) continue;
      if (body.length) job.child.stdin.write(body);
      if (req.end) job.child.stdin.end();
    } else if (req.t === 'kill') jobs.get(req.id)?.child.kill('SIGKILL');
  }
});
// The agent is gone: nothing will read our answers.
process.stdin.on('end', () => process.exit(0));
process.stdout.on('error', () => process.exit(0));
