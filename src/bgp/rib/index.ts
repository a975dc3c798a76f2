/** The BGP RIB: public surface for the session layer, the FIB installer and the control socket. */
export { AttrSet, AttrTable, asPathLength, asPathText, neighbourAs, ORIGIN_NAMES, sameAttrs } from './attrs.js';
export type { Aggregator, Origin, PathAttrs, UnknownAttr } from './attrs.js';
export { addressSortKey, decide } from './decision.js';
export type { BestPathReason, Candidate, Decision, DecisionOptions } from './decision.js';
export { exportAttrs, exportBlock, finishExport, SourceKind } from './export-rules.js';
export type { ExportBlock, ExportDestination, ExportOptions } from './export-rules.js';
export { checkImport, importChanges } from './import-rules.js';
export type { ImportContext, ImportVerdict } from './import-rules.js';
export { IdMap } from './id-map.js';
export { decodeIpv4Nlri, encodeIpv4Nlri, Ipv4Batch, PidNlriSource } from './nlri.js';
export { PrefixIndex, parseV4Prefix, v4Text } from './prefix-index.js';
export type { Family } from './prefix-index.js';
export type { OutboundBatch, OutboundGroup } from './adj-rib-out.js';
export { BgpRib, RibPeer } from './rib.js';
export type { CandidateView, ChangeListener, PeerCounters, PeerOptions, RibOptions, RouteRef, SessionInfo } from './rib.js';
export { asPathJson, routeViews } from './view.js';
export type { RouteView } from './view.js';
