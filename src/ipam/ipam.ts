/**
 * Block-affinity IPAM on the store interface, with Calico's semantics
 * (libcalico-go lib/ipam) and the store's multi-key transactions.
 *
 * Safety rule: every write that depends on something read is one
 * transaction whose compares pin the mod revision of everything it was
 * derived from (the block, the handle, the affinities; 0 = "still absent").
 * A block is claimed by creating the block and its affinity together only if
 * both are absent, so two nodes never claim one block, and an address is
 * allocated by rewriting its block at the revision it was read at, so two
 * allocations of one address cannot both commit. A lost compare re-reads
 * and retries, at most `maxRetries` times per step.
 *
 * Writes whose reply is lost (etcd killed mid-request) are "in doubt": the
 * handle records a random id of the last transaction that wrote it, so
 * reading the handle back tells whether the write applied. Releases need no
 * such id: re-reading the block shows whether the address is still held.
 *
 * Order of tries for one address family (Calico's autoAssign):
 *   1. the node's affine blocks (in pools usable for this request);
 *   2. a new block for the node (pools in name order, blocks from a start
 *      point hashed from the node name), or, when none is free, an empty
 *      block of another node claimed long enough ago (reclaim);
 *   3. unless strictAffinity: any block with room, other nodes' included
 *      (borrowing).
 */
import { randomUUID } from 'node:crypto';
// errors.js and types.js, not index.js: the index loads the etcd client, which costs
// every short-lived CNI process ~150 ms even on the embedded store.
import { ConflictError, NotFoundError, StoreUnavailableError } from '../datastore/store/errors.js';
import type { Store, TxnCompare, TxnOp, TxnRequest, Versioned } from '../datastore/store/types.js';
import { logger } from '../util/log.js';
import {
  addressTextAt,
  blockAddressCount,
  blockNetOf,
  compareNets,
  formatAddress,
  netContainsAddress,
  netText,
  ordinalOf,
  parseAddress,
  parseStrictNet,
  type Family,
  type IpAddr,
  type Net,
} from './addr.js';
import { countsByHandle, freeCount, holderAt, isEmpty, newBlock, ordinalsWhere, pickFree, withAssigned, withReleased } from './block.js';
import { checkIpam, type CheckOptions, type CheckReport, type Problem } from './check.js';
import {
  IpamAddressInUseError,
  IpamContentionError,
  IpamError,
  IpamExhaustedError,
  IpamInvalidArgumentError,
  IpamNoPoolError,
  IpamNotAffineError,
  IpamUnavailableError,
} from './errors.js';
import { affinityKey, affinityNode, blockKey, checkSegment, configKey, handleKey, hostAffinity, IPAM_PREFIX, KIND_AFFINITY, KIND_BLOCK } from './keys.js';
import { choosePools, normalizePools, poolOfAddress, poolOfBlock, selectsNode, type Pool } from './pools.js';
import { findUnclaimedBlock } from './search.js';
import { buildShow, type ShowData, type ShowOptions } from './show.js';
import { parseConfig, snapshotFromList, storedBlock, type IpamSnapshot, type StoredBlock } from './snapshot.js';
import type {
  AffinityValue,
  AllocationHolder,
  AssignIpOptions,
  AutoAssignArgs,
  AutoAssignResult,
  BlockValue,
  HandleValue,
  IpamConfig,
  NodeReleaseResult,
  PoolSource,
  ReleaseResult,
} from './types.js';

const log = logger('ipam');

export interface IpamOptions {
  store: Store;
  /** The IPPools (already validated), as a list or a function read at each operation. */
  pools: PoolSource;
  /** Attempts per step when compare-and-swap loses (Calico uses 100). */
  maxRetries?: number;
  /** An empty block of another node may be reclaimed only this long after it was claimed (Calico: 1 minute). */
  emptyBlockReclaimAgeMs?: number;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
}

/** Who is allocating, for one call. */
interface Requester {
  handleId: string;
  node: string;
  holder: AllocationHolder;
}

/** How strictly a block must belong to the requester to allocate from it. */
type BlockRule = 'affine' | 'any';

interface Assigned {
  ip: string;
  cidr: string;
  ordinal: number;
}

/** What one autoAssign has read and decided, shared by both families. */
interface FamilyContext {
  pools: Pool[];
  config: IpamConfig;
  /** The node's affinities (values), read once per call. */
  affinities: (AffinityValue | undefined)[];
  req: Requester;
  args: AutoAssignArgs;
  /** Every assignment made so far in this call (for the rollback). */
  done: Assigned[];
}

/** Values the caller read just before (undefined = absent); a key left out is read afresh. */
interface PreRead {
  block?: Versioned<BlockValue> | undefined;
  handle?: Versioned<HandleValue> | undefined;
}

/** False when a block value is certainly full; true or undefined otherwise (malformed values are left to assignFromBlock). */
function isPlausiblyFree(b: BlockValue, size: number): boolean | undefined {
  if (typeof b?.allocations !== 'object' || b.allocations === null) return undefined;
  return Object.keys(b.allocations).length < size;
}

