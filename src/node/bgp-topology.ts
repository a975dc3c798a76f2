/**
 * This node's BGP speaker config, derived from the resources the way Calico
 * derives BIRD's (confd's BGP processor and templates, and the peerings
 * confd computes from BGPPeers). Pure: no I/O; secrets come through a
 * callback.
 *
 * Speaker-wide:
 * - AS: the Node's `spec.bgp.asNumber`, else the BGPConfiguration's, else
 *   64512. Router id: an explicit one (Calico's CALICO_ROUTER_ID: an IPv4
 *   address or `hash`), else the node's IPv4 address (also for IPv6
 *   sessions: a BGP identifier is 4 octets, RFC 6286).
 * - Listen port: the `node.<name>` BGPConfiguration's listenPort, else the
 *   `default` one's when it is not 179, else the node config's. With
 *   `bindMode: NodeIP` the speaker listens on the node's own address.
 * - A node with `routeReflectorClusterID` reflects, with that cluster id.
 *
 * Sessions, one address family each (BIRD's `bird` and `bird6`); a family
 * is off when this node has no address of it:
 * - Node-to-node mesh while `nodeToNodeMeshEnabled` (default true): every
 *   other node with an address of the family. A route reflector takes no
 *   part in the mesh and no mesh session goes to one: reflectors are peered
 *   through BGPPeers. The mesh is one-way: the node whose address is the
 *   greater string waits passively (Calico compares the address texts, so
 *   10.0.0.9 > 10.0.0.10; comparing numbers instead would leave both ends
 *   passive against a calico-node). Mesh sessions carry the
 *   `nodeMeshPassword` and `nodeMeshMaxRestartTime`.
 * - BGPPeers apply to every node (neither `node` nor `nodeSelector`: a
 *   "global" peering), to `node`, or to the nodes `nodeSelector` picks. The
 *   far end is `peerIP` (optionally ip:port; without a port, a node with
 *   that address and AS is dialled on its own listen port) with `asNumber`,
 *   or every node `peerSelector` picks, with its own addresses and AS.
 *   Unless `reversePeering: Manual`, the far-end nodes peer back with the
 *   nodes of `node`/`nodeSelector` (all nodes when neither is set).
 *   Precedence for one peer address: global, then node-specific, then
 *   reverse peerings (confd's order); any of them beats the mesh.
 * - Route reflection (RFC 4456): on a reflector, an iBGP session to a peer
 *   that is not a reflector of the same cluster is a client session; two
 *   reflectors of one cluster peer as non-clients. (Calico knows a peer's
 *   cluster id only for peerSelector peerings and reverse peerings; a
 *   peerIP peer is never taken for a reflector, so we do the same.)
 * - Per-peer: `password.secretKeyRef` (a secret that cannot be read leaves
 *   the session without a password, as confd does, with a problem line),
 *   `ttlSecurity` (GTSM, RFC 5082), `sourceAddress: UseNodeIP` (the
 *   default: connect from the node's address), `keepaliveTime`,
 *   `maxRestartTime` (graceful restart, RFC 4724), `nextHopMode` Self/Keep,
 *   `keepOriginalNextHop` (eBGP only, as Calico), numAllowedLocalASNumbers.
 *   An automatic global peering towards another node's address is passive
 *   from the greater address, as the mesh.
 *
 * Peer types for `tabby status` (contract words mesh/rr/tor, Calico's
 * global/node for the rest): `mesh`; `rr` for every session of a route
 * reflection design (this node reflects to the peer, the peer node is a
 * reflector, or both are); `tor` for a BGPPeer to an address no node owns
 * in another AS: the eBGP session to a top-of-rack router in Calico's "AS
 * per rack" designs (an address outside the cluster in our own AS cannot
 * be told apart from any other iBGP router, so it keeps Calico's word);
 * `global` and `node` (calicoctl: "global", "node specific") otherwise.
 *
 * Origination and export: see bgp-topology/export-policy.ts. Import:
 * everything (Calico's import filter accepts all; the daemon keeps learned
 * routes to its own blocks and to the service ranges out of the kernel,
 * see `kernelReject`).
 */
