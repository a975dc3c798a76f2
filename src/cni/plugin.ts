/**
 * ADD, DEL and CHECK (SPEC.md §2 "CNI operations"), on injected ports: the
 * IPAM, the WorkloadEndpoint store and the kernel. No process-level I/O here
 * (stdin, stdout, env, config files): run.ts does that.
 *
 * ADD
 *   1. The container netns must exist (else code 3: nothing to clean up).
 *   2. Idempotency: a WorkloadEndpoint of this container id whose interfaces
 *      are all in place means the attachment exists: return the same result.
 *   3. Addresses: those the handle already holds (an ADD retried after a
 *      partial failure), else a new allocation.
 *   4. A host interface of the same name left by an earlier sandbox of the
 *      same pod is deleted (its veth peer goes with it).
 *   5. Kernel: veth, addresses, routes, sysctls (plumbing.ts).
 *   6. The WorkloadEndpoint is written last, when everything it describes
 *      exists, so the dataplane never sees an endpoint without interface.
 *   A failure after step 3 rolls back: host interface deleted (the peer
 *   goes with it), our WorkloadEndpoint deleted, the handle released.
 *
 * DEL (idempotent; anything already gone is fine)
 *   1. The interface: CNI_IFNAME deleted inside CNI_NETNS when the netns is
 *      still there; otherwise the host side by name, unless a newer sandbox
 *      of the same pod owns the endpoint now (its containerID differs).
 *   2. The WorkloadEndpoint, only while it records this container id.
 *   3. The handle's addresses, last: an address is free only once nothing
 *      routes to it any more.
 *
 * CHECK compares the kernel, the WorkloadEndpoint and the IPAM handle with
 * the prevResult of the ADD.
 */
import type { WorkloadEndpoint } from '../datastore/resources/endpoints.js';
import type { CniEnv } from './env.js';
import { toCniError } from './errors.js';
import type { Dataplane } from './kernel.js';
import type { NetConf } from './netconf.js';
import { attachmentProblems, attachmentResult, splitFamilies, type AttachmentFacts, type ExpectedAttachment, type VethPlan } from './plumbing.js';
import type { CniIpam, EndpointStore } from './ports.js';
import { CniError, ErrorCode, type SuccessResult } from './spec.js';
import { buildWorkloadEndpoint, workloadIdentity, type WorkloadIdentity } from './workload.js';

export interface CniDeps {
  node: string;
  mtu: number;
  routeProtocol: number;
  ipam: CniIpam;
  endpoints: EndpointStore;
  dataplane: Dataplane;
  /** How the container netns names the host netns: `/proc/<plugin pid>/ns/net`. */
  hostNetnsRef: string;
  randomMac: () => string;
  /** Structured log line (stderr); never stdout. */
  log: (level: 'debug' | 'info' | 'warn', event: string, fields: Record<string, unknown>) => void;
}

function requireNetns(env: CniEnv): string {
  if (!env.netns) throw new CniError(ErrorCode.InvalidEnvironment, 'invalid environment variables: CNI_NETNS', 'CNI_NETNS is missing');
  return env.netns;
}

function expectedFromWep(id: WorkloadIdentity, wep: WorkloadEndpoint, routeProtocol: number): ExpectedAttachment {
  const { ipv4, ipv6 } = splitFamilies(wep.spec.ipNetworks);
  const exp: ExpectedAttachment = { ifname: id.endpoint, hostIface: id.hostIface, ipv4, ipv6, routeProtocol };
  if (wep.spec.mac) exp.containerMac = wep.spec.mac;
  return exp;
}

async function kernelProblems(deps: CniDeps, netns: string, exp: ExpectedAttachment): Promise<string[]> {
  const [c, h] = await Promise.all([
    deps.dataplane.observeContainer(netns, exp.ipv6.length > 0),
    deps.dataplane.observeHost(exp.hostIface, { ipv4: exp.ipv4.length > 0, ipv6: exp.ipv6.length > 0 }),
  ]);
  return attachmentProblems(exp, c, h);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}

