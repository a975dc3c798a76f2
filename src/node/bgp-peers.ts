/**
 * This node's BGP speaker config, derived from the resources the way
 * Calico's confd templates and BGP processor derive BIRD's (pure, no I/O):
 *
 * - AS: the Node's `spec.bgp.asNumber`, else BGPConfiguration `asNumber`,
 *   else 64512. Router id: the node's IPv4 address.
 * - Node-to-node mesh while `nodeToNodeMeshEnabled` (default true): one
 *   session to every other node with an IPv4 address. Calico makes the mesh
 *   unidirectional (the node with the higher address waits passively for the
 *   lower one to connect), so a restarting node's connection never races the
 *   peer's own and aborts its graceful restart; so do we.
 * - BGPPeers: `node` (that node only), `nodeSelector` (the nodes it
 *   selects), neither (every node). The far end is `peerIP` (optionally
 *   with a port) and `asNumber`, or every node `peerSelector` selects, with
 *   its own address and AS. A peerSelector peering is also made in reverse
 *   (`reversePeering: Auto`, the default): a node selected by peerSelector
 *   peers with the nodes of nodeSelector, so both ends configure the
 *   session without a second BGPPeer.
 * - Route reflectors: a node with `routeReflectorClusterID` reflects; its
 *   iBGP peer nodes that are not reflectors of the same cluster are its
 *   clients (Calico: `rr client` unless the peer has the same cluster id).
 * - One session per peer address: an explicit BGPPeer wins over the mesh.
 * - Origination: this node's affine blocks, and the BGPConfiguration's
 *   service CIDRs (`serviceClusterIPs`, `serviceExternalIPs`,
 *   `serviceLoadBalancerIPs`). Export: only prefixes inside the IP pools or
 *   those service CIDRs (Calico's `calico_export_to_bgp_peers`), with the
 *   communities of `prefixAdvertisements`. Import: everything valid (the
 *   daemon never installs a route to its own blocks or via itself).
 */
import { bgpConfigSchema, type BgpConfig } from '../bgp/config.js';
import type { BGPConfiguration, BGPPeer, IPPool, Node } from '../datastore/resources/index.js';
import { effectiveBGPConfiguration, ip, parseGoDuration, parsePeerIP } from '../datastore/resources/index.js';
import { parseSelector, type Selector } from '../policy/selector/index.js';
import { ipv4ToInt } from '../util/ip.js';

export type PeerType = 'mesh' | 'rr' | 'node' | 'tor';

export interface BgpTopologyInput {
  nodeName: string;
  /** This node's underlay IPv4 address (no prefix). */
  address: string;
  /** From the node config. */
  listenAddress: string;
  listenPort: number;
  controlSocket: string;
  nodes: readonly Node[];
  peers: readonly BGPPeer[];
  configs: readonly BGPConfiguration[];
  pools: readonly IPPool[];
  /** This node's affine blocks. */
  localBlocks: readonly string[];
  /** secretKeyRef -> the password, or undefined when it cannot be read. */
  secret?: (name: string, key: string) => string | undefined;
}

export interface BgpTopology {
  config: BgpConfig;
  types: Map<string, PeerType>;
  problems: string[];
}

interface NodeInfo {
  name: string;
  ip: string | undefined;
  ipv6: string | undefined;
  asNumber: number;
  clusterId: string | undefined;
  labels: Record<string, string>;
}

interface PeerDraft {
  address: string;
  port?: number;
  asNumber: number;
  type: PeerType;
  description: string;
  passive?: boolean;
  routeReflectorClient?: boolean;
  nextHopSelf?: boolean;
  password?: string;
  ttlSecurity?: number;
  gracefulRestart?: boolean;
  keepaliveTime?: number;
  holdTime?: number;
  localAddress?: string;
  allowOwnAs?: number;
  nextHopKeep?: boolean;
  /** Explicit BGPPeers win over the mesh for the same address. */
  explicit: boolean;
}

const bare = (cidrOrIp: string | undefined) => cidrOrIp?.split('/')[0];

function compareIp(a: string, b: string): number {
  return ipv4ToInt(a) - ipv4ToInt(b);
}

function selectorOf(text: string, where: string, problems: string[]): Selector | undefined {
  try {
    return parseSelector(text);
  } catch (err) {
    problems.push(`${where}: bad selector ${JSON.stringify(text)}: ${(err as Error).message}`);
    return undefined;
  }
}

