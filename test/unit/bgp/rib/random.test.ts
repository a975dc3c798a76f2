/**
 * Randomized consistency: the typed-array RIB against a naive reference
 * (plain Maps of attribute objects, the decision recomputed from scratch for
 * every prefix, exports recomputed from the pure rule functions) over seeded
 * random sequences of announcements, withdrawals, session flaps with and
 * without graceful restart, originations and partial output draining.
 */
import assert from 'node:assert/strict';
import { bgpConfigSchema } from '../../../../src/bgp/config.js';
import { compileFilters } from '../../../../src/bgp/policy/filter.js';
import { AttrTable, sameAttrs, type AttrSet, type PathAttrs } from '../../../../src/bgp/rib/attrs.js';
import { addressSortKey, decide, type Candidate } from '../../../../src/bgp/rib/decision.js';
import { exportAttrs, exportBlock, finishExport, SourceKind } from '../../../../src/bgp/rib/export-rules.js';
import type { BgpRib, PeerOptions, RibPeer } from '../../../../src/bgp/rib/rib.js';
import { COMMUNITY_NO_ADVERTISE, COMMUNITY_NO_EXPORT } from '../../../../src/bgp/wire/constants.js';
import { ipv4ToU32 } from '../../../../src/bgp/wire/prefix.js';
import { rng } from './helpers.js';
import { LOCAL_AS, newRib, Receiver, ROUTER_ID } from './rib-helpers.js';

const CLUSTER_ID = '10.0.0.200';
const UNREACHABLE = '10.66.0.1';
const resolve = (nh: string): number | undefined => (nh === UNREACHABLE ? undefined : nh.endsWith('.2') ? 5 : 1);
const only10 = compileFilters(
  bgpConfigSchema.parse({ asNumber: LOCAL_AS, routerId: ROUTER_ID, filters: { only10: { terms: [{ match: { prefix: ['10.0.0.0/8 le 32'] }, action: 'accept' }] } } }).filters,
)('only10');

interface PeerSpec extends PeerOptions {
  routerId: string;
}

const SPECS: PeerSpec[] = [
  { address: '172.16.0.1', asNumber: 65001, routerId: '1.0.0.3', softReconfigInbound: true },
  { address: '172.16.0.2', asNumber: 65002, routerId: '1.0.0.2', importPolicy: only10 },
  { address: '172.16.0.3', asNumber: 65001, routerId: '1.0.0.1' },
  { address: '10.0.1.1', asNumber: LOCAL_AS, routerId: '1.0.1.1', routeReflectorClient: true },
  { address: '10.0.2.1', asNumber: LOCAL_AS, routerId: '1.0.2.1' },
  { address: '10.0.2.2', asNumber: LOCAL_AS, routerId: '1.0.2.2', nextHopSelf: true },
];

const PREFIXES = [
  ...Array.from({ length: 24 }, (_, i) => `10.${i % 4}.${i}.0/24`),
  ...Array.from({ length: 12 }, (_, i) => `20.0.${i * 4}.0/22`),
  ...Array.from({ length: 8 }, (_, i) => `2001:db8:${i + 1}::/48`),
];

/** The reference: what each peer sent us, as plain objects. */
class Reference {
  readonly table = new AttrTable();
  /** prefix -> peer index (-1 = local) -> accepted attrs */
  readonly routes = new Map<string, Map<number, { attrs: AttrSet; stale: boolean }>>();
  /** Received-but-rejected prefixes per peer. */
  readonly rejected = SPECS.map(() => new Map<string, boolean>());
  readonly up = SPECS.map(() => true);

  ebgp(i: number): boolean {
    return i >= 0 && SPECS[i]!.asNumber !== LOCAL_AS;
  }

  kind(i: number): SourceKind {
    if (i < 0) return SourceKind.Local;
    if (this.ebgp(i)) return SourceKind.Ebgp;
    return SPECS[i]!.routeReflectorClient ? SourceKind.IbgpClient : SourceKind.Ibgp;
  }

