/**
 * A lab host with a node config and a datastore, container namespaces, and
 * the plugin run as a runtime runs it: `ip netns exec <host> bin/tabby`
 * with CNI_* variables and the config on stdin (through src/cni/runtime.ts).
 * Everything lives under the lab's prefix, so `lab.destroy()` removes it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ipPoolSchema } from '../../../src/datastore/resources/ippool.js';
import { openStore, type Store, type StoreConfig } from '../../../src/datastore/store/index.js';
import { execPlugin, findPlugin, type Attachment, type NetworkConfigList, type PluginRun, type RuntimeOptions } from '../../../src/cni/runtime.js';
import { Lab, type LabHost } from '../../../src/lab/lab.js';
import { createNetns } from '../../../src/lab/netns.js';
import { LabEtcd } from './lab-etcd.js';

export const REPO = new URL('../../../../', import.meta.url).pathname;
export const CNI_PATH = [join(REPO, 'bin'), '/usr/lib/cni'];
export const NETWORK = 'k8s-pod-network';
export const MTU = 1400;
export const ROUTE_PROTO = 80;

export interface HostSetup {
  host: LabHost;
  configPath: string;
}

export class CniHarness {
  private constructor(
    readonly lab: Lab,
    readonly store: Store,
    /** The datastore as the node configs name it. */
    readonly storeConfig: StoreConfig,
    readonly etcd?: LabEtcd,
  ) {}

  /** A lab (fabric only) and a datastore: a directory of the lab, or an etcd inside the lab. */
  static async create(opts: { datastore?: 'embedded' | 'etcd' } = {}): Promise<CniHarness> {
    const lab = await Lab.create();
    try {
      if (opts.datastore === 'etcd') {
        const etcd = await LabEtcd.start(lab);
        const prefix = '/tabby/v1/';
        const store = await openStore({ type: 'etcd', endpoints: [etcd.endpointFromRoot], prefix });
        return new CniHarness(lab, store, { type: 'etcd', endpoints: [etcd.endpointInLab], prefix }, etcd);
      }
      const storeConfig: StoreConfig = { type: 'embedded', path: join(lab.dir, 'store') };
      return new CniHarness(lab, await openStore(storeConfig), storeConfig);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }

  /** A lab host and its node config (nodeName = host name). */
  async addHost(name: string, extraYaml = ''): Promise<HostSetup> {
    const host = await this.lab.addHost(name);
    const ds =
      this.storeConfig.type === 'embedded'
        ? `datastore:\n  type: embedded\n  path: ${this.storeConfig.path}\n`
        : `datastore:\n  type: etcd\n  endpoints: [${this.storeConfig.endpoints[0]}]\n  prefix: ${this.storeConfig.prefix ?? '/tabby/v1/'}\n  dialTimeout: 2\n`;
    const text = `nodeName: ${name}\n${ds}log:\n  level: warn\ndataplane:\n  mtu: ${MTU}\n  routeProtocol: ${ROUTE_PROTO}\n${extraYaml}`;
    const configPath = this.lab.writeFile(`${name}.yaml`, text);
    return { host, configPath };
  }

  /** An IPPool as `tabby apply` stores it. */
  async addPool(name: string, cidr: string, blockSize?: number): Promise<void> {
    const pool = ipPoolSchema.parse({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name }, spec: { cidr, ...(blockSize ? { blockSize } : {}) } });
    await this.store.put({ kind: 'IPPool', name }, pool);
  }

  /** A container netns (under the lab prefix); returns its path, as a runtime passes CNI_NETNS. */
  async newContainer(tag: string): Promise<{ name: string; path: string }> {
    const name = `${this.lab.prefix}-c-${tag}`;
    await createNetns(name);
    return { name, path: `/run/netns/${name}` };
  }

  /** A network config list: tabby first, then `chained` plugins. */
  list(host: HostSetup, opts: { cniVersion?: string; tabby?: Record<string, unknown>; chained?: Record<string, unknown>[] } = {}): NetworkConfigList {
    return {
      cniVersion: opts.cniVersion ?? '1.0.0',
      name: NETWORK,
      plugins: [{ type: 'tabby', nodeConfig: host.configPath, ...(opts.tabby ?? {}) }, ...(opts.chained ?? [])],
    };
  }

  runtime(host: HostSetup, env: Record<string, string> = {}): RuntimeOptions {
    return { path: CNI_PATH, hostNetns: host.host.netns, env, timeoutMs: 60_000 };
  }

  /** One tabby invocation with a raw stdin (for malformed input), in the host netns. */
  async raw(host: HostSetup, command: string, att: Attachment, stdin: string, env: Record<string, string> = {}): Promise<PluginRun> {
    return execPlugin(command, findPlugin('tabby', CNI_PATH), att, stdin, this.runtime(host, env));
  }

  /** One tabby invocation with a plugin config object (cniVersion and name filled in). */
  async call(host: HostSetup, command: string, att: Attachment, conf: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<PluginRun> {
    const full = { cniVersion: '1.0.0', name: NETWORK, type: 'tabby', nodeConfig: host.configPath, ...conf };
    return this.raw(host, command, att, JSON.stringify(full), env);
  }

  dir(rel: string): string {
    const p = join(this.lab.dir, rel);
    mkdirSync(p, { recursive: true });
    return p;
  }

  writeFile(rel: string, text: string): string {
    const p = join(this.lab.dir, rel);
    writeFileSync(p, text);
    return p;
  }

  async destroy(): Promise<void> {
    await this.store.close().catch(() => undefined);
    await this.etcd?.stop();
    await this.lab.destroy();
  }
}

/** The error JSON of a failed run (asserting it failed). */
export function errorOf(run: PluginRun): { cniVersion?: string; code: number; msg: string; details?: string } {
  if (run.code === 0) throw new Error(`expected the plugin to fail, it succeeded: ${run.stdout}`);
  const o = run.output as { code?: unknown } | undefined;
  if (!o || typeof o.code !== 'number') throw new Error(`no error JSON on stdout: ${JSON.stringify(run.stdout)} stderr: ${run.stderr}`);
  return o as { code: number; msg: string };
}

/** The result JSON of a successful run. */
export function resultOf(run: PluginRun): Record<string, unknown> {
  if (run.code !== 0) throw new Error(`plugin failed (exit ${run.code}): ${run.stdout} ${run.stderr}`);
  if (!run.output) throw new Error(`no JSON result: ${JSON.stringify(run.stdout)}`);
  return run.output;
}