/** Which nodes a BGPPeer applies to (its "local" side). */
function localNodesOf(p: BGPPeer, nodes: readonly NodeInfo[], problems: string[]): NodeInfo[] {
  if (p.spec.node) return nodes.filter((n) => n.name === p.spec.node);
  if (p.spec.nodeSelector) {
    const s = selectorOf(p.spec.nodeSelector, `BGPPeer ${p.metadata.name}: nodeSelector`, problems);
    return s ? nodes.filter((n) => s.evaluate(n.labels)) : [];
  }
  return [...nodes];
}

export function deriveBgpTopology(input: BgpTopologyInput): BgpTopology {
  const problems: string[] = [];
  const eff = effectiveBGPConfiguration(
    input.configs.find((c) => c.metadata.name === 'default'),
    input.configs.find((c) => c.metadata.name === `node.${input.nodeName}`),
  );
  const globalSpec = input.configs.find((c) => c.metadata.name === 'default')?.spec;
  const nodeInfos: NodeInfo[] = input.nodes.map((n) => ({
    name: n.metadata.name,
    ip: bare(n.spec.bgp?.ipv4Address),
    ipv6: bare(n.spec.bgp?.ipv6Address),
    asNumber: n.spec.bgp?.asNumber ?? eff.asNumber,
    clusterId: n.spec.bgp?.routeReflectorClusterID,
    labels: { ...(n.metadata.labels ?? {}) },
  }));
  const me: NodeInfo = nodeInfos.find((n) => n.name === input.nodeName) ?? { name: input.nodeName, ip: input.address, ipv6: undefined, asNumber: eff.asNumber, clusterId: undefined, labels: {} };
  const myIp = input.address;
  const drafts = new Map<string, PeerDraft>();
  const add = (d: PeerDraft) => {
    const cur = drafts.get(d.address);
    if (cur && (cur.explicit || !d.explicit)) return; // first explicit wins; explicit beats mesh
    drafts.set(d.address, d);
  };

  /** A session to another node: RR client marking as Calico does. */
  const nodePeer = (other: NodeInfo, type: PeerType, extra: Partial<PeerDraft>, explicit: boolean) => {
    if (!other.ip || other.name === me.name || other.ip === myIp) return;
    const ibgp = other.asNumber === me.asNumber;
    const rrClient = ibgp && me.clusterId !== undefined && me.clusterId !== other.clusterId;
    const isRrPeering = me.clusterId !== undefined || other.clusterId !== undefined;
    add({
      address: other.ip,
      asNumber: other.asNumber,
      type: type === 'node' && isRrPeering ? 'rr' : type,
      description: `${type === 'mesh' ? 'Mesh' : 'Node'}_${other.name}`,
      ...(rrClient ? { routeReflectorClient: true } : {}),
      ...extra,
      explicit,
    });
  };

  // Node-to-node mesh (passive towards higher addresses, as Calico's template).
  const meshRef = globalSpec?.nodeMeshPassword?.secretKeyRef;
  const meshPassword = meshRef ? input.secret?.(meshRef.name, meshRef.key) : undefined;
  if (meshRef && meshPassword === undefined) problems.push(`BGPConfiguration default: nodeMeshPassword secret ${meshRef.name}/${meshRef.key} cannot be read: no mesh sessions until it can`);
  if (eff.nodeToNodeMeshEnabled && !(meshRef && meshPassword === undefined)) {
    const restart = eff.nodeMeshMaxRestartTimeMs;
    for (const other of nodeInfos) {
      if (!other.ip) continue;
      nodePeer(other, 'mesh', { ...(compareIp(other.ip, myIp) > 0 ? { passive: true } : {}), ...(restart !== undefined ? { gracefulRestart: restart > 0 } : {}), ...(meshPassword !== undefined ? { password: meshPassword } : {}) }, false);
    }
  }

  // Explicit BGPPeers.
  for (const p of [...input.peers].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
    const where = `BGPPeer ${p.metadata.name}`;
    const s = p.spec;
    const extra: Partial<PeerDraft> = {};
    if (s.ttlSecurity) extra.ttlSecurity = s.ttlSecurity;
    if (s.keepaliveTime) {
      const ka = Math.round((parseGoDuration(s.keepaliveTime) ?? 0) / 1000);
      if (ka > 0) {
        extra.keepaliveTime = ka;
        extra.holdTime = Math.max(3, ka * 3);
      }
    }
    if (s.maxRestartTime !== undefined) extra.gracefulRestart = (parseGoDuration(s.maxRestartTime) ?? 1) > 0;
    if (s.sourceAddress === 'UseNodeIP') extra.localAddress = myIp;
    if (s.nextHopMode === 'Self') extra.nextHopSelf = true;
    if (s.nextHopMode === 'Keep' || s.keepOriginalNextHop) extra.nextHopKeep = true;
    if (s.numAllowedLocalASNumbers) {
      extra.allowOwnAs = Math.min(10, s.numAllowedLocalASNumbers);
      if (s.numAllowedLocalASNumbers > 10) problems.push(`${where}: numAllowedLocalASNumbers ${s.numAllowedLocalASNumbers} is capped at 10`);
    }
    const password = s.password?.secretKeyRef;
    if (password) {
      const v = input.secret?.(password.name, password.key);
      if (v === undefined) {
        problems.push(`${where}: password secret ${password.name}/${password.key} cannot be read: the session is not configured (it would be refused by a peer that expects MD5)`);
        continue;
      }
      extra.password = v;
    }
    if (s.localASNumber !== undefined) problems.push(`${where}: localASNumber is not supported yet; the node's AS ${me.asNumber} is used`);
    const locals = localNodesOf(p, nodeInfos, problems);
    const iAmLocal = locals.some((n) => n.name === me.name);
    if (s.peerIP) {
      if (!iAmLocal) continue;
      const parsed = parsePeerIP(s.peerIP);
      if (!parsed) continue;
      const address = ip.formatIp(parsed.ip);
      if (address === myIp) continue;
      const peerNode = nodeInfos.find((n) => n.ip === address);
      if (peerNode) nodePeer(peerNode, 'node', extra, true);
      else add({ address, ...(parsed.port ? { port: parsed.port } : {}), asNumber: s.asNumber!, type: 'tor', description: `Peer_${p.metadata.name}`, ...extra, explicit: true });
      continue;
    }
    if (s.peerSelector) {
      const sel = selectorOf(s.peerSelector, `${where}: peerSelector`, problems);
      if (!sel) continue;
      const remotes = nodeInfos.filter((n) => sel.evaluate(n.labels));
      if (iAmLocal) for (const r of remotes) nodePeer(r, 'node', extra, true);
      // Reverse peering: the selected nodes configure the session back.
      if (s.reversePeering !== 'Manual' && remotes.some((n) => n.name === me.name)) for (const l of locals) nodePeer(l, 'node', extra, true);
    }
  }

  // Origination and export (Calico's calico_export_to_bgp_peers).
  const services = [...(globalSpec?.serviceClusterIPs ?? []), ...(globalSpec?.serviceExternalIPs ?? []), ...(globalSpec?.serviceLoadBalancerIPs ?? [])].map((x) => x.cidr);
  const pools = input.pools.filter((p) => !p.spec.disabled).map((p) => p.spec.cidr);
  const within = (c: string) => `${c} le ${c.includes(':') ? 128 : 32}`;
  const communityValue = new Map(eff.communities.map((c) => [c.name, c.value]));
  const terms: unknown[] = [];
  for (const adv of eff.prefixAdvertisements) {
    const values = adv.communities.map((c) => communityValue.get(c) ?? c);
    const std = values.filter((v) => v.split(':').length === 2);
    const large = values.filter((v) => v.split(':').length === 3);
    terms.push({ match: { prefix: [within(adv.cidr)] }, action: 'accept', set: { ...(std.length ? { addCommunities: std } : {}), ...(large.length ? { addLargeCommunities: large } : {}) } });
  }
  const allowed = [...pools, ...services];
  if (allowed.length) terms.push({ match: { prefix: allowed.map(within) }, action: 'accept' });
  const originate = [...new Set([...input.localBlocks, ...services])];

  const peers = [...drafts.values()]
    .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0))
    .map((d) => {
      const { explicit: _e, type: _t, ...rest } = d;
      return { ...rest, addressFamilies: d.address.includes(':') ? ['ipv6-unicast'] : ['ipv4-unicast'], export: 'calico_export' };
    });
  const parsed = bgpConfigSchema.safeParse({
    asNumber: me.asNumber,
    routerId: myIp,
    listen: { address: input.listenAddress, port: eff.listenPort !== 179 ? eff.listenPort : input.listenPort },
    controlSocket: input.controlSocket,
    ...(me.clusterId ? { clusterId: me.clusterId } : {}),
    originate,
    filters: { calico_export: { terms, default: 'reject' } },
    peers,
  });
  if (!parsed.success) {
    problems.push(`derived BGP config is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    // Keep running with no peers rather than with a half-understood topology.
    const empty = bgpConfigSchema.parse({ asNumber: me.asNumber, routerId: myIp, listen: { address: input.listenAddress, port: input.listenPort }, controlSocket: input.controlSocket, originate: input.localBlocks });
    return { config: empty, types: new Map(), problems };
  }
  return { config: parsed.data, types: new Map([...drafts.values()].map((d) => [d.address, d.type])), problems };
}
