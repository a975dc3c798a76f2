/**
 * NOTIFICATION (RFC 4271 §4.5) and the shutdown communication of RFC 9003
 * (which updated RFC 8203): a UTF-8 message of up to 255 octets in the data
 * of Cease / Administrative Shutdown and Cease / Administrative Reset.
 */
import { MSG_NOTIFICATION } from './constants.js';
import { EMPTY, ERR_CEASE, SUB_ADMINISTRATIVE_RESET, SUB_ADMINISTRATIVE_SHUTDOWN, SUB_HARD_RESET, notificationName } from './errors.js';
import { writeHeader } from './header.js';

export interface NotificationMessage {
  type: 'NOTIFICATION';
  code: number;
  subcode: number;
  data: Buffer;
  /** RFC 9003: the operator's message, when the data carries a valid one. */
  shutdownMessage?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function carriesShutdownCommunication(code: number, subcode: number): boolean {
  return code === ERR_CEASE && (subcode === SUB_ADMINISTRATIVE_SHUTDOWN || subcode === SUB_ADMINISTRATIVE_RESET);
}

/**
 * RFC 9003 §2: a length octet then that many octets of UTF-8. Returns
 * undefined for no message (length 0), a length beyond the data, or invalid
 * UTF-8 (the data stays available for a hex dump).
 */
export function decodeShutdownCommunication(data: Buffer): string | undefined {
  if (data.length < 1) return undefined;
  const len = data[0]!;
  if (len === 0 || len > data.length - 1) return undefined;
  try {
    return utf8.decode(data.subarray(1, 1 + len));
  } catch {
    return undefined;
  }
}

/** Length octet + UTF-8, cut to 255 octets without splitting a character. */
export function encodeShutdownCommunication(text: string): Buffer {
  let bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 255) {
    let cut = 255;
    while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--; // back off a continuation octet
    bytes = bytes.subarray(0, cut);
  }
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

export function decodeNotificationBody(buf: Buffer, start: number, end: number): NotificationMessage {
  const code = buf[start]!;
  const subcode = buf[start + 1]!;
  const data = end - start > 2 ? Buffer.from(buf.subarray(start + 2, end)) : EMPTY;
  const msg: NotificationMessage = { type: 'NOTIFICATION', code, subcode, data };
  if (carriesShutdownCommunication(code, subcode)) {
    const text = decodeShutdownCommunication(data);
    if (text !== undefined) msg.shutdownMessage = text;
  }
  return msg;
}

/** Encodes `data` as given; when it is empty, a Cease shutdown/reset gets its `shutdownMessage`. */
export function encodeNotification(n: NotificationMessage, maxLength: number): Buffer {
  let data = n.data;
  if (data.length === 0 && n.shutdownMessage !== undefined && carriesShutdownCommunication(n.code, n.subcode)) {
    data = encodeShutdownCommunication(n.shutdownMessage);
  }
  const len = 21 + data.length;
  // A NOTIFICATION too long for the session is cut rather than not sent.
  const total = Math.min(len, maxLength);
  const buf = Buffer.allocUnsafe(total);
  writeHeader(buf, 0, total, MSG_NOTIFICATION);
  buf[19] = n.code;
  buf[20] = n.subcode;
  data.copy(buf, 21, 0, total - 21);
  return buf;
}

/** A Cease / Administrative Shutdown (or Reset) carrying an RFC 9003 message. */
export function shutdownNotification(text: string, subcode: number = SUB_ADMINISTRATIVE_SHUTDOWN): NotificationMessage {
  const data = encodeShutdownCommunication(text);
  const msg: NotificationMessage = { type: 'NOTIFICATION', code: ERR_CEASE, subcode, data };
  const decoded = decodeShutdownCommunication(data);
  if (decoded !== undefined) msg.shutdownMessage = decoded;
  return msg;
}

/** One line for logs: name, shutdown message, or data in hex. */
export function describeNotification(n: NotificationMessage): string {
  const name = notificationName(n.code, n.subcode);
  // RFC 8538 §3: a Hard Reset's data is the encapsulated code, subcode and data.
  if (n.code === ERR_CEASE && n.subcode === SUB_HARD_RESET && n.data.length >= 2) {
    const inner: NotificationMessage = { type: 'NOTIFICATION', code: n.data[0]!, subcode: n.data[1]!, data: n.data.subarray(2) };
    if (carriesShutdownCommunication(inner.code, inner.subcode)) {
      const text = decodeShutdownCommunication(inner.data);
      if (text !== undefined) inner.shutdownMessage = text;
    }
    return `${name} (${describeNotification(inner)})`;
  }
  if (n.shutdownMessage !== undefined) return `${name}: "${n.shutdownMessage}"`;
  return n.data.length > 0 ? `${name} (data ${n.data.toString('hex')})` : name;
}
