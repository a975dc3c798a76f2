/**
 * RIB benchmark: the benchmark harness's workload (shared/bench/README.md,
 * inject.py) without the network. 1M consecutive /24s from 32.0.0.0 in
 * UPDATEs of 100 NLRI, one attribute set per UPDATE (ORIGIN IGP, AS_PATH of
 * length 1-6 starting with the injector's AS, NEXT_HOP, 0-3 communities),
 * received from one eBGP peer, through import, best path and export to a
 * second eBGP peer, packed back into UPDATEs.
 *
 * Everything the speaker does between the socket read and the socket write
 * runs here, with the real code: the codec decodes each UPDATE body (IPv4
 * NLRI left raw and read straight into numbers), the speaker's converter
 * makes RIB attributes, the RIB imports, decides, flushes once per 256 KiB
 * of input (one read of the injector's writes) and exports, and the codec's
 * packer writes the UPDATEs from the outbound groups. Only TCP and framing
 * are missing.
 *
 *   node --expose-gc dist/bench/bgp-rib.js [N] [perUpdate]
 *
 * Prints time per phase, CPU and GC time, and memory after a full GC: heap +
 * typed-array bytes per route, and RSS growth per route (the harness's
 * bytes/route is VmHWM - baseline RSS over N, so the peak is printed too).
 */
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { decodeIpv4Nlri, Ipv4Batch, PidNlriSource } from '../src/bgp/rib/nlri.js';
import { BgpRib } from '../src/bgp/rib/rib.js';
import { ribToWire, wireToRib } from '../src/bgp/speaker/convert.js';
import { decodeUpdateBody, encodeUpdate, packUpdatesFrom, sessionContext } from '../src/bgp/wire/index.js';

const N = Number(process.argv[2] ?? 1_000_000);
const PER_UPDATE = Number(process.argv[3] ?? 100);
const INJECTOR_AS = 65001;
const DUT_AS = 65002;
const RECEIVER_AS = 65003;
/** The injector writes 256 KiB chunks; the session flushes once per read. */
const READ_CHUNK = 256 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc');
  process.exit(2);
}

/** Deterministic PRNG (mulberry32), so runs are comparable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WEIGHTS = [10, 20, 30, 20, 12, 8];
const ctx = sessionContext({ fourOctetAs: true });

/** UPDATE messages as the injector sends them (whole messages, header included). */
function buildUpdates(): Buffer[] {
  const r = rng(1);
  const out: Buffer[] = [];
  const base24 = (32 << 16) >>> 0; // 32.0.0.0 >> 8
  for (let start = 0; start < N; start += PER_UPDATE) {
    const k = Math.min(PER_UPDATE, N - start);
    let x = r() * 100;
    let plen = 1;
    for (let i = 0; i < 6; i++) {
      x -= WEIGHTS[i]!;
      if (x < 0) {
        plen = i + 1;
        break;
      }
    }
    const path = [INJECTOR_AS];
    for (let i = 1; i < plen; i++) path.push(r() < 0.7 ? 1000 + Math.floor(r() * 59000) : 4200000000 + Math.floor(r() * 10000));
    const nc = Math.floor(r() * 4);
    const communities: number[] = [];
    for (let i = 0; i < nc; i++) communities.push(((INJECTOR_AS << 16) | (1 + Math.floor(r() * 999))) >>> 0);
    const nlri: string[] = [];
    for (let j = 0; j < k; j++) {
      const n = base24 + start + j;
      nlri.push(`${n >>> 16}.${(n >>> 8) & 255}.${n & 255}.0/24`);
    }
    out.push(
      encodeUpdate(
        { type: 'UPDATE', withdrawn: [], nlri, attributes: { origin: 'igp', asPath: [{ type: 'sequence', asns: path }], nextHop: '10.200.1.1', ...(nc ? { communities } : {}) } },
        ctx,
      ),
    );
  }
  return out;
}

function vmHwmKiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

function mem(): { heap: number; ab: number; rss: number } {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, ab: m.arrayBuffers, rss: m.rss };
}

const updates = buildUpdates();
const m0 = mem();

