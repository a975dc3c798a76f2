/**
 * `tabby apply`, `tabby get`, `tabby delete`: Calico v3 resources in the
 * datastore, with kubectl/calicoctl habits.
 *
 * apply validates every document first, then checks them against what is
 * stored (an IPPool's cidr/blockSize cannot change; pools must not overlap),
 * then writes all of them in ONE store transaction whose compares pin every
 * key's revision: either every resource lands or none does, and a concurrent
 * writer makes it fail rather than be overwritten.
 */
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { loadNodeConfig, resolveConfigPath } from '../config/node-config.js';
import { ConfigError } from '../config/yaml-validate.js';
import { openNodeStore } from '../datastore/open.js';
import {
  describeKey,
  ipPoolChangeProblem,
  lookupKind,
  overlappingPools,
  parseResources,
  resourceKey,
  tableRows,
  validateResource,
  type IPPool,
  type Resource,
  type ResourceKey,
} from '../datastore/resources/index.js';
import type { Store, TxnOp, TxnCompare } from '../datastore/store/index.js';
import { UserError } from '../util/errors.js';

async function withStore<T>(configFlag: string | undefined, fn: (store: Store) => Promise<T>): Promise<T> {
  const cfg = loadNodeConfig(resolveConfigPath(configFlag));
  const store = await openNodeStore(cfg);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function readInput(file: string): { text: string; name: string } {
  if (file === '-') return { text: readFileSync(0, 'utf8'), name: '<stdin>' };
  try {
    return { text: readFileSync(file, 'utf8'), name: file };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: cannot read: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

function parseFile(file: string): Resource[] {
  const { text, name } = readInput(file);
  const r = parseResources(text, name);
  if (r.problems.length) throw new ConfigError(r.problems);
  if (r.resources.length === 0) throw new UserError(`${name}: no resources in the file`);
  return r.resources;
}

/** The stored form: what was applied, without the revision (that is the store's). */
function stored(r: Resource): Resource {
  const copy = structuredClone(r);
  delete (copy.metadata as { resourceVersion?: string }).resourceVersion;
  return copy;
}

const kindLabel = (kind: string) => `${kind.toLowerCase()}.projectcalico.org`;

export async function applyCommand(file: string, configFlag: string | undefined): Promise<void> {
  const resources = parseFile(file);
  await withStore(configFlag, async (store) => {
    const seen = new Set<string>();
    const compares: TxnCompare[] = [];
    const ops: TxnOp[] = [];
    const report: string[] = [];
    const problems: string[] = [];
    const stored4 = (await store.list({ kind: 'IPPool' })).items.map((i) => i.value as IPPool);
    const pools = new Map(stored4.map((p) => [p.metadata.name, p]));
    for (const r of resources) {
      const key = resourceKey(r);
      const id = describeKey(key);
      if (seen.has(id)) {
        problems.push(`${id} appears twice in ${file}`);
        continue;
      }
      seen.add(id);
      const cur = await store.get(key);
      const next = stored(r);
      if (r.kind === 'IPPool' && cur) {
        const p = ipPoolChangeProblem(cur.value as IPPool, r);
        if (p) problems.push(p);
      }
      if (r.kind === 'IPPool') pools.set(r.metadata.name, r);
      compares.push({ key, revision: cur?.revision ?? 0 });
      const unchanged = cur !== undefined && JSON.stringify(cur.value) === JSON.stringify(next);
      if (!unchanged) ops.push({ type: 'put', key, value: next });
      report.push(`${kindLabel(r.kind)}/${key.namespace ? `${key.namespace}/` : ''}${key.name} ${cur ? (unchanged ? 'unchanged' : 'configured') : 'created'}`);
    }
    for (const [a, b] of overlappingPools([...pools.values()])) {
      problems.push(`IPPool ${a.metadata.name} (${a.spec.cidr}) overlaps IPPool ${b.metadata.name} (${b.spec.cidr})`);
    }
    if (problems.length) throw new UserError(`${problems[0]}; nothing was applied`, 1, problems.slice(1));
    if (ops.length) {
      const res = await store.txn({ compare: compares, ops });
      if (!res.succeeded) throw new UserError('the datastore changed while applying (another writer?); nothing was applied, try again', 1);
    }
    process.stdout.write(report.join('\n') + '\n');
  });
}

export async function deleteCommand(opts: { file?: string; kind?: string; name?: string; namespace: string; config?: string }): Promise<void> {
  let keys: ResourceKey[];
  if (opts.file) {
    if (opts.kind) throw new UserError('give either -f FILE or KIND NAME, not both');
    keys = parseFile(opts.file).map(resourceKey);
  } else {
    if (!opts.kind || !opts.name) throw new UserError('delete needs -f FILE, or KIND and NAME');
    const k = lookupKind(opts.kind);
    if (!k) throw new UserError(`unknown resource kind "${opts.kind}"`);
    keys = [{ kind: k.kind, ...(k.namespaced ? { namespace: opts.namespace } : {}), name: opts.name } as ResourceKey];
  }
  await withStore(opts.config, async (store) => {
    const out: string[] = [];
    let missing = 0;
    for (const key of keys) {
      const cur = await store.get(key);
      if (!cur) {
        process.stderr.write(`tabby: ${describeKey(key)} not found\n`);
        missing++;
        continue;
      }
      await store.delete(key, { expectRevision: cur.revision });
      out.push(`${kindLabel(key.kind)}/${key.namespace ? `${key.namespace}/` : ''}${key.name} deleted`);
    }
    if (out.length) process.stdout.write(out.join('\n') + '\n');
    if (missing) process.exitCode = 1;
  });
}

function withVersion(value: unknown, revision: number): Resource {
  // Values were validated when applied; re-validating catches a store edited by hand.
  let r: Resource;
  try {
    r = validateResource(value);
  } catch {
    r = value as Resource;
  }
  return { ...r, metadata: { ...r.metadata, resourceVersion: String(revision) } } as Resource;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd()).join('\n');
}

export async function getCommand(opts: { kind: string; name?: string; namespace: string; allNamespaces?: boolean; output: string; config?: string }): Promise<void> {
  const k = lookupKind(opts.kind);
  if (!k) throw new UserError(`unknown resource kind "${opts.kind}"`);
  await withStore(opts.config, async (store) => {
    let items: Resource[];
    if (opts.name) {
      const key = { kind: k.kind, ...(k.namespaced ? { namespace: opts.namespace } : {}), name: opts.name };
      const cur = await store.get(key);
      if (!cur) throw new UserError(`${describeKey(key)} not found`, 1);
      items = [withVersion(cur.value, cur.revision)];
    } else {
      const sel = k.namespaced && !opts.allNamespaces ? { kind: k.kind, namespace: opts.namespace } : { kind: k.kind };
      items = (await store.list(sel)).items.map((i) => withVersion(i.value, i.revision));
    }
    if (opts.output === 'table') {
      if (items.length === 0 && !opts.name) {
        process.stderr.write(`No ${k.plural} found${k.namespaced && !opts.allNamespaces ? ` in namespace ${opts.namespace}` : ''}.\n`);
        return;
      }
      process.stdout.write(table(tableRows(k.kind, items as never, { namespace: !!opts.allNamespaces })) + '\n');
      return;
    }
    const doc = opts.name ? items[0] : { apiVersion: 'projectcalico.org/v3', kind: k.listKind, items };
    process.stdout.write(opts.output === 'json' ? JSON.stringify(doc, null, 2) + '\n' : stringify(doc));
  });
}
