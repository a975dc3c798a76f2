/**
 * Fixed names and numbers of tabby's encapsulation devices. They follow
 * Calico's (felix `dataplanedefs`, `VXLANVNI`/`VXLANPort` defaults) with the
 * device renamed from `vxlan.calico` to `vxlan.tabby`.
 */

/** The IPIP device. The ipip module's fallback device has this name in every netns. */
export const IPIP_DEVICE = 'tunl0';
/** The VXLAN device (Calico: `vxlan.calico`). */
export const VXLAN_DEVICE = 'vxlan.tabby';
/** Calico's default VNI. */
export const VXLAN_VNI = 4096;
/** IANA's VXLAN port (RFC 7348 §5: "well-known UDP port 4789"). */
export const VXLAN_PORT = 4789;

/** Underlay MTU assumed when the node config names none. */
export const DEFAULT_NODE_MTU = 1500;
/** Outer IPv4 header (RFC 2003 §3: the inner datagram is prefixed by one IP header). */
export const IPIP_OVERHEAD = 20;
/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) (RFC 7348 §5). */
export const VXLAN_OVERHEAD = 50;

/**
 * Protocol number written on the permanent neighbour entries of the VXLAN
 * device (`ip neigh ... protocol 80`, NDA_PROTOCOL), so that a fresh process
 * can tell its own entries from anybody else's. The same number as the
 * routes tabby owns (platform.md §3 item 4).
 */
export const DEFAULT_NEIGH_PROTO = 80;
