/**
 * `tabby daemon --config FILE`: the node agent, until SIGTERM/SIGINT. A bad
 * config exits 2 with one line per problem before anything is touched.
 */
import { loadNodeConfig } from '../config/node-config.js';
import { Daemon } from '../node/daemon.js';
import { configureLogging, logger } from '../util/log.js';

export async function runDaemon(configPath: string): Promise<void> {
  const cfg = loadNodeConfig(configPath);
  configureLogging({ level: cfg.log.level, format: cfg.log.format, base: { node: cfg.nodeName } });
  const log = logger('node');
  const daemon = new Daemon(cfg);
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info('node.daemon.signal', { signal: sig });
    const force = setTimeout(() => {
      log.error('node.daemon.stop_timeout', {}, 'shutdown took longer than 15 s; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    await daemon.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  await daemon.start();
}
