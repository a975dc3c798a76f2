/**
 * VTEP MAC addresses. A node without an explicit `vxlanTunnelMACAddr` gets a
 * MAC derived from its name, as Calico's VXLAN resolver does: the byte 0x66
 * ('f') followed by the first five bytes of SHA-1(node name). Every node
 * computes the same MAC for a given node, so remote nodes can program the
 * neighbour/FDB entries without asking. 0x66 has the locally administered bit
 * set and the group bit clear (IEEE 802 §8.2: a unicast, locally
 * administered address), so it never collides with a vendor MAC.
 */
import { createHash } from 'node:crypto';

export function vtepMacForNode(nodeName: string): string {
  const sha = createHash('sha1').update(nodeName, 'utf8').digest();
  const bytes = [0x66, ...sha.subarray(0, 5)];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Lower-case colon form, or undefined when `s` is not a 48-bit MAC. */
export function normaliseMac(s: string): string | undefined {
  const m = s.trim().toLowerCase().replace(/-/g, ':');
  return MAC_RE.test(m) ? m : undefined;
}

/** Group (multicast/broadcast) bit: bit 0 of the first octet. */
export function isGroupMac(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 1) === 1;
}

export const ZERO_MAC = '00:00:00:00:00:00';

/** A unicast, non-zero MAC: the only kind tabby ever programs as a VTEP. */
export function isUnicastMac(mac: string): boolean {
  return mac !== ZERO_MAC && !isGroupMac(mac);
}
