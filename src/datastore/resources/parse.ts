/**
 * Reading resource manifests: YAML (one or several documents) or JSON, each
 * document a resource, a `kind: List` / `kind: <Kind>List` wrapper with
 * `items`, or a sequence of resources (as calicoctl accepts).
 *
 * Every document is validated before anything is returned, and every problem
 * of every document is reported at once, each as
 *   FILE:LINE:COL: document N: spec.ipipMode: must be one of ...
 * with N counting the file's documents from 1. When there is any problem no
 * resource is returned; applying all or none is the caller's job.
 *
 * An empty file (or one holding only empty documents) yields no resources
 * and no problem; the caller decides whether that is an error.
 */
import { Document, LineCounter, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import {
  ConfigError,
  formatProblem,
  locate,
  parseYamlText,
  validateDoc,
  type ConfigProblem,
  type KeyPath,
  type SourceDoc,
} from '../../config/yaml-validate.js';
import { API_VERSION } from './envelope.js';
import { overlappingPools, type IPPool } from './ippool.js';
import { CALICO_KINDS_NOT_IMPLEMENTED, KINDS, kindInfo, type Resource } from './registry.js';

/** Where a resource came from, for messages of later stages (apply, conflicts). */
export interface ResourceOrigin {
  file: string;
  /** 1-based document number in the file. */
  document: number;
  /** Path of the resource inside the document: [] for a plain document, ['items', i] in a list. */
  path: KeyPath;
  line: number;
  col: number;
}

export interface ParseResult {
  /** Fully defaulted resources in file order; empty when there is any problem. */
  resources: Resource[];
  /** origins[i] is where resources[i] came from. */
  origins: ResourceOrigin[];
  problems: ConfigProblem[];
}

interface Entry {
  resource: Resource;
  origin: ResourceOrigin;
  src: SourceDoc;
}

const KIND_NAMES = KINDS.map((k) => k.kind);

/** Parse and validate a manifest text. Never throws for a user error. */
export function parseResources(text: string, file: string): ParseResult {
  const { docs, problems: syntax } = parseYamlText(text, file);
  // yaml-validate numbers documents from 0 and only in multi-document files.
  const problems: ConfigProblem[] = syntax.map((p) => ({ ...p, document: (p.document ?? 0) + 1 }));
  const entries: Entry[] = [];
  for (const src of docs) {
    const doc: SourceDoc = { ...src, index: src.index + 1 };
    parseDocument(doc, entries, problems);
  }
  problems.push(...crossResourceProblems(entries));
  problems.sort((a, b) => (a.document ?? 0) - (b.document ?? 0) || a.line - b.line || a.col - b.col);
  if (problems.length > 0) return { resources: [], origins: [], problems };
  return { resources: entries.map((e) => e.resource), origins: entries.map((e) => e.origin), problems };
}

/** parseResources, throwing a ConfigError that carries every problem. */
export function loadResources(text: string, file: string): Resource[] {
  const r = parseResources(text, file);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return r.resources;
}

/**
 * Validate a resource given as a value (read back from the datastore, built
 * by code) rather than as text. Problems name `where` and the key path, with
 * no line. Throws ConfigError.
 */
export function validateResource(value: unknown, where = 'resource'): Resource {
  const src: SourceDoc = { file: where, index: 1, doc: new Document(value) as Document.Parsed, lines: new LineCounter(), value };
  const entries: Entry[] = [];
  const problems: ConfigProblem[] = [];
  parseOne(src, [], entries, problems);
  if (problems.length > 0) {
    throw new ConfigError(problems.map(({ document: _d, ...p }) => ({ ...p, line: 0, col: 0 })));
  }
  return entries[0]!.resource;
}

export function formatProblems(problems: readonly ConfigProblem[]): string[] {
  return problems.map(formatProblem);
}

// ---------------------------------------------------------------------------

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function problemAt(src: SourceDoc, path: KeyPath, message: string, opts: { keyOf?: boolean } = {}): ConfigProblem {
  return { file: src.file, document: src.index, ...locate(src, path, opts), path, message };
}

function parseDocument(src: SourceDoc, entries: Entry[], problems: ConfigProblem[]): void {
  const v = src.value;
  if (v === null || v === undefined) return; // an empty document, as between two "---"
  if (Array.isArray(v)) {
    v.forEach((_, i) => parseOne(src, [i], entries, problems));
    return;
  }
  if (isRecord(v) && typeof v.kind === 'string' && listItemKind(v.kind) !== undefined) {
    parseList(src, v, listItemKind(v.kind)!, entries, problems);
    return;
  }
  parseOne(src, [], entries, problems);
}

/** "List" -> null (items of any kind), "IPPoolList" -> "IPPool", anything else -> undefined. */
function listItemKind(kind: string): string | null | undefined {
  if (kind === 'List') return null;
  if (kind.endsWith('List')) {
    const item = kind.slice(0, -'List'.length);
    if (kindInfo(item)) return item;
  }
  return undefined;
}

const listMeta = z.strictObject({
  resourceVersion: z.union([z.string(), z.number()]).optional(),
  continue: z.string().optional(),
  remainingItemCount: z.number().optional(),
  selfLink: z.string().optional(),
});

function parseList(src: SourceDoc, v: Record<string, unknown>, itemKind: string | null, entries: Entry[], problems: ConfigProblem[]): void {
  // Kubernetes writes a generic List as apiVersion v1; Calico's typed lists carry its own.
  const apiVersions = itemKind === null ? [API_VERSION, 'v1'] : [API_VERSION];
  const wrapper = z.strictObject({
    apiVersion: z.enum(apiVersions as [string, ...string[]]),
    kind: z.string(),
    metadata: listMeta.optional(),
    items: z.array(z.unknown()),
  });
  const { problems: wp } = validateDoc(src, wrapper, true);
  problems.push(...wp);
  if (!Array.isArray(v.items)) return;
  v.items.forEach((item, i) => {
    const path = ['items', i];
    if (itemKind !== null && isRecord(item)) {
      // In a typed list the items may leave out apiVersion and kind; if given they must match.
      if (item.kind !== undefined && item.kind !== itemKind) {
        problems.push(problemAt(src, [...path, 'kind'], `must be ${JSON.stringify(itemKind)} in a ${itemKind}List (got ${JSON.stringify(item.kind)})`));
        return;
      }
      parseOne(src, path, entries, problems, { apiVersion: API_VERSION, kind: itemKind, ...item });
      return;
    }
    parseOne(src, path, entries, problems);
  });
}

/** A view of the document rooted at `path`, so that zod paths and YAML positions line up. */
function subDocument(src: SourceDoc, path: KeyPath, value: unknown): SourceDoc {
  if (path.length === 0) return { ...src, value };
  const node = src.doc.getIn(path, true) as YamlNode | undefined;
  const doc = new Document() as Document.Parsed;
  doc.contents = (node ?? null) as Document.Parsed['contents'];
  return { ...src, doc, value };
}

function parseOne(src: SourceDoc, path: KeyPath, entries: Entry[], problems: ConfigProblem[], value: unknown = valueAt(src.value, path)): void {
  const sub = subDocument(src, path, value);
  const prefix = (p: ConfigProblem): ConfigProblem => ({ ...p, path: [...path, ...p.path] });
  if (!isRecord(value)) {
    problems.push(problemAt(src, path, 'expected a Calico resource: a mapping with apiVersion, kind, metadata and spec'));
    return;
  }
  const kind = value.kind;
  const info = typeof kind === 'string' ? kindInfo(kind) : undefined;
  if (!info) {
    problems.push(...kindProblems(sub, value).map(prefix));
    return;
  }
  const { value: resource, problems: vp } = validateDoc(sub, info.schema, true);
  if (vp.length > 0 || resource === undefined) {
    problems.push(...vp.map(prefix));
    return;
  }
  const at = locate(src, path);
  entries.push({ resource, origin: { file: src.file, document: src.index, path, line: at.line, col: at.col }, src });
}

function valueAt(root: unknown, path: KeyPath): unknown {
  let v = root;
  for (const seg of path) {
    if (Array.isArray(v) && typeof seg === 'number') v = v[seg];
    else if (isRecord(v)) v = v[String(seg)];
    else return undefined;
  }
  return v;
}

function kindProblems(src: SourceDoc, value: Record<string, unknown>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const kind = value.kind;
  if (value.apiVersion !== API_VERSION) {
    out.push(
      value.apiVersion === undefined
        ? problemAt(src, ['apiVersion'], 'required key is missing')
        : problemAt(src, ['apiVersion'], `must be ${JSON.stringify(API_VERSION)} (got ${JSON.stringify(value.apiVersion)})`),
    );
  }
  if (kind === undefined) {
    out.push(problemAt(src, ['kind'], 'required key is missing'));
  } else if (typeof kind !== 'string') {
    out.push(problemAt(src, ['kind'], 'expected a string naming the kind, such as "IPPool"'));
  } else if ((CALICO_KINDS_NOT_IMPLEMENTED as readonly string[]).includes(kind.replace(/List$/, ''))) {
    out.push(problemAt(src, ['kind'], `${kind} is a Calico kind tabby does not implement (tabby knows ${KIND_NAMES.join(', ')})`));
  } else {
    // Kinds are case-sensitive (Kubernetes GVK); suggest the right spelling.
    const lower = kind.toLowerCase();
    const base = lower.endsWith('list') ? lower.slice(0, -'list'.length) : lower;
    const match = [...KIND_NAMES, 'List'].find((k) => k.toLowerCase() === base || k.toLowerCase() === lower);
    const suggestion = match === undefined ? undefined : match.toLowerCase() === lower ? match : `${match}List`;
    const hint = suggestion ? ` (kinds are case-sensitive: did you mean ${JSON.stringify(suggestion)}?)` : ` (tabby knows ${KIND_NAMES.join(', ')})`;
    out.push(problemAt(src, ['kind'], `${JSON.stringify(kind)} is not a kind tabby knows${hint}`));
  }
  return out;
}

/** Checks between the resources of one file, which Calico makes between stored objects. */
function crossResourceProblems(entries: Entry[]): ConfigProblem[] {
  const pools = entries.filter((e): e is Entry & { resource: IPPool } => e.resource.kind === 'IPPool');
  return overlappingPools(pools.map((e) => e.resource)).map(([a, b]) => {
    const later = pools.find((e) => e.resource === b)!;
    const path = [...later.origin.path, 'spec', 'cidr'];
    return problemAt(later.src, path, `${b.spec.cidr} overlaps IPPool ${JSON.stringify(a.metadata.name)} (${a.spec.cidr}) in this file; IP pools must not overlap`);
  });
}