import { createHash } from 'node:crypto';
import { bgpConfigSchema, type BgpConfig } from '../bgp/config.js';
import type { BGPConfiguration, BGPPeer, IPPool, Node } from '../datastore/resources/index.js';
import { effectiveBGPConfiguration, ip, parseGoDuration, parsePeerIP } from '../datastore/resources/index.js';
import { parseSelector, type Selector } from '../policy/selector/index.js';
import { exportTerms } from './bgp-topology/export-policy.js';

export type PeerType = 'mesh' | 'rr' | 'tor' | 'global' | 'node';

/** Calico skips service advertisement from a node with this label set to "true". */
export const EXCLUDE_FROM_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';
/** The name of the export filter in the derived config. */
export const EXPORT_FILTER = 'calico_export';

export interface BgpTopologyInput {
  nodeName: string;
  nodes: readonly Node[];
  bgpPeers: readonly BGPPeer[];
  bgpConfigurations: readonly BGPConfiguration[];
  ipPools: readonly IPPool[];
  /** This node's affine blocks (IPAM), both families. */
  localBlocks: readonly string[];
  /**
   * Addresses of this node's workloads (optional). Those outside this
   * node's blocks were borrowed from another node's block; Calico exports
   * their /32 (/128) routes, so they are originated too.
   */
  workloadAddresses?: readonly string[];
  /** The node config's BGP listen address and port. */
  listen: { address: string; port: number };
  controlSocket: string;
  /** Used for what this node's own Node resource does not say yet (before registration). */
  self?: { ipv4?: string; ipv6?: string; asNumber?: number; routeReflectorClusterID?: string };
  /** Calico's CALICO_ROUTER_ID: an IPv4 address, or "hash" (from the node name, for IPv6-only nodes). */
  routerId?: string;
  /** A secretKeyRef's value, or undefined when it cannot be read. */
  secret?: (name: string, key: string) => string | undefined;
}

export interface DerivedPeer {
  address: string;
  port: number;
  asNumber: number;
  type: PeerType;
  /** Calico's BIRD protocol name (Mesh_10_0_0_2, Global_..., Node_...), also the speaker's peer description. */
  name: string;
  /** Where the session comes from: "node-to-node mesh", "BGPPeer tor", "BGPPeer rrs (reverse)". */
  source: string;
  /** The node at the far end, when it is one. */
  node?: string;
}

export interface BgpTopology {
  /** null only when the derived config cannot be built at all (see problems). */
  config: BgpConfig | null;
  /** Peer address -> type, for status and metrics. */
  types: Map<string, PeerType>;
  /** The configured sessions, sorted by address. */
  peers: DerivedPeer[];
  /**
   * Service ranges: learned routes inside them must not go into the kernel
   * (Calico's kernel filter rejects them; every node answers for them itself).
   */
  kernelReject: string[];
  /** Everything that could not be done as the resources ask, one line each. */
  problems: string[];
}

interface NodeInfo {
  name: string;
  ipv4?: string;
  ipv6?: string;
  asNumber: number;
  clusterId?: string;
  labels: Record<string, string>;
  /** Its BGP listen port when BGPConfiguration sets one (node.<name>, else default), else undefined (179). */
  port?: number;
}

type Family = 4 | 6;

/** One peering as confd computes it (backends.BGPPeer), before the per-node processing. */
interface PeerData {
  ip: string;
  port?: number;
  asNumber: number;
  /** The far end is a node (peerSelector, reverse peering): its cluster id is known. */
  rrClusterId?: string;
  /** The peer IP is some node's (an automatic global peering to it is passive from the greater address). */
  calicoNode: boolean;
  node?: string;
  from: BGPPeer;
  kind: 'global' | 'node';
  reverse: boolean;
}

/** Canonical address text (no prefix), or undefined. */
function addr(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const a = ip.parseIp(text.split('/')[0]!);
  return a ? ip.formatIp(a) : undefined;
}

