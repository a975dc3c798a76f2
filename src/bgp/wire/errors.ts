/**
 * NOTIFICATION error codes and subcodes (RFC 4271 §4.5 and the IANA registry:
 * RFC 4486 Cease subcodes, RFC 5492, RFC 6608, RFC 7313, RFC 8538, RFC 9234,
 * RFC 9384, RFC 9687), their names for logs, and `BgpMessageError`, the one
 * error type the codec throws.
 */

export const EMPTY = Buffer.alloc(0);

// Error codes (RFC 4271 §4.5).
export const ERR_MESSAGE_HEADER = 1;
export const ERR_OPEN_MESSAGE = 2;
export const ERR_UPDATE_MESSAGE = 3;
export const ERR_HOLD_TIMER_EXPIRED = 4;
export const ERR_FSM = 5;
export const ERR_CEASE = 6;
/** RFC 7313 §5 */
export const ERR_ROUTE_REFRESH_MESSAGE = 7;
/** RFC 9687 */
export const ERR_SEND_HOLD_TIMER_EXPIRED = 8;

/** Subcode 0 where a code has no specific subcode (RFC 4271 §6.2, §4.5). */
export const SUB_UNSPECIFIC = 0;

// Message Header Error subcodes (RFC 4271 §6.1).
export const SUB_CONNECTION_NOT_SYNCHRONIZED = 1;
export const SUB_BAD_MESSAGE_LENGTH = 2;
export const SUB_BAD_MESSAGE_TYPE = 3;

// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492, RFC 9234).
export const SUB_UNSUPPORTED_VERSION_NUMBER = 1;
export const SUB_BAD_PEER_AS = 2;
export const SUB_BAD_BGP_IDENTIFIER = 3;
export const SUB_UNSUPPORTED_OPTIONAL_PARAMETER = 4;
export const SUB_AUTHENTICATION_FAILURE = 5; // deprecated
export const SUB_UNACCEPTABLE_HOLD_TIME = 6;
export const SUB_UNSUPPORTED_CAPABILITY = 7;
export const SUB_ROLE_MISMATCH = 11;

// UPDATE Message Error subcodes (RFC 4271 §6.3).
export const SUB_MALFORMED_ATTRIBUTE_LIST = 1;
export const SUB_UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE = 2;
export const SUB_MISSING_WELL_KNOWN_ATTRIBUTE = 3;
export const SUB_ATTRIBUTE_FLAGS_ERROR = 4;
export const SUB_ATTRIBUTE_LENGTH_ERROR = 5;
export const SUB_INVALID_ORIGIN_ATTRIBUTE = 6;
export const SUB_AS_ROUTING_LOOP = 7; // deprecated
export const SUB_INVALID_NEXT_HOP_ATTRIBUTE = 8;
export const SUB_OPTIONAL_ATTRIBUTE_ERROR = 9;
export const SUB_INVALID_NETWORK_FIELD = 10;
export const SUB_MALFORMED_AS_PATH = 11;

// Finite State Machine Error subcodes (RFC 6608 §3).
export const SUB_FSM_UNEXPECTED_IN_OPENSENT = 1;
export const SUB_FSM_UNEXPECTED_IN_OPENCONFIRM = 2;
export const SUB_FSM_UNEXPECTED_IN_ESTABLISHED = 3;

// Cease subcodes (RFC 4486 §4, RFC 8538 §3, RFC 9384).
export const SUB_MAX_PREFIXES_REACHED = 1;
export const SUB_ADMINISTRATIVE_SHUTDOWN = 2;
export const SUB_PEER_DECONFIGURED = 3;
export const SUB_ADMINISTRATIVE_RESET = 4;
export const SUB_CONNECTION_REJECTED = 5;
export const SUB_OTHER_CONFIGURATION_CHANGE = 6;
export const SUB_CONNECTION_COLLISION_RESOLUTION = 7;
export const SUB_OUT_OF_RESOURCES = 8;
export const SUB_HARD_RESET = 9;
export const SUB_BFD_DOWN = 10;

// ROUTE-REFRESH Message Error subcodes (RFC 7313 §5).
export const SUB_INVALID_MESSAGE_LENGTH = 1;

const CODE_NAMES: Readonly<Record<number, string>> = {
  [ERR_MESSAGE_HEADER]: 'Message Header Error',
  [ERR_OPEN_MESSAGE]: 'OPEN Message Error',
  [ERR_UPDATE_MESSAGE]: 'UPDATE Message Error',
  [ERR_HOLD_TIMER_EXPIRED]: 'Hold Timer Expired',
  [ERR_FSM]: 'Finite State Machine Error',
  [ERR_CEASE]: 'Cease',
  [ERR_ROUTE_REFRESH_MESSAGE]: 'ROUTE-REFRESH Message Error',
  [ERR_SEND_HOLD_TIMER_EXPIRED]: 'Send Hold Timer Expired',
};

