/**
 * Where IPAM keeps its objects in the store (see README.md). All kinds share
 * the `ipam-` prefix so one `list({ prefix: 'ipam-' })` is a consistent
 * snapshot of the whole IPAM state (show and check rely on that).
 */
import type { StoreKey } from '../datastore/store/types.js';
import { IpamInvalidArgumentError } from './errors.js';

export const IPAM_PREFIX = 'ipam-';
export const KIND_BLOCK = 'ipam-block';
export const KIND_AFFINITY = 'ipam-affinity';
export const KIND_HANDLE = 'ipam-handle';
export const KIND_CONFIG = 'ipam-config';
export const CONFIG_NAME = 'default';

/** A CIDR as a key segment: `/` is not allowed there, so "10.65.0.0/26" -> "10.65.0.0-26". */
export function blockName(cidr: string): string {
  return cidr.replace('/', '-');
}

/** The inverse of blockName (addresses never contain `-`). */
export function cidrOfBlockName(name: string): string {
  const i = name.lastIndexOf('-');
  return i < 0 ? name : `${name.slice(0, i)}/${name.slice(i + 1)}`;
}

export function blockKey(cidr: string): StoreKey {
  return { kind: KIND_BLOCK, name: blockName(cidr) };
}

/** Affinities are namespaced by node, so one node's are one `list`. */
export function affinityKey(node: string, cidr: string): StoreKey {
  return { kind: KIND_AFFINITY, namespace: node, name: blockName(cidr) };
}

export function handleKey(handleId: string): StoreKey {
  return { kind: KIND_HANDLE, name: handleId };
}

export const configKey: StoreKey = { kind: KIND_CONFIG, name: CONFIG_NAME };

/** The block's `affinity` field for a node (Calico's `host:<name>`). */
export function hostAffinity(node: string): string {
  return `host:${node}`;
}

/** The node of a `host:<name>` affinity; undefined for null or another affinity type. */
export function affinityNode(affinity: string | null | undefined): string | undefined {
  return typeof affinity === 'string' && affinity.startsWith('host:') ? affinity.slice(5) : undefined;
}

const SEGMENT = /^[^/\u0000-\u001f\u007f]{1,512}$/;

/** Handle ids and node names become key segments: no `/`, no control characters. */
export function checkSegment(what: string, value: unknown): string {
  if (typeof value !== 'string' || !SEGMENT.test(value) || value === '.' || value === '..') {
    throw new IpamInvalidArgumentError(`invalid ${what} ${JSON.stringify(value)}: 1-512 characters, no '/' or control characters`);
  }
  return value;
}
