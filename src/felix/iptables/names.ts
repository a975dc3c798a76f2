/**
 * Names of the kernel objects tabby owns in iptables, and the tag that marks
 * its rules.
 *
 * Everything tabby creates must be recognisable by a fresh process after a
 * restart (mark and sweep): chains start with `tabby-`, and every rule tabby
 * writes carries a `tabby:<hash>` comment. Kernel limits: an iptables chain
 * name has at most 28 characters (XT_EXTENSION_MAXNAMELEN 29 with the NUL), an
 * ipset name at most 31 (IPSET_MAXNAMELEN 32 with the NUL).
 */
import { createHash } from 'node:crypto';

export const OWNED_PREFIX = 'tabby-';
export const HASH_COMMENT_PREFIX = 'tabby:';
export const MAX_CHAIN_NAME = 28;

/** Length of the hash suffix used when a name is too long. */
const NAME_HASH_CHARS = 10;

/** base64url of SHA-224: the alphabet is [A-Za-z0-9_-], safe in chain and set names. */
export function sha224Base64Url(data: string | Buffer): string {
  return createHash('sha224').update(data).digest('base64url');
}

/** Characters that are safe in chain and set names and in our restore input. */
const NAME_CHAR_RE = /[^A-Za-z0-9_.:@+=~-]/g;
const CHAIN_NAME_RE = /^[A-Za-z0-9_.:@+=~-]+$/;

/**
 * Fit `name` into `max` characters of the safe alphabet. A name that already
 * fits is returned unchanged; any other keeps its head (unsafe characters
 * replaced by `_`) and ends with `_` plus a hash of the whole original name,
 * so distinct names stay distinct and the result is always the same.
 */
export function fitName(name: string, max: number): string {
  if (name.length <= max && CHAIN_NAME_RE.test(name)) return name;
  const hash = sha224Base64Url(name).slice(0, NAME_HASH_CHARS);
  return `${name.replace(NAME_CHAR_RE, '_').slice(0, max - NAME_HASH_CHARS - 1)}_${hash}`;
}

/** A tabby chain name: `tabby-<suffix>`, hashed down to 28 characters when longer. */
export function tabbyChainName(suffix: string, prefix = OWNED_PREFIX): string {
  const name = fitName(prefix + suffix, MAX_CHAIN_NAME);
  if (!CHAIN_NAME_RE.test(name)) throw new Error(`invalid chain name ${JSON.stringify(name)}`);
  return name;
}

/** True when a chain name is one tabby owns. */
export function isOwnedChain(name: string, prefix = OWNED_PREFIX): boolean {
  return name.startsWith(prefix);
}

/** Throws unless `name` is a valid chain name that tabby owns. */
export function assertOwnedChainName(name: string, prefix = OWNED_PREFIX): void {
  if (!isOwnedChain(name, prefix)) throw new Error(`chain ${JSON.stringify(name)} is not owned by tabby (must start with ${prefix})`);
  if (name.length > MAX_CHAIN_NAME) throw new Error(`chain name ${name} is longer than ${MAX_CHAIN_NAME} characters (use tabbyChainName)`);
  if (!CHAIN_NAME_RE.test(name)) throw new Error(`invalid chain name ${JSON.stringify(name)}`);
}