const SUBCODE_NAMES: Readonly<Record<number, Readonly<Record<number, string>>>> = {
  [ERR_MESSAGE_HEADER]: {
    [SUB_CONNECTION_NOT_SYNCHRONIZED]: 'Connection Not Synchronized',
    [SUB_BAD_MESSAGE_LENGTH]: 'Bad Message Length',
    [SUB_BAD_MESSAGE_TYPE]: 'Bad Message Type',
  },
  [ERR_OPEN_MESSAGE]: {
    [SUB_UNSUPPORTED_VERSION_NUMBER]: 'Unsupported Version Number',
    [SUB_BAD_PEER_AS]: 'Bad Peer AS',
    [SUB_BAD_BGP_IDENTIFIER]: 'Bad BGP Identifier',
    [SUB_UNSUPPORTED_OPTIONAL_PARAMETER]: 'Unsupported Optional Parameter',
    [SUB_AUTHENTICATION_FAILURE]: 'Authentication Failure (deprecated)',
    [SUB_UNACCEPTABLE_HOLD_TIME]: 'Unacceptable Hold Time',
    [SUB_UNSUPPORTED_CAPABILITY]: 'Unsupported Capability',
    [SUB_ROLE_MISMATCH]: 'Role Mismatch',
  },
  [ERR_UPDATE_MESSAGE]: {
    [SUB_MALFORMED_ATTRIBUTE_LIST]: 'Malformed Attribute List',
    [SUB_UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE]: 'Unrecognized Well-known Attribute',
    [SUB_MISSING_WELL_KNOWN_ATTRIBUTE]: 'Missing Well-known Attribute',
    [SUB_ATTRIBUTE_FLAGS_ERROR]: 'Attribute Flags Error',
    [SUB_ATTRIBUTE_LENGTH_ERROR]: 'Attribute Length Error',
    [SUB_INVALID_ORIGIN_ATTRIBUTE]: 'Invalid ORIGIN Attribute',
    [SUB_AS_ROUTING_LOOP]: 'AS Routing Loop (deprecated)',
    [SUB_INVALID_NEXT_HOP_ATTRIBUTE]: 'Invalid NEXT_HOP Attribute',
    [SUB_OPTIONAL_ATTRIBUTE_ERROR]: 'Optional Attribute Error',
    [SUB_INVALID_NETWORK_FIELD]: 'Invalid Network Field',
    [SUB_MALFORMED_AS_PATH]: 'Malformed AS_PATH',
  },
  [ERR_FSM]: {
    [SUB_FSM_UNEXPECTED_IN_OPENSENT]: 'Receive Unexpected Message in OpenSent State',
    [SUB_FSM_UNEXPECTED_IN_OPENCONFIRM]: 'Receive Unexpected Message in OpenConfirm State',
    [SUB_FSM_UNEXPECTED_IN_ESTABLISHED]: 'Receive Unexpected Message in Established State',
  },
  [ERR_CEASE]: {
    [SUB_MAX_PREFIXES_REACHED]: 'Maximum Number of Prefixes Reached',
    [SUB_ADMINISTRATIVE_SHUTDOWN]: 'Administrative Shutdown',
    [SUB_PEER_DECONFIGURED]: 'Peer De-configured',
    [SUB_ADMINISTRATIVE_RESET]: 'Administrative Reset',
    [SUB_CONNECTION_REJECTED]: 'Connection Rejected',
    [SUB_OTHER_CONFIGURATION_CHANGE]: 'Other Configuration Change',
    [SUB_CONNECTION_COLLISION_RESOLUTION]: 'Connection Collision Resolution',
    [SUB_OUT_OF_RESOURCES]: 'Out of Resources',
    [SUB_HARD_RESET]: 'Hard Reset',
    [SUB_BFD_DOWN]: 'BFD Down',
  },
  [ERR_ROUTE_REFRESH_MESSAGE]: {
    [SUB_INVALID_MESSAGE_LENGTH]: 'Invalid Message Length',
  },
};

/**
 * Names a code/subcode pair for logs, e.g. "Cease / Administrative Shutdown",
 * "UPDATE Message Error / Malformed AS_PATH", "Hold Timer Expired" (subcode 0
 * of a code without subcodes), "code 99 / subcode 3" when unknown.
 */
export function notificationName(code: number, subcode: number): string {
  const codeName = CODE_NAMES[code];
  if (codeName === undefined) return `code ${code} / subcode ${subcode}`;
  const subName = SUBCODE_NAMES[code]?.[subcode];
  if (subName !== undefined) return `${codeName} / ${subName}`;
  if (subcode === SUB_UNSPECIFIC) return codeName;
  return `${codeName} / subcode ${subcode}`;
}

/**
 * RFC 7606 §2 error-handling approaches, weakest first. When one UPDATE has
 * several problems the strongest wins (RFC 7606 §3 (d)).
 */
export type ErrorAction = 'attribute-discard' | 'treat-as-withdraw' | 'af-disable' | 'session-reset';

export const ACTION_STRENGTH: Readonly<Record<ErrorAction, number>> = {
  'attribute-discard': 1,
  'treat-as-withdraw': 2,
  'af-disable': 3,
  'session-reset': 4,
};

/**
 * The one error the codec throws. `code`, `subcode` and `data` are exactly
 * the NOTIFICATION to send (RFC 4271 §6); `action` is the RFC 7606 approach
 * for UPDATE problems (everything outside UPDATE attributes is
 * 'session-reset').
 */
export class BgpMessageError extends Error {
  constructor(
    readonly code: number,
    readonly subcode: number,
    readonly data: Buffer = EMPTY,
    message?: string,
    readonly action: ErrorAction = 'session-reset',
  ) {
    super(message ? `${notificationName(code, subcode)}: ${message}` : notificationName(code, subcode));
    this.name = 'BgpMessageError';
  }

  /** The NOTIFICATION message this error asks the session to send. */
  toNotification(): { type: 'NOTIFICATION'; code: number; subcode: number; data: Buffer } {
    return { type: 'NOTIFICATION', code: this.code, subcode: this.subcode, data: this.data };
  }
}

/** 2-octet big-endian data field, e.g. the bad Length of RFC 4271 §6.1. */
export function u16Data(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(n & 0xffff, 0);
  return b;
}