const familyOf = (a: string): Family => (a.includes(':') ? 6 : 4);
const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Calico's `CALICO_ROUTER_ID=hash`: the first 4 bytes of SHA-256(node name), first octet kept out of 224-255. */
export function hashRouterId(nodeName: string): string {
  const h = createHash('sha256').update(nodeName).digest();
  const first = h[0]! > 223 ? h[0]! - 32 : h[0]!;
  return `${first}.${h[1]}.${h[2]}.${h[3]}`;
}

/** BIRD protocol names as confd writes them. */
function protocolName(prefix: string, address: string, port?: number): string {
  return `${prefix}_${address.replace(/[.:]/g, '_')}${port ? `_port_${port}` : ''}`;
}

export function deriveBgpTopology(input: BgpTopologyInput): BgpTopology {
  const problems: string[] = [];
  const global = input.bgpConfigurations.find((c) => c.metadata.name === 'default');
  const overrides = new Map(input.bgpConfigurations.filter((c) => c.metadata.name.startsWith('node.')).map((c) => [c.metadata.name.slice(5), c]));
  const eff = effectiveBGPConfiguration(global, overrides.get(input.nodeName));
  const globalPort = global?.spec.listenPort;

  const nodes: NodeInfo[] = input.nodes
    .map((n) => {
      const port = overrides.get(n.metadata.name)?.spec.listenPort ?? globalPort;
      const info: NodeInfo = { name: n.metadata.name, asNumber: n.spec.bgp?.asNumber ?? eff.asNumber, labels: { ...(n.metadata.labels ?? {}) } };
      const v4 = addr(n.spec.bgp?.ipv4Address);
      const v6 = addr(n.spec.bgp?.ipv6Address);
      if (v4) info.ipv4 = v4;
      if (v6) info.ipv6 = v6;
      if (n.spec.bgp?.routeReflectorClusterID) info.clusterId = n.spec.bgp.routeReflectorClusterID;
      if (port !== undefined && port !== 179) info.port = port;
      return info;
    })
    .sort(byName);
  const found = nodes.find((n) => n.name === input.nodeName);
  const me: NodeInfo = found ?? { name: input.nodeName, asNumber: input.self?.asNumber ?? eff.asNumber, labels: {} };
  if (!found) {
    const v4 = addr(input.self?.ipv4);
    const v6 = addr(input.self?.ipv6);
    if (v4) me.ipv4 = v4;
    if (v6) me.ipv6 = v6;
    if (input.self?.routeReflectorClusterID) me.clusterId = input.self.routeReflectorClusterID;
  }
  const myIp = (f: Family) => (f === 4 ? me.ipv4 : me.ipv6);
  const ipOf = (n: NodeInfo, f: Family) => (f === 4 ? n.ipv4 : n.ipv6);

  // ---- router id and speaker-wide settings ----
  let routerId = me.ipv4;
  if (input.routerId === 'hash') routerId = hashRouterId(me.name);
  else if (input.routerId) routerId = input.routerId;
  if (!routerId) {
    routerId = hashRouterId(me.name);
    problems.push(`node ${me.name} has no IPv4 address: router id ${routerId} taken from a hash of the node name (Calico needs CALICO_ROUTER_ID=hash for this)`);
  }
  const meshRestartMs = eff.nodeMeshMaxRestartTimeMs;
  const restartTime = meshRestartMs !== undefined && meshRestartMs > 0 ? Math.min(4095, Math.max(1, Math.round(meshRestartMs / 1000))) : 120;

  const sel = (text: string, where: string): Selector | undefined => {
    try {
      return parseSelector(text);
    } catch (err) {
      problems.push(`${where}: bad selector ${JSON.stringify(text)}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const matching = (text: string, where: string): NodeInfo[] => {
    const s = sel(text, where);
    if (!s) return [];
    const out = nodes.filter((n) => s.evaluate(n.labels));
    if (!out.length) problems.push(`${where} ${JSON.stringify(text)} matches no node`);
    return out;
  };

  /** confd's nodeAsBGPPeers: a node as the far end, over the families asked for. */
  const nodeAsPeers = (n: NodeInfo, fams: readonly Family[], p: BGPPeer, kind: 'global' | 'node', reverse: boolean): PeerData[] =>
    fams.flatMap((f) => {
      const a = ipOf(n, f);
      if (!a) return [];
      return [{ ip: a, ...(n.port ? { port: n.port } : {}), asNumber: n.asNumber, ...(n.clusterId ? { rrClusterId: n.clusterId } : {}), calicoNode: false, node: n.name, from: p, kind, reverse }];
    });
  /** confd's nodesWithIPPortAndAS. */
  const nodesWith = (address: string, asNumber: number, port: number | undefined) =>
    nodes.filter((n) => (n.ipv4 === address || n.ipv6 === address) && n.asNumber === asNumber && (port === undefined || (n.port ?? 179) === port));

  // ---- explicit peerings, keyed as confd keys them (global: ip+port; node-specific: ip+port for this node) ----
  const globalKeys = new Map<string, PeerData>();
  const nodeKeys = new Map<string, PeerData>();
  const keyOf = (d: PeerData) => `${d.ip}|${d.port ?? 0}`;
  const emit = (d: PeerData) => {
    const k = keyOf(d);
    if (d.kind === 'global') {
      if (!globalKeys.has(k)) globalKeys.set(k, d);
    } else if (!globalKeys.has(k) && !nodeKeys.has(k)) nodeKeys.set(k, d);
  };
  const bgpPeers = [...input.bgpPeers].sort((a, b) => byName(a.metadata, b.metadata));
  const isGlobal = (p: BGPPeer) => !p.spec.node && !p.spec.nodeSelector;

  for (const globalPass of [true, false]) {
    for (const p of bgpPeers) {
      if (globalPass !== isGlobal(p)) continue;
      const where = `BGPPeer ${p.metadata.name}`;
      const s = p.spec;
      const mine = globalPass || s.node === me.name || (s.nodeSelector !== undefined && matching(s.nodeSelector, `${where}: nodeSelector`).some((n) => n.name === me.name));
      if (!mine) continue;
      const kind = globalPass ? 'global' : 'node';
      if (s.peerSelector) {
        for (const n of matching(s.peerSelector, `${where}: peerSelector`)) for (const d of nodeAsPeers(n, [4, 6], p, kind, false)) emit(d);
      } else if (s.peerIP) {
        const parsed = parsePeerIP(s.peerIP);
        if (!parsed || s.asNumber === undefined) continue;
        const address = ip.formatIp(parsed.ip);
        let port = parsed.port;
        if (port === undefined) {
          const n = nodesWith(address, s.asNumber, undefined)[0];
          if (n?.port) port = n.port;
          else if (n && globalPort !== undefined && globalPort !== 179) port = globalPort;
        }
        const calicoNode = nodes.some((n) => n.ipv4 === address || n.ipv6 === address);
        emit({ ip: address, ...(port ? { port } : {}), asNumber: s.asNumber, calicoNode, from: p, kind, reverse: false });
      }
    }
  }

  // Reverse peerings: this node is one of the BGPPeer's far ends; peer back with its "local" nodes.
  for (const p of bgpPeers) {
    const s = p.spec;
    if (s.reversePeering === 'Manual') continue;
    const where = `BGPPeer ${p.metadata.name}`;
    let fams: Family[];
    let farEnds: NodeInfo[];
    if (s.peerSelector) {
      const sl = sel(s.peerSelector, `${where}: peerSelector`);
      farEnds = sl ? nodes.filter((n) => sl.evaluate(n.labels)) : [];
      fams = [4, 6];
    } else if (s.peerIP && s.asNumber !== undefined) {
      const parsed = parsePeerIP(s.peerIP);
      if (!parsed) continue;
      farEnds = nodesWith(ip.formatIp(parsed.ip), s.asNumber, parsed.port);
      fams = [parsed.ip.family];
    } else continue;
    if (!farEnds.some((n) => n.name === me.name)) continue;
    let locals: NodeInfo[];
    if (s.nodeSelector) {
      const sl = sel(s.nodeSelector, `${where}: nodeSelector`);
      locals = sl ? nodes.filter((n) => sl.evaluate(n.labels)) : [];
    } else if (s.node) locals = nodes.filter((n) => n.name === s.node);
    else locals = nodes;
    for (const n of locals) for (const d of nodeAsPeers(n, fams, p, 'node', true)) emit(d);
  }

  // ---- sessions ----
  interface Draft {
    address: string;
    port: number;
    asNumber: number;
    type: PeerType;
    name: string;
    source: string;
    node?: string;
    config: Record<string, unknown>;
    /** Lower wins for one address: global 0, node 1, reverse 2, mesh 3. */
    rank: number;
  }
  const drafts = new Map<string, Draft>();
  const add = (d: Draft) => {
    const cur = drafts.get(d.address);
    if (!cur || d.rank < cur.rank) {
      if (cur && cur.rank < 3 && cur.port !== d.port) problems.push(`${cur.source}: a second session to ${d.address} (port ${cur.port}) is not possible: ${d.source} (port ${d.port}) wins`);
      drafts.set(d.address, d);
    } else if (cur.rank < 3 && d.rank < 3 && cur.port !== d.port) {
      problems.push(`${d.source}: a second session to ${d.address} (port ${d.port}) is not possible: ${cur.source} (port ${cur.port}) wins`);
    }
  };
  const familyMissing = new Set<string>();

  // Node-to-node mesh.
  const meshRef = global?.spec.nodeMeshPassword?.secretKeyRef;
  let meshPassword: string | undefined;
  if (meshRef) {
    meshPassword = input.secret?.(meshRef.name, meshRef.key);
    if (meshPassword === undefined) problems.push(`BGPConfiguration default: nodeMeshPassword secret ${meshRef.name}/${meshRef.key} cannot be read: mesh sessions run without a password`);
  }
  if (eff.nodeToNodeMeshEnabled && !me.clusterId) {
    for (const f of [4, 6] as const) {
      const mine = myIp(f);
      if (!mine) continue;
      for (const n of nodes) {
        const a = ipOf(n, f);
        if (!a || a === mine || n.clusterId) continue;
        const config: Record<string, unknown> = { localAddress: mine };
        if (a > mine) config.passive = true;
        if (meshPassword !== undefined) config.password = meshPassword;
        if (meshRestartMs !== undefined && meshRestartMs <= 0) config.gracefulRestart = false;
        if (n.port) config.port = n.port;
        add({ address: a, port: n.port ?? 179, asNumber: n.asNumber, type: 'mesh', name: protocolName('Mesh', a), source: 'node-to-node mesh', node: n.name, config, rank: 3 });
      }
    }
  }

  // Explicit and reverse peerings (confd's buildPeerFromData).
  const passwords = new Map<string, string | undefined>();
  for (const d of [...globalKeys.values(), ...nodeKeys.values()]) {
    const p = d.from;
    const s = p.spec;
    const where = `BGPPeer ${p.metadata.name}${d.reverse ? ' (reverse)' : ''}`;
    const f = familyOf(d.ip);
    const mine = myIp(f);
    if (!mine) {
      const msg = `${where}: ${d.ip} is IPv${f} but node ${me.name} has no IPv${f} address: no session`;
      if (!familyMissing.has(msg)) problems.push(msg);
      familyMissing.add(msg);
      continue;
    }
    if (d.ip === mine) continue; // ourselves
    if (s.localASNumber !== undefined) {
      problems.push(`${where}: localASNumber is not supported: no session to ${d.ip}`);
      continue;
    }
    const config: Record<string, unknown> = {};
    if (d.port) config.port = d.port;
    if (s.ttlSecurity) {
      config.ttlSecurity = Math.min(254, s.ttlSecurity);
      if (s.ttlSecurity > 254) problems.push(`${where}: ttlSecurity ${s.ttlSecurity} is capped at 254 hops`);
    }
    if (s.sourceAddress !== 'None') config.localAddress = mine;
    const ref = s.password?.secretKeyRef;
    if (ref) {
      if (!passwords.has(p.metadata.name)) {
        const v = input.secret?.(ref.name, ref.key);
        passwords.set(p.metadata.name, v);
        if (v === undefined) problems.push(`BGPPeer ${p.metadata.name}: password secret ${ref.name}/${ref.key} cannot be read: its sessions run without a password`);
      }
      const v = passwords.get(p.metadata.name);
      if (v !== undefined) config.password = v;
    }
    if (s.maxRestartTime !== undefined) {
      const secs = Math.round((parseGoDuration(s.maxRestartTime) ?? 0) / 1000);
      if (secs <= 0) config.gracefulRestart = false;
      else if (secs !== restartTime) problems.push(`${where}: maxRestartTime ${secs}s: tabby advertises one restart time for every session (${restartTime}s)`);
    }
    if (s.keepaliveTime !== undefined) {
      const ka = Math.round((parseGoDuration(s.keepaliveTime) ?? 0) / 1000);
      if (ka > 0) {
        config.keepaliveTime = Math.min(21845, ka);
        if (ka >= 90) config.holdTime = Math.min(65535, ka * 3);
      }
    }
    if (s.numAllowedLocalASNumbers) {
      config.allowOwnAs = Math.min(10, s.numAllowedLocalASNumbers);
      if (s.numAllowedLocalASNumbers > 10) problems.push(`${where}: numAllowedLocalASNumbers ${s.numAllowedLocalASNumbers} is capped at 10`);
    }
    const ibgp = d.asNumber === me.asNumber;
    if (s.nextHopMode === 'Self') config.nextHopSelf = true;
    if (s.nextHopMode === 'Keep' || (s.keepOriginalNextHop && !ibgp)) config.nextHopKeep = true;
    const rrClient = ibgp && me.clusterId !== undefined && d.rrClusterId !== me.clusterId;
    if (rrClient) config.routeReflectorClient = true;
    if (d.kind === 'global' && d.calicoNode && d.ip > mine) config.passive = true;

    const peerNode = d.node !== undefined ? nodes.find((n) => n.name === d.node) : nodes.find((n) => n.ipv4 === d.ip || n.ipv6 === d.ip);
    let type: PeerType;
    if (rrClient || (peerNode && (peerNode.clusterId !== undefined || me.clusterId !== undefined))) type = 'rr';
    else if (!peerNode && !ibgp) type = 'tor';
    else type = d.kind;
    const prefix = d.kind === 'global' ? 'Global' : 'Node';
    add({
      address: d.ip,
      port: d.port ?? 179,
      asNumber: d.asNumber,
      type,
      name: protocolName(prefix, d.ip, d.port),
      source: where,
      ...(peerNode ? { node: peerNode.name } : {}),
      config,
      rank: d.kind === 'global' ? 0 : d.reverse ? 2 : 1,
    });
  }

  // ---- origination and export ----
  const canon = (c: string) => {
    const n = ip.parseCidr(c, { bareIp: true });
    return n ? ip.canonicalNetwork(n) : undefined;
  };
  const ownBlocks = [...new Set(input.localBlocks.map(canon).filter((c): c is string => !!c))];
  const blockNets = ownBlocks.map((c) => ip.parseCidr(c)!);
  const borrowed = (input.workloadAddresses ?? [])
    .map((a) => ip.parseIp(a.split('/')[0]!))
    .filter((a): a is ip.IpAddr => !!a && !blockNets.some((b) => ip.cidrContains(b, a)))
    .map((a) => `${ip.formatIp(a)}/${ip.familyBits(a.family)}`);
  const single = (c: string) => c.endsWith('/32') || c.endsWith('/128');
  const gs = global?.spec ?? {};
  const clusterIPs = (gs.serviceClusterIPs ?? []).map((x) => x.cidr);
  const externalIPs = (gs.serviceExternalIPs ?? []).map((x) => x.cidr);
  const lbIPs = (gs.serviceLoadBalancerIPs ?? []).map((x) => x.cidr);
  // Whole ranges from every node; single addresses are per-service routes (not modelled here).
  const serviceRanges = [...clusterIPs, ...externalIPs.filter((c) => !single(c)), ...lbIPs.filter((c) => !single(c))];
  const excluded = me.labels[EXCLUDE_FROM_LB_LABEL] === 'true';
  const advertisedServices = excluded ? [] : serviceRanges;
  const communityValue = new Map(eff.communities.map((c) => [c.name, c.value]));
  const terms = exportTerms({
    ownBlocks,
    serviceRanges: advertisedServices,
    reflectedServiceRanges: me.clusterId ? [...lbIPs, ...externalIPs].filter((c) => !c.includes(':')) : [],
    rejectedPools: input.ipPools.filter((p) => p.spec.disableBGPExport).map((p) => p.spec.cidr),
    exportedPools: input.ipPools.filter((p) => !p.spec.disableBGPExport).map((p) => p.spec.cidr),
    advertisements: eff.prefixAdvertisements.map((a) => ({ cidr: a.cidr, communities: a.communities.map((c) => communityValue.get(c) ?? c) })),
  });
  const originate = [...new Set([...ownBlocks, ...borrowed, ...advertisedServices])];

  // ---- the speaker config ----
  if (eff.bindMode === 'NodeIP' && me.ipv4 && [...drafts.values()].some((d) => familyOf(d.address) === 6)) {
    problems.push(`bindMode NodeIP: listening on ${me.ipv4} only; IPv6 peers cannot connect in, this node connects out to them`);
  }
  const myPort = overrides.get(me.name)?.spec.listenPort ?? (globalPort !== undefined && globalPort !== 179 ? globalPort : input.listen.port);
  const listenAddress = eff.bindMode === 'NodeIP' ? (me.ipv4 ?? me.ipv6 ?? input.listen.address) : input.listen.address;
  let sorted = [...drafts.values()].sort((a, b) => (familyOf(a.address) - familyOf(b.address)) || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  const build = (list: Draft[]) => ({
    asNumber: me.asNumber,
    routerId,
    listen: { address: listenAddress, port: myPort },
    controlSocket: input.controlSocket,
    ...(me.clusterId ? { clusterId: me.clusterId } : {}),
    gracefulRestartTime: restartTime,
    originate,
    filters: { [EXPORT_FILTER]: { terms, default: 'reject' } },
    peers: list.map((d) => ({
      address: d.address,
      asNumber: d.asNumber,
      description: d.name,
      addressFamilies: [familyOf(d.address) === 4 ? 'ipv4-unicast' : 'ipv6-unicast'],
      ...d.config,
      import: 'all',
      export: EXPORT_FILTER,
    })),
  });
  let parsed = bgpConfigSchema.safeParse(build(sorted));
  if (!parsed.success) {
    // Drop the sessions the schema refuses, keep the rest.
    const bad = new Set<number>();
    for (const issue of parsed.error.issues) {
      const where = issue.path.length ? issue.path.join('.') : '(config)';
      if (issue.path[0] === 'peers' && typeof issue.path[1] === 'number') {
        bad.add(issue.path[1]);
        const d = sorted[issue.path[1]]!;
        problems.push(`${d.source}: session to ${d.address} not configured: ${issue.path.slice(2).join('.') || 'peer'}: ${issue.message}`);
      } else problems.push(`derived BGP config: ${where}: ${issue.message}`);
    }
    sorted = sorted.filter((_, i) => !bad.has(i));
    parsed = bgpConfigSchema.safeParse(build(sorted));
  }
  const peers: DerivedPeer[] = sorted.map((d) => ({ address: d.address, port: d.port, asNumber: d.asNumber, type: d.type, name: d.name, source: d.source, ...(d.node ? { node: d.node } : {}) }));
  return {
    config: parsed.success ? parsed.data : null,
    types: new Map(peers.map((p) => [p.address, p.type])),
    peers,
    kernelReject: [...new Set(serviceRanges)],
    problems,
  };
}
