/**
 * The CNI_* environment variables of one invocation (SPEC.md §2
 * "Parameters"), checked. Pure: takes the environment as a plain object.
 */
import { CniError, ErrorCode } from './spec.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';
const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'VERSION'];

export interface CniEnv {
  command: CniCommand;
  containerId: string;
  /** Path of the container's network namespace; optional on DEL. */
  netns?: string;
  ifname: string;
  /** CNI_ARGS as key/value pairs, in order (duplicates: the last one wins on lookup). */
  args: Map<string, string>;
  /** CNI_PATH split on ':' (unused by this plugin: it delegates nothing). */
  path: string[];
}

/** SPEC.md §2: "alphanumeric, then alphanumerics, underscore, dot or hyphen". */
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Why `name` cannot be CNI_IFNAME (SPEC.md v0.4.0 "Parameters": Linux interface name rules), or undefined. */
export function ifnameProblem(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  if (name === '.' || name === '..') return 'must not be "." or ".."';
  if (name.length > 15) return 'must be at most 15 characters';
  if (/[/:\s]/.test(name)) return 'must not contain "/", ":" or whitespace';
  return undefined;
}

/**
 * CNI_ARGS: "FOO=BAR;ABC=123". Keys this plugin does not know are kept (the
 * same variable reaches every plugin of a chain, so they are not errors).
 */
export function parseCniArgs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  if (text.trim() === '') return out;
  for (const part of text.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new CniError(ErrorCode.InvalidEnvironment, 'invalid CNI_ARGS', `CNI_ARGS: "${part}" is not KEY=VALUE`);
    out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

/**
 * Reads and checks the variables `command` needs. Every problem is listed in
 * one error (code 4, naming each variable, as the spec asks).
 */
export function readCniEnv(env: Record<string, string | undefined>): CniEnv {
  const raw = env.CNI_COMMAND ?? '';
  if (!(COMMANDS as readonly string[]).includes(raw)) {
    throw new CniError(ErrorCode.InvalidEnvironment, `unknown CNI_COMMAND: ${JSON.stringify(raw)}`, `CNI_COMMAND must be one of ${COMMANDS.join(', ')}`);
  }
  const command = raw as CniCommand;
  const path = (env.CNI_PATH ?? '').split(':').filter(Boolean);
  if (command === 'VERSION') return { command, containerId: '', ifname: '', args: new Map(), path };

  const problems: string[] = [];
  const containerId = env.CNI_CONTAINERID ?? '';
  if (containerId === '') problems.push('CNI_CONTAINERID is missing');
  else if (!CONTAINER_ID.test(containerId)) problems.push(`CNI_CONTAINERID ${JSON.stringify(containerId)} must start with a letter or digit and contain only letters, digits, "_", "." and "-"`);

  const ifname = env.CNI_IFNAME ?? '';
  if (ifname === '') problems.push('CNI_IFNAME is missing');
  else {
    const p = ifnameProblem(ifname);
    if (p) problems.push(`CNI_IFNAME ${JSON.stringify(ifname)} ${p}`);
  }

  const netns = env.CNI_NETNS ?? '';
  if (netns === '') {
    if (command !== 'DEL') problems.push('CNI_NETNS is missing');
  } else if (!netns.startsWith('/')) {
    problems.push(`CNI_NETNS ${JSON.stringify(netns)} must be an absolute path`);
  }

  let args = new Map<string, string>();
  try {
    args = parseCniArgs(env.CNI_ARGS ?? '');
  } catch (err) {
    problems.push((err as CniError).details);
  }

  if (problems.length > 0) {
    const names = [...new Set(problems.map((p) => p.split(' ')[0]!))];
    throw new CniError(ErrorCode.InvalidEnvironment, `invalid environment variables: ${names.join(', ')}`, problems.join('; '));
  }
  const out: CniEnv = { command, containerId, ifname, args, path };
  if (netns !== '') out.netns = netns;
  return out;
}
