/**
 * One plugin invocation: environment and stdin in, result or error JSON on
 * stdout, logs on stderr, an exit code (0 or 1). Order of checks, as the
 * reference plugins' skeleton has it: CNI_COMMAND and the other variables
 * (code 4), stdin decoding (6), version (1), the config itself (2, 7), then
 * the node config it names (7) and the datastore (11 when unreachable).
 *
 * Start-up cost matters (a runtime runs the plugin per pod): only what the
 * command needs is imported, late: VERSION loads neither zod nor the
 * datastore; of the two store backends only the node config's is loaded
 * (etcd3 alone costs a few hundred milliseconds).
 */
import { randomBytes } from 'node:crypto';
import type { NodeConfig } from '../config/node-config.js';
import type { Store, StoreConfig } from '../datastore/store/types.js';
import type { LogLevel } from '../util/log.js';
import { readCniEnv, type CniEnv } from './env.js';
import { toCniError } from './errors.js';
import type { NetConf } from './netconf.js';
import type { CniDeps } from './plugin.js';
import { randomMac } from './plumbing.js';
import { CniError, encodeResult, ErrorCode, errorResult, isSupportedVersion, LATEST_VERSION, SUPPORTED_VERSIONS } from './spec.js';

export interface CniIo {
  env: Record<string, string | undefined>;
  /** Reads all of stdin. */
  readStdin: () => Promise<string>;
  /** Writes to stdout (the result or error JSON, nothing else). */
  writeStdout: (text: string) => Promise<void>;
  /** Writes a human-readable line for a failure (stderr). */
  writeStderr: (text: string) => void;
}

/** Ports the caller may supply instead of the real ones (tests). */
export type DepsFactory = (node: NodeConfig, conf: NetConf) => Promise<{ deps: CniDeps; close: () => Promise<void> }>;

/** The node config's datastore, in the store layer's terms. */
export function storeConfigOf(ds: NodeConfig['datastore']): StoreConfig {
  if (ds.type === 'embedded') return { type: 'embedded', path: ds.path };
  const cfg: StoreConfig = {
    type: 'etcd',
    endpoints: ds.endpoints,
    prefix: ds.prefix.endsWith('/') ? ds.prefix : `${ds.prefix}/`,
    dialTimeoutMs: ds.dialTimeout * 1000,
  };
  if (ds.tls) cfg.tls = ds.tls;
  if (ds.username) cfg.username = ds.username;
  if (ds.password) cfg.password = ds.password;
  return cfg;
}

/** Opens only the backend the config names (openStore would load both). */
async function openBackend(config: StoreConfig): Promise<Store> {
  if (config.type === 'embedded') {
    const { EmbeddedStore } = await import('../datastore/store/embedded/embedded-store.js');
    return EmbeddedStore.open(config);
  }
  const { EtcdStore } = await import('../datastore/store/etcd/etcd-store.js');
  return EtcdStore.open(config);
}

/** The real ports: the node's datastore, its IPAM, the kernel. */
export const realDeps: DepsFactory = async (node) => {
  const [{ Ipam }, { storePoolSource }, { KernelDataplane }, { IpamAdapter, StoreEndpoints }, { logger }] = await Promise.all([
    import('../ipam/ipam.js'),
    import('../ipam/pool-source.js'),
    import('./kernel.js'),
    import('./ports.js'),
    import('../util/log.js'),
  ]);
  const store = await openBackend(storeConfigOf(node.datastore));
  const log = logger('cni', { node: node.nodeName });
  const deps: CniDeps = {
    node: node.nodeName,
    mtu: node.dataplane.mtu,
    routeProtocol: node.dataplane.routeProtocol,
    ipam: new IpamAdapter(new Ipam({ store, pools: storePoolSource(store) })),
    endpoints: new StoreEndpoints(store),
    dataplane: new KernelDataplane(),
    hostNetnsRef: `/proc/${process.pid}/ns/net`,
    randomMac: () => randomMac(randomBytes(6)),
    log: (level, event, fields) => log[level](event, fields),
  };
  return { deps, close: () => store.close() };
};