  accept(i: number, a: PathAttrs, prefix: string): AttrSet | undefined {
    if (i < 0) return this.table.intern(a);
    const s = SPECS[i]!;
    const path = a.asPath;
    if (this.ebgp(i) && (path.length === 0 || path[0]!.type !== 'sequence' || path[0]!.asns[0] !== s.asNumber)) return undefined;
    if (path.some((seg) => seg.asns.includes(LOCAL_AS))) return undefined;
    if (!this.ebgp(i) && (a.originatorId === ipv4ToU32(ROUTER_ID) || (a.clusterList ?? []).includes(ipv4ToU32(CLUSTER_ID)))) return undefined;
    if (s.importPolicy === only10 && !prefix.startsWith('10.')) return undefined;
    return this.table.intern(this.ebgp(i) ? { ...a, localPref: undefined, originatorId: undefined, clusterList: [] } : a);
  }

  announce(i: number, a: PathAttrs, prefixes: string[]): void {
    for (const p of prefixes) {
      const acc = this.accept(i, a, p);
      let m = this.routes.get(p);
      if (acc) {
        if (!m) this.routes.set(p, (m = new Map()));
        m.set(i, { attrs: acc, stale: false });
        if (i >= 0) this.rejected[i]!.delete(p);
      } else {
        m?.delete(i);
        if (i >= 0) this.rejected[i]!.set(p, false);
      }
    }
  }

  withdraw(i: number, prefixes: string[]): void {
    for (const p of prefixes) {
      this.routes.get(p)?.delete(i);
      if (i >= 0) this.rejected[i]!.delete(p);
    }
  }

  down(i: number, gr: boolean): void {
    this.up[i] = false;
    for (const [p, m] of this.routes) {
      const r = m.get(i);
      if (!r) continue;
      if (gr) r.stale = true;
      else m.delete(i);
      void p;
    }
    for (const p of this.rejected[i]!.keys()) {
      if (gr) this.rejected[i]!.set(p, true);
      else this.rejected[i]!.delete(p);
    }
  }

  sweep(i: number): void {
    for (const m of this.routes.values()) if (m.get(i)?.stale) m.delete(i);
    for (const [p, stale] of this.rejected[i]!) if (stale) this.rejected[i]!.delete(p);
  }

  /** Best route and multipath members (peer indices) of a prefix. */
  best(prefix: string, multipath: number): { peer: number; attrs: AttrSet; mp: number[] } | undefined {
    const m = this.routes.get(prefix);
    if (!m) return undefined;
    const peers: number[] = [];
    const cands: Candidate[] = [];
    for (const [i, r] of m) {
      if (r.attrs.nextHop !== '' && resolve(r.attrs.nextHop) === undefined) continue;
      peers.push(i);
      cands.push({
        attrs: r.attrs,
        local: i < 0,
        ebgp: this.ebgp(i),
        peerRouterId: ipv4ToU32(i < 0 ? ROUTER_ID : SPECS[i]!.routerId),
        peerAddressKey: i < 0 ? '' : addressSortKey(SPECS[i]!.address),
        igpCost: r.attrs.nextHop === '' ? 0 : resolve(r.attrs.nextHop)!,
      });
    }
    const d = decide(cands, { localAs: LOCAL_AS, defaultLocalPref: 100, alwaysCompareMed: false, multipath });
    if (!d) return undefined;
    return { peer: peers[d.best]!, attrs: cands[d.best]!.attrs, mp: d.multipath.map((k) => peers[k]!) };
  }

