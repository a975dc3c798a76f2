/**
 * One outbound batch of the RIB (`takeOutbound`) to wire bytes: withdrawals
 * and announcements packed many NLRI per UPDATE (prefix ids go to the wire
 * without becoming text), then End-of-RIB where the batch completes the
 * initial table (RFC 4724 §2). Pure: `emit` receives each packed run of
 * messages. Shared by the speaker's output pump and its warm-up.
 */
import type { BgpRib, OutboundBatch } from '../rib/index.js';
import { PidNlriSource } from '../rib/nlri.js';
import { AFI_IPV4, AFI_IPV6, SAFI_UNICAST, encodeMessage, endOfRib, packUpdatesFrom, packWithdrawalsFrom, type SessionContext } from '../wire/index.js';
import { ribToWire } from './convert.js';

export function packOutbound(rib: BgpRib, batch: OutboundBatch, ctx: SessionContext, emit: (bytes: Buffer, messages: number) => void): boolean {
  const px = rib.prefixes;
  let sent = false;
  const out = (p: { bytes: Buffer; messages: Buffer[] }) => {
    if (p.messages.length === 0) return;
    emit(p.bytes, p.messages.length);
    sent = true;
  };
  if (batch.withdrawnV4.length) out(packWithdrawalsFrom(new PidNlriSource(AFI_IPV4, px, batch.withdrawnV4), ctx));
  if (batch.withdrawnV6.length) out(packWithdrawalsFrom(new PidNlriSource(AFI_IPV6, px, batch.withdrawnV6), ctx));
  for (const g of batch.groups) {
    out(packUpdatesFrom(ribToWire(g.attrs, g.family), new PidNlriSource(g.family === 4 ? AFI_IPV4 : AFI_IPV6, px, g.pids), ctx));
  }
  for (const f of batch.endOfRib) {
    emit(encodeMessage(endOfRib(f === 4 ? AFI_IPV4 : AFI_IPV6, SAFI_UNICAST), ctx), 1);
    sent = true;
  }
  return sent;
}
