/**
 * `tabby policy explain`: which policy and rule decide a flow, computed by
 * the same compiler the dataplane uses, from the resources in the datastore.
 */
import { loadNodeConfig, resolveConfigPath } from '../config/node-config.js';
import { openNodeStore } from '../datastore/open.js';
import type { Resource } from '../datastore/resources/index.js';
import { explainFlow, ExplainError, formatExplanation } from '../policy/index.js';
import { UserError } from '../util/errors.js';

const KINDS = ['NetworkPolicy', 'GlobalNetworkPolicy', 'Profile', 'WorkloadEndpoint', 'HostEndpoint'];

export async function policyExplain(opts: { from: string; to: string; port?: number; protocol: string; output?: string; config?: string }): Promise<void> {
  const store = await openNodeStore(loadNodeConfig(resolveConfigPath(opts.config)));
  let resources: Resource[];
  try {
    resources = (await Promise.all(KINDS.map((kind) => store.list<Resource>({ kind })))).flatMap((l) => l.items.map((i) => i.value));
  } finally {
    await store.close();
  }
  let x;
  try {
    x = explainFlow(resources, { from: opts.from, to: opts.to, protocol: opts.protocol as 'tcp', ...(opts.port !== undefined ? { port: opts.port } : {}) });
  } catch (err) {
    if (err instanceof ExplainError) throw new UserError(err.message);
    throw err;
  }
  process.stdout.write(opts.output === 'json' ? JSON.stringify(x, null, 2) + '\n' : formatExplanation(x) + '\n');
}
