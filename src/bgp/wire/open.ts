/**
 * OPEN (RFC 4271 §4.2) with its §6.2 checks, capabilities in optional
 * parameters (RFC 5492) and the extended optional parameters length of
 * RFC 9072.
 */
import {
  AS_TRANS,
  BGP_VERSION,
  MAX_MESSAGE_LENGTH,
  MSG_OPEN,
  OPT_PARAM_CAPABILITIES,
  OPT_PARAM_EXTENDED,
} from './constants.js';
import { Capability, decodeCapability, encodeCapability, findCapability } from './capabilities.js';
import {
  BgpMessageError,
  ERR_OPEN_MESSAGE,
  SUB_BAD_BGP_IDENTIFIER,
  SUB_BAD_PEER_AS,
  SUB_UNACCEPTABLE_HOLD_TIME,
  SUB_UNSPECIFIC,
  SUB_UNSUPPORTED_OPTIONAL_PARAMETER,
  SUB_UNSUPPORTED_VERSION_NUMBER,
  u16Data,
} from './errors.js';
import { writeHeader } from './header.js';
import { ipv4ToU32, u32ToIpv4 } from './prefix.js';
import { BufferReader, OverrunError } from './reader.js';
import { BufferWriter } from './writer.js';

export interface OpenMessage {
  type: 'OPEN';
  /** The 2-octet My Autonomous System field: AS_TRANS when the AS needs 4 octets (RFC 6793 §4.1). */
  myAs: number;
  /** Seconds; 0 or >= 3 (RFC 4271 §4.2). */
  holdTime: number;
  /** BGP Identifier in dotted-quad form. */
  bgpId: string;
  /** All capabilities of all Capabilities optional parameters, in order. */
  capabilities: Capability[];
}

const MALFORMED: OverrunError = { code: ERR_OPEN_MESSAGE, subcode: SUB_UNSPECIFIC, what: 'OPEN' };

function openError(subcode: number, message: string, data?: Buffer): BgpMessageError {
  return new BgpMessageError(ERR_OPEN_MESSAGE, subcode, data, message);
}

/** Decodes the body buf[start, end) of an OPEN; throws BgpMessageError per RFC 4271 §6.2. */
export function decodeOpenBody(buf: Buffer, start: number, end: number): OpenMessage {
  const r = new BufferReader(buf, start, end, MALFORMED);
  const version = r.u8();
  // RFC 4271 §6.2: the data is the version we do support (the only one: 4).
  if (version !== BGP_VERSION) throw openError(SUB_UNSUPPORTED_VERSION_NUMBER, `version ${version}`, u16Data(BGP_VERSION));
  const myAs = r.u16();
  const holdTime = r.u16();
  const bgpIdNum = r.u32();
  const optLen = r.u8();
  // RFC 7607: AS 0 is never acceptable as a peer's AS.
  if (myAs === 0) throw openError(SUB_BAD_PEER_AS, 'My Autonomous System is 0');
  // RFC 4271 §6.2: hold time 1 or 2 seconds is unacceptable.
  if (holdTime === 1 || holdTime === 2) throw openError(SUB_UNACCEPTABLE_HOLD_TIME, `hold time ${holdTime}`);
  // RFC 6286 §2.2: any non-zero 4-octet value is a valid identifier.
  if (bgpIdNum === 0) throw openError(SUB_BAD_BGP_IDENTIFIER, 'BGP Identifier is 0.0.0.0');

  const capabilities: Capability[] = [];
  if (optLen > 0) {
    // RFC 9072 §2: Non-Ext OP Type 255 announces 2-octet parameter lengths.
    const extended = r.remaining > 0 && buf[r.pos] === OPT_PARAM_EXTENDED;
    let params: BufferReader;
    if (extended) {
      r.skip(1);
      const extLen = r.u16();
      if (extLen !== r.remaining) r.fail(`Extended Optional Parameters Length ${extLen}, ${r.remaining} octet(s) follow`);
      params = r.sub(extLen);
    } else {
      if (optLen !== r.remaining) r.fail(`Optional Parameters Length ${optLen}, ${r.remaining} octet(s) follow`);
      params = r.sub(optLen);
    }
    while (!params.done) {
      const type = params.u8();
      const len = extended ? params.u16() : params.u8();
      const value = params.sub(len);
      if (type !== OPT_PARAM_CAPABILITIES) throw openError(SUB_UNSUPPORTED_OPTIONAL_PARAMETER, `optional parameter type ${type}`);
      while (!value.done) {
        const code = value.u8();
        const capLen = value.u8();
        capabilities.push(decodeCapability(code, value.sub(capLen)));
      }
    }
  } else if (!r.done) {
    r.fail(`${r.remaining} octet(s) after an OPEN without optional parameters`);
  }
  const four = findCapability(capabilities, 'four-octet-as');
  if (four && four.asn === 0) throw openError(SUB_BAD_PEER_AS, '4-octet AS capability carries AS 0');
  return { type: 'OPEN', myAs, holdTime, bgpId: u32ToIpv4(bgpIdNum), capabilities };
}