async function loadNode(path: string): Promise<NodeConfig> {
  const { loadNodeConfig } = await import('../config/node-config.js');
  try {
    return loadNodeConfig(path);
  } catch (err) {
    const e = err as Error & { details?: string[] };
    const why = [e.message, ...(Array.isArray(e.details) ? e.details : [])].filter(Boolean).join('; ');
    throw new CniError(ErrorCode.InvalidConfig, `invalid node config ${path}`, why);
  }
}

async function configureLogs(node: NodeConfig, env: CniIo['env']): Promise<void> {
  const { configureLogging } = await import('../util/log.js');
  const level = (env.TABBY_LOG_LEVEL as LogLevel | undefined) ?? node.log.level;
  // JSON unless asked otherwise: a runtime collects stderr, no terminal reads it.
  configureLogging({ level, format: node.log.format === 'text' ? 'text' : 'json' });
}

/** The version a failure is reported in: the config's, when it had one. */
function replyVersion(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' && v !== '' ? v : LATEST_VERSION;
  } catch {
    return LATEST_VERSION;
  }
}

/** Runs one invocation; returns the process exit code. */
export async function runCni(io: CniIo, makeDeps: DepsFactory = realDeps): Promise<number> {
  // performance.now() counts from process start: this is Node's boot plus the CLI's imports.
  const entered = performance.now();
  let stdin = '';
  let env: CniEnv | undefined;
  try {
    try {
      stdin = await io.readStdin();
    } catch (err) {
      throw new CniError(ErrorCode.IoFailure, 'failed to read the network configuration from stdin', (err as Error).message);
    }
    env = readCniEnv(io.env);
    if (env.command === 'VERSION') {
      const asked = replyVersion(stdin);
      const reply = { cniVersion: isSupportedVersion(asked) ? asked : LATEST_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
      await io.writeStdout(JSON.stringify(reply) + '\n');
      return 0;
    }
    // Imported after VERSION: the label checks pull in zod.
    const { decodeConfig, nodeConfigPath, parseNetConf } = await import('./netconf.js');
    const conf = parseNetConf(decodeConfig(stdin), env.command);
    const node = await loadNode(nodeConfigPath(conf, io.env));
    await configureLogs(node, io.env);
    let opened: Awaited<ReturnType<DepsFactory>>;
    try {
      opened = await makeDeps(node, conf);
    } catch (err) {
      throw toCniError(err);
    }
    try {
      const { cmdAdd, cmdCheck, cmdDel } = await import('./plugin.js');
      const ready = performance.now();
      if (env.command === 'ADD') {
        const result = await cmdAdd(env, conf, opened.deps);
        await io.writeStdout(JSON.stringify(encodeResult(result, conf.cniVersion)) + '\n');
      } else if (env.command === 'DEL') {
        await cmdDel(env, conf, opened.deps);
      } else {
        await cmdCheck(env, conf, opened.deps);
      }
      opened.deps.log('debug', 'cni.timing', {
        command: env.command,
        startMs: Math.round(entered),
        readyMs: Math.round(ready),
        doneMs: Math.round(performance.now()),
      });
    } finally {
      await opened.close().catch(() => undefined);
    }
    return 0;
  } catch (err) {
    const e = toCniError(err);
    await io.writeStdout(JSON.stringify(errorResult(e, replyVersion(stdin))) + '\n');
    const what = env ? `${env.command}${env.containerId ? ` ${env.containerId}` : ''}` : (io.env.CNI_COMMAND ?? '');
    io.writeStderr(`tabby cni: ${what}: ${e.message}${e.details ? `: ${e.details}` : ''}\n`);
    if (e.code === ErrorCode.Internal && e.cause instanceof Error && e.cause.stack) io.writeStderr(`${e.cause.stack}\n`);
    return 1;
  }
}
