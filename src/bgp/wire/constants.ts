/**
 * Protocol numbers of BGP-4 that are not error codes (those live in
 * `errors.ts`): message types, sizes, path attribute type codes and flags,
 * capability codes, AFI/SAFI, well-known ASNs.
 */

/** RFC 4271 §4.1: 16-octet marker, 2-octet length, 1-octet type. */
export const HEADER_LENGTH = 19;
export const MARKER_LENGTH = 16;
/** RFC 4271 §4: the largest message without RFC 8654. */
export const MAX_MESSAGE_LENGTH = 4096;
/** RFC 8654 §4: the largest message once extended messages are negotiated. */
export const MAX_EXTENDED_MESSAGE_LENGTH = 65535;

/** Minimum whole-message lengths by type (RFC 4271 §4.2–§4.5, RFC 2918 §3). */
export const MIN_OPEN_LENGTH = 29;
export const MIN_UPDATE_LENGTH = 23;
export const MIN_NOTIFICATION_LENGTH = 21;
export const KEEPALIVE_LENGTH = 19;
export const ROUTE_REFRESH_LENGTH = 23;

/** RFC 4271 §4.1 message type codes (+ RFC 2918 ROUTE-REFRESH). */
export const MSG_OPEN = 1;
export const MSG_UPDATE = 2;
export const MSG_NOTIFICATION = 3;
export const MSG_KEEPALIVE = 4;
export const MSG_ROUTE_REFRESH = 5;

export type MessageTypeName = 'OPEN' | 'UPDATE' | 'NOTIFICATION' | 'KEEPALIVE' | 'ROUTE-REFRESH';

export const MESSAGE_TYPE_NAMES: Readonly<Record<number, MessageTypeName>> = {
  [MSG_OPEN]: 'OPEN',
  [MSG_UPDATE]: 'UPDATE',
  [MSG_NOTIFICATION]: 'NOTIFICATION',
  [MSG_KEEPALIVE]: 'KEEPALIVE',
  [MSG_ROUTE_REFRESH]: 'ROUTE-REFRESH',
};

export const BGP_VERSION = 4;

/** RFC 6793 §9: the 2-octet stand-in for an AS number that does not fit. */
export const AS_TRANS = 23456;

// ---------------------------------------------------------------------------
// Path attributes (RFC 4271 §4.3, §5)

/** Attribute flag bits (RFC 4271 §4.3). The low 4 bits are unused. */
export const ATTR_FLAG_OPTIONAL = 0x80;
export const ATTR_FLAG_TRANSITIVE = 0x40;
export const ATTR_FLAG_PARTIAL = 0x20;
export const ATTR_FLAG_EXTENDED_LENGTH = 0x10;

export const ATTR_ORIGIN = 1;
export const ATTR_AS_PATH = 2;
export const ATTR_NEXT_HOP = 3;
export const ATTR_MULTI_EXIT_DISC = 4;
export const ATTR_LOCAL_PREF = 5;
export const ATTR_ATOMIC_AGGREGATE = 6;
export const ATTR_AGGREGATOR = 7;
/** RFC 1997 */
export const ATTR_COMMUNITIES = 8;
/** RFC 4456 */
export const ATTR_ORIGINATOR_ID = 9;
export const ATTR_CLUSTER_LIST = 10;
/** RFC 4760 */
export const ATTR_MP_REACH_NLRI = 14;
export const ATTR_MP_UNREACH_NLRI = 15;
/** RFC 6793 */
export const ATTR_AS4_PATH = 17;
export const ATTR_AS4_AGGREGATOR = 18;
/** RFC 8092 */
export const ATTR_LARGE_COMMUNITIES = 32;

/** AS_PATH segment types (RFC 4271 §4.3, RFC 5065 §3). */
export const AS_SET = 1;
export const AS_SEQUENCE = 2;
export const AS_CONFED_SEQUENCE = 3;
export const AS_CONFED_SET = 4;

/** ORIGIN values (RFC 4271 §5.1.1). */
export const ORIGIN_IGP = 0;
export const ORIGIN_EGP = 1;
export const ORIGIN_INCOMPLETE = 2;

// ---------------------------------------------------------------------------
// OPEN optional parameters and capabilities

/** RFC 5492 §4: the only optional parameter still in use. */
export const OPT_PARAM_CAPABILITIES = 2;
/** RFC 9072 §2: "Non-Ext OP Type" marking the extended optional parameters format. */
export const OPT_PARAM_EXTENDED = 255;

export const CAP_MULTIPROTOCOL = 1; // RFC 4760
export const CAP_ROUTE_REFRESH = 2; // RFC 2918
export const CAP_EXTENDED_MESSAGE = 6; // RFC 8654
export const CAP_GRACEFUL_RESTART = 64; // RFC 4724
export const CAP_FOUR_OCTET_AS = 65; // RFC 6793
export const CAP_ADD_PATH = 69; // RFC 7911 (not decoded yet: kept opaque)
export const CAP_ENHANCED_ROUTE_REFRESH = 70; // RFC 7313

/** RFC 4724 §3 restart flags (high 4 bits of the first octet) and AF flags. */
export const GR_FLAG_RESTART = 0x8;
/** RFC 8538 §2: the peer supports graceful restart for NOTIFICATIONs. */
export const GR_FLAG_NOTIFICATION = 0x4;
export const GR_AF_FLAG_FORWARDING = 0x80;

// ---------------------------------------------------------------------------
// Address families (IANA)

export const AFI_IPV4 = 1;
export const AFI_IPV6 = 2;
export const SAFI_UNICAST = 1;
export const SAFI_MULTICAST = 2;

/** ROUTE-REFRESH message subtypes (RFC 7313 §3). */
export const ROUTE_REFRESH_NORMAL = 0;
export const ROUTE_REFRESH_BORR = 1;
export const ROUTE_REFRESH_EORR = 2;

// ---------------------------------------------------------------------------
// Well-known communities (RFC 1997 §4 and the IANA registry)

export const COMMUNITY_NO_EXPORT = 0xffffff01;
export const COMMUNITY_NO_ADVERTISE = 0xffffff02;
export const COMMUNITY_NO_EXPORT_SUBCONFED = 0xffffff03;
/** RFC 3765 */
export const COMMUNITY_NOPEER = 0xffffff04;
/** RFC 8326 */
export const COMMUNITY_GRACEFUL_SHUTDOWN = 0xffff0000;
/** RFC 7999 */
export const COMMUNITY_BLACKHOLE = 0xffff029a;
