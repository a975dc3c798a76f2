/**
 * The daemon's BGP speaker: started with the config derived from the
 * resources, then reconfigured live as they change (Speaker.reload: only the
 * sessions whose OPEN changes are reset). A change of a speaker-wide setting
 * (AS number, router id, listen address, cluster id) needs a new speaker:
 * that restart is the only case where every session drops, as it is for
 * BIRD when Calico rewrites `router id` or `local as`.
 *
 * Best paths flow out as "learned routes" (prefix -> next hops) for Felix's
 * route manager; the speaker itself never writes the kernel here.
 */
import { isDeepStrictEqual } from 'node:util';
import type { BgpConfig } from '../bgp/config.js';
import { Speaker, type PeerStatus } from '../bgp/speaker/speaker.js';
import { logger } from '../util/log.js';

const log = logger('node.bgp');

/** Settings Speaker.reload refuses to change. */
const SPEAKER_WIDE = ['asNumber', 'routerId', 'listen', 'fibInstall', 'fibProtocol', 'clusterId', 'multipath', 'alwaysCompareMed', 'controlSocket'] as const;

export interface BgpRunnerOptions {
  /** Called (coalesced) with every best path's next hops after the Loc-RIB changed. */
  onBestPaths: (best: ReadonlyMap<string, readonly string[]>) => void;
  /** True when this daemon restarted with its forwarding state in the kernel (graceful restart, RFC 4724). */
  restarting?: () => boolean;
}

export interface DaemonPeerStatus extends Omit<PeerStatus, 'type'> {
  type: string;
  /** eBGP / iBGP / route-reflector client, as the speaker sees the session. */
  session: PeerStatus['type'];
}

export class BgpRunner {
  private speaker: Speaker | undefined;
  private config: BgpConfig | undefined;
  private types = new Map<string, string>();
  private readonly best = new Map<string, readonly string[]>();
  private unsubscribe: (() => void) | undefined;
  private emitScheduled = false;
  private chain: Promise<void> = Promise.resolve();
  private restarts = 0;
  started = false;

  constructor(private readonly opts: BgpRunnerOptions) {}

  /** Apply a derived config (serialised: calls never overlap). */
  apply(config: BgpConfig, types: ReadonlyMap<string, string>): Promise<void> {
    const next = this.chain.then(() => this.applyNow(config, types));
    this.chain = next.catch((err) => log.error('node.bgp.apply_failed', { error: (err as Error).message }));
    return next;
  }

  private async applyNow(config: BgpConfig, types: ReadonlyMap<string, string>): Promise<void> {
    this.types = new Map(types);
    const cur = this.config;
    if (cur && this.speaker && isDeepStrictEqual(cur, config)) return;
    if (cur && this.speaker && SPEAKER_WIDE.every((k) => isDeepStrictEqual(cur[k], config[k]))) {
      const r = this.speaker.reload(config);
      this.config = config;
      if (r.added.length + r.removed.length + r.reset.length + r.refreshed.length > 0) log.info('node.bgp.reconfigured', r);
      return;
    }
    if (this.speaker) {
      const changed = SPEAKER_WIDE.filter((k) => cur && !isDeepStrictEqual(cur[k], config[k]));
      log.warn('node.bgp.restarting', { changed }, 'a speaker-wide BGP setting changed: restarting the speaker');
      await this.stopSpeaker('tabby: BGP configuration change');
      this.restarts++;
    }
    // Our first speaker after a restart (learned routes were found in the
    // kernel): OPEN with the R bit and F bit set (RFC 4724 §4.1).
    const restart = this.restarts === 0 && this.opts.restarting?.() ? { forwardingPreserved: true } : undefined;
    const speaker = new Speaker(config, restart);
    this.unsubscribe = speaker.rib.onChange((pids) => this.onRibChange(speaker, pids));
    await speaker.start();
    this.speaker = speaker;
    this.config = config;
    this.started = true;
    log.info('node.bgp.started', { asNumber: config.asNumber, routerId: config.routerId, peers: config.peers.length });
  }

  private onRibChange(speaker: Speaker, pids: Int32Array): void {
    const rib = speaker.rib;
    for (const pid of pids) {
      const prefix = rib.prefixes.text(pid);
      const paths = rib.multipath(pid);
      const hops = [...new Set(paths.filter((r) => !r.peer.local && r.attrs.nextHop).map((r) => r.attrs.nextHop as string))].sort();
      if (hops.length) this.best.set(prefix, hops);
      else this.best.delete(prefix);
    }
    if (this.emitScheduled) return;
    this.emitScheduled = true;
    setImmediate(() => {
      this.emitScheduled = false;
      this.opts.onBestPaths(this.best);
    });
  }

  private async stopSpeaker(message: string): Promise<void> {
    const s = this.speaker;
    if (!s) return;
    this.unsubscribe?.();
    this.speaker = undefined;
    await s.stop(message);
    // The old speaker's routes are gone with it; the new one relearns them.
    this.best.clear();
    this.opts.onBestPaths(this.best);
  }

  async stop(message = 'tabby daemon is shutting down'): Promise<void> {
    await this.chain;
    const s = this.speaker;
    if (!s) return;
    this.unsubscribe?.();
    this.speaker = undefined;
    await s.stop(message);
  }

  peers(): DaemonPeerStatus[] {
    return (this.speaker?.peerStatus() ?? []).map((p) => ({ ...p, session: p.type, type: this.types.get(p.address) ?? p.type }));
  }

  peerType(address: string): string | undefined {
    return this.types.get(address);
  }

  status(): { enabled: true; running: boolean; asNumber?: number; routerId?: string; restarts: number; peers: DaemonPeerStatus[] } {
    return {
      enabled: true,
      running: this.speaker !== undefined,
      ...(this.config ? { asNumber: this.config.asNumber, routerId: this.config.routerId } : {}),
      restarts: this.restarts,
      peers: this.peers(),
    };
  }

  routes(prefix?: string): { routes: unknown[] } {
    return this.speaker ? this.speaker.routes(prefix) : { routes: [] };
  }
}
