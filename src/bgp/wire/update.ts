/**
 * UPDATE (RFC 4271 §4.3) with the revised error handling of RFC 7606: the
 * decoder never throws on peer input; it returns what it could parse and a
 * verdict saying how the session must treat the message. End-of-RIB
 * (RFC 4724 §2) is recognised and built here too.
 */
import {
  AFI_IPV4,
  ATTR_AS_PATH,
  ATTR_MP_REACH_NLRI,
  ATTR_NEXT_HOP,
  ATTR_ORIGIN,
  MSG_UPDATE,
  SAFI_UNICAST,
} from './constants.js';
import { AttributeScan, PathAttributes, UpdateProblem, decodeAttributes, encodeAttributes, writePrefixes } from './attributes.js';
import { SessionContext, maxMessageLength } from './context.js';
import {
  ACTION_STRENGTH,
  BgpMessageError,
  EMPTY,
  ERR_UPDATE_MESSAGE,
  ErrorAction,
  SUB_INVALID_NETWORK_FIELD,
  SUB_MALFORMED_ATTRIBUTE_LIST,
  SUB_MISSING_WELL_KNOWN_ATTRIBUTE,
  SUB_OPTIONAL_ATTRIBUTE_ERROR,
} from './errors.js';
import { writeHeader } from './header.js';
import { checkPrefixes, decodePrefixes } from './prefix.js';
import { BufferWriter } from './writer.js';

export interface UpdateMessage {
  type: 'UPDATE';
  /** IPv4 unicast prefixes of the Withdrawn Routes field. */
  withdrawn: string[];
  attributes: PathAttributes;
  /** IPv4 unicast prefixes of the NLRI field. */
  nlri: string[];
  /**
   * Only when decoded with `{ ipv4: 'raw' }`: the Withdrawn Routes and NLRI
   * fields as checked wire bytes (views of the frame), left for the caller
   * to read (e.g. straight into numbers); `withdrawn` and `nlri` are then
   * empty. When encoding, these bytes follow the text prefixes of each field.
   */
  ipv4Raw?: { withdrawn: Buffer; nlri: Buffer };
}

/** How to hand over what was decoded. */
export interface DecodeOptions {
  /**
   * 'text' (default): IPv4 Withdrawn Routes and NLRI as prefix text.
   * 'raw': checked just as strictly, but left as bytes in `ipv4Raw`.
   */
  ipv4?: 'text' | 'raw';
}

export interface AfiSafi {
  afi: number;
  safi: number;
}

export interface FamilyPrefixes extends AfiSafi {
  prefixes: string[];
}

/**
 * How the session must treat a received UPDATE (RFC 7606 §2). Whatever the
 * action, the Withdrawn Routes field and MP_UNREACH_NLRI are still processed
 * (unless 'session-reset'); the action says what to do with the rest.
 * - ok: use the update as it is.
 * - attribute-discard: use it; the `problems` name the attributes that were
 *   dropped (they are already absent from `attributes`).
 * - treat-as-withdraw: the reachable NLRI (`withdraw`, IPv4 NLRI field and
 *   MP_REACH_NLRI) are to be handled as withdrawn.
 * - af-disable: stop using `families` for this session (RFC 4760 §7); flush
 *   their routes and ignore them until the session restarts, or, if the
 *   session prefers, reset with `notification`. `withdraw` lists other
 *   families' NLRI to treat as withdrawn, when other problems ask for it.
 * - session-reset: send `notification` and close.
 */
export type UpdateVerdict =
  | { action: 'ok' }
  | { action: 'attribute-discard'; problems: UpdateProblem[] }
  | { action: 'treat-as-withdraw'; problems: UpdateProblem[]; withdraw: FamilyPrefixes[] }
  | { action: 'af-disable'; problems: UpdateProblem[]; families: AfiSafi[]; withdraw: FamilyPrefixes[]; notification: BgpMessageError }
  | { action: 'session-reset'; problems: UpdateProblem[]; notification: BgpMessageError };

export const VERDICT_OK: UpdateVerdict = Object.freeze({ action: 'ok' });

export interface DecodedUpdate {
  update: UpdateMessage;
  verdict: UpdateVerdict;
}

function resetVerdict(problems: UpdateProblem[], p: UpdateProblem): UpdateVerdict {
  return { action: 'session-reset', problems, notification: new BgpMessageError(ERR_UPDATE_MESSAGE, p.subcode, p.data, p.reason, 'session-reset') };
}

function messageProblem(subcode: number, reason: string): UpdateProblem {
  return { action: 'session-reset', subcode, data: EMPTY, reason };
}

/**
 * Decodes the body buf[start, end) of an UPDATE (after the 19-octet header).
 * Never throws on peer input.
 */
