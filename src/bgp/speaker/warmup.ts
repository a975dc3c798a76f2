/**
 * Warm-up of the route path while the speaker is idle.
 *
 * Measured (bench/RESULTS.md, BGP section): the first 10k routes a freshly
 * started speaker takes cost 3-4x what the same work costs once the process
 * has run for a while (~90-140 ms of CPU instead of ~20-40), all of it V8
 * running the decoder, RIB and packer cold (interpreted code, empty inline
 * caches), none of it in timers, batching or End-of-RIB waits. That delay
 * lands where it hurts: the first table after a (graceful) restart.
 *
 * Just after start, before any route has arrived, the speaker pushes a
 * synthetic table through the same functions on a throwaway RIB (framer,
 * UPDATE decode with raw IPv4 NLRI, import, decision, flush and export,
 * outbound batches, packing, withdrawals, the FSM's per-UPDATE event). It
 * runs in slices of about 2 ms between event-loop turns, so sessions keep
 * connecting and negotiating meanwhile, and it stops for good as soon as a
 * real UPDATE arrives: it never delays real work by more than one slice,
 * and costs nothing when peers take a moment to connect (the usual case:
 * connect-retry timers, TCP). Class methods and module functions share
 * their compiled code and type feedback across instances, so the real RIB
 * starts warm. Once per process.
 */
import { BgpRib, decodeIpv4Nlri, Ipv4Batch } from '../rib/index.js';
import { BgpFramer, decodeMessage, packUpdates, sessionContext, type PathAttributes, type ReceivedUpdate } from '../wire/index.js';
import { newFsm, step, type Fsm } from '../session/fsm.js';
import { wireToRib } from './convert.js';
import { packOutbound } from './output.js';

let claimed = false;

/** Milliseconds of work per slice before yielding to the event loop. */
const SLICE_MS = 2;

export class RouteWarmUp {
  private stopped = false;
  private timer: NodeJS.Immediate | undefined;
  /** Work done so far, milliseconds (for the log). */
  busyMs = 0;
  finished = false;

  constructor(
    private readonly prefixes = 4000,
    private readonly rounds = 2,
  ) {}

  /** Start slicing (once per process: a second speaker finds the code warm). Calls `done` when finished, not when stopped. */
  start(done?: (ms: number) => void): void {
    if (claimed) return;
    claimed = true;
    const work = this.work();
    const slice = () => {
      this.timer = undefined;
      if (this.stopped) return;
      const t0 = performance.now();
      let end = false;
      try {
        while (performance.now() - t0 < SLICE_MS) {
          if (work.next().done) {
            end = true;
            break;
          }
        }
      } catch {
        end = true; // only slower first routes: never a reason to fail
      }
      this.busyMs += performance.now() - t0;
      if (end) {
        this.finished = true;
        done?.(this.busyMs);
        return;
      }
      this.timer = setImmediate(slice);
    };
    this.timer = setImmediate(slice);
  }

  /** Real routes are here (they warm the code themselves from now on), or the speaker stops. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearImmediate(this.timer);
    this.timer = undefined;
  }

  /** The warm-up as small steps (each yield is a point where a slice may end). */
  private *work(): Generator<void, void, void> {
    const ctx = sessionContext({ fourOctetAs: true });
    // A table shaped like a real feed: 100 NLRI per UPDATE, one attribute set each.
    const frames: Buffer[] = [];
    for (let start = 0; start < this.prefixes; start += 100) {
      const g = start / 100;
      const attrs: PathAttributes = {
        origin: 'igp',
        asPath: [{ type: 'sequence', asns: [65534, 1000 + (g % 50), 2000 + (g % 7)].slice(0, 1 + (g % 3)) }],
        nextHop: '192.168.255.1',
        ...(g % 2 ? { communities: [((65534 << 16) | g) >>> 0] } : {}),
        ...(g % 3 === 0 ? { med: g } : {}),
      };
      const list: string[] = [];
      for (let j = 0; j < 100 && start + j < this.prefixes; j++) {
        const i = start + j;
        list.push(`100.${64 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}/32`);
      }
      frames.push(...packUpdates(attrs, list, ctx).messages);
      yield;
    }
    const rib = new BgpRib({ localAs: 65533, routerId: '192.168.255.2' });
    const src = rib.addPeer({ address: '192.168.255.1', asNumber: 65534, families: [4] });
    const dst = rib.addPeer({ address: '192.168.255.3', asNumber: 65535, families: [4] });
    rib.peerUp(src, { routerId: '192.168.255.1', nextHopV4: '192.168.255.2' });
    rib.peerUp(dst, { routerId: '192.168.255.3', nextHopV4: '192.168.255.2' });
    const batch = new Ipv4Batch(4096);
    let bytes = 0;
    const nlriOf = (frame: Buffer): ReceivedUpdate => {
      const u = decodeMessage(frame, ctx, { ipv4: 'raw' }) as ReceivedUpdate;
      const raw = u.ipv4Raw!;
      batch.clear();
      decodeIpv4Nlri(raw.nlri, 0, raw.nlri.length, batch);
      return u;
    };
    const stream = Buffer.concat(frames);
    function* drain(): Generator<void, void, void> {
      rib.flush();
      yield;
      for (let guard = 0; guard < 1000; guard++) {
        if (!packOutbound(rib, rib.takeOutbound(dst, 500), ctx, (b) => (bytes += b.length))) break;
        yield;
      }
    }
    for (let r = 0; r < this.rounds; r++) {
      // Frames as the session hands them over, from reads of whatever size.
      const got: Buffer[] = [];
      new BgpFramer().push(stream, (f) => got.push(f));
      for (const frame of got) {
        const u = nlriOf(frame);
        rib.announceV4(src, wireToRib(u.attributes, u.attributes.nextHop!), batch);
        yield;
      }
      yield* drain();
      for (const frame of got) {
        nlriOf(frame);
        rib.withdrawV4(src, batch);
        yield;
      }
      yield* drain();
    }
    // The session's state machine takes one event per UPDATE (RFC 4271 §8, Event 27).
    let fsm: Fsm = { ...newFsm({ passive: true, connectRetryTime: 5, holdTime: 90, keepaliveTime: 30, maxIdleHoldTime: 120 }), state: 'Established', holdTime: 90, keepaliveTime: 30, stopped: false };
    for (let i = 0; i < 5000; i++) {
      fsm = step(fsm, { type: 'UpdateReceived' }).fsm;
      if (i % 500 === 0) yield;
    }
    if (bytes === 0 || fsm.state !== 'Established') throw new Error('BGP warm-up produced no output');
  }
}