const rib = new BgpRib({ localAs: DUT_AS, routerId: '10.200.1.2' });
const injector = rib.addPeer({ address: '10.200.1.1', asNumber: INJECTOR_AS, families: [4] });
const receiver = rib.addPeer({ address: '10.200.2.1', asNumber: RECEIVER_AS, families: [4] });
rib.peerUp(injector, { routerId: '10.200.1.1', nextHopV4: '10.200.1.2' });
rib.peerUp(receiver, { routerId: '10.200.2.1', nextHopV4: '10.200.2.2' });
rib.takeOutbound(receiver); // the empty initial table + End-of-RIB

const batch = new Ipv4Batch(PER_UPDATE);
let tDecode = 0;
let tIn = 0;
let tFlush = 0;
let tOut = 0;
let updatesOut = 0;
let bytesOut = 0;
let nlriOut = 0;
let groupsOut = 0;

/** Packs what is pending for the receiver, as the speaker's pump does. */
function drain(): void {
  const t = performance.now();
  const b = rib.takeOutbound(receiver);
  for (const g of b.groups) {
    groupsOut++;
    nlriOut += g.pids.length;
    const packed = packUpdatesFrom(ribToWire(g.attrs, 4), new PidNlriSource(1, rib.prefixes, g.pids), ctx);
    updatesOut += packed.messages.length;
    bytesOut += packed.bytes.length;
  }
  tOut += performance.now() - t;
}

let gcMs = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
});
obs.observe({ entryTypes: ['gc'] });
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let inChunk = 0;
for (const msg of updates) {
  const t = performance.now();
  const { update, verdict } = decodeUpdateBody(msg, 19, msg.length, ctx, { ipv4: 'raw' });
  if (verdict.action !== 'ok') throw new Error(`bad UPDATE: ${verdict.action}`);
  batch.clear();
  const raw = update.ipv4Raw!.nlri;
  decodeIpv4Nlri(raw, 0, raw.length, batch);
  const attrs = wireToRib(update.attributes, update.attributes.nextHop!);
  const t1 = performance.now();
  tDecode += t1 - t;
  rib.announceV4(injector, attrs, batch);
  tIn += performance.now() - t1;
  inChunk += msg.length;
  if (inChunk >= READ_CHUNK) {
    inChunk = 0;
    const t2 = performance.now();
    rib.flush();
    tFlush += performance.now() - t2;
    drain();
  }
}
const t3 = performance.now();
rib.flush();
tFlush += performance.now() - t3;
drain();
const total = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const hwm = vmHwmKiB();
await new Promise((r) => setTimeout(r, 100)); // let the observer deliver
obs.disconnect();

const m1 = mem();
const c = rib.counters(receiver);
const perRoute = (x: number) => (x / N).toFixed(1);
const ms = (x: number) => x.toFixed(0);
console.log(`routes in: ${N} in ${updates.length} UPDATEs (${PER_UPDATE}/UPDATE), attribute sets live: ${rib.attrs.size}`);
console.log(`advertised to receiver: ${c.advertised}, NLRI packed: ${nlriOut} in ${updatesOut} UPDATEs, ${(bytesOut / 1048576).toFixed(1)} MiB (${groupsOut} groups)`);
console.log(
  `time: total ${ms(total)} ms = decode ${ms(tDecode)} + import+decision ${ms(tIn)} + flush/export ${ms(tFlush)} + take/pack ${ms(tOut)}` +
    ` (${((N / total) * 1000 / 1e6).toFixed(2)} M routes/s); CPU ${ms((cpu.user + cpu.system) / 1000)} ms, of it GC ${ms(gcMs)} ms`,
);
console.log(
  `memory after GC: heap +${((m1.heap - m0.heap) / 1048576).toFixed(1)} MiB, typed arrays +${((m1.ab - m0.ab) / 1048576).toFixed(1)} MiB` +
    ` => ${perRoute(m1.heap - m0.heap + m1.ab - m0.ab)} bytes/route (typed-array tables alone: ${perRoute(rib.tableBytes())})`,
);
console.log(
  `RSS: +${((m1.rss - m0.rss) / 1048576).toFixed(1)} MiB after GC => ${perRoute(m1.rss - m0.rss)} bytes/route; ` +
    `peak VmHWM ${(hwm / 1024).toFixed(1)} MiB, baseline RSS ${(m0.rss / 1048576).toFixed(1)} MiB => ${perRoute(hwm * 1024 - m0.rss)} bytes/route at peak`,
);

if (c.advertised !== N || nlriOut !== N) {
  console.error('MISMATCH: not every route was advertised');
  process.exit(1);
}
