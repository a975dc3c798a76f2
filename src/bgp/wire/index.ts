/**
 * The BGP wire codec: Buffer in, typed object out and back. Pure: no I/O,
 * no clocks, no configuration. See README.md in this directory.
 */
export * from './constants.js';
export * from './errors.js';
export { BufferReader } from './reader.js';
export type { OverrunError } from './reader.js';
export { BufferWriter } from './writer.js';
export { DEFAULT_CONTEXT, maxMessageLength, sessionContext } from './context.js';
export type { SessionContext } from './context.js';
export { BgpFramer } from './framer.js';
export { KEEPALIVE, decodeMessage, encodeMessage } from './messages.js';
export type { BgpMessage, KeepaliveMessage, ReceivedMessage, ReceivedUpdate, ReceivedUpdateVerdict } from './messages.js';
export { decodeOpenBody, encodeOpen, makeOpen, openAsn } from './open.js';
export type { OpenMessage } from './open.js';
export { decodeCapability, encodeCapability, findCapability } from './capabilities.js';
export type { Capability, CapabilityKind, GracefulRestartFamily } from './capabilities.js';
export { VERDICT_OK, decodeUpdateBody, encodeUpdate, endOfRib, endOfRibFamily } from './update.js';
export type { AfiSafi, DecodeOptions, DecodedUpdate, FamilyPrefixes, UpdateMessage, UpdateVerdict } from './update.js';
export { ATTRIBUTE_TABLE, ATTRIBUTES_BY_CODE, ORIGINS, attributeName, decodeAttributes, encodeAttributes, isSupportedFamily, mergeAs4 } from './attributes.js';
export type { Aggregator, AttributeSpec, MpReach, MpUnreach, Origin, PathAttributes, UnknownAttribute, UpdateProblem } from './attributes.js';
export { asPathLength, decodeAsPath, hasFourOctetAs, isConfedSegment, reconstructAsPath, writeAsPath } from './as-path.js';
export type { AsPath, AsPathSegment, AsSegmentType } from './as-path.js';
export { communityName, formatCommunity, formatLargeCommunity, parseCommunity, parseLargeCommunity } from './communities.js';
export type { LargeCommunity } from './communities.js';
export { decodeNotificationBody, decodeShutdownCommunication, describeNotification, encodeNotification, encodeShutdownCommunication, shutdownNotification } from './notification.js';
export type { NotificationMessage } from './notification.js';
export { decodeRouteRefreshBody, encodeRouteRefresh } from './route-refresh.js';
export type { RouteRefreshMessage } from './route-refresh.js';
export { canonicalIpv6, canonicalPrefix, checkPrefixes, decodePrefixes, encodePrefixAt, ipv4ToU32, prefixWireLength, textAfi, u32ToIpv4 } from './prefix.js';
export { packUpdates, packUpdatesFrom, packWithdrawals, packWithdrawalsFrom } from './packer.js';
export type { NlriSource, PackedUpdates } from './packer.js';
