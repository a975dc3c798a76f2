/**
 * Reachability probes between namespaces, returning structured results:
 * ICMP with ping, TCP and UDP with bash's /dev/tcp and /dev/udp (a few ms
 * each, no Node start-up per probe). The far end is an echo server
 * (`echo-server.ts`) that answers with its own name, so a probe also proves
 * *who* answered.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { run } from './exec.js';

export type ProbeProtocol = 'icmp' | 'tcp' | 'udp';
export type ProbeError = 'timeout' | 'refused' | 'unreachable' | 'error';

export interface ProbeResult {
  from: string; // namespace
  to: string; // address
  protocol: ProbeProtocol;
  port?: number;
  ok: boolean;
  /** The echo server's reply (its name), for tcp/udp. */
  reply?: string;
  rttMs?: number;
  error?: ProbeError;
  detail?: string;
}

function classify(stderr: string, code: number): ProbeError {
  if (code === 124) return 'timeout';
  if (/refused/i.test(stderr)) return 'refused';
  if (/unreachable|no route/i.test(stderr)) return 'unreachable';
  return 'error';
}

export async function ping(fromNs: string, to: string, opts: { timeoutMs?: number; count?: number } = {}): Promise<ProbeResult> {
  const waitS = Math.max(1, Math.ceil((opts.timeoutMs ?? 1000) / 1000));
  const count = opts.count ?? 1;
  const r = await run('ping', ['-n', '-q', '-c', String(count), '-W', String(waitS), to], {
    ns: fromNs,
    timeoutMs: waitS * 1000 * count + 3000,
  });
  const m = /= [\d.]+\/([\d.]+)\//.exec(r.stdout);
  const ok = r.code === 0;
  return {
    from: fromNs,
    to,
    protocol: 'icmp',
    ok,
    ...(m ? { rttMs: Number(m[1]) } : {}),
    ...(ok ? {} : { error: r.code === 1 ? 'timeout' : classify(r.stderr, r.code), detail: (r.stderr || r.stdout).trim().split('\n').pop() ?? '' }),
  };
}

/** Run a bash /dev/tcp|udp script under `timeout`; its stdout is the echo server's reply. */
async function socketProbe(protocol: 'tcp' | 'udp', script: string, fromNs: string, to: string, port: number, timeoutMs = 1000): Promise<ProbeResult> {
  const secs = (timeoutMs / 1000).toFixed(2);
  const start = process.hrtime.bigint();
  const r = await run('timeout', [secs, 'bash', '-c', script], { ns: fromNs, timeoutMs: 15_000 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const ok = r.code === 0 && r.stdout.length > 0;
  return {
    from: fromNs,
    to,
    protocol,
    port,
    ok,
    ...(ok ? { reply: r.stdout.trim(), rttMs: ms } : { error: r.code === 0 ? 'error' : classify(r.stderr, r.code), detail: r.stderr.trim() }),
  };
}

/** Connect over TCP and read the echo server's greeting. */
export function tcpProbe(fromNs: string, to: string, port: number, opts: { timeoutMs?: number } = {}): Promise<ProbeResult> {
  return socketProbe('tcp', `exec 3<>/dev/tcp/${to}/${port} && head -c 256 <&3`, fromNs, to, port, opts.timeoutMs);
}

/** Send one datagram and wait for the echo server's reply. */
export function udpProbe(fromNs: string, to: string, port: number, opts: { timeoutMs?: number } = {}): Promise<ProbeResult> {
  // One read() of one datagram: head or read would split it byte by byte.
  return socketProbe('udp', `exec 3<>/dev/udp/${to}/${port} && printf probe >&3 && dd bs=512 count=1 status=none <&3`, fromNs, to, port, opts.timeoutMs);
}

export interface Endpoint {
  name: string;
  netns: string;
  ip: string;
}

export interface MatrixCell {
  from: string;
  to: string;
  result: ProbeResult;
}

export interface ProbeSpec {
  protocol: ProbeProtocol;
  port?: number;
  timeoutMs?: number;
}

async function probeOne(from: Endpoint, to: Endpoint, spec: ProbeSpec): Promise<ProbeResult> {
  switch (spec.protocol) {
    case 'icmp':
      return ping(from.netns, to.ip, spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {});
    case 'tcp':
      return tcpProbe(from.netns, to.ip, spec.port ?? 8080, spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {});
    case 'udp':
      return udpProbe(from.netns, to.ip, spec.port ?? 8081, spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {});
  }
}

/** Run `fn` over items with at most `limit` at once. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

/** Every ordered pair (a != b) of endpoints, probed in parallel. */
export async function probeMatrix(endpoints: Endpoint[], spec: ProbeSpec, concurrency = 16): Promise<MatrixCell[]> {
  const pairs: [Endpoint, Endpoint][] = [];
  for (const a of endpoints) for (const b of endpoints) if (a !== b) pairs.push([a, b]);
  const results = await mapLimit(pairs, concurrency, ([a, b]) => probeOne(a, b, spec));
  return pairs.map(([a, b], i) => ({ from: a.name, to: b.name, result: results[i]! }));
}

/** A matrix as text: rows are sources, columns destinations, `ok`/`--`. */
export function formatMatrix(endpoints: Endpoint[], cells: MatrixCell[], title = ''): string {
  const names = endpoints.map((e) => e.name);
  const w = Math.max(4, ...names.map((n) => n.length)) + 1;
  const pad = (s: string) => s.padEnd(w);
  const lines = [pad(title) + names.map(pad).join('')];
  for (const a of names) {
    let line = pad(a);
    for (const b of names) {
      if (a === b) line += pad('.');
      else {
        const c = cells.find((x) => x.from === a && x.to === b);
        line += pad(!c ? '?' : c.result.ok ? 'ok' : '--');
      }
    }
    lines.push(line.trimEnd());
  }
  return lines.join('\n');
}

/** What a ping stream sent and got back. */
export interface PingCount {
  sent: number;
  received: number;
  lost: number;
}

/** The summary line of ping ("N packets transmitted, M received"), or undefined. */
export function parsePingSummary(text: string): PingCount | undefined {
  const m = /(\d+) packets transmitted, (\d+) received/.exec(text);
  if (!m) return undefined;
  const sent = Number(m[1]);
  const received = Number(m[2]);
  return { sent, received, lost: sent - received };
}

/**
 * Milliseconds until `to` first answers a ping stream from `fromNs` (one ping
 * process sending every `intervalMs`, timed by its first reply line; a poll
 * of single pings would add its own timeouts and process start-ups to what
 * is measured). Rejects when nothing answered within `limitMs`.
 */
export function firstReplyMs(fromNs: string, to: string, opts: { intervalMs?: number; limitMs?: number } = {}): Promise<number> {
  const intervalS = Math.max(0.002, (opts.intervalMs ?? 10) / 1000).toFixed(3);
  const limitS = Math.max(1, Math.ceil((opts.limitMs ?? 30_000) / 1000));
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn('ip', ['netns', 'exec', fromNs, 'ping', '-n', '-i', intervalS, '-w', String(limitS), to], { stdio: ['ignore', 'pipe', 'pipe'] });
    let done = false;
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      if (!done && /bytes from/.test(d.toString())) {
        done = true;
        resolve(performance.now() - t0);
        p.kill('SIGINT');
      }
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e) => {
      if (!done) reject(e);
    });
    p.on('exit', () => {
      if (!done) reject(new Error(`${to} never answered a ping from ${fromNs} within ${limitS} s${err ? `: ${err.trim().split('\n').pop()}` : ''}`));
    });
  });
}
