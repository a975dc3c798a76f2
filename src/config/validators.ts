/**
 * Reusable zod validators with tabby's wording, shared by the node config,
 * the BGP-only config and the Calico resources.
 */
import { z } from 'zod';
import { isIPv4, isIPv6, parseCidr } from '../util/ip.js';

export const ipv4Address = () =>
  z.string().refine((s) => isIPv4(s), { message: 'must be an IPv4 address such as 10.0.0.1' });

export const ipAddress = () =>
  z.string().refine((s) => isIPv4(s) || isIPv6(s), { message: 'must be an IPv4 or IPv6 address' });

/** A CIDR; `hostBits` allows an address with host bits set (an interface address). */
export const cidr = (opts: { family?: 4 | 6; hostBits?: boolean } = {}) =>
  z.string().superRefine((s, ctx) => {
    const c = parseCidr(s);
    if (!c || (opts.family && c.family !== opts.family)) {
      const fam = opts.family === 4 ? 'an IPv4 CIDR such as 10.65.0.0/16' : opts.family === 6 ? 'an IPv6 CIDR such as fd00::/64' : 'a CIDR such as 10.65.0.0/16';
      ctx.addIssue({ code: 'custom', message: `must be ${fam}` });
    }
  });

export const port = () =>
  z.number({ error: 'expected a port number (1-65535)' }).int('must be a whole number').min(1).max(65535);

/** 4-octet AS number (RFC 6793), 0 reserved (RFC 7607). */
export const asNumber = () =>
  z.number({ error: 'expected an AS number (1-4294967295)' }).int('must be a whole number').min(1).max(4294967295);

/** DNS-1123 subdomain, as Kubernetes/Calico names are. */
export const resourceName = () =>
  z.string().min(1).max(253).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    message: 'must be a DNS-1123 subdomain: lowercase letters, digits, "-" and ".", starting and ending with a letter or digit',
  });

export const absolutePath = () =>
  z.string().min(1).refine((s) => s.startsWith('/'), { message: 'must be an absolute path' });

/** Seconds as a positive integer within bounds. */
export const seconds = (min: number, max: number) =>
  z.number({ error: `expected a number of seconds (${min}-${max})` }).int('must be a whole number of seconds').min(min).max(max);
