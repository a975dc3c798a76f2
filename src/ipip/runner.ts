/**
 * The one seam between the encapsulation managers and the system: run `ip`
 * or `bridge`, optionally feeding a batch on stdin. Unit tests inject a fake;
 * `NetnsRunner` runs the real tools, inside a named network namespace with
 * `-n NS` when asked (both tools take it, and a batch line cannot).
 */
import { spawnCommand } from '../felix/spawn/spawner.js';

export type Tool = 'ip' | 'bridge';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ToolRunner {
  run(tool: Tool, args: readonly string[], input?: string): Promise<ToolResult>;
}

export interface NetnsRunnerOptions {
  /** Named network namespace to act in (`ip -n NS`, `bridge -n NS`). */
  netns?: string;
  /** Kill a command after this long; default 30 s. */
  timeoutMs?: number;
}

export class NetnsRunner implements ToolRunner {
  constructor(private readonly opts: NetnsRunnerOptions = {}) {}

  async run(tool: Tool, args: readonly string[], input?: string): Promise<ToolResult> {
    const argv = [...(this.opts.netns ? ['-n', this.opts.netns] : []), ...args];
    const timeoutMs = this.opts.timeoutMs ?? 30_000;
    // Only commands that read stdin get one (no EPIPE from children that never read it).
    let r;
    try {
      r = await spawnCommand(tool, argv, { timeoutMs, ...(input !== undefined ? { input } : {}) });
    } catch (err) {
      // Not started (ENOENT, ...): a failed command, as the managers expect.
      return { code: -1, stdout: '', stderr: err instanceof Error ? err.message : String(err) };
    }
    const stderr = r.stderr + (r.timedOut ? `\n(${tool} killed after ${timeoutMs} ms)` : '');
    return { code: r.code, stdout: r.stdout, stderr };
  }
}
