/**
 * ipsets as data: a set's name, its metadata (type, family, capacity) and its
 * members, plus the rendering of `ipset restore` lines.
 *
 * tabby's sets are named `tabby-...`, at most 31 characters (IPSET_MAXNAMELEN
 * is 32 with the NUL); longer names are hashed down deterministically.
 */
import { fitName, OWNED_PREFIX } from '../iptables/names.js';
import { canonicalMembers, isValidSetName, type IpFamily, type IpSetType } from './members.js';

export type { IpFamily, IpSetType };

export const MAX_SET_NAME = 31;
/** Capacity of hash sets unless asked otherwise. Hash sets grow on demand, so a large bound costs nothing up front. */
export const DEFAULT_MAXELEM = 1_048_576;
/** ipset's default size of a list:set. */
export const DEFAULT_LIST_SIZE = 8;

export interface IpSetSpec {
  name: string;
  type: IpSetType;
  /** Address family of hash sets; `inet` unless given. Ignored for list:set. */
  family?: IpFamily;
  /** maxelem of hash sets, size of list:set. */
  maxElem?: number;
  members: Iterable<string>;
}

export interface IpSetMeta {
  type: IpSetType;
  /** null for list:set, which has no family. */
  family: IpFamily | null;
  maxElem: number;
}

/** A set in canonical form: what tabby wants, or what it read back. */
export interface IpSetState {
  meta: IpSetMeta;
  members: Set<string>;
}

/** A tabby set name: `tabby-<suffix>`, hashed down to 31 characters when longer. */
export function tabbySetName(suffix: string, prefix = OWNED_PREFIX): string {
  const name = fitName(prefix + suffix, MAX_SET_NAME);
  if (!isValidSetName(name)) throw new Error(`invalid ipset name ${JSON.stringify(name)}`);
  return name;
}

export function metaOf(spec: Omit<IpSetSpec, 'members' | 'name'>): IpSetMeta {
  if (spec.type === 'list:set') return { type: spec.type, family: null, maxElem: spec.maxElem ?? DEFAULT_LIST_SIZE };
  return { type: spec.type, family: spec.family ?? 'inet', maxElem: spec.maxElem ?? DEFAULT_MAXELEM };
}

export function sameMeta(a: IpSetMeta, b: IpSetMeta): boolean {
  return a.type === b.type && a.family === b.family && a.maxElem === b.maxElem;
}

/** `ipset swap` only exchanges sets of the same type and family. */
export function swappable(a: IpSetMeta, b: IpSetMeta): boolean {
  return a.type === b.type && a.family === b.family;
}

/** Validate and canonicalise a spec. Throws MemberError / Error on bad input. */
export function canonicalSet(spec: IpSetSpec, prefix = OWNED_PREFIX): IpSetState {
  if (!spec.name.startsWith(prefix)) throw new Error(`ipset ${JSON.stringify(spec.name)} is not owned by tabby (must start with ${prefix})`);
  if (!isValidSetName(spec.name)) throw new Error(`invalid ipset name ${JSON.stringify(spec.name)} (at most ${MAX_SET_NAME} characters; use tabbySetName)`);
  const meta = metaOf(spec);
  if (!Number.isInteger(meta.maxElem) || meta.maxElem < 1) throw new Error(`ipset ${spec.name}: bad maxElem ${meta.maxElem}`);
  const members = canonicalMembers(meta.type, meta.family ?? 'inet', spec.members);
  if (members.size > meta.maxElem) throw new Error(`ipset ${spec.name}: ${members.size} members exceed maxElem ${meta.maxElem}`);
  return { meta, members };
}

/** `create` line of `ipset restore`. */
export function renderCreate(name: string, meta: IpSetMeta): string {
  return meta.type === 'list:set'
    ? `create ${name} list:set size ${meta.maxElem}`
    : `create ${name} ${meta.type} family ${meta.family} maxelem ${meta.maxElem}`;
}

/** Members in a stable order, so the same set always renders to the same text. */
export function sortedMembers(members: Iterable<string>): string[] {
  return [...members].sort();
}
