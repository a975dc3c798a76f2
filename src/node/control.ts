/**
 * The control socket: how `tabby status` and `tabby routes` talk to a running
 * `tabby daemon` or `tabby bgp`, as birdc talks to bird. A Unix socket, mode
 * 0600 (root only), one JSON request per line and one JSON reply per line:
 *
 *   -> {"id":1,"method":"status","params":{}}
 *   <- {"id":1,"result":{...}}  or  {"id":1,"error":"why"}
 *
 * The socket file is created under a temporary name, chmod'ed, then renamed
 * into place, so there is no moment when it is reachable with looser rights.
 */
import { chmodSync, existsSync, mkdirSync, renameSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { UserError } from '../util/errors.js';
import { logger } from '../util/log.js';

const log = logger('control');

export type ControlHandler = (params: Record<string, unknown>) => unknown | Promise<unknown>;

/** Largest request we accept: requests are small, anything bigger is abuse. */
const MAX_LINE = 64 * 1024;

export class ControlServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly path: string,
    private readonly handlers: Record<string, ControlHandler>,
  ) {}

  async start(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    if (existsSync(this.path)) {
      if (await isAlive(this.path)) throw new UserError(`control socket ${this.path} is in use by another running tabby`, 1);
      unlinkSync(this.path); // left by a process that died
    }
    const tmp = `${this.path}.${process.pid}.tmp`;
    if (existsSync(tmp)) unlinkSync(tmp);
    const server = createServer((sock) => this.serve(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.path);
    this.server = server;
    log.debug('control.listening', { path: this.path });
  }

  private serve(sock: Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        sock.end(JSON.stringify({ id: null, error: 'request too large' }) + '\n');
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        void this.answer(sock, line);
      }
    });
  }

  private async answer(sock: Socket, line: string): Promise<void> {
    let id: unknown = null;
    try {
      const req = JSON.parse(line) as { id?: unknown; method?: unknown; params?: unknown };
      id = req.id ?? null;
      if (typeof req.method !== 'string') throw new Error('request has no method');
      const handler = Object.hasOwn(this.handlers, req.method) ? this.handlers[req.method] : undefined;
      if (!handler) throw new Error(`unknown method "${req.method}" (known: ${Object.keys(this.handlers).join(', ')})`);
      const params = req.params && typeof req.params === 'object' ? (req.params as Record<string, unknown>) : {};
      const result = await handler(params);
      if (!sock.destroyed) sock.write(JSON.stringify({ id, result }) + '\n');
    } catch (err) {
      if (!sock.destroyed) sock.write(JSON.stringify({ id, error: err instanceof Error ? err.message : String(err) }) + '\n');
    }
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }
}

function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    setTimeout(() => done(false), 1000).unref();
  });
}

/** One request to a running daemon; throws UserError when it is not there or says no. */
export function callControl<T = unknown>(path: string, method: string, params: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new UserError(`no answer from the daemon at ${path} within ${timeoutMs} ms`, 1));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.once('connect', () => sock.write(JSON.stringify({ id: 1, method, params }) + '\n'));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      try {
        const reply = JSON.parse(buf.slice(0, nl)) as { result?: T; error?: string };
        if (reply.error !== undefined) reject(new UserError(`the daemon at ${path} answered: ${reply.error}`, 1));
        else resolve(reply.result as T);
      } catch {
        reject(new UserError(`the daemon at ${path} sent a malformed reply`, 1));
      }
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = err.code === 'ENOENT' ? 'no such socket' : err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'EACCES' ? 'permission denied (run as root)' : err.message;
      reject(new UserError(`cannot reach the daemon at ${path}: ${why}; is tabby running?`, 1));
    });
  });
}
