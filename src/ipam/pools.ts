/**
 * Pools as IPAM uses them: parsed once, selectors compiled, and the choice
 * of pools for one request (family, enabled, nodeSelector, allowedUses, or
 * an explicit list). Pure.
 */
import type { IPPool } from '../datastore/resources/ippool.js';
import { parseSelector, type Selector } from '../policy/selector/index.js';
import { netContainsAddress, netContainsNet, netText, parseNet, type Family, type IpAddr, type Net } from './addr.js';
import { IpamInvalidArgumentError, IpamNoPoolError } from './errors.js';
import type { IpamPoolSpec, PoolUse } from './types.js';

export const DEFAULT_BLOCK_SIZE: Record<Family, number> = { 4: 26, 6: 122 };
/** Calico's accepted block sizes: at most 4096 addresses per block. */
const BLOCK_SIZE_RANGE: Record<Family, [number, number]> = { 4: [20, 32], 6: [116, 128] };

export interface Pool {
  name: string;
  /** Canonical CIDR text. */
  cidr: string;
  net: Net;
  blockSize: number;
  nodeSelector: string;
  selector: Selector;
  disabled: boolean;
  allowedUses: PoolUse[];
}

const selectorCache = new Map<string, Selector>();

function compileSelector(text: string, pool: string): Selector {
  let s = selectorCache.get(text);
  if (!s) {
    try {
      s = parseSelector(text);
    } catch (err) {
      throw new IpamInvalidArgumentError(`pool ${pool}: bad nodeSelector ${JSON.stringify(text)}: ${(err as Error).message}`);
    }
    if (selectorCache.size > 1000) selectorCache.clear();
    selectorCache.set(text, s);
  }
  return s;
}

export function normalizePool(spec: IpamPoolSpec): Pool {
  const net = parseNet(spec.cidr);
  if (!net) throw new IpamInvalidArgumentError(`pool ${spec.name}: bad cidr ${JSON.stringify(spec.cidr)}`);
  const blockSize = spec.blockSize === undefined || spec.blockSize === 0 ? DEFAULT_BLOCK_SIZE[net.family] : spec.blockSize;
  const [min, max] = BLOCK_SIZE_RANGE[net.family];
  if (!Number.isInteger(blockSize) || blockSize < min || blockSize > max) {
    throw new IpamInvalidArgumentError(`pool ${spec.name}: blockSize ${blockSize} outside ${min}-${max} for IPv${net.family}`);
  }
  if (blockSize < net.prefixLength) throw new IpamInvalidArgumentError(`pool ${spec.name}: ${spec.cidr} is smaller than one /${blockSize} block`);
  const nodeSelector = spec.nodeSelector === undefined || spec.nodeSelector.trim() === '' ? 'all()' : spec.nodeSelector;
  return {
    name: spec.name,
    cidr: netText(net),
    net,
    blockSize,
    nodeSelector,
    selector: compileSelector(nodeSelector, spec.name),
    disabled: spec.disabled === true,
    allowedUses: spec.allowedUses && spec.allowedUses.length > 0 ? [...spec.allowedUses] : ['Workload', 'Tunnel'],
  };
}

/** Pools sorted by name (then CIDR), so every process walks them in the same order. */
export function normalizePools(specs: readonly IpamPoolSpec[]): Pool[] {
  return specs.map(normalizePool).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0));
}

/** An IPPool resource (src/datastore/resources) as IPAM's pool spec. */
export function poolFromResource(r: IPPool): IpamPoolSpec {
  return {
    name: r.metadata.name,
    cidr: r.spec.cidr,
    blockSize: r.spec.blockSize,
    nodeSelector: r.spec.nodeSelector,
    disabled: r.spec.disabled,
    allowedUses: r.spec.allowedUses,
  };
}

export function selectsNode(pool: Pool, labels: Record<string, string>): boolean {
  return pool.selector.evaluate(labels);
}

export interface PoolChoice {
  family: Family;
  nodeLabels: Record<string, string>;
  use: PoolUse;
  /** Names or CIDRs; when given, exactly these (enabled) pools, whatever their nodeSelector. */
  requested?: readonly string[];
}

/**
 * The pools one request may allocate from, following Calico's
 * determinePools: enabled pools of the family; an explicit list is used
 * as is (an unknown or disabled entry is an error); otherwise the pools whose
 * nodeSelector matches the node; then those allowing the use.
 */
export function choosePools(pools: readonly Pool[], c: PoolChoice): { usable: Pool[]; selectingNode: Pool[] } {
  const enabled = pools.filter((p) => !p.disabled && p.net.family === c.family);
  let selectingNode: Pool[];
  if (c.requested && c.requested.length > 0) {
    selectingNode = [];
    for (const r of c.requested) {
      const rn = parseNet(r);
      const hit = pools.find((p) => p.name === r || (rn !== undefined && p.net.family === rn.family && p.net.network === rn.network && p.net.prefixLength === rn.prefixLength));
      if (!hit) throw new IpamNoPoolError(`requested pool ${JSON.stringify(r)} does not exist`);
      if (hit.disabled) throw new IpamNoPoolError(`requested pool ${hit.name} (${hit.cidr}) is disabled`);
      if (hit.net.family !== c.family) continue;
      if (!selectingNode.includes(hit)) selectingNode.push(hit);
    }
  } else {
    selectingNode = enabled.filter((p) => selectsNode(p, c.nodeLabels));
  }
  return { usable: selectingNode.filter((p) => p.allowedUses.includes(c.use)), selectingNode };
}

/** The pool containing an address (the first by name, should pools overlap). */
export function poolOfAddress(pools: readonly Pool[], ip: IpAddr): Pool | undefined {
  return pools.find((p) => netContainsAddress(p.net, ip));
}

/** The pool a block belongs to: the one containing it entirely. */
export function poolOfBlock(pools: readonly Pool[], block: Net): Pool | undefined {
  return pools.find((p) => netContainsNet(p.net, block));
}
