/**
 * Names and mark bits of the policy dataplane.
 *
 * Chains (filter table, all `tabby-`, at most 28 characters; longer names
 * are hashed down by `tabbyChainName`):
 *
 *   tabby-FORWARD / tabby-INPUT / tabby-OUTPUT   entered from the built-in chains
 *   tabby-from-wl-dispatch, tabby-to-wl-dispatch  one `-i/-o caliX -g ...` per workload
 *   tabby-fw-<iface>   from workload: the workload's EGRESS policy
 *   tabby-tw-<iface>   to workload: the workload's INGRESS policy
 *   tabby-fh-<iface>   from host endpoint (INPUT): its ingress policy
 *   tabby-th-<iface>   to host endpoint (OUTPUT): its egress policy
 *   tabby-fhf-<iface>, tabby-thf-<iface>  forwarded traffic through a host
 *                      endpoint (policies with applyOnForward only)
 *   tabby-pi-<policy>, tabby-po-<policy>  one policy's ingress / egress rules,
 *                      shared by every endpoint it selects
 *   tabby-pri-<profile>, tabby-pro-<profile>  the same for profiles
 *   tabby-failsafe-in / -out  ports no policy can close
 *
 * Policy names: a NetworkPolicy is `<namespace>_<name>` (neither may contain
 * `_`, so it cannot collide with a GlobalNetworkPolicy's name).
 *
 * ipsets (at most 31 characters; v6 sets carry a `6`):
 *   tabby-s-<selector uniqueId>   addresses of the endpoints a selector matches
 *   tabby-n-<hash>                a CIDR list (rule `nets` / `notNets` with more than one entry)
 *   tabby-p-<hash>                address,protocol:port of a named port on the endpoints of a selector
 */
import { createHash } from 'node:crypto';
import { tabbyChainName } from '../felix/iptables/names.js';
import type { IpVersion, OwnerRef } from './model.js';

/**
 * Mark bits (Felix's shape). A policy chain that allows sets ACCEPT and
 * returns; one that passes sets PASS and returns; the endpoint chain checks
 * the mark after each policy. SCRATCH builds the negation of a port list
 * longer than one multiport match can hold. All three sit inside MARK_MASK,
 * the only bits tabby ever writes: other users of the packet mark keep theirs.
 */
export const MARK_ACCEPT = 0x10000;
export const MARK_PASS = 0x20000;
export const MARK_SCRATCH = 0x40000;
export const MARK_MASK = MARK_ACCEPT | MARK_PASS | MARK_SCRATCH;

export const CHAIN_FORWARD = 'tabby-FORWARD';
export const CHAIN_INPUT = 'tabby-INPUT';
export const CHAIN_OUTPUT = 'tabby-OUTPUT';
export const CHAIN_FROM_WL_DISPATCH = 'tabby-from-wl-dispatch';
export const CHAIN_TO_WL_DISPATCH = 'tabby-to-wl-dispatch';
export const CHAIN_WL_TO_HOST = 'tabby-wl-to-host';
export const CHAIN_FROM_HEP_DISPATCH = 'tabby-from-hep-dispatch';
export const CHAIN_TO_HEP_DISPATCH = 'tabby-to-hep-dispatch';
export const CHAIN_FROM_HEP_FWD_DISPATCH = 'tabby-from-hep-fwd-disp';
export const CHAIN_TO_HEP_FWD_DISPATCH = 'tabby-to-hep-fwd-disp';
export const CHAIN_FAILSAFE_IN = 'tabby-failsafe-in';
export const CHAIN_FAILSAFE_OUT = 'tabby-failsafe-out';

export type EndpointChainKind = 'tw' | 'fw' | 'fh' | 'th' | 'fhf' | 'thf';

/** Interface part of an endpoint chain name (`*` is not allowed in chain names). */
function ifacePart(iface: string): string {
  return iface === '*' ? 'all-ifaces' : iface;
}

export function endpointChainName(kind: EndpointChainKind, iface: string): string {
  return tabbyChainName(`${kind}-${ifacePart(iface)}`);
}

/** Sub-chain of a dispatch chain for interfaces whose name starts with `prefix + ch`. */
export function dispatchSubChainName(dispatch: string, ch: string): string {
  return tabbyChainName(`${dispatch.slice('tabby-'.length)}-${ch}`);
}

function ownerPart(o: OwnerRef): string {
  return o.kind === 'NetworkPolicy' ? `${o.namespace}_${o.name}` : o.name;
}

export function policyChainName(o: OwnerRef, dir: 'ingress' | 'egress'): string {
  const p = o.kind === 'Profile' ? (dir === 'ingress' ? 'pri' : 'pro') : dir === 'ingress' ? 'pi' : 'po';
  return tabbyChainName(`${p}-${ownerPart(o)}`);
}

/** 22 base64url characters of SHA-224: the length of selector ids. */
export function shortHash(text: string): string {
  return createHash('sha224').update(text, 'utf8').digest('base64url').slice(0, 22);
}

function setPrefix(kind: 's' | 'n' | 'p', v: IpVersion): string {
  return v === 4 ? `tabby-${kind}-` : `tabby-6${kind}-`;
}

export function selectorSetName(selectorId: string, v: IpVersion): string {
  return setPrefix('s', v) + selectorId;
}

export function netSetName(canonicalNets: readonly string[], v: IpVersion): string {
  return setPrefix('n', v) + shortHash(canonicalNets.join(','));
}

export function namedPortSetName(selectorCanonical: string, protocol: string, port: string, v: IpVersion): string {
  return setPrefix('p', v) + shortHash(`${selectorCanonical}\n${protocol}\n${port}`);
}
