/**
 * BGP capabilities (RFC 5492) carried in the OPEN: multiprotocol (RFC 4760),
 * route refresh (RFC 2918), enhanced route refresh (RFC 7313), 4-octet AS
 * (RFC 6793), graceful restart (RFC 4724, N bit RFC 8538), extended message
 * (RFC 8654); anything else is kept opaque as code + value.
 */
import {
  CAP_ENHANCED_ROUTE_REFRESH,
  CAP_EXTENDED_MESSAGE,
  CAP_FOUR_OCTET_AS,
  CAP_GRACEFUL_RESTART,
  CAP_MULTIPROTOCOL,
  CAP_ROUTE_REFRESH,
  GR_AF_FLAG_FORWARDING,
  GR_FLAG_NOTIFICATION,
  GR_FLAG_RESTART,
} from './constants.js';
import { BufferReader } from './reader.js';
import { BufferWriter } from './writer.js';

export interface GracefulRestartFamily {
  afi: number;
  safi: number;
  /** F bit: forwarding state was preserved across the restart. */
  forwarding: boolean;
}

export type Capability =
  | { kind: 'multiprotocol'; afi: number; safi: number }
  | { kind: 'route-refresh' }
  | { kind: 'enhanced-route-refresh' }
  | { kind: 'extended-message' }
  | { kind: 'four-octet-as'; asn: number }
  | {
      kind: 'graceful-restart';
      /** R bit: the sender has restarted. */
      restarting: boolean;
      /** N bit (RFC 8538): graceful restart also after a NOTIFICATION. */
      notification: boolean;
      /** Seconds, 12 bits. */
      restartTime: number;
      families: GracefulRestartFamily[];
    }
  | { kind: 'unknown'; code: number; value: Buffer };

export type CapabilityKind = Capability['kind'];

/**
 * Decodes one capability value; `r` spans exactly the value. A malformed
 * value of a known capability throws the reader's error (OPEN Message Error,
 * Unspecific: RFC 4271 §6.2 for a recognized but malformed parameter).
 */
export function decodeCapability(code: number, r: BufferReader): Capability {
  const len = r.remaining;
  const want = (n: number, what: string) => {
    if (len !== n) r.fail(`${what} capability of length ${len}, expected ${n}`);
  };
  switch (code) {
    case CAP_MULTIPROTOCOL: {
      want(4, 'multiprotocol');
      const afi = r.u16();
      r.skip(1); // Reserved
      return { kind: 'multiprotocol', afi, safi: r.u8() };
    }
    case CAP_ROUTE_REFRESH:
      want(0, 'route refresh');
      return { kind: 'route-refresh' };
    case CAP_ENHANCED_ROUTE_REFRESH:
      want(0, 'enhanced route refresh');
      return { kind: 'enhanced-route-refresh' };
    case CAP_EXTENDED_MESSAGE:
      want(0, 'extended message');
      return { kind: 'extended-message' };
    case CAP_FOUR_OCTET_AS:
      want(4, '4-octet AS');
      return { kind: 'four-octet-as', asn: r.u32() };
    case CAP_GRACEFUL_RESTART: {
      if (len < 2 || (len - 2) % 4 !== 0) r.fail(`graceful restart capability of length ${len}, expected 2 + 4n`);
      const head = r.u16();
      const flags = head >>> 12;
      const families: GracefulRestartFamily[] = [];
      while (!r.done) {
        const afi = r.u16();
        const safi = r.u8();
        families.push({ afi, safi, forwarding: (r.u8() & GR_AF_FLAG_FORWARDING) !== 0 });
      }
      return {
        kind: 'graceful-restart',
        restarting: (flags & GR_FLAG_RESTART) !== 0,
        notification: (flags & GR_FLAG_NOTIFICATION) !== 0,
        restartTime: head & 0xfff,
        families,
      };
    }
    default:
      return { kind: 'unknown', code, value: r.bytes(len) };
  }
}

/** Writes one capability (code, length, value). */
export function encodeCapability(c: Capability, w: BufferWriter): void {
  switch (c.kind) {
    case 'multiprotocol':
      w.u8(CAP_MULTIPROTOCOL).u8(4).u16(c.afi).u8(0).u8(c.safi);
      return;
    case 'route-refresh':
      w.u8(CAP_ROUTE_REFRESH).u8(0);
      return;
    case 'enhanced-route-refresh':
      w.u8(CAP_ENHANCED_ROUTE_REFRESH).u8(0);
      return;
    case 'extended-message':
      w.u8(CAP_EXTENDED_MESSAGE).u8(0);
      return;
    case 'four-octet-as':
      w.u8(CAP_FOUR_OCTET_AS).u8(4).u32(c.asn);
      return;
    case 'graceful-restart': {
      if (c.restartTime < 0 || c.restartTime > 0xfff) throw new RangeError(`graceful restart time ${c.restartTime} does not fit 12 bits`);
      const len = 2 + 4 * c.families.length;
      if (len > 255) throw new RangeError('too many graceful restart families');
      const flags = (c.restarting ? GR_FLAG_RESTART : 0) | (c.notification ? GR_FLAG_NOTIFICATION : 0);
      w.u8(CAP_GRACEFUL_RESTART).u8(len).u16((flags << 12) | c.restartTime);
      for (const f of c.families) w.u16(f.afi).u8(f.safi).u8(f.forwarding ? GR_AF_FLAG_FORWARDING : 0);
      return;
    }
    case 'unknown':
      if (c.value.length > 255) throw new RangeError(`capability ${c.code} of ${c.value.length} octets does not fit`);
      w.u8(c.code).u8(c.value.length).bytes(c.value);
      return;
  }
}

/** The first capability of a kind, typed. */
export function findCapability<K extends CapabilityKind>(caps: readonly Capability[], kind: K): Extract<Capability, { kind: K }> | undefined {
  return caps.find((c) => c.kind === kind) as Extract<Capability, { kind: K }> | undefined;
}
