/**
 * Communities (RFC 1997) and large communities (RFC 8092): text forms for
 * the API ("65000:1", "65000:1:2") and names of the well-known values.
 */
import {
  COMMUNITY_BLACKHOLE,
  COMMUNITY_GRACEFUL_SHUTDOWN,
  COMMUNITY_NO_ADVERTISE,
  COMMUNITY_NO_EXPORT,
  COMMUNITY_NO_EXPORT_SUBCONFED,
  COMMUNITY_NOPEER,
} from './constants.js';

/** RFC 8092 §3: three 4-octet fields. */
export interface LargeCommunity {
  globalAdmin: number;
  localData1: number;
  localData2: number;
}

const WELL_KNOWN: ReadonlyMap<number, string> = new Map([
  [COMMUNITY_NO_EXPORT, 'NO_EXPORT'],
  [COMMUNITY_NO_ADVERTISE, 'NO_ADVERTISE'],
  [COMMUNITY_NO_EXPORT_SUBCONFED, 'NO_EXPORT_SUBCONFED'],
  [COMMUNITY_NOPEER, 'NOPEER'],
  [COMMUNITY_GRACEFUL_SHUTDOWN, 'GRACEFUL_SHUTDOWN'],
  [COMMUNITY_BLACKHOLE, 'BLACKHOLE'],
]);
const BY_NAME: ReadonlyMap<string, number> = new Map([...WELL_KNOWN].map(([v, n]) => [n, v]));

/** "65000:1" (always numeric: the `routes -o json` form). */
export function formatCommunity(c: number): string {
  return `${c >>> 16}:${c & 0xffff}`;
}

/** The RFC 1997 / IANA name of a well-known community, if it has one. */
export function communityName(c: number): string | undefined {
  return WELL_KNOWN.get(c >>> 0);
}

/** Parses "65000:1" or a well-known name; undefined when malformed. */
export function parseCommunity(text: string): number | undefined {
  const named = BY_NAME.get(text.toUpperCase());
  if (named !== undefined) return named;
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const hi = Number(m[1]);
  const lo = Number(m[2]);
  if (hi > 0xffff || lo > 0xffff) return undefined;
  return ((hi << 16) | lo) >>> 0;
}

export function formatLargeCommunity(c: LargeCommunity): string {
  return `${c.globalAdmin}:${c.localData1}:${c.localData2}`;
}

/** Parses "65000:1:2"; undefined when malformed. */
export function parseLargeCommunity(text: string): LargeCommunity | undefined {
  const m = /^(\d{1,10}):(\d{1,10}):(\d{1,10})$/.exec(text);
  if (!m) return undefined;
  const [g, a, b] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (g > 0xffffffff || a > 0xffffffff || b > 0xffffffff) return undefined;
  return { globalAdmin: g, localData1: a, localData2: b };
}
