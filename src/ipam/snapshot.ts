/**
 * The whole IPAM state at one store revision, parsed: what `show` and
 * `check` work on. Because every IPAM write is one transaction, a snapshot
 * taken with a single `list({ prefix: 'ipam-' })` never shows a write half
 * done, so check() has no false positives from operations in flight.
 */
import type { KeyValue } from '../datastore/store/types.js';
import { blockAddressCount, parseStrictNet, type Net } from './addr.js';
import { blockShapeProblems } from './block.js';
import { cidrOfBlockName, CONFIG_NAME, KIND_AFFINITY, KIND_BLOCK, KIND_CONFIG, KIND_HANDLE } from './keys.js';
import { DEFAULT_IPAM_CONFIG, type AffinityValue, type BlockValue, type HandleValue, type IpamConfig } from './types.js';

export interface StoredBlock {
  /** Key name ("10.65.0.0-26"). */
  name: string;
  /** CIDR from the key name. */
  cidr: string;
  /** Undefined when the key name is not a canonical CIDR. */
  net: Net | undefined;
  /** Addresses in the block (0 when `net` is undefined). */
  size: number;
  revision: number;
  value: BlockValue;
  /** Structural problems of the stored value; a block with any is not used for allocation. */
  problems: string[];
}

export interface StoredAffinity {
  node: string;
  name: string;
  cidr: string;
  revision: number;
  value: AffinityValue;
}

export interface StoredHandle {
  id: string;
  revision: number;
  value: HandleValue;
}

export interface IpamSnapshot {
  revision: number;
  config: IpamConfig;
  blocks: StoredBlock[];
  affinities: StoredAffinity[];
  handles: StoredHandle[];
}

/** Reads a stored config leniently: missing or ill-typed fields take their defaults. */
export function parseConfig(v: unknown): IpamConfig {
  const c = (typeof v === 'object' && v !== null ? v : {}) as Partial<IpamConfig>;
  return {
    strictAffinity: typeof c.strictAffinity === 'boolean' ? c.strictAffinity : DEFAULT_IPAM_CONFIG.strictAffinity,
    maxBlocksPerHost: Number.isInteger(c.maxBlocksPerHost) && c.maxBlocksPerHost! >= 0 ? c.maxBlocksPerHost! : DEFAULT_IPAM_CONFIG.maxBlocksPerHost,
    autoAllocateBlocks: typeof c.autoAllocateBlocks === 'boolean' ? c.autoAllocateBlocks : DEFAULT_IPAM_CONFIG.autoAllocateBlocks,
  };
}

export function storedBlock(name: string, revision: number, value: unknown): StoredBlock {
  const cidr = cidrOfBlockName(name);
  const net = parseStrictNet(cidr);
  const size = net ? blockAddressCount(net) : 0;
  const problems = net ? blockShapeProblems(value, size) : [`key name ${JSON.stringify(name)} is not a block CIDR`];
  const v = value as BlockValue;
  if (net && problems.length === 0 && v.cidr !== cidr) problems.push(`value says cidr ${v.cidr} but the key is ${cidr}`);
  return { name, cidr, net, size, revision, value: v, problems };
}

export function snapshotFromList(items: readonly KeyValue[], revision: number): IpamSnapshot {
  const snap: IpamSnapshot = { revision, config: { ...DEFAULT_IPAM_CONFIG }, blocks: [], affinities: [], handles: [] };
  for (const it of items) {
    switch (it.key.kind) {
      case KIND_BLOCK:
        snap.blocks.push(storedBlock(it.key.name, it.revision, it.value));
        break;
      case KIND_AFFINITY:
        if (it.key.namespace !== undefined) {
          snap.affinities.push({ node: it.key.namespace, name: it.key.name, cidr: cidrOfBlockName(it.key.name), revision: it.revision, value: it.value as AffinityValue });
        }
        break;
      case KIND_HANDLE:
        snap.handles.push({ id: it.key.name, revision: it.revision, value: it.value as HandleValue });
        break;
      case KIND_CONFIG:
        if (it.key.name === CONFIG_NAME) snap.config = parseConfig(it.value);
        break;
      default:
        break;
    }
  }
  return snap;
}
