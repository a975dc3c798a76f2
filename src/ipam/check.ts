/**
 * `tabby ipam check`: finds inconsistencies in a snapshot of the IPAM state
 * and says, for each, how to fix it. Pure: the snapshot and the pools in,
 * problems out. Problems with a safe automatic fix carry a `repair` (a
 * transaction pinned to the revisions seen here, applied by Ipam.repair).
 */
import type { TxnCompare, TxnOp } from '../datastore/store/types.js';
import { addressTextAt, compareNets, netContainsNet, netSizeBig, type Net } from './addr.js';
import { countsByHandle, isEmpty, ordinalsWhere, withReleased } from './block.js';
import { affinityKey, affinityNode, blockKey, handleKey, hostAffinity } from './keys.js';
import { poolOfBlock, type Pool } from './pools.js';
import type { IpamSnapshot, StoredBlock, StoredHandle } from './snapshot.js';
import type { AffinityValue, HandleValue } from './types.js';

export type ProblemKind =
  /** Addresses held by a handle that does not exist: nobody will ever release them. */
  | 'leaked-address'
  /** A handle's per-block counts disagree with what the blocks hold for it. */
  | 'handle-mismatch'
  /** One address allocated in two overlapping blocks (two workloads may share it). */
  | 'duplicate-address'
  /** Two blocks overlap (a pool recreated with another blockSize). */
  | 'overlapping-blocks'
  /** An affinity object whose block is missing or affine to another node. */
  | 'affinity-without-block'
  /** A block affine to a node that has no affinity object for it. */
  | 'block-affinity-missing'
  /** An affinity left pending by an interrupted writer. */
  | 'unconfirmed-affinity'
  /** A block inside no IP pool (its pool was deleted). */
  | 'block-outside-pools'
  /** A block value that cannot be read. */
  | 'malformed-block'
  /** A handle holding addresses for which no workload exists (a CNI DEL that never ran). */
  | 'orphan-allocation';

export type Repair = { type: 'txn'; compare: TxnCompare[]; ops: TxnOp[] } | { type: 'release-handle'; handle: string };

export interface Problem {
  kind: ProblemKind;
  /** What it is about: an address, a block CIDR, a handle id, `node/cidr` for an affinity. */
  subject: string;
  message: string;
  /** How to fix it, in words. */
  fix: string;
  /** Present when Ipam.repair can apply the fix safely. */
  repair?: Repair;
}

export interface CheckOptions {
  /**
   * The handles of every live workload (and tunnel address). When given,
   * handles holding addresses that are not in it are reported as orphans.
   */
  workloadHandles?: Iterable<string>;
}