/** Writes whose outcome may be unknown this many times in one step before giving up. */
const MAX_IN_DOUBT = 3;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class Ipam {
  private readonly store: Store;
  private readonly poolSource: PoolSource;
  private readonly maxRetries: number;
  private readonly reclaimAgeMs: number;
  private readonly now: () => number;

  constructor(opts: IpamOptions) {
    this.store = opts.store;
    this.poolSource = opts.pools;
    this.maxRetries = opts.maxRetries ?? 100;
    this.reclaimAgeMs = opts.emptyBlockReclaimAgeMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    if (!Number.isInteger(this.maxRetries) || this.maxRetries < 1) throw new IpamInvalidArgumentError(`maxRetries must be a positive integer (got ${this.maxRetries})`);
  }

  // ---- pools and config ----------------------------------------------------

  async pools(): Promise<Pool[]> {
    const specs = typeof this.poolSource === 'function' ? await this.poolSource() : this.poolSource;
    return normalizePools(specs);
  }

  async getConfig(): Promise<IpamConfig> {
    return this.guard('read IPAM config', async () => parseConfig((await this.store.get(configKey))?.value));
  }

  /** Changes the IPAM configuration (compare-and-swap on the stored config). */
  async setConfig(patch: Partial<IpamConfig>): Promise<IpamConfig> {
    if (patch.maxBlocksPerHost !== undefined && (!Number.isInteger(patch.maxBlocksPerHost) || patch.maxBlocksPerHost < 0)) {
      throw new IpamInvalidArgumentError(`maxBlocksPerHost must be a whole number >= 0 (got ${patch.maxBlocksPerHost})`);
    }
    return this.guard('write IPAM config', async () => {
      for (let attempt = 0; attempt < this.maxRetries; attempt++) {
        const cur = await this.store.get(configKey);
        const next: IpamConfig = { ...parseConfig(cur?.value), ...patch };
        const ok = await this.commit({ compare: [{ key: configKey, revision: cur?.revision ?? 0 }], ops: [{ type: 'put', key: configKey, value: next }] });
        if (ok) return next;
        await this.backoff(attempt);
      }
      throw new IpamContentionError('write IPAM config', this.maxRetries);
    });
  }

  // ---- allocation ----------------------------------------------------------

  /**
   * Allocates `num4` IPv4 and `num6` IPv6 addresses to `handleId` for
   * `node`. All or nothing: when fewer can be had, what this call took is
   * released again and the error says why (IpamExhaustedError,
   * IpamNoPoolError, IpamUnavailableError, IpamContentionError).
   */
  async autoAssign(args: AutoAssignArgs): Promise<AutoAssignResult> {
    const handleId = checkSegment('handle id', args.handleId);
    const node = checkSegment('node name', args.node);
    const num4 = args.num4 ?? 0;
    const num6 = args.num6 ?? 0;
    for (const [what, n] of [['num4', num4], ['num6', num6]] as const) {
      if (!Number.isInteger(n) || n < 0 || n > 4096) throw new IpamInvalidArgumentError(`${what} must be a whole number from 0 to 4096 (got ${n})`);
    }
    if (args.maxBlocksPerHost !== undefined && (!Number.isInteger(args.maxBlocksPerHost) || args.maxBlocksPerHost < 0)) {
      throw new IpamInvalidArgumentError(`maxBlocksPerHost must be a whole number >= 0 (got ${args.maxBlocksPerHost})`);
    }
    const attrs = { node, ...(args.attrs ?? {}) };
    const req: Requester = { handleId, node, holder: { handle: handleId, attrs } };
    const done: Assigned[] = [];
    try {
      return await this.guard(`assign addresses to handle ${handleId}`, async () => {
        // Independent reads in one round trip.
        const [pools, config, affs] = await Promise.all([this.pools(), this.getConfig(), this.store.list<AffinityValue>(KIND_AFFINITY, { namespace: node })]);
        const ctx: FamilyContext = { pools, config, affinities: affs.items.map((a) => a.value), req, args, done };
        const ipv4 = num4 > 0 ? await this.assignFamily(4, num4, ctx) : [];
        const ipv6 = num6 > 0 ? await this.assignFamily(6, num6, ctx) : [];
        log.debug('ipam.assigned', { handle: handleId, node, ipv4, ipv6 });
        return { ipv4, ipv6 };
      }, () => done.length > 0);
    } catch (err) {
      if (done.length > 0) throw await this.rollback(req, done, err);
      throw err;
    }
  }

  private async assignFamily(family: Family, num: number, ctx: FamilyContext): Promise<string[]> {
    const { pools, config, req, args, done } = ctx;
    const { usable } = choosePools(pools, {
      family,
      nodeLabels: args.nodeLabels ?? {},
      use: args.use ?? 'Workload',
      ...(args.pools ? { requested: args.pools } : {}),
    });
    if (usable.length === 0) {
      const why = args.pools?.length ? `none of the requested pools (${args.pools.join(', ')}) is an IPv${family} pool` : `no enabled IPv${family} pool selects node ${req.node}`;
      throw new IpamNoPoolError(`cannot assign IPv${family} addresses to handle ${req.handleId}: ${why}${args.use && args.use !== 'Workload' ? ` for use ${args.use}` : ''}`);
    }
    const out: Assigned[] = [];
    const take = (got: Assigned[]): void => {
      out.push(...got);
      done.push(...got);
    };

    // 1. The node's affine blocks. Empty ones whose own pool is gone, disabled
    //    or no longer selects this node are let go (as Calico does).
    const affine: Net[] = [];
    for (const a of ctx.affinities) {
      const net = parseStrictNet(a?.cidr ?? '');
      if (!net || net.family !== family) continue;
      if (poolOfBlock(usable, net)) {
        affine.push(net);
        continue;
      }
      const own = poolOfBlock(pools, net);
      if (!own || own.disabled || !selectsNode(own, args.nodeLabels ?? {})) {
        await this.releaseAffinity(req.node, netText(net), true).catch((err: unknown) =>
          log.warn('ipam.release_unselected_failed', { node: req.node, block: netText(net), err: errText(err) }, 'could not release an empty block no pool selects this node for'),
        );
      }
    }
    affine.sort(compareNets);
    if (affine.length > 0) {
      // Read every affine block and the handle in one round trip; full blocks then cost nothing more.
      const hk = handleKey(req.handleId);
      const [handle, ...blocks] = await Promise.all([this.store.get<HandleValue>(hk), ...affine.map((n) => this.store.get<BlockValue>(blockKey(netText(n))))]);
      let first: PreRead | undefined = { handle };
      for (const [i, net] of affine.entries()) {
        const read = blocks[i];
        if (read && read.value?.affinity === hostAffinity(req.node) && isPlausiblyFree(read.value, blockAddressCount(net)) === false) continue;
        while (out.length < num) {
          const want = num - out.length;
          const got = await this.assignFromBlock(netText(net), want, req, 'affine', { ...first, block: read });
          first = undefined; // after a write (or a retry) the pre-read values are stale
          take(got);
          if (got.length < want) break; // the block is full (or no longer ours)
        }
        if (out.length >= num) break;
      }
    }

    // 2. New blocks for the node.
    const reasons: string[] = [];
    const limits = [config.maxBlocksPerHost, args.maxBlocksPerHost ?? 0].filter((n) => n > 0);
    const blockLimit = limits.length > 0 ? Math.min(...limits) : 0;
    let owned = affine.length;
    while (out.length < num) {
      if (!config.autoAllocateBlocks) {
        reasons.push('autoAllocateBlocks is off');
        break;
      }
      if (blockLimit > 0 && owned >= blockLimit) {
        reasons.push(`node ${req.node} already has ${owned} IPv${family} blocks, the maxBlocksPerHost limit`);
        break;
      }
      const claimed = await this.claimAndAssign(usable, num - out.length, req);
      if (!claimed) {
        reasons.push(`no free block left in pool${usable.length > 1 ? 's' : ''} ${usable.map((p) => `${p.name} (${p.cidr})`).join(', ')}`);
        break;
      }
      if (claimed.newBlock) owned++;
      take(claimed.ips);
    }

    // 3. Borrow from any block with room, unless strict affinity forbids it.
    if (out.length < num) {
      if (config.strictAffinity) reasons.push('strictAffinity forbids borrowing from blocks of other nodes');
      else take(await this.borrow(usable, num - out.length, req));
    }
    if (out.length < num) {
      throw new IpamExhaustedError(
        `cannot assign ${num} IPv${family} address${num > 1 ? 'es' : ''} to handle ${req.handleId} on node ${req.node} (found ${out.length}): ${reasons.join('; ') || 'every usable block is full'}`,
        reasons,
      );
    }
    return out.map((a) => a.ip);
  }

  /**
   * Allocates up to `n` addresses in one block, in one transaction with the
   * handle. Fewer (or none) when the block has less room, is gone, or (for
   * `affine`) is not the requester's any more.
   */
  private async assignFromBlock(cidr: string, n: number, req: Requester, rule: BlockRule, pre?: PreRead): Promise<Assigned[]> {
    const key = blockKey(cidr);
    const hk = handleKey(req.handleId);
    let inDoubt = 0;
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      await this.backoff(attempt);
      // The handle is read alongside: one round trip for both (none when the caller just read them).
      const usePre = attempt === 0 && pre !== undefined;
      const [got, h] = await Promise.all([
        usePre && 'block' in pre ? pre.block : this.store.get<BlockValue>(key),
        usePre && 'handle' in pre ? pre.handle : this.store.get<HandleValue>(hk),
      ]);
      if (!got) return [];
      const b = storedBlock(key.name, got.revision, got.value);
      if (b.problems.length > 0 || !b.net) {
        log.warn('ipam.block_unusable', { block: cidr, problems: b.problems }, 'skipping a malformed block (tabby ipam check reports it)');
        return [];
      }
      if (rule === 'affine' && b.value.affinity !== hostAffinity(req.node)) {
        // Our affinity is stale (the block was reclaimed or released): tidy up, best effort.
        await this.dropStaleAffinity(req.node, cidr).catch((err: unknown) => log.warn('ipam.stale_affinity_failed', { node: req.node, block: cidr, err: errText(err) }));
        return [];
      }
      const picks = pickFree(b.value, b.size, n);
      if (picks.length === 0) return [];
      const op = randomUUID();
      const req2: TxnRequest = {
        compare: [
          { key, revision: b.revision },
          { key: hk, revision: h?.revision ?? 0 },
        ],
        ops: [
          { type: 'put', key, value: withAssigned(b.value, b.size, picks, req.holder) },
          { type: 'put', key: hk, value: handleWith(h?.value, req.handleId, cidr, picks.length, op) },
        ],
      };
      const outcome = await this.commitAssign(req2, req.handleId, op, `assign in block ${cidr}`);
      if (outcome === 'applied') return picks.map((o) => ({ ip: addressTextAt(b.net!, o), cidr, ordinal: o }));
      if (outcome === 'in-doubt-not-applied' && ++inDoubt >= MAX_IN_DOUBT) throw unavailableAfterDoubt(`assign in block ${cidr}`);
    }
    throw new IpamContentionError(`assigning in block ${cidr} for handle ${req.handleId}`, this.maxRetries);
  }

  /**
   * Claims a new block for the node and allocates in it, in one transaction
   * that creates the block and the affinity only if both are absent. When
   * another process of the same node claimed a block meanwhile, uses that.
   * Undefined when no block is free in the pools (nor reclaimable).
   */
  private async claimAndAssign(pools: Pool[], n: number, req: Requester): Promise<{ ips: Assigned[]; newBlock: boolean } | undefined> {
    const me = hostAffinity(req.node);
    const hk = handleKey(req.handleId);
    let inDoubt = 0;
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      await this.backoff(attempt);
      const blocks = await this.listBlocks();
      const family = pools[0]!.net.family;
      const mine = blocks.find((b) => b.net && b.net.family === family && b.problems.length === 0 && b.value.affinity === me && poolOfBlock(pools, b.net) && freeCount(b.value, b.size) > 0);
      if (mine) {
        const ips = await this.assignFromBlock(mine.cidr, n, req, 'affine');
        if (ips.length > 0) return { ips, newBlock: false };
        continue;
      }
      const existing = { cidrs: new Set(blocks.map((b) => b.cidr)), nets: blocks.flatMap((b) => (b.net ? [b.net] : [])) };
      const cand = findUnclaimedBlock(pools, req.node, existing);
      if (!cand) {
        const reclaimed = await this.reclaimEmptyBlock(pools, blocks, n, req);
        if (reclaimed === 'none') return undefined;
        if (reclaimed === 'in-doubt-not-applied' && ++inDoubt >= MAX_IN_DOUBT) throw unavailableAfterDoubt('reclaim a block');
        if (Array.isArray(reclaimed)) return { ips: reclaimed, newBlock: true };
        continue;
      }
      const cidr = netText(cand);
      const size = blockAddressCount(cand);
      const ak = affinityKey(req.node, cidr);
      // A dangling affinity of ours for this block (left by a foreign writer) is simply taken over.
      const [aff, h] = await Promise.all([this.store.get(ak), this.store.get<HandleValue>(hk)]);
      const fresh = newBlock(cidr, me, new Date(this.now()).toISOString());
      const picks = pickFree(fresh, size, n);
      const op = randomUUID();
      const outcome = await this.commitAssign(
        {
          compare: [
            { key: blockKey(cidr), revision: 0 },
            { key: ak, revision: aff?.revision ?? 0 },
            { key: hk, revision: h?.revision ?? 0 },
          ],
          ops: [
            { type: 'put', key: blockKey(cidr), value: withAssigned(fresh, size, picks, req.holder) },
            { type: 'put', key: ak, value: { node: req.node, cidr, state: 'confirmed' } satisfies AffinityValue },
            { type: 'put', key: hk, value: handleWith(h?.value, req.handleId, cidr, picks.length, op) },
          ],
        },
        req.handleId,
        op,
        `claim block ${cidr}`,
      );
      if (outcome === 'applied') {
        log.info('ipam.block_claimed', { node: req.node, block: cidr }, 'claimed a new block');
        return { ips: picks.map((o) => ({ ip: addressTextAt(cand, o), cidr, ordinal: o })), newBlock: true };
      }
      if (outcome === 'in-doubt-not-applied' && ++inDoubt >= MAX_IN_DOUBT) throw unavailableAfterDoubt(`claim block ${cidr}`);
    }
    throw new IpamContentionError(`claiming a block for node ${req.node}`, this.maxRetries);
  }

  /**
   * When every block of the pools exists, takes over an empty block of
   * another node claimed at least `emptyBlockReclaimAgeMs` ago (Calico's
   * EmptyBlockMinReclaimAge, so two nodes do not bounce a block between them).
   */
  private async reclaimEmptyBlock(pools: Pool[], blocks: StoredBlock[], n: number, req: Requester): Promise<Assigned[] | 'none' | 'conflict' | 'in-doubt-not-applied'> {
    const me = hostAffinity(req.node);
    const now = this.now();
    const victim = blocks.find((b) => {
      if (!b.net || b.problems.length > 0 || b.value.affinity === me || !isEmpty(b.value) || !poolOfBlock(pools, b.net)) return false;
      const claimed = b.value.affinityClaimTime ? Date.parse(b.value.affinityClaimTime) : NaN;
      return !(now - claimed < this.reclaimAgeMs);
    });
    if (!victim || !victim.net) return 'none';
    const hk = handleKey(req.handleId);
    const oldNode = affinityNode(victim.value.affinity);
    const oldKey = oldNode === undefined ? undefined : affinityKey(oldNode, victim.cidr);
    const myKey = affinityKey(req.node, victim.cidr);
    const [oldAff, myAff, h] = await Promise.all([oldKey ? this.store.get(oldKey) : undefined, this.store.get(myKey), this.store.get<HandleValue>(hk)]);
    const base: BlockValue = { ...newBlock(victim.cidr, me, new Date(now).toISOString()), next: victim.value.next, sequence: victim.value.sequence };
    const picks = pickFree(base, victim.size, n);
    const op = randomUUID();
    const compare: TxnCompare[] = [
      { key: blockKey(victim.cidr), revision: victim.revision },
      { key: myKey, revision: myAff?.revision ?? 0 },
      { key: hk, revision: h?.revision ?? 0 },
    ];
    const ops: TxnOp[] = [
      { type: 'put', key: blockKey(victim.cidr), value: withAssigned(base, victim.size, picks, req.holder) },
      { type: 'put', key: myKey, value: { node: req.node, cidr: victim.cidr, state: 'confirmed' } satisfies AffinityValue },
      { type: 'put', key: hk, value: handleWith(h?.value, req.handleId, victim.cidr, picks.length, op) },
    ];
    if (oldKey) {
      compare.push({ key: oldKey, revision: oldAff?.revision ?? 0 });
      if (oldAff) ops.push({ type: 'delete', key: oldKey });
    }
    const outcome = await this.commitAssign({ compare, ops }, req.handleId, op, `reclaim block ${victim.cidr}`);
    if (outcome !== 'applied') return outcome;
    log.info('ipam.block_reclaimed', { node: req.node, block: victim.cidr, from: oldNode ?? null }, 'took over an empty block of another node');
    return picks.map((o) => ({ ip: addressTextAt(victim.net!, o), cidr: victim.cidr, ordinal: o }));
  }

  /** Allocates from any block with room in the pools, the node's own first. */
  private async borrow(pools: Pool[], n: number, req: Requester): Promise<Assigned[]> {
    const me = hostAffinity(req.node);
    const family = pools[0]!.net.family;
    const blocks = (await this.listBlocks()).filter((b) => b.net && b.net.family === family && b.problems.length === 0 && poolOfBlock(pools, b.net) && freeCount(b.value, b.size) > 0);
    blocks.sort((a, b) => Number(b.value.affinity === me) - Number(a.value.affinity === me) || compareNets(a.net!, b.net!));
    const out: Assigned[] = [];
    for (const b of blocks) {
      while (out.length < n) {
        const want = n - out.length;
        const got = await this.assignFromBlock(b.cidr, want, req, 'any');
        out.push(...got);
        if (got.length < want) break;
      }
      if (out.length >= n) break;
    }
    if (out.length > 0) log.info('ipam.borrowed', { node: req.node, handle: req.handleId, ips: out.map((a) => a.ip) }, 'borrowed addresses from blocks of other nodes');
    return out;
  }

  /**
   * Allocates one specific address to a handle. The block is claimed for
   * `opts.node` when it does not exist. IpamAddressInUseError when taken;
   * IpamNotAffineError under strict affinity when the block is another node's.
   */
  async assignIp(ip: string, handleId: string, opts: AssignIpOptions = {}): Promise<void> {
    const addr = parseAddress(ip);
    if (!addr) throw new IpamInvalidArgumentError(`not an IP address: ${JSON.stringify(ip)}`);
    checkSegment('handle id', handleId);
    if (opts.node !== undefined) checkSegment('node name', opts.node);
    const text = formatAddress(addr);
    const holder: AllocationHolder = { handle: handleId, attrs: { ...(opts.node === undefined ? {} : { node: opts.node }), ...(opts.attrs ?? {}) } };
    const hk = handleKey(handleId);
    await this.guard(`assign ${text} to handle ${handleId}`, async () => {
      const pool = poolOfAddress((await this.pools()).filter((p) => !p.disabled), addr);
      if (!pool) throw new IpamInvalidArgumentError(`${text} is not in any enabled IP pool`);
      const config = await this.getConfig();
      let inDoubt = 0;
      for (let attempt = 0; attempt < this.maxRetries; attempt++) {
        await this.backoff(attempt);
        let net = blockNetOf(addr, pool.blockSize);
        let got = await this.store.get<BlockValue>(blockKey(netText(net)));
        if (!got) {
          // A block of another size (a pool recreated with a new blockSize) may already cover the address.
          const covering = (await this.listBlocks()).find((b) => b.net && netContainsAddress(b.net, addr));
          if (covering?.net) {
            net = covering.net;
            got = { value: covering.value, revision: covering.revision };
          }
        }
        const cidr = netText(net);
        const key = blockKey(cidr);
        const ordinal = ordinalOf(net, addr)!;
        const h = await this.store.get<HandleValue>(hk);
        const op = randomUUID();
        let request: TxnRequest;
        if (!got) {
          if (opts.node === undefined) throw new IpamInvalidArgumentError(`block ${cidr} of ${text} does not exist yet: name the node that should claim it`);
          const size = blockAddressCount(net);
          const fresh = newBlock(cidr, hostAffinity(opts.node), new Date(this.now()).toISOString());
          const ak = affinityKey(opts.node, cidr);
          const aff = await this.store.get(ak);
          request = {
            compare: [
              { key, revision: 0 },
              { key: ak, revision: aff?.revision ?? 0 },
              { key: hk, revision: h?.revision ?? 0 },
            ],
            ops: [
              { type: 'put', key, value: { ...withAssigned(fresh, size, [ordinal], holder), next: fresh.next } },
              { type: 'put', key: ak, value: { node: opts.node, cidr, state: 'confirmed' } satisfies AffinityValue },
              { type: 'put', key: hk, value: handleWith(h?.value, handleId, cidr, 1, op) },
            ],
          };
        } else {
          const b = storedBlock(key.name, got.revision, got.value);
          if (b.problems.length > 0) throw new IpamInvalidArgumentError(`block ${cidr} is malformed (${b.problems.join('; ')}): run tabby ipam check`);
          if (config.strictAffinity && b.value.affinity !== (opts.node === undefined ? undefined : hostAffinity(opts.node))) {
            throw new IpamNotAffineError(`cannot assign ${text}: block ${cidr} is affine to ${affinityNode(b.value.affinity) ?? 'no node'} and strictAffinity is on`);
          }
          const holderNow = holderAt(b.value, ordinal);
          if (holderNow) throw new IpamAddressInUseError(text, holderNow.handle);
          request = {
            compare: [
              { key, revision: b.revision },
              { key: hk, revision: h?.revision ?? 0 },
            ],
            // A specific assignment leaves the block's cursor alone.
            ops: [
              { type: 'put', key, value: { ...withAssigned(b.value, b.size, [ordinal], holder), next: b.value.next } },
              { type: 'put', key: hk, value: handleWith(h?.value, handleId, cidr, 1, op) },
            ],
          };
        }
        const outcome = await this.commitAssign(request, handleId, op, `assign ${text}`);
        if (outcome === 'applied') return;
        if (outcome === 'in-doubt-not-applied' && ++inDoubt >= MAX_IN_DOUBT) throw unavailableAfterDoubt(`assign ${text}`);
      }
      throw new IpamContentionError(`assigning ${text}`, this.maxRetries);
    }, () => true);
  }

  // ---- release -------------------------------------------------------------

  /**
   * Releases every address of a handle and deletes the handle. Idempotent:
   * an unknown handle (or a second call) releases nothing and succeeds.
   */
  async releaseByHandle(handleId: string): Promise<{ released: string[] }> {
    checkSegment('handle id', handleId);
    return this.guard(`release handle ${handleId}`, async () => {
      const h = await this.store.get<HandleValue>(handleKey(handleId));
      if (!h) return { released: [] };
      const released: string[] = [];
      for (const cidr of Object.keys(h.value?.blocks ?? {})) {
        released.push(...(await this.releaseFromBlock(cidr, (_o, holder) => holder?.handle === handleId, 'drop')));
        // Whatever the block held, the handle no longer points at it.
        await this.dropHandleBlock(handleId, cidr);
      }
      await this.dropHandleBlock(handleId, undefined);
      log.debug('ipam.released_handle', { handle: handleId, released });
      return { released };
    });
  }

  /** Releases specific addresses (whoever holds them). */
  async releaseIps(ips: readonly string[]): Promise<ReleaseResult> {
    const addrs = ips.map((t) => {
      const a = parseAddress(t);
      if (!a) throw new IpamInvalidArgumentError(`not an IP address: ${JSON.stringify(t)}`);
      return a;
    });
    return this.guard('release addresses', async () => {
      const blocks = await this.listBlocks();
      const byBlock = new Map<string, Set<number>>();
      for (const a of addrs) {
        // Every block containing it: overlapping blocks (a corruption) are all cleaned.
        for (const b of blocks) {
          if (!b.net || !netContainsAddress(b.net, a)) continue;
          const set = byBlock.get(b.cidr) ?? new Set<number>();
          set.add(ordinalOf(b.net, a)!);
          byBlock.set(b.cidr, set);
        }
      }
      const released = new Set<string>();
      for (const [cidr, ords] of byBlock) {
        for (const ip of await this.releaseFromBlock(cidr, (o) => ords.has(o), 'decrement')) released.add(ip);
      }
      const texts = addrs.map(formatAddress);
      return { released: texts.filter((t) => released.has(t)), notAllocated: texts.filter((t) => !released.has(t)) };
    });
  }

  /**
   * Frees the ordinals of one block selected by `select`, updating (or
   * deleting) every handle concerned in the same transaction. An empty
   * block without affinity is deleted. `handleMode` 'drop' removes the
   * block from the handles entirely (release by handle), 'decrement'
   * subtracts what was freed.
   */
  private async releaseFromBlock(cidr: string, select: (ordinal: number, holder: AllocationHolder | undefined) => boolean, handleMode: 'drop' | 'decrement'): Promise<string[]> {
    const key = blockKey(cidr);
    const net = parseStrictNet(cidr);
    if (!net) return [];
    let inDoubtOrds: number[] = [];
    let inDoubt = 0;
    let pinned: Map<number, string | undefined> | undefined;
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      await this.backoff(attempt);
      const got = await this.store.get<BlockValue>(key);
      const b = got ? storedBlock(key.name, got.revision, got.value) : undefined;
      if (b && (b.problems.length > 0 || !b.net)) throw new IpamInvalidArgumentError(`block ${cidr} is malformed (${b.problems.join('; ')}): run tabby ipam check`);
      // The holders seen first are pinned: a retry never frees an address that was released and reallocated meanwhile.
      const ords = b ? ordinalsWhere(b.value, (o, h) => select(o, h) && (pinned === undefined || pinned.get(o) === h?.handle)) : [];
      pinned ??= new Map(ords.map((o) => [o, holderAt(b!.value, o)?.handle]));
      // After a write whose reply was lost, the addresses being gone means it applied.
      if (!b || ords.length === 0) return inDoubtOrds.map((o) => addressTextAt(net, o));
      const next = withReleased(b.value, ords);
      const compare: TxnCompare[] = [{ key, revision: b.revision }];
      const ops: TxnOp[] = [isEmpty(next) && next.affinity === null ? { type: 'delete', key } : { type: 'put', key, value: next }];
      for (const [handle, count] of countsByHandle(b.value, ords)) {
        const hk = handleKey(handle);
        const h = await this.store.get<HandleValue>(hk);
        compare.push({ key: hk, revision: h?.revision ?? 0 });
        if (!h) continue; // a leaked allocation: nothing to update
        const blocksLeft = { ...(h.value?.blocks ?? {}) };
        const left = (blocksLeft[cidr] ?? 0) - count;
        if (handleMode === 'drop' || left <= 0) delete blocksLeft[cidr];
        else blocksLeft[cidr] = left;
        ops.push(Object.keys(blocksLeft).length === 0 ? { type: 'delete', key: hk } : { type: 'put', key: hk, value: { ...h.value, blocks: blocksLeft } });
      }
      try {
        const r = await this.store.txn({ compare, ops });
        if (r.succeeded) return ords.map((o) => addressTextAt(net, o));
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        if (++inDoubt >= MAX_IN_DOUBT) throw new IpamUnavailableError(`release in block ${cidr}: ${err.message}`, false, err);
        inDoubtOrds = ords;
      }
    }
    throw new IpamContentionError(`releasing in block ${cidr}`, this.maxRetries);
  }

  /** Removes `cidr` from a handle's blocks (all of them, with undefined: deletes an empty handle). */
  private async dropHandleBlock(handleId: string, cidr: string | undefined): Promise<void> {
    const hk = handleKey(handleId);
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      await this.backoff(attempt);
      const h = await this.store.get<HandleValue>(hk);
      if (!h) return;
      const blocks = { ...(h.value?.blocks ?? {}) };
      if (cidr !== undefined) {
        if (!(cidr in blocks)) return;
        delete blocks[cidr];
      }
      try {
        if (Object.keys(blocks).length === 0) await this.store.delete(hk, { expectRevision: h.revision });
        else if (cidr !== undefined) await this.store.update(hk, { ...h.value, blocks }, { expectRevision: h.revision });
        return;
      } catch (err) {
        if (err instanceof NotFoundError) return;
        if (err instanceof ConflictError) continue;
        if (err instanceof StoreUnavailableError) continue; // re-read decides
        throw err;
      }
    }
    throw new IpamContentionError(`updating handle ${handleId}`, this.maxRetries);
  }

  /**
   * Releases the node's affinity to a block: an empty block is deleted with
   * it; a block still holding addresses is kept without affinity (its
   * addresses stay valid, nobody claims it, releasing the last one deletes
   * it). With `requireEmpty`, a non-empty block is left alone.
   */
  private async releaseAffinity(node: string, cidr: string, requireEmpty: boolean): Promise<'deleted' | 'orphaned' | 'not-empty' | 'not-ours' | 'gone'> {
    const bk = blockKey(cidr);
    const ak = affinityKey(node, cidr);
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      await this.backoff(attempt);
      const [aff, got] = await Promise.all([this.store.get(ak), this.store.get<BlockValue>(bk)]);
      if (!got || got.value?.affinity !== hostAffinity(node)) {
        if (aff) await this.dropStaleAffinity(node, cidr);
        return got ? 'not-ours' : 'gone';
      }
      const empty = isEmpty(got.value);
      if (requireEmpty && !empty) return 'not-empty';
      const compare: TxnCompare[] = [
        { key: bk, revision: got.revision },
        { key: ak, revision: aff?.revision ?? 0 },
      ];
      const orphan: BlockValue = { ...got.value, affinity: null, sequence: got.value.sequence + 1 };
      delete orphan.affinityClaimTime;
      const ops: TxnOp[] = [empty ? { type: 'delete', key: bk } : { type: 'put', key: bk, value: orphan }];
      if (aff) ops.push({ type: 'delete', key: ak });
      try {
        const r = await this.store.txn({ compare, ops });
        if (r.succeeded) {
          log.info('ipam.affinity_released', { node, block: cidr, blockDeleted: empty }, empty ? 'released an empty block' : 'released affinity; the block keeps its addresses');
          return empty ? 'deleted' : 'orphaned';
        }
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        // Re-read: the block being gone or not ours any more means it applied.
      }
    }
    throw new IpamContentionError(`releasing the affinity of node ${node} to block ${cidr}`, this.maxRetries);
  }

  /** Deletes the node's affinity object for a block that is not (or no longer) the node's. */
  private async dropStaleAffinity(node: string, cidr: string): Promise<void> {
    const ak = affinityKey(node, cidr);
    const bk = blockKey(cidr);
    for (let attempt = 0; attempt < 3; attempt++) {
      const [aff, got] = await Promise.all([this.store.get(ak), this.store.get<BlockValue>(bk)]);
      if (!aff || got?.value?.affinity === hostAffinity(node)) return;
      // Pin the block too: if the node claims it meanwhile, the affinity is no longer stale.
      const r = await this.store.txn({ compare: [{ key: ak, revision: aff.revision }, { key: bk, revision: got?.revision ?? 0 }], ops: [{ type: 'delete', key: ak }] });
      if (r.succeeded) {
        log.info('ipam.stale_affinity_deleted', { node, block: cidr }, 'deleted an affinity whose block is not the node\'s');
        return;
      }
    }
  }

  /** Deletes the node's empty affine blocks (and their affinities). Returns their CIDRs. */
  async releaseEmptyBlocks(node: string): Promise<string[]> {
    checkSegment('node name', node);
    return this.guard(`release empty blocks of node ${node}`, async () => {
      const out: string[] = [];
      for (const cidr of await this.affineCidrs(node)) {
        if ((await this.releaseAffinity(node, cidr, true)) === 'deleted') out.push(cidr);
      }
      return out;
    });
  }

  /**
   * On node removal: releases every affinity of the node. Empty blocks are
   * deleted; blocks still holding addresses are kept without affinity (their
   * workloads' addresses are not released; the CNI DEL of each does that).
   */
  async releaseNodeAffinities(node: string): Promise<NodeReleaseResult> {
    checkSegment('node name', node);
    return this.guard(`release affinities of node ${node}`, async () => {
      const cidrs = new Set(await this.affineCidrs(node));
      // Blocks that name the node even though its affinity object is missing.
      for (const b of await this.listBlocks()) if (b.value?.affinity === hostAffinity(node)) cidrs.add(b.cidr);
      const result: NodeReleaseResult = { deleted: [], orphaned: [] };
      for (const cidr of cidrs) {
        const r = await this.releaseAffinity(node, cidr, false);
        if (r === 'deleted') result.deleted.push(cidr);
        else if (r === 'orphaned') result.orphaned.push(cidr);
      }
      return result;
    });
  }

  // ---- queries -------------------------------------------------------------

  /**
   * The node's blocks for routing and BGP export: confirmed affinities whose
   * block exists and names the node. Sorted (IPv4 first).
   */
  async blocksOfNode(node: string, family?: Family): Promise<string[]> {
    checkSegment('node name', node);
    return this.guard(`list blocks of node ${node}`, async () => {
      const affs = await this.store.list<AffinityValue>(KIND_AFFINITY, { namespace: node });
      const nets: Net[] = [];
      for (const a of affs.items) {
        if (a.value?.state !== 'confirmed') continue;
        const net = parseStrictNet(a.value.cidr);
        if (!net || (family !== undefined && net.family !== family)) continue;
        const b = await this.store.get<BlockValue>(blockKey(a.value.cidr));
        if (b?.value?.affinity === hostAffinity(node)) nets.push(net);
      }
      return nets.sort(compareNets).map(netText);
    });
  }

  /** Addresses allocated for `node` inside blocks that are not its own (each needs a /32 or /128 route). */
  async borrowedAddresses(node: string): Promise<string[]> {
    checkSegment('node name', node);
    return this.guard(`list borrowed addresses of node ${node}`, async () => {
      const out: IpAddr[] = [];
      for (const b of await this.listBlocks()) {
        if (!b.net || b.problems.length > 0 || b.value.affinity === hostAffinity(node)) continue;
        for (const o of ordinalsWhere(b.value, (_o, h) => h?.attrs?.node === node)) out.push({ family: b.net.family, value: b.net.network + BigInt(o) });
      }
      return out.sort((x, y) => x.family - y.family || (x.value < y.value ? -1 : x.value > y.value ? 1 : 0)).map(formatAddress);
    });
  }

  /** The addresses a handle holds. */
  async ipsByHandle(handleId: string): Promise<string[]> {
    checkSegment('handle id', handleId);
    return this.guard(`list addresses of handle ${handleId}`, async () => {
      const h = await this.store.get<HandleValue>(handleKey(handleId));
      const out: string[] = [];
      for (const cidr of Object.keys(h?.value?.blocks ?? {})) {
        const got = await this.store.get<BlockValue>(blockKey(cidr));
        if (!got) continue;
        const b = storedBlock(blockKey(cidr).name, got.revision, got.value);
        if (!b.net || b.problems.length > 0) continue;
        out.push(...ordinalsWhere(b.value, (_o, holder) => holder?.handle === handleId).map((o) => addressTextAt(b.net!, o)));
      }
      return out;
    });
  }

  /** Everything IPAM stores, at one revision. */
  async snapshot(): Promise<IpamSnapshot> {
    return this.guard('read IPAM state', async () => {
      const l = await this.store.list({ prefix: IPAM_PREFIX });
      return snapshotFromList(l.items, l.revision);
    });
  }

  /** Data for `tabby ipam show [--ip ADDR]`. */
  async show(opts: ShowOptions = {}): Promise<ShowData> {
    const [snap, pools] = await Promise.all([this.snapshot(), this.pools()]);
    return buildShow(snap, pools, opts);
  }

  /** Data for `tabby ipam check`: problems found, each with a fix. */
  async check(opts: CheckOptions = {}): Promise<CheckReport> {
    const [snap, pools] = await Promise.all([this.snapshot(), this.pools()]);
    return checkIpam(snap, pools, opts);
  }

  /**
   * Applies the automatic fixes of check() problems. Each fix is a
   * transaction pinned to the revisions check() saw, so a fix for a state
   * that has changed since does nothing (run check again). Returns what was
   * done, one line per problem fixed; problems without a safe automatic fix
   * (an address held twice) are skipped.
   */
  async repair(problems: readonly Problem[]): Promise<string[]> {
    const done: string[] = [];
    for (const p of problems) {
      const r = p.repair;
      if (!r) continue;
      const ok = await this.guard(`repair ${p.kind}`, async () => {
        if (r.type === 'release-handle') {
          await this.releaseByHandle(r.handle);
          return true;
        }
        const res = await this.store.txn({ compare: r.compare, ops: r.ops });
        return res.succeeded;
      });
      if (ok) done.push(`${p.kind}: ${p.fix}`);
    }
    return done;
  }

  // ---- plumbing ------------------------------------------------------------

  private async affineCidrs(node: string): Promise<string[]> {
    const affs = await this.store.list<AffinityValue>(KIND_AFFINITY, { namespace: node });
    return affs.items.map((a) => a.value?.cidr).filter((c): c is string => typeof c === 'string' && parseStrictNet(c) !== undefined);
  }

  private async listBlocks(): Promise<StoredBlock[]> {
    const l = await this.store.list<BlockValue>(KIND_BLOCK);
    return l.items.map((i) => storedBlock(i.key.name, i.revision, i.value));
  }

  /** A plain transaction; a lost reply counts as "not applied" and the caller re-reads. */
  private async commit(req: TxnRequest): Promise<boolean> {
    try {
      return (await this.store.txn(req)).succeeded;
    } catch (err) {
      if (err instanceof StoreUnavailableError) return false;
      throw err;
    }
  }

  /**
   * An allocating transaction (it writes the handle with `op`). When its
   * reply is lost, reads the handle back: `op` there means it applied.
   */
  private async commitAssign(req: TxnRequest, handleId: string, op: string, what: string): Promise<'applied' | 'conflict' | 'in-doubt-not-applied'> {
    try {
      return (await this.store.txn(req)).succeeded ? 'applied' : 'conflict';
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      let h;
      try {
        h = await this.store.get<HandleValue>(handleKey(handleId));
      } catch (err2) {
        throw new IpamUnavailableError(
          `${what}: the datastore became unreachable during the write and its outcome is unknown; handle ${handleId} may hold addresses: release it by handle once the datastore is back (${errText(err2)})`,
          true,
          err2,
        );
      }
      if (h?.value?.op === op) {
        log.info('ipam.in_doubt_applied', { handle: handleId, what }, 'a write whose reply was lost had applied');
        return 'applied';
      }
      return 'in-doubt-not-applied';
    }
  }

  /** No wait for the first tries; then a short random wait, so contending writers spread out. */
  private async backoff(attempt: number): Promise<void> {
    if (attempt < 2) return;
    await sleep(Math.random() * Math.min(100, attempt * 4));
  }

  /** Maps store unavailability to IpamUnavailableError; `inDoubt` says whether writes may have happened. */
  private async guard<T>(what: string, fn: () => Promise<T>, inDoubt: () => boolean = () => false): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof IpamError) throw err;
      if (err instanceof StoreUnavailableError) {
        const doubt = inDoubt();
        throw new IpamUnavailableError(`${what}: datastore unavailable: ${err.message}${doubt ? '; some addresses may already be held: release by handle once it is back' : ''}`, doubt, err);
      }
      throw err;
    }
  }

  /** Undoes the assignments of a failed autoAssign; the returned error says what could not be undone. */
  private async rollback(req: Requester, done: Assigned[], cause: unknown): Promise<Error> {
    const byBlock = new Map<string, Set<number>>();
    for (const a of done) byBlock.set(a.cidr, (byBlock.get(a.cidr) ?? new Set<number>()).add(a.ordinal));
    try {
      for (const [cidr, ords] of byBlock) {
        await this.releaseFromBlock(cidr, (o, h) => ords.has(o) && h?.handle === req.handleId, 'decrement');
      }
      return cause instanceof Error ? cause : new Error(String(cause));
    } catch (err) {
      const msg = `${errText(cause)}; besides, ${done.length} address(es) taken before the failure could not be released (${errText(err)}): release handle ${req.handleId}`;
      return cause instanceof IpamError ? new IpamUnavailableError(msg, true, cause) : new Error(msg, { cause });
    }
  }
}

/** A handle value with `count` more addresses in `cidr`, stamped with `op`. */
function handleWith(cur: HandleValue | undefined, handleId: string, cidr: string, count: number, op: string): HandleValue {
  const blocks = { ...(cur?.blocks ?? {}) };
  blocks[cidr] = (blocks[cidr] ?? 0) + count;
  return { handle: handleId, blocks, op };
}

function unavailableAfterDoubt(what: string): IpamUnavailableError {
  return new IpamUnavailableError(`${what}: the datastore kept failing during writes (${MAX_IN_DOUBT} writes lost); nothing was assigned`, false);
}


