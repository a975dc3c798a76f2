/**
 * Who this node is: its underlay address and interface (from the node config
 * or found in the kernel, as calico-node's autodetection "first-found" /
 * "interface" methods do), and its `Node` resource in the datastore.
 *
 * Registration merges: labels, annotations and spec fields that someone else
 * set (`tabby apply` of a Node with labels for peerSelector, say) are kept;
 * only what this node knows about itself is written, and only when it
 * differs. Writes are compare-and-swap so a concurrent `tabby apply` is never
 * overwritten.
 */
import { execa } from 'execa';
import type { NodeConfig } from '../config/node-config.js';
import { API_VERSION, type Node } from '../datastore/resources/index.js';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../datastore/store/errors.js';
import type { Store } from '../datastore/store/types.js';
import { UserError } from '../util/errors.js';

export interface HostIdentity {
  /** IPv4 address with prefix, e.g. 172.31.0.1/24. */
  address: string;
  addressV6?: string;
  interface: string;
  /** The uplink's MTU. */
  mtu: number;
}

interface IpAddrJson {
  ifname: string;
  mtu: number;
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

/** Find the address, interface and MTU the config leaves out (the kernel of the current netns). */
export async function detectIdentity(cfg: NodeConfig): Promise<HostIdentity> {
  const links = JSON.parse((await execa('ip', ['-j', 'address', 'show'], { timeout: 10_000 })).stdout) as IpAddrJson[];
  let ifname = cfg.interface;
  if (!ifname && cfg.address) {
    const ip = cfg.address.split('/')[0];
    ifname = links.find((l) => l.addr_info?.some((a) => a.local === ip))?.ifname;
  }
  if (!ifname) {
    const routes = JSON.parse((await execa('ip', ['-j', 'route', 'show', 'default'], { timeout: 10_000 })).stdout) as { dev?: string }[];
    ifname = routes.find((r) => r.dev)?.dev;
  }
  if (!ifname) throw new UserError('cannot find the uplink: set `interface` or `address` in the node config (no default route here)', 2);
  const link = links.find((l) => l.ifname === ifname);
  if (!link) throw new UserError(`interface ${ifname} (node config \`interface\`) does not exist in this network namespace`, 2);
  let address = cfg.address;
  if (!address) {
    const a = link.addr_info?.find((x) => x.family === 'inet' && x.scope === 'global');
    if (!a) throw new UserError(`interface ${ifname} has no global IPv4 address: set \`address\` in the node config`, 2);
    address = `${a.local}/${a.prefixlen}`;
  }
  const out: HostIdentity = { address, interface: ifname, mtu: link.mtu };
  if (cfg.addressV6) out.addressV6 = cfg.addressV6;
  return out;
}

/** The spec fields this node owns, from its config and what it detected. */
export function desiredNodeFields(cfg: NodeConfig, id: HostIdentity): { bgp: NonNullable<Node['spec']['bgp']>; addresses: NonNullable<Node['spec']['addresses']> } {
  const bgp: NonNullable<Node['spec']['bgp']> = { ipv4Address: id.address };
  if (id.addressV6) bgp.ipv6Address = id.addressV6;
  if (cfg.asNumber !== undefined) bgp.asNumber = cfg.asNumber;
  if (cfg.routeReflectorClusterID !== undefined) bgp.routeReflectorClusterID = cfg.routeReflectorClusterID;
  const addresses: NonNullable<Node['spec']['addresses']> = [{ address: id.address, type: 'CalicoNodeIP' }];
  if (id.addressV6) addresses.push({ address: id.addressV6, type: 'CalicoNodeIP' });
  return { bgp, addresses };
}

/** The merged Node: existing labels and foreign fields kept, ours set. Pure. */
export function mergeNode(existing: Node | undefined, name: string, fields: ReturnType<typeof desiredNodeFields>, extra: Partial<Node['spec']> = {}): Node {
  const base: Node = existing ? structuredClone(existing) : { apiVersion: API_VERSION, kind: 'Node', metadata: { name }, spec: {} };
  base.spec.bgp = { ...(base.spec.bgp ?? {}), ...fields.bgp };
  const others = (base.spec.addresses ?? []).filter((a) => a.type !== 'CalicoNodeIP');
  base.spec.addresses = [...fields.addresses, ...others];
  Object.assign(base.spec, extra);
  return base;
}

const nodeKey = (name: string) => ({ kind: 'Node', name });

/** Create or update this node's Node resource (compare-and-swap, retried on conflict). Returns it. */
export async function registerNode(store: Store, name: string, build: (existing: Node | undefined) => Node): Promise<Node> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const cur = await store.get<Node>(nodeKey(name));
    const next = build(cur?.value);
    if (cur && JSON.stringify(cur.value) === JSON.stringify(next)) return cur.value;
    try {
      if (cur) await store.update(nodeKey(name), next, { expectRevision: cur.revision });
      else await store.create(nodeKey(name), next);
      return next;
    } catch (err) {
      if (err instanceof ConflictError || err instanceof NotFoundError || err instanceof AlreadyExistsError) continue;
      throw err;
    }
  }
  throw new Error(`could not register Node ${name}: too many concurrent changes`);
}
