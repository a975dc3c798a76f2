/**
 * What the codec needs to know about the session: the options both sides
 * negotiated in their OPENs, and whether the peer is internal. The codec
 * never reads configuration or state of its own; the session passes this in.
 */
import { MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH } from './constants.js';

export interface SessionContext {
  /** RFC 6793: both OPENs carried the 4-octet AS capability (AS_PATH carries 4-octet AS). */
  readonly fourOctetAs: boolean;
  /** RFC 8654: both OPENs carried the extended message capability (65535-octet messages). */
  readonly extendedMessage: boolean;
  /**
   * The peer is internal (same AS, or a member AS of our confederation).
   * Drives RFC 7606 §7.5 (LOCAL_PREF), §7.9/§7.10 (ORIGINATOR_ID,
   * CLUSTER_LIST: discarded from external peers) and RFC 5065 §5
   * (confederation segments only from confederation peers).
   */
  readonly ibgp: boolean;
  /*
   * ADD-PATH (RFC 7911) would go here as the set of AFI/SAFI for which a path
   * identifier precedes each NLRI (receive and send directions). The NLRI
   * codec (`prefix.ts`) is the one place that would read it.
   */
}

export const DEFAULT_CONTEXT: SessionContext = Object.freeze({ fourOctetAs: true, extendedMessage: false, ibgp: false });

/** Builds a context from the defaults and some overrides. */
export function sessionContext(options: Partial<SessionContext> = {}): SessionContext {
  return Object.freeze({ ...DEFAULT_CONTEXT, ...options });
}

/** The largest message the session may send or receive (RFC 4271 §4, RFC 8654 §4). */
export function maxMessageLength(ctx: SessionContext): number {
  return ctx.extendedMessage ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
}
