/**
 * Live-session fuzz at volume: the machinery of the CI test
 * (`test/unit/bgp/live-fuzz.ts`, >= 100k cases per run) with more cases, to
 * find rare verdict mismatches and to measure throughput.
 *
 *   node dist/bench/bgp-fuzz.js [--cases 1000000] [--reset-every 250] [--seed 1] [--chunk 2000]
 *
 * An in-process Speaker listens on loopback; the client keeps one session
 * up with session-keeping mutations (ok, attribute discard, treat-as-withdraw,
 * AFI/SAFI disable of a family not in use), checks every touched prefix
 * against the RFC 7606 verdict after each chunk, and sends one
 * session-ending mutation per `reset-every` (exact NOTIFICATION expected,
 * then an immediate reconnect). Prints cases/s, and as the floor, the
 * decoder alone classifying the same mutation stream in the same run (the
 * live run also does the client's own classify and model work, so the ratio
 * is an upper bound on the speaker's own cost). Exit 1 on any mismatch.
 */
import { bgpConfigSchema } from '../src/bgp/config.js';
import { Speaker } from '../src/bgp/speaker/speaker.js';
import { decodeOnly, FUZZ_PEER_AS, runLiveFuzz } from '../test/unit/bgp/live-fuzz.js';
import { configureLogging } from '../src/util/log.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const CASES = arg('cases', 1_000_000);
const RESET_EVERY = arg('reset-every', 250);
const SEED = arg('seed', 1);
const CHUNK = arg('chunk', 2000);

async function main(): Promise<void> {
  configureLogging({ level: 'silent', format: 'json' });
  const port = 20_000 + (process.pid % 20_000);
  const speaker = new Speaker(
    bgpConfigSchema.parse({
      asNumber: 65001,
      routerId: '127.0.0.1',
      listen: { address: '127.0.0.1', port },
      controlSocket: '/tmp/unused-bench-fuzz.sock',
      peers: [{ address: '127.0.0.1', asNumber: FUZZ_PEER_AS, passive: true, addressFamilies: ['ipv4-unicast'], gracefulRestart: false, connectRetryTime: 1 }],
    }),
  );
  await speaker.start();
  try {
    const floor = decodeOnly(Math.min(CASES * 2, 2_000_000), SEED);
    const st = await runLiveFuzz({ speaker, port, cases: CASES, resetEvery: RESET_EVERY, seed: SEED, chunk: CHUNK });
    const liveRate = st.cases / (st.elapsedMs / 1000);
    const floorRate = floor.mutations / (floor.elapsedMs / 1000);
    console.log(`live-session fuzz: ${st.cases} cases (${st.mutations} mutations) in ${(st.elapsedMs / 1000).toFixed(2)} s = ${Math.round(liveRate)} cases/s`);
    console.log(`  verdicts: ${JSON.stringify(st.byVerdict)}; resets ${st.resets} ${JSON.stringify(st.notifications)}; ${st.sessions} sessions; ${st.checkedPrefixes} prefix states checked`);
    console.log(`  floor (decoder alone, same mutations): ${Math.round(floorRate)} mutations/s; live / floor = ${(floorRate / liveRate).toFixed(1)}x the time per case`);
    console.log(`  mismatches: ${st.mismatches.length}`);
    for (const m of st.mismatches) console.log(`    ${m}`);
    process.exitCode = st.mismatches.length ? 1 : 0;
  } finally {
    await speaker.stop();
  }
}

void main();