export async function cmdAdd(env: CniEnv, conf: NetConf, deps: CniDeps): Promise<SuccessResult> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  const netns = requireNetns(env);
  const id = workloadIdentity(env, conf.name, deps.node);
  if (!(await deps.dataplane.netnsExists(netns))) {
    throw new CniError(ErrorCode.UnknownContainer, 'container unknown or does not exist', `network namespace ${netns} does not exist`);
  }
  const [existing, nodeLabels] = await Promise.all([deps.endpoints.get(id.namespace, id.name), deps.endpoints.nodeLabels(deps.node)]);

  const mac = existing?.spec.containerID === id.containerId ? existing.spec.mac : undefined;
  if (existing && mac && (await deps.dataplane.hostLinkExists(id.hostIface))) {
    const exp = expectedFromWep(id, existing, deps.routeProtocol);
    const problems = await kernelProblems(deps, netns, exp).catch((err: unknown) => [`cannot read the attachment: ${(err as Error).message}`]);
    if (problems.length === 0) {
      deps.log('info', 'cni.add.exists', { endpoint: id.name, namespace: id.namespace, container: id.containerId });
      return attachmentResult({ hostIface: id.hostIface, ifname: id.endpoint, netns, containerMac: mac, ipv4: exp.ipv4, ipv6: exp.ipv6 }, conf.prevResult);
    }
    deps.log('warn', 'cni.add.repair', { endpoint: id.name, namespace: id.namespace, problems });
  }

  let wepWritten = false;
  try {
    const phases: Record<string, number> = { read: ms() };
    let held = await deps.ipam.addressesOf(id.handleId);
    if (held.length === 0) {
      const attrs: Record<string, string> = { namespace: id.namespace, container: id.containerId };
      if (id.pod) attrs.pod = id.pod;
      const got = await deps.ipam.assign({
        handleId: id.handleId,
        node: deps.node,
        nodeLabels,
        num4: conf.ipam.assignIpv4 ? 1 : 0,
        num6: conf.ipam.assignIpv6 ? 1 : 0,
        attrs,
        pools: [...conf.ipam.ipv4Pools, ...conf.ipam.ipv6Pools],
      });
      held = [...got.ipv4, ...got.ipv6];
    }
    const { ipv4, ipv6 } = splitFamilies(held);
    phases.ipam = ms();

    if (await deps.dataplane.hostLinkExists(id.hostIface)) {
      deps.log('info', 'cni.add.stale_interface', { interface: id.hostIface, endpoint: id.name });
      await deps.dataplane.deleteHostLink(id.hostIface);
    }
    // Keep the MAC the endpoint records, so a repaired attachment looks as before.
    const containerMac = mac ?? deps.randomMac();
    const plan: VethPlan = {
      hostIface: id.hostIface,
      ifname: id.endpoint,
      netns,
      hostNetnsRef: deps.hostNetnsRef,
      containerMac,
      mtu: deps.mtu,
      routeProtocol: deps.routeProtocol,
      ipv4,
      ipv6,
    };
    await deps.dataplane.setUp(plan);
    phases.kernel = ms();

    const wep = buildWorkloadEndpoint(id, {
      ipNetworks: [...ipv4.map((ip) => `${ip}/32`), ...ipv6.map((ip) => `${ip}/128`)],
      mac: containerMac,
      labels: conf.labels,
    });
    wepWritten = true; // a put whose reply is lost may have applied: roll it back too
    await deps.endpoints.put(wep);
    phases.endpoint = ms();
    // Cumulative milliseconds at the end of each phase, for latency work.
    deps.log('info', 'cni.add', { endpoint: id.name, namespace: id.namespace, container: id.containerId, interface: id.hostIface, ips: held, ms: phases });
    const facts: AttachmentFacts = { hostIface: id.hostIface, ifname: id.endpoint, netns, containerMac, ipv4, ipv6 };
    return attachmentResult(facts, conf.prevResult);
  } catch (err) {
    const cniErr = toCniError(err);
    await rollback(id, deps, wepWritten, cniErr);
    throw cniErr;
  }
}

/** Undo a failed ADD. Each step is attempted; failures are logged, the original error is what the runtime sees. */
async function rollback(id: WorkloadIdentity, deps: CniDeps, wepWritten: boolean, cause: CniError): Promise<void> {
  const failed: string[] = [];
  if (cause.code !== ErrorCode.InterfaceExists) {
    // With InterfaceExists the pair was never created: the container's interface is someone else's.
    await deps.dataplane.deleteHostLink(id.hostIface).catch((e: unknown) => failed.push(`delete ${id.hostIface}: ${(e as Error).message}`));
  }
  if (wepWritten) {
    await deps.endpoints.deleteIfOwned(id.namespace, id.name, id.containerId).catch((e: unknown) => failed.push(`delete endpoint: ${(e as Error).message}`));
  }
  await deps.ipam.release(id.handleId).catch((e: unknown) => failed.push(`release ${id.handleId}: ${(e as Error).message}`));
  deps.log(failed.length ? 'warn' : 'info', 'cni.add.rolled_back', { endpoint: id.name, code: cause.code, error: cause.message, ...(failed.length ? { incomplete: failed } : {}) });
}