export interface CheckReport {
  revision: number;
  counts: { pools: number; blocks: number; affinities: number; handles: number; allocations: number };
  problems: Problem[];
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function lastAddress(n: Net): bigint {
  return n.network + netSizeBig(n) - 1n;
}

export function checkIpam(snap: IpamSnapshot, pools: readonly Pool[], opts: CheckOptions = {}): CheckReport {
  const problems: Problem[] = [];
  const blocks = snap.blocks.filter((b) => b.problems.length === 0 && b.net);
  const handles = new Map<string, StoredHandle>(snap.handles.map((h) => [h.id, h]));
  const blockByCidr = new Map<string, StoredBlock>(blocks.map((b) => [b.cidr, b]));
  let allocations = 0;

  for (const b of snap.blocks) {
    if (b.problems.length === 0 && b.net) continue;
    problems.push({
      kind: 'malformed-block',
      subject: b.cidr,
      message: `block ${b.name} cannot be read: ${b.problems.join('; ')}; IPAM does not allocate from it`,
      fix: `inspect the stored ipam-block ${b.name}; if nothing uses its addresses, delete it`,
    });
  }

  // Allocations vs handles.
  const actual = new Map<string, Map<string, number>>(); // handle -> cidr -> count
  for (const b of blocks) {
    const counts = countsByHandle(b.value);
    for (const [handle, n] of counts) {
      allocations += n;
      const m = actual.get(handle) ?? new Map<string, number>();
      m.set(b.cidr, n);
      actual.set(handle, m);
      if (handles.has(handle)) continue;
      const ords = ordinalsWhere(b.value, (_o, h) => h?.handle === handle);
      const ips = ords.map((o) => addressTextAt(b.net!, o));
      const next = withReleased(b.value, ords);
      const empty = isEmpty(next) && next.affinity === null;
      problems.push({
        kind: 'leaked-address',
        subject: handle,
        message: `${ips.join(', ')} in block ${b.cidr} ${ips.length === 1 ? 'is' : 'are'} allocated to handle ${JSON.stringify(handle)}, which does not exist: releasing by handle cannot free ${ips.length === 1 ? 'it' : 'them'}`,
        fix: `release ${ips.join(', ')} (if a live workload uses ${ips.length === 1 ? 'it' : 'them'}, recreate that workload afterwards)`,
        repair: {
          type: 'txn',
          compare: [{ key: blockKey(b.cidr), revision: b.revision }, { key: handleKey(handle), revision: 0 }],
          ops: [empty ? { type: 'delete', key: blockKey(b.cidr) } : { type: 'put', key: blockKey(b.cidr), value: next }],
        },
      });
    }
  }

  for (const h of snap.handles) {
    const claimed = (typeof h.value?.blocks === 'object' && h.value.blocks !== null ? h.value.blocks : {}) as Record<string, number>;
    const real = actual.get(h.id) ?? new Map<string, number>();
    const diffs: string[] = [];
    for (const [cidr, n] of Object.entries(claimed)) {
      const has = real.get(cidr) ?? 0;
      if (has !== n) diffs.push(`says ${plural(n, 'address', 'addresses')} in ${cidr}, ${blockByCidr.has(cidr) ? `the block holds ${has}` : 'the block does not exist'}`);
    }
    for (const [cidr, n] of real) if (!(cidr in claimed)) diffs.push(`does not list ${cidr}, which holds ${plural(n, 'address', 'addresses')} for it`);
    if (diffs.length === 0 && Object.keys(claimed).length > 0) continue;
    if (diffs.length === 0) diffs.push('holds nothing');
    const fixed: Record<string, number> = Object.fromEntries(real);
    const compare: TxnCompare[] = [{ key: handleKey(h.id), revision: h.revision }];
    for (const cidr of new Set([...Object.keys(claimed), ...real.keys()])) {
      const b = blockByCidr.get(cidr);
      compare.push({ key: blockKey(cidr), revision: b?.revision ?? 0 });
    }
    const value: HandleValue = { handle: h.id, blocks: fixed };
    problems.push({
      kind: 'handle-mismatch',
      subject: h.id,
      message: `handle ${JSON.stringify(h.id)} ${diffs.join('; ')}`,
      fix: real.size === 0 ? `delete the empty handle ${JSON.stringify(h.id)}` : `rewrite handle ${JSON.stringify(h.id)} from what the blocks hold`,
      repair: { type: 'txn', compare, ops: [real.size === 0 ? { type: 'delete', key: handleKey(h.id) } : { type: 'put', key: handleKey(h.id), value }] },
    });
  }

  // Overlapping blocks and addresses held twice. Sorted by start, a block can
  // only overlap blocks that start before it ends (same-size blocks never overlap).
  const sorted = [...blocks].sort((a, b) => compareNets(a.net!, b.net!));
  const active: StoredBlock[] = [];
  for (const b of sorted) {
    for (let i = active.length - 1; i >= 0; i--) {
      const a = active[i]!;
      if (a.net!.family !== b.net!.family || lastAddress(a.net!) < b.net!.network) active.splice(i, 1);
    }
    for (const a of active) reportOverlap(a, b, pools, problems);
    active.push(b);
  }

  // Affinities vs blocks.
  const affinityOf = new Set<string>();
  for (const a of snap.affinities) {
    affinityOf.add(`${a.node}\u0000${a.cidr}`);
    const b = blockByCidr.get(a.cidr);
    const subject = `${a.node}/${a.cidr}`;
    if (!b || b.value.affinity !== hostAffinity(a.node)) {
      const why = !b ? 'the block does not exist' : b.value.affinity === null ? 'the block has no affinity' : `the block is affine to ${affinityNode(b.value.affinity) ?? b.value.affinity}`;
      problems.push({
        kind: 'affinity-without-block',
        subject,
        message: `node ${a.node} has an affinity to block ${a.cidr} but ${why}; routes and BGP may advertise a block the node does not own`,
        fix: `delete the affinity of node ${a.node} to ${a.cidr}`,
        repair: {
          type: 'txn',
          compare: [{ key: affinityKey(a.node, a.cidr), revision: a.revision }, { key: blockKey(a.cidr), revision: b?.revision ?? 0 }],
          ops: [{ type: 'delete', key: affinityKey(a.node, a.cidr) }],
        },
      });
    } else if (a.value?.state !== 'confirmed') {
      problems.push({
        kind: 'unconfirmed-affinity',
        subject,
        message: `the affinity of node ${a.node} to block ${a.cidr} is ${JSON.stringify(a.value?.state)}, left by an interrupted writer; the block names the node`,
        fix: `mark the affinity confirmed`,
        repair: {
          type: 'txn',
          compare: [{ key: affinityKey(a.node, a.cidr), revision: a.revision }, { key: blockKey(a.cidr), revision: b.revision }],
          ops: [{ type: 'put', key: affinityKey(a.node, a.cidr), value: { node: a.node, cidr: a.cidr, state: 'confirmed' } satisfies AffinityValue }],
        },
      });
    }
  }
  for (const b of blocks) {
    const node = affinityNode(b.value.affinity);
    if (node === undefined || affinityOf.has(`${node}\u0000${b.cidr}`)) continue;
    problems.push({
      kind: 'block-affinity-missing',
      subject: b.cidr,
      message: `block ${b.cidr} is affine to node ${node}, which has no affinity object for it; the node does not route or advertise it`,
      fix: `recreate the affinity of node ${node} to ${b.cidr}`,
      repair: {
        type: 'txn',
        compare: [{ key: affinityKey(node, b.cidr), revision: 0 }, { key: blockKey(b.cidr), revision: b.revision }],
        ops: [{ type: 'put', key: affinityKey(node, b.cidr), value: { node, cidr: b.cidr, state: 'confirmed' } satisfies AffinityValue }],
      },
    });
  }

  // Blocks outside every pool (disabled pools count: their blocks are legitimate).
  for (const b of blocks) {
    if (poolOfBlock(pools, b.net!)) continue;
    const used = b.value ? Object.keys(b.value.allocations).length : 0;
    const node = affinityNode(b.value.affinity);
    if (used === 0) {
      const compare: TxnCompare[] = [{ key: blockKey(b.cidr), revision: b.revision }];
      const ops: TxnOp[] = [{ type: 'delete', key: blockKey(b.cidr) }];
      const aff = node === undefined ? undefined : snap.affinities.find((a) => a.node === node && a.cidr === b.cidr);
      if (aff) {
        compare.push({ key: affinityKey(aff.node, aff.cidr), revision: aff.revision });
        ops.push({ type: 'delete', key: affinityKey(aff.node, aff.cidr) });
      }
      problems.push({
        kind: 'block-outside-pools',
        subject: b.cidr,
        message: `block ${b.cidr} is in no IP pool (its pool was deleted) and is empty`,
        fix: `delete block ${b.cidr}${aff ? ` and the affinity of node ${aff.node}` : ''}`,
        repair: { type: 'txn', compare, ops },
      });
    } else {
      problems.push({
        kind: 'block-outside-pools',
        subject: b.cidr,
        message: `block ${b.cidr} is in no IP pool (its pool was deleted) but still holds ${plural(used, 'address', 'addresses')}`,
        fix: `recreate a pool containing ${b.cidr}, or move its workloads (their CNI DEL releases the addresses and the empty block can then be deleted)`,
      });
    }
  }

  // Handles without a workload.
  if (opts.workloadHandles) {
    const live = new Set(opts.workloadHandles);
    for (const [handle, perBlock] of actual) {
      if (live.has(handle) || !handles.has(handle)) continue;
      const n = [...perBlock.values()].reduce((x, y) => x + y, 0);
      problems.push({
        kind: 'orphan-allocation',
        subject: handle,
        message: `handle ${JSON.stringify(handle)} holds ${plural(n, 'address', 'addresses')} but no workload has it (a CNI DEL that never ran)`,
        fix: `release handle ${JSON.stringify(handle)}`,
        repair: { type: 'release-handle', handle },
      });
    }
  }

  return {
    revision: snap.revision,
    counts: { pools: pools.length, blocks: snap.blocks.length, affinities: snap.affinities.length, handles: snap.handles.length, allocations },
    problems,
  };
}

function reportOverlap(a: StoredBlock, b: StoredBlock, pools: readonly Pool[], problems: Problem[]): void {
  // Which of the two matches its pool's block size (the other is stale).
  const fits = (x: StoredBlock): boolean => poolOfBlock(pools, x.net!)?.blockSize === x.net!.prefixLength;
  const [outer, inner] = netContainsNet(a.net!, b.net!) ? [a, b] : [b, a];
  const stale = fits(outer) && !fits(inner) ? inner : !fits(outer) && fits(inner) ? outer : undefined;
  // Addresses allocated in both.
  let dups = 0;
  for (const o of Object.keys(inner.value.allocations).map(Number)) {
    const addr = inner.net!.network + BigInt(o);
    const oo = Number(addr - outer.net!.network);
    const hi = inner.value.attributes[inner.value.allocations[String(o)]!]?.handle;
    const ho = outer.value.allocations[String(oo)] === undefined ? undefined : outer.value.attributes[outer.value.allocations[String(oo)]!]?.handle;
    if (ho === undefined) continue;
    dups++;
    const ip = addressTextAt(inner.net!, o);
    problems.push({
      kind: 'duplicate-address',
      subject: ip,
      message: `${ip} is allocated twice: in block ${outer.cidr} to handle ${JSON.stringify(ho)} and in block ${inner.cidr} to handle ${JSON.stringify(hi)}`,
      fix:
        hi === ho
          ? `release ${ip} from block ${(stale ?? inner).cidr} only (one workload holds both entries)`
          : `recreate the workload of handle ${JSON.stringify(stale === outer ? ho : hi)} (in ${(stale ?? inner).cidr}) so that it gets a new address; its CNI DEL frees this entry`,
    });
  }
  const emptyOne = isEmpty(inner.value) ? inner : isEmpty(outer.value) ? outer : undefined;
  const p: Problem = {
    kind: 'overlapping-blocks',
    subject: `${outer.cidr} ${inner.cidr}`,
    message: `blocks ${outer.cidr} and ${inner.cidr} overlap${dups > 0 ? ` (${plural(dups, 'address')} held in both)` : ''}; a pool was probably recreated with another blockSize`,
    fix: emptyOne
      ? `delete the empty block ${emptyOne.cidr}`
      : `move the workloads out of ${(stale ?? inner).cidr} (recreate them); once it is empty, delete it`,
  };
  if (emptyOne) {
    const node = affinityNode(emptyOne.value.affinity);
    const compare: TxnCompare[] = [{ key: blockKey(emptyOne.cidr), revision: emptyOne.revision }];
    const ops: TxnOp[] = [{ type: 'delete', key: blockKey(emptyOne.cidr) }];
    if (node !== undefined) ops.push({ type: 'delete', key: affinityKey(node, emptyOne.cidr) });
    p.repair = { type: 'txn', compare, ops };
  }
  problems.push(p);
}