/**
 * Encodes an OPEN. All capabilities go into one Capabilities parameter; when
 * they exceed 253 octets the RFC 9072 extended format is used (and only
 * then, so that peers without RFC 9072 still understand ordinary OPENs).
 */
export function encodeOpen(open: OpenMessage): Buffer {
  if (!Number.isInteger(open.myAs) || open.myAs < 0 || open.myAs > 0xffff) throw new RangeError(`myAs ${open.myAs} does not fit 2 octets (use AS_TRANS)`);
  if (!Number.isInteger(open.holdTime) || open.holdTime < 0 || open.holdTime > 0xffff) throw new RangeError(`bad hold time ${open.holdTime}`);
  const caps = new BufferWriter(64);
  for (const c of open.capabilities) encodeCapability(c, caps);
  const capBytes = caps.finish();
  const w = new BufferWriter(64 + capBytes.length);
  w.zeros(19);
  w.u8(BGP_VERSION).u16(open.myAs).u16(open.holdTime).u32(ipv4ToU32(open.bgpId));
  if (capBytes.length === 0) {
    w.u8(0);
  } else if (capBytes.length + 2 <= 255) {
    w.u8(capBytes.length + 2).u8(OPT_PARAM_CAPABILITIES).u8(capBytes.length).bytes(capBytes);
  } else {
    // RFC 9072 §2: Non-Ext OP Len 255, Non-Ext OP Type 255, 2-octet lengths.
    w.u8(255).u8(OPT_PARAM_EXTENDED).u16(capBytes.length + 3).u8(OPT_PARAM_CAPABILITIES).u16(capBytes.length).bytes(capBytes);
  }
  const len = w.pos;
  // RFC 8654 §4: OPEN stays within 4096 octets even with extended messages.
  if (len > MAX_MESSAGE_LENGTH) throw new RangeError(`OPEN of ${len} octets exceeds ${MAX_MESSAGE_LENGTH}`);
  const buf = w.finish();
  writeHeader(buf, 0, len, MSG_OPEN);
  return buf;
}

/** The speaker's real AS: the 4-octet AS capability if present, else My Autonomous System. */
export function openAsn(open: OpenMessage): number {
  return findCapability(open.capabilities, 'four-octet-as')?.asn ?? open.myAs;
}

/**
 * An OPEN for `asn`: My Autonomous System is AS_TRANS when the AS needs 4
 * octets, and a 4-octet AS capability is added when missing (RFC 6793 §4.1).
 */
export function makeOpen(o: { asn: number; holdTime: number; bgpId: string; capabilities?: Capability[] }): OpenMessage {
  const capabilities = [...(o.capabilities ?? [])];
  if (!findCapability(capabilities, 'four-octet-as')) capabilities.push({ kind: 'four-octet-as', asn: o.asn });
  return { type: 'OPEN', myAs: o.asn > 0xffff ? AS_TRANS : o.asn, holdTime: o.holdTime, bgpId: o.bgpId, capabilities };
}