export async function cmdDel(env: CniEnv, conf: NetConf, deps: CniDeps): Promise<void> {
  const id = workloadIdentity(env, conf.name, deps.node);
  try {
    const wep = await deps.endpoints.get(id.namespace, id.name);
    const ours = wep === undefined || wep.spec.containerID === id.containerId;
    let removed = false;
    if (env.netns && (await deps.dataplane.netnsExists(env.netns))) {
      removed = await deps.dataplane.deleteContainerLink(env.netns, id.endpoint);
    }
    if (!removed && ours) {
      // The netns is gone (its veth died with it) or was not given: the host side may remain.
      removed = await deps.dataplane.deleteHostLink(id.hostIface);
    }
    const wepDeleted = wep !== undefined && ours ? await deps.endpoints.deleteIfOwned(id.namespace, id.name, id.containerId) : false;
    await deps.ipam.release(id.handleId);
    deps.log('info', 'cni.del', { endpoint: id.name, namespace: id.namespace, container: id.containerId, interfaceDeleted: removed, endpointDeleted: wepDeleted, ownedByNewer: !ours });
  } catch (err) {
    throw toCniError(err);
  }
}

export async function cmdCheck(env: CniEnv, conf: NetConf, deps: CniDeps): Promise<void> {
  const netns = requireNetns(env);
  const id = workloadIdentity(env, conf.name, deps.node);
  const prev = conf.prevResult!;
  if (!(await deps.dataplane.netnsExists(netns))) {
    throw new CniError(ErrorCode.UnknownContainer, 'container unknown or does not exist', `network namespace ${netns} does not exist`);
  }
  const idx = prev.interfaces.findIndex((i) => i.name === id.endpoint && i.sandbox === netns);
  const problems: string[] = [];
  if (idx < 0) problems.push(`prevResult has no interface ${id.endpoint} in ${netns}`);
  if (!prev.interfaces.some((i) => i.name === id.hostIface && !i.sandbox)) problems.push(`prevResult has no host interface ${id.hostIface}`);
  const addresses = prev.ips.filter((ip) => ip.interface === idx).map((ip) => ip.address);
  const { ipv4, ipv6 } = splitFamilies(addresses);
  if (idx >= 0 && addresses.length === 0) problems.push(`prevResult has no address on ${id.endpoint}`);
  try {
    if (idx >= 0) {
      const exp: ExpectedAttachment = { ifname: id.endpoint, hostIface: id.hostIface, ipv4, ipv6, routeProtocol: deps.routeProtocol };
      const mac = prev.interfaces[idx]!.mac;
      if (mac) exp.containerMac = mac;
      problems.push(...(await kernelProblems(deps, netns, exp)));
    }
    const [wep, held] = await Promise.all([deps.endpoints.get(id.namespace, id.name), deps.ipam.addressesOf(id.handleId)]);
    const bare = [...ipv4, ...ipv6];
    if (!wep) problems.push(`WorkloadEndpoint ${id.namespace}/${id.name} is missing`);
    else {
      if (wep.spec.containerID !== id.containerId) problems.push(`WorkloadEndpoint ${id.namespace}/${id.name} belongs to container ${wep.spec.containerID ?? '(none)'}`);
      if (wep.spec.interfaceName !== id.hostIface) problems.push(`WorkloadEndpoint names interface ${wep.spec.interfaceName}, expected ${id.hostIface}`);
      const recorded = splitFamilies(wep.spec.ipNetworks);
      if (!sameSet([...recorded.ipv4, ...recorded.ipv6], bare)) {
        problems.push(`WorkloadEndpoint has ${wep.spec.ipNetworks.join(', ') || 'no addresses'}, prevResult has ${addresses.join(', ')}`);
      }
    }
    if (!sameSet(held, bare)) problems.push(`IPAM handle ${id.handleId} holds ${held.join(', ') || 'nothing'}, prevResult has ${bare.join(', ')}`);
  } catch (err) {
    throw toCniError(err);
  }
  if (problems.length > 0) throw new CniError(ErrorCode.CheckFailed, 'CHECK failed', problems.join('; '));
  deps.log('debug', 'cni.check', { endpoint: id.name, namespace: id.namespace });
}
