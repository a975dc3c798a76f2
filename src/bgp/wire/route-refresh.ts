/**
 * ROUTE-REFRESH (RFC 2918 §3) with the RFC 7313 §3 message subtypes:
 * 0 normal request, 1 Beginning of Route Refresh, 2 End of Route Refresh.
 * RFC 7313 §5: a subtype other than 0..2 is to be ignored by the receiver;
 * the decoder keeps the number and the session ignores it. Length errors
 * (BoRR/EoRR not exactly 23 octets) are checked in `decodeMessage`; ORF
 * entries (RFC 5291) after a normal request are ignored.
 */
import { MSG_ROUTE_REFRESH, ROUTE_REFRESH_LENGTH } from './constants.js';
import { writeHeader } from './header.js';

export interface RouteRefreshMessage {
  type: 'ROUTE-REFRESH';
  afi: number;
  safi: number;
  /** ROUTE_REFRESH_NORMAL, ROUTE_REFRESH_BORR, ROUTE_REFRESH_EORR, or another value to ignore. */
  subtype: number;
}

export function decodeRouteRefreshBody(buf: Buffer, start: number): RouteRefreshMessage {
  return { type: 'ROUTE-REFRESH', afi: (buf[start]! << 8) | buf[start + 1]!, subtype: buf[start + 2]!, safi: buf[start + 3]! };
}

export function encodeRouteRefresh(m: RouteRefreshMessage): Buffer {
  const buf = Buffer.allocUnsafe(ROUTE_REFRESH_LENGTH);
  writeHeader(buf, 0, ROUTE_REFRESH_LENGTH, MSG_ROUTE_REFRESH);
  buf.writeUInt16BE(m.afi, 19);
  buf[21] = m.subtype;
  buf[22] = m.safi;
  return buf;
}