  /** What peer `dest` should hold for `prefix`. */
  exported(dest: number, prefix: string, multipath: number): PathAttrs | undefined {
    const b = this.best(prefix, multipath);
    if (!b || b.peer === dest || !this.up[dest]) return undefined;
    const s = SPECS[dest]!;
    const d = { ebgp: this.ebgp(dest), routeReflectorClient: !!s.routeReflectorClient, nextHopSelf: !!s.nextHopSelf, nextHopV4: '10.0.0.100', nextHopV6: 'fd00::100', linkLocalV6: '' };
    const kind = this.kind(b.peer);
    if (exportBlock(kind, b.attrs, d)) return undefined;
    const a = exportAttrs(kind, b.attrs, d, prefix.includes(':'), {
      localAs: LOCAL_AS,
      clusterId: ipv4ToU32(CLUSTER_ID),
      defaultLocalPref: 100,
      sourceRouterId: b.peer < 0 ? ipv4ToU32(ROUTER_ID) : ipv4ToU32(SPECS[b.peer]!.routerId),
      prepend: 0,
    });
    return a && finishExport(a, d.ebgp);
  }
}

function randomAttrs(r: () => number, i: number, v6: boolean): PathAttrs {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const spec = SPECS[i];
  const ebgp = spec !== undefined && spec.asNumber !== LOCAL_AS;
  const first = ebgp ? (r() < 0.9 ? spec.asNumber : 65077) : pick([65001, 65002, 65003]);
  const tail = Array.from({ length: Math.floor(r() * 3) }, () => pick([100, 200, 300, LOCAL_AS === 65000 && r() < 0.1 ? LOCAL_AS : 400]));
  const a: PathAttrs = {
    origin: pick([0, 0, 0, 1, 2] as const),
    asPath: [{ type: 'sequence', asns: [first, ...tail] }],
    nextHop: v6 ? pick(['2001:db8:ff::1', '2001:db8:ff::2']) : pick(['172.16.9.1', '172.16.9.2', UNREACHABLE]),
    med: pick([undefined, 0, 10, 20]),
    communities: r() < 0.15 ? [pick([COMMUNITY_NO_EXPORT, COMMUNITY_NO_ADVERTISE])] : r() < 0.5 ? [65001 * 65536 + 1] : [],
  };
  if (!ebgp) {
    a.localPref = pick([undefined, 100, 200]);
    if (r() < 0.2) a.originatorId = pick([ipv4ToU32('9.9.9.9'), ipv4ToU32(ROUTER_ID)]);
    if (r() < 0.2) a.clusterList = [pick([ipv4ToU32('8.8.8.8'), ipv4ToU32(CLUSTER_ID)])];
  } else if (r() < 0.2) a.localPref = 999; // must be ignored
  return a;
}