export function decodeUpdateBody(buf: Buffer, start: number, end: number, ctx: SessionContext, options: DecodeOptions = {}): DecodedUpdate {
  const update: UpdateMessage = { type: 'UPDATE', withdrawn: [], attributes: {}, nlri: [] };
  const raw = options.ipv4 === 'raw';
  const fail = (p: UpdateProblem): DecodedUpdate => ({ update, verdict: resetVerdict([p], p) });
  if (end - start < 4) return fail(messageProblem(SUB_MALFORMED_ATTRIBUTE_LIST, 'UPDATE body shorter than 4 octets'));
  const wLen = (buf[start]! << 8) | buf[start + 1]!;
  let p = start + 2;
  // RFC 4271 §6.3 (unchanged by RFC 7606 §3): lengths too large for the message.
  if (p + wLen + 2 > end) return fail(messageProblem(SUB_MALFORMED_ATTRIBUTE_LIST, `Withdrawn Routes Length ${wLen} too large`));
  // RFC 7606 §3/§5.3: the Withdrawn Routes field is checked like the NLRI field.
  let err = raw ? checkPrefixes(buf, p, p + wLen, AFI_IPV4) : decodePrefixes(buf, p, p + wLen, AFI_IPV4, update.withdrawn);
  if (err) return fail(messageProblem(SUB_INVALID_NETWORK_FIELD, `withdrawn routes: ${err}`));
  const withdrawnField = buf.subarray(p, p + wLen);
  p += wLen;
  const aLen = (buf[p]! << 8) | buf[p + 1]!;
  p += 2;
  if (p + aLen > end) return fail(messageProblem(SUB_MALFORMED_ATTRIBUTE_LIST, `Total Path Attribute Length ${aLen} too large`));
  const scan = decodeAttributes(buf, p, p + aLen, ctx, update.attributes);
  if (scan.fatal) return { update, verdict: resetVerdict(scan.problems, scan.fatal) };
  p += aLen;
  // RFC 7606 §5.3: an NLRI field that cannot be parsed resets the session.
  err = raw ? checkPrefixes(buf, p, end, AFI_IPV4) : decodePrefixes(buf, p, end, AFI_IPV4, update.nlri);
  if (err) {
    const problem = messageProblem(SUB_INVALID_NETWORK_FIELD, `NLRI: ${err}`);
    return { update, verdict: resetVerdict([...scan.problems, problem], problem) };
  }
  let nlriText = (): string[] => update.nlri;
  if (raw) {
    const nlriStart = p;
    update.ipv4Raw = { withdrawn: withdrawnField, nlri: buf.subarray(nlriStart, end) };
    // Text only for a verdict that names the prefixes to withdraw (rare).
    nlriText = () => {
      const out: string[] = [];
      decodePrefixes(buf, nlriStart, end, AFI_IPV4, out);
      return out;
    };
  }
  checkMandatory(raw ? end > p : update.nlri.length > 0, scan);
  return { update, verdict: verdictOf(update, nlriText, scan.problems) };
}

/** RFC 7606 §3: missing well-known mandatory attributes -> treat-as-withdraw. */
function checkMandatory(hasNlriField: boolean, scan: AttributeScan): void {
  if (!hasNlriField) {
    // RFC 4760 §3: without an NLRI field NEXT_HOP is to be ignored, so a bad one costs nothing.
    for (const p of scan.problems) {
      if (p.typeCode === ATTR_NEXT_HOP && p.action === 'treat-as-withdraw') {
        p.action = 'attribute-discard';
        p.reason += ' (ignored: no NLRI field, RFC 4760 §3)';
      }
    }
  }
  if (!hasNlriField && !scan.seen[ATTR_MP_REACH_NLRI]) return;
  // NEXT_HOP is mandatory only for the NLRI field (RFC 4760 §3 makes it discretionary otherwise).
  const required = hasNlriField ? [ATTR_ORIGIN, ATTR_AS_PATH, ATTR_NEXT_HOP] : [ATTR_ORIGIN, ATTR_AS_PATH];
  for (const code of required) {
    if (scan.seen[code]) continue; // present, or malformed and already reported
    scan.problems.push({
      action: 'treat-as-withdraw',
      typeCode: code,
      subcode: SUB_MISSING_WELL_KNOWN_ATTRIBUTE,
      data: Buffer.from([code]), // RFC 4271 §6.3: the missing type code
      reason: `missing well-known attribute ${code === ATTR_ORIGIN ? 'ORIGIN' : code === ATTR_AS_PATH ? 'AS_PATH' : 'NEXT_HOP'}`,
    });
  }
}

