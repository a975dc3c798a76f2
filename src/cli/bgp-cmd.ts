/**
 * `tabby bgp --config FILE`: the BGP speaker alone, with its control socket,
 * until SIGTERM/SIGINT (then every session gets Cease / Administrative
 * Shutdown, RFC 4486, with an RFC 9003 message).
 */
import { execa } from 'execa';
import { loadBgpConfig } from '../bgp/config.js';
import { Speaker } from '../bgp/speaker/speaker.js';
import { ControlServer } from '../node/control.js';
import { configureLogging, logger } from '../util/log.js';

export async function runBgp(configPath: string): Promise<void> {
  const config = loadBgpConfig(configPath);
  configureLogging({ level: config.log.level, format: config.log.format, base: { routerId: config.routerId } });
  const log = logger('bgp');
  // RFC 4724 §4.1: routes of our protocol still in the kernel mean we are
  // restarting with our forwarding state intact (the FIB is kept on exit):
  // say so in the OPEN (R and F bits) so helpers keep our routes meanwhile,
  // and defer selection until their End-of-RIB. The kernel routes are the
  // forwarding state itself, so finding them is exactly the F-bit condition
  // and needs no operator action (systemd restart, crash and kill -9 alike);
  // a command-line flag could claim a forwarding state that is not there.
  // Without fibInstall there is no forwarding state to preserve: a plain start.
  let restart: { forwardingPreserved: boolean } | undefined;
  if (config.fibInstall) {
    for (const fam of ['-4', '-6']) {
      const r = await execa('ip', [fam, '-j', 'route', 'show', 'proto', String(config.fibProtocol)], { reject: false, timeout: 10_000 });
      if (r.exitCode === 0 && (JSON.parse(r.stdout || '[]') as unknown[]).length > 0) restart = { forwardingPreserved: true };
    }
  }
  if (restart) log.info('bgp.speaker.restarting', {}, 'found our routes in the kernel: restarting gracefully (RFC 4724 R and F bits)');
  const speaker = new Speaker(config, restart);
  await speaker.start();
  const control = new ControlServer(config.controlSocket, {
    status: () => speaker.status(),
    routes: (p) => speaker.routes(typeof p.prefix === 'string' ? p.prefix : undefined),
  });
  await control.start();
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info('bgp.speaker.stopping', { signal: sig });
    await speaker.stop();
    await control.stop();
    process.exit(0);
  };
  // SIGHUP: re-read the config and apply it with the least disruption; a bad
  // file changes nothing (the error is logged, the old config keeps running).
  process.on('SIGHUP', () => {
    try {
      const r = speaker.reload(loadBgpConfig(configPath));
      log.info('bgp.reload.done', r);
    } catch (err) {
      log.error('bgp.reload.failed', { error: (err as Error).message });
    }
  });
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