function run(seed: number, steps: number, multipath: number): void {
  const r = rng(seed);
  const rib: BgpRib = newRib({ clusterId: CLUSTER_ID, multipath, resolveNextHop: resolve });
  const ref = new Reference();
  const peers: RibPeer[] = [];
  const rx: Receiver[] = [];
  const sessionUp = (i: number) => {
    const s = SPECS[i]!;
    rib.peerUp(peers[i]!, { routerId: s.routerId, nextHopV4: '10.0.0.100', nextHopV6: 'fd00::100' });
    rx[i] = new Receiver(rib, peers[i]!);
    ref.up[i] = true;
  };
  SPECS.forEach((s, i) => {
    peers.push(rib.addPeer(s));
    sessionUp(i);
  });
  const pickPrefixes = () => PREFIXES.filter(() => r() < 0.15);

  const check = (step: number) => {
    rib.flush();
    rx.forEach((x, i) => {
      if (ref.up[i]) x.apply(rib.takeOutbound(peers[i]!));
    });
    rib.flush();
    for (const p of PREFIXES) {
      const pid = rib.prefixes.findText(p);
      const want = ref.best(p, multipath);
      const got = pid >= 0 ? rib.best(pid) : undefined;
      const where = `seed ${seed} step ${step} prefix ${p}`;
      assert.equal(got === undefined, want === undefined, `${where}: best presence`);
      if (want && got) {
        assert.equal(got.peer.slot, want.peer < 0 ? 0 : peers[want.peer]!.slot, `${where}: best peer`);
        assert.ok(sameAttrs(got.attrs, want.attrs), `${where}: best attrs`);
        const mp = rib.multipath(pid).map((m) => (m.peer.local ? -1 : peers.indexOf(m.peer)));
        assert.deepEqual(mp, want.mp, `${where}: multipath set`);
      }
      SPECS.forEach((_, i) => {
        if (!ref.up[i]) return;
        const w = ref.exported(i, p, multipath);
        const g = rx[i]!.routes.get(p);
        assert.equal(g === undefined, w === undefined, `${where}: advertised to peer ${i}?`);
        if (w && g) assert.ok(sameAttrs(g, w), `${where}: attributes sent to peer ${i}`);
      });
    }
    SPECS.forEach((_, i) => {
      const c = rib.counters(peers[i]!);
      let accepted = 0;
      for (const m of ref.routes.values()) if (m.has(i)) accepted++;
      assert.equal(c.accepted, accepted, `seed ${seed} step ${step}: accepted count of peer ${i}`);
      assert.equal(c.received, accepted + ref.rejected[i]!.size, `seed ${seed} step ${step}: received count of peer ${i}`);
      if (ref.up[i]) assert.equal(c.advertised, rx[i]!.routes.size, `seed ${seed} step ${step}: advertised count of peer ${i}`);
    });
  };

  for (let step = 0; step < steps; step++) {
    const x = r();
    const i = Math.floor(r() * SPECS.length);
    if (x < 0.45) {
      if (!ref.up[i]) continue;
      const ps = pickPrefixes();
      // One UPDATE carries one attribute set, so one family's next hop.
      for (const fam of [false, true]) {
        const sub = ps.filter((p) => p.includes(':') === fam);
        if (sub.length === 0) continue;
        const a = randomAttrs(r, i, fam);
        rib.announce(peers[i]!, a, sub);
        ref.announce(i, a, sub);
      }
    } else if (x < 0.65) {
      if (!ref.up[i]) continue;
      const ps = pickPrefixes();
      rib.withdraw(peers[i]!, ps);
      ref.withdraw(i, ps);
    } else if (x < 0.72) {
      const p = PREFIXES[Math.floor(r() * PREFIXES.length)]!;
      if (r() < 0.6) {
        const a: PathAttrs = { origin: 0, asPath: [], nextHop: '', med: r() < 0.5 ? 5 : undefined };
        rib.originate(p, a);
        ref.announce(-1, a, [p]);
      } else {
        rib.withdrawOriginated(p);
        ref.withdraw(-1, [p]);
      }
    } else if (x < 0.77) {
      if (ref.up[i]) {
        const gr = r() < 0.5;
        rib.peerDown(peers[i]!, { gracefulRestart: gr });
        ref.down(i, gr);
      } else {
        sessionUp(i);
      }
    } else if (x < 0.8) {
      // End-of-RIB from a restarted peer (a no-op for peers without stale routes).
      if (ref.up[i]) {
        for (const fam of [4, 6] as const) rib.endOfRib(peers[i]!, fam);
        ref.sweep(i);
      }
    } else if (x < 0.9) {
      rib.flush();
      if (ref.up[i]) rx[i]!.apply(rib.takeOutbound(peers[i]!, 1 + Math.floor(r() * 5)));
    } else {
      check(step);
    }
  }
  check(steps);
  // Everything away: nothing may leak.
  SPECS.forEach((_, i) => rib.removePeer(peers[i]!));
  for (const p of PREFIXES) rib.withdrawOriginated(p);
  rib.flush();
  rib.flush();
  assert.equal(rib.attrs.size, 0, `seed ${seed}: attribute sets leaked`);
  assert.equal(rib.prefixes.size, 0, `seed ${seed}: prefix ids leaked`);
}

describe('bgp/rib randomized consistency against a naive reference', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`seed ${seed} (multipath ${seed % 2 === 0 ? 2 : 1})`, () => run(seed, 700, seed % 2 === 0 ? 2 : 1));
  }
});