function verdictOf(update: UpdateMessage, nlri: () => string[], problems: UpdateProblem[]): UpdateVerdict {
  if (problems.length === 0) return VERDICT_OK;
  // RFC 7606 §3: the strongest action of all the problems wins.
  let action: ErrorAction = 'attribute-discard';
  for (const p of problems) if (ACTION_STRENGTH[p.action] > ACTION_STRENGTH[action]) action = p.action;
  switch (action) {
    case 'attribute-discard':
      return { action, problems };
    case 'treat-as-withdraw':
      return { action, problems, withdraw: reachable(update, nlri, []) };
    case 'af-disable': {
      const families: AfiSafi[] = [];
      for (const p of problems) {
        if (p.action !== 'af-disable' || p.afi === undefined) continue;
        if (!families.some((f) => f.afi === p.afi && f.safi === p.safi)) families.push({ afi: p.afi, safi: p.safi! });
      }
      const withdraw = problems.some((p) => p.action === 'treat-as-withdraw') ? reachable(update, nlri, families) : [];
      const first = problems.find((p) => p.action === 'af-disable')!;
      // RFC 4760 §7: a session that resets instead uses Optional Attribute Error.
      const notification = new BgpMessageError(ERR_UPDATE_MESSAGE, SUB_OPTIONAL_ATTRIBUTE_ERROR, first.data, first.reason, 'af-disable');
      return { action, problems, families, withdraw, notification };
    }
    case 'session-reset':
      return resetVerdict(problems, problems.find((p) => p.action === 'session-reset')!);
  }
}

/** The reachable NLRI of an update (`nlriText`: its NLRI field as text), by family, leaving out `except`. */
function reachable(update: UpdateMessage, nlriText: () => string[], except: AfiSafi[]): FamilyPrefixes[] {
  const out: FamilyPrefixes[] = [];
  const skip = (afi: number, safi: number) => except.some((f) => f.afi === afi && f.safi === safi);
  const nlri = nlriText();
  if (nlri.length > 0 && !skip(AFI_IPV4, SAFI_UNICAST)) out.push({ afi: AFI_IPV4, safi: SAFI_UNICAST, prefixes: nlri });
  const mp = update.attributes.mpReach;
  if (mp && mp.nlri.length > 0 && !skip(mp.afi, mp.safi)) out.push({ afi: mp.afi, safi: mp.safi, prefixes: mp.nlri });
  return out;
}

/**
 * Encodes an UPDATE for `ctx`. Throws RangeError when it does not fit the
 * session's maximum message size (split with the packer) or a field is out
 * of range.
 */
export function encodeUpdate(update: UpdateMessage, ctx: SessionContext): Buffer {
  const w = new BufferWriter(256 + update.nlri.length * 5 + update.withdrawn.length * 5);
  w.zeros(19);
  const wAt = w.reserveU16();
  writePrefixes(update.withdrawn, AFI_IPV4, w);
  if (update.ipv4Raw) w.bytes(update.ipv4Raw.withdrawn);
  w.patchU16(wAt, w.pos - wAt - 2);
  const aAt = w.reserveU16();
  encodeAttributes(update.attributes, ctx, w);
  const aLen = w.pos - aAt - 2;
  if (aLen > 0xffff) throw new RangeError(`path attributes of ${aLen} octets do not fit`);
  w.patchU16(aAt, aLen);
  writePrefixes(update.nlri, AFI_IPV4, w);
  if (update.ipv4Raw) w.bytes(update.ipv4Raw.nlri);
  const len = w.pos;
  const max = maxMessageLength(ctx);
  if (len > max) throw new RangeError(`UPDATE of ${len} octets exceeds the maximum ${max}`);
  const buf = w.finish();
  writeHeader(buf, 0, len, MSG_UPDATE);
  return buf;
}

function isEmptyAttributes(a: PathAttributes): boolean {
  for (const k in a) if ((a as Record<string, unknown>)[k] !== undefined) return false;
  return true;
}

/**
 * The family an End-of-RIB marker stands for (RFC 4724 §2), or undefined:
 * IPv4 unicast is an UPDATE with nothing in it; any other family an UPDATE
 * holding only an empty MP_UNREACH_NLRI.
 */
export function endOfRibFamily(update: UpdateMessage): AfiSafi | undefined {
  if (update.withdrawn.length > 0 || update.nlri.length > 0) return undefined;
  if (update.ipv4Raw && (update.ipv4Raw.withdrawn.length > 0 || update.ipv4Raw.nlri.length > 0)) return undefined;
  const a = update.attributes;
  if (isEmptyAttributes(a)) return { afi: AFI_IPV4, safi: SAFI_UNICAST };
  const mp = a.mpUnreach;
  if (mp && mp.withdrawn.length === 0) {
    for (const k in a) if (k !== 'mpUnreach' && (a as Record<string, unknown>)[k] !== undefined) return undefined;
    return { afi: mp.afi, safi: mp.safi };
  }
  return undefined;
}

/** The End-of-RIB marker for a family (RFC 4724 §2). */
export function endOfRib(afi: number, safi: number): UpdateMessage {
  if (afi === AFI_IPV4 && safi === SAFI_UNICAST) return { type: 'UPDATE', withdrawn: [], attributes: {}, nlri: [] };
  return { type: 'UPDATE', withdrawn: [], attributes: { mpUnreach: { afi, safi, withdrawn: [] } }, nlri: [] };
}
