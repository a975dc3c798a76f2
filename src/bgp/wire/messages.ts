/**
 * The five BGP messages as one discriminated union, and the two entry
 * points: `decodeMessage(frame, ctx)` for a whole frame from the framer and
 * `encodeMessage(msg, ctx)`.
 */
import {
  HEADER_LENGTH,
  KEEPALIVE_LENGTH,
  MAX_MESSAGE_LENGTH,
  MIN_NOTIFICATION_LENGTH,
  MIN_OPEN_LENGTH,
  MIN_UPDATE_LENGTH,
  MSG_KEEPALIVE,
  MSG_NOTIFICATION,
  MSG_OPEN,
  MSG_ROUTE_REFRESH,
  MSG_UPDATE,
  ROUTE_REFRESH_BORR,
  ROUTE_REFRESH_EORR,
  ROUTE_REFRESH_LENGTH,
} from './constants.js';
import { SessionContext, maxMessageLength } from './context.js';
import {
  BgpMessageError,
  ERR_MESSAGE_HEADER,
  ERR_ROUTE_REFRESH_MESSAGE,
  SUB_BAD_MESSAGE_TYPE,
  SUB_INVALID_MESSAGE_LENGTH,
} from './errors.js';
import { badLength, checkLength, checkMarker, writeHeader } from './header.js';
import { NotificationMessage, decodeNotificationBody, encodeNotification } from './notification.js';
import { OpenMessage, decodeOpenBody, encodeOpen } from './open.js';
import { RouteRefreshMessage, decodeRouteRefreshBody, encodeRouteRefresh } from './route-refresh.js';
import { DecodeOptions, UpdateMessage, UpdateVerdict, decodeUpdateBody, encodeUpdate } from './update.js';

export interface KeepaliveMessage {
  type: 'KEEPALIVE';
}

export const KEEPALIVE: KeepaliveMessage = Object.freeze({ type: 'KEEPALIVE' as const });

export type BgpMessage = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

/** Verdicts `decodeMessage` returns (a session reset is thrown instead). */
export type ReceivedUpdateVerdict = Exclude<UpdateVerdict, { action: 'session-reset' }>;

/** A received UPDATE: the message plus how to treat it (RFC 7606). */
export interface ReceivedUpdate extends UpdateMessage {
  verdict: ReceivedUpdateVerdict;
}

export type ReceivedMessage = OpenMessage | ReceivedUpdate | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

/**
 * Decodes one whole message (header included). Throws BgpMessageError
 * carrying the NOTIFICATION to send for every error that ends the session
 * (RFC 4271 §6.1–§6.3, RFC 7313 §5), including an UPDATE whose RFC 7606
 * verdict is session-reset. Milder UPDATE problems come back in `verdict`.
 * `options` only changes how UPDATE prefixes are handed over.
 */
export function decodeMessage(frame: Buffer, ctx: SessionContext, options: DecodeOptions = {}): ReceivedMessage {
  if (frame.length < HEADER_LENGTH) throw badLength(frame.length, `frame of ${frame.length} octets is shorter than a header`);
  checkMarker(frame, 0, 16);
  const length = (frame[16]! << 8) | frame[17]!;
  const type = frame[18]!;
  // RFC 8654 §4: OPEN and KEEPALIVE never exceed 4096 octets.
  const max = type === MSG_OPEN || type === MSG_KEEPALIVE ? MAX_MESSAGE_LENGTH : maxMessageLength(ctx);
  checkLength(length, max);
  if (length > frame.length) throw badLength(length, `Length ${length} but the frame has ${frame.length} octets`);
  switch (type) {
    case MSG_OPEN:
      if (length < MIN_OPEN_LENGTH) throw badLength(length, `OPEN shorter than ${MIN_OPEN_LENGTH}`);
      return decodeOpenBody(frame, HEADER_LENGTH, length);
    case MSG_UPDATE: {
      if (length < MIN_UPDATE_LENGTH) throw badLength(length, `UPDATE shorter than ${MIN_UPDATE_LENGTH}`);
      const { update, verdict } = decodeUpdateBody(frame, HEADER_LENGTH, length, ctx, options);
      if (verdict.action === 'session-reset') throw verdict.notification;
      const received = update as ReceivedUpdate;
      received.verdict = verdict;
      return received;
    }
    case MSG_NOTIFICATION:
      if (length < MIN_NOTIFICATION_LENGTH) throw badLength(length, `NOTIFICATION shorter than ${MIN_NOTIFICATION_LENGTH}`);
      return decodeNotificationBody(frame, HEADER_LENGTH, length);
    case MSG_KEEPALIVE:
      // RFC 4271 §4.4: a KEEPALIVE is the header alone.
      if (length !== KEEPALIVE_LENGTH) throw badLength(length, `KEEPALIVE of ${length} octets`);
      return KEEPALIVE;
    case MSG_ROUTE_REFRESH: {
      // RFC 7313 §5: BoRR/EoRR must be exactly 4 octets after the header (data:
      // the complete message). A longer normal request may carry ORF entries
      // (RFC 5291), which we do not use: they are ignored.
      const subtype = length > 21 ? frame[21]! : -1;
      const isMarker = subtype === ROUTE_REFRESH_BORR || subtype === ROUTE_REFRESH_EORR;
      if (length < ROUTE_REFRESH_LENGTH || (isMarker && length !== ROUTE_REFRESH_LENGTH)) {
        throw new BgpMessageError(ERR_ROUTE_REFRESH_MESSAGE, SUB_INVALID_MESSAGE_LENGTH, Buffer.from(frame.subarray(0, length)), `ROUTE-REFRESH of ${length} octets`);
      }
      return decodeRouteRefreshBody(frame, HEADER_LENGTH);
    }
    default:
      // RFC 4271 §6.1: the data is the bad Type field.
      throw new BgpMessageError(ERR_MESSAGE_HEADER, SUB_BAD_MESSAGE_TYPE, Buffer.from([type]), `type ${type}`);
  }
}

const KEEPALIVE_BYTES = (() => {
  const b = Buffer.allocUnsafe(KEEPALIVE_LENGTH);
  writeHeader(b, 0, KEEPALIVE_LENGTH, MSG_KEEPALIVE);
  return b;
})();

/**
 * Encodes one message for `ctx`. Throws RangeError (not BgpMessageError:
 * these are our own mistakes) when a field is out of range or an UPDATE does
 * not fit; use the packer to split UPDATEs.
 */
export function encodeMessage(msg: BgpMessage, ctx: SessionContext): Buffer {
  switch (msg.type) {
    case 'OPEN':
      return encodeOpen(msg);
    case 'UPDATE':
      return encodeUpdate(msg, ctx);
    case 'NOTIFICATION':
      return encodeNotification(msg, maxMessageLength(ctx));
    case 'KEEPALIVE':
      return Buffer.from(KEEPALIVE_BYTES);
    case 'ROUTE-REFRESH':
      return encodeRouteRefresh(msg);
  }
}
