/**
 * One machinery for every YAML file tabby reads (node config, BGP-only config,
 * resource manifests): parse with line tracking, validate against a zod
 * schema, and turn every problem into a `ConfigProblem` that names the file,
 * the line and column, the key path and why.
 *
 * zod knows paths, YAML knows positions; this module joins the two by walking
 * the YAML document along each issue's path.
 */
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { UserError } from '../util/errors.js';

export type KeyPath = (string | number)[];

export interface ConfigProblem {
  file: string;
  line: number; // 1-based; 0 when unknown
  col: number; // 1-based; 0 when unknown
  /** Index of the document in a multi-document file, when there are several. */
  document?: number;
  path: KeyPath;
  message: string;
  /** A YAML syntax error (no key path). */
  syntax?: boolean;
}

export function formatPath(path: KeyPath): string {
  if (path.length === 0) return '(top level)';
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
  const doc = p.document !== undefined ? ` document ${p.document}:` : '';
  // A syntax error has no key path worth naming.
  const path = p.syntax ? '' : ` ${formatPath(p.path)}:`;
  return `${where}:${doc}${path} ${p.message}`;
}

/** Thrown when a file has problems; `message` is the first, one line. */
export class ConfigError extends UserError {
  constructor(readonly problems: ConfigProblem[]) {
    super(formatProblem(problems[0]!), 2, problems.slice(1).map(formatProblem));
    this.name = 'ConfigError';
  }
}

/** A parsed YAML document that remembers positions. */
export interface SourceDoc {
  file: string;
  index: number;
  doc: Document.Parsed;
  lines: LineCounter;
  value: unknown;
}

/** Parse a (possibly multi-document) YAML text. Syntax errors become problems. */
export function parseYamlText(text: string, file: string): { docs: SourceDoc[]; problems: ConfigProblem[] } {
  const lines = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const docs: SourceDoc[] = [];
  const problems: ConfigProblem[] = [];
  if (!Array.isArray(parsed)) {
    // An empty stream parses to an EmptyStream with no documents.
    return { docs, problems };
  }
  parsed.forEach((doc, index) => {
    for (const err of doc.errors) {
      const pos = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
      problems.push({
        file,
        line: pos.line,
        col: pos.col,
        path: [],
        syntax: true,
        message: `YAML syntax error: ${firstLine(err.message)}`,
        ...(parsed.length > 1 ? { document: index } : {}),
      });
    }
    if (doc.errors.length === 0) {
      docs.push({ file, index, doc, lines, value: doc.toJS({ maxAliasCount: 100 }) });
    }
  });
  return { docs, problems };
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? s;
  // yaml appends " at line L, column C" itself; the position is printed by us.
  return line.replace(/ at line \d+, column \d+:?$/, '').trim();
}

/** Position of the YAML node at `path`, or of the nearest ancestor that exists. */
export function locate(src: SourceDoc, path: KeyPath, opts: { keyOf?: boolean } = {}): { line: number; col: number } {
  let node: unknown = src.doc.contents;
  let best: unknown = node;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) break;
      // For an unknown key we point at the key itself; otherwise at the value.
      const isLast = i === path.length - 1;
      if (isLast && opts.keyOf) {
        best = pair.key;
        break;
      }
      node = pair.value ?? pair.key;
      best = node;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) break;
      node = item;
      best = node;
    } else {
      break;
    }
  }
  const range = (best as YamlNode | null | undefined)?.range;
  const pos = range ? src.lines.linePos(range[0]) : undefined;
  return pos && pos.line > 0 ? pos : { line: 1, col: 1 };
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${String(v)}`;
}

const typeWords: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean (true or false)',
};

function editDistance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

/** Keys the schema at `path` accepts, for "did you mean" hints. */
function knownKeys(schema: z.ZodType, path: KeyPath): string[] {
  let s: z.ZodType | undefined = schema;
  for (const seg of path) {
    s = unwrap(s);
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(seg)];
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else if (s instanceof z.ZodRecord) s = s.valueType as z.ZodType;
    else return [];
    if (!s) return [];
  }
  s = unwrap(s);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  // optional, nullable, default, prefault, catch, readonly all keep their
  // inner schema in def.innerType; a pipe (transform) keeps it in def.in.
  let cur: z.ZodType = s;
  for (let i = 0; i < 10; i++) {
    const def = (cur as unknown as { _zod: { def: { innerType?: z.ZodType; in?: z.ZodType } } })._zod.def;
    const inner = def.innerType ?? def.in;
    if (!inner) break;
    cur = inner;
  }
  return cur;
}

/** Turn one zod issue into problems (an unknown-keys issue yields one per key). */
function issueToProblems(src: SourceDoc, schema: z.ZodType, issue: z.core.$ZodIssue, multi: boolean): ConfigProblem[] {
  const base = { file: src.file, ...(multi ? { document: src.index } : {}) };
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const input = (issue as { input?: unknown }).input;
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(schema, path);
    return issue.keys.map((k) => {
      const full = [...path, k];
      const hint = known.filter((c) => {
        const d = editDistance(c.toLowerCase(), k.toLowerCase());
        return d <= 2 && d < k.length / 2;
      });
      const msg = `unknown key${hint.length ? ` (did you mean "${hint[0]}"?)` : known.length ? ` (allowed: ${known.join(', ')})` : ''}`;
      return { ...base, ...locate(src, full, { keyOf: true }), path: full, message: msg };
    });
  }
  if (issue.code === 'invalid_union') {
    // The branch whose type matched (its issues lie deeper than the union
    // itself) says what is really wrong; report those issues instead.
    const matched = issue.errors.filter((errs) => errs.length > 0 && errs.every((e) => e.path.length > 0 || (e.code !== 'invalid_type' && e.code !== 'invalid_value')));
    if (matched.length === 1) {
      return matched[0]!.flatMap((e) => issueToProblems(src, schema, { ...e, path: [...issue.path, ...e.path] } as z.core.$ZodIssue, multi));
    }
  }
  let message: string;
  let pos = locate(src, path);
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) {
        message = 'required key is missing';
        pos = locate(src, path.slice(0, -1));
      } else {
        message = `expected ${typeWords[issue.expected] ?? issue.expected}, got ${describe(input)}`;
      }
      break;
    case 'invalid_value':
      if (input === undefined) {
        message = 'required key is missing';
        pos = locate(src, path.slice(0, -1));
        break;
      }
      message = issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}, got ${describe(input)}`
        : `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}; got ${describe(input)}`;
      break;
    case 'too_big':
      message = issue.origin === 'array' || issue.origin === 'string'
        ? `must have at most ${issue.maximum} ${issue.origin === 'array' ? 'items' : 'characters'}`
        : `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}, got ${describe(input)}`;
      break;
    case 'too_small':
      message = issue.origin === 'array' || issue.origin === 'string'
        ? `must have at least ${issue.minimum} ${issue.origin === 'array' ? 'item(s)' : 'character(s)'}`
        : `must be ${issue.inclusive ? '>=' : '>'} ${issue.minimum}, got ${describe(input)}`;
      break;
    case 'invalid_union': {
      // All branches failed: list what each branch expected.
      const wants = issue.errors.flatMap((errs) =>
        errs.filter((e) => e.path.length === 0).map((e) =>
          e.code === 'invalid_type' ? typeWords[e.expected] ?? e.expected
          : e.code === 'invalid_value' ? e.values.map((v) => JSON.stringify(v)).join(' or ')
          : e.message));
      message = wants.length
        ? `expected ${[...new Set(wants)].join(' or ')}, got ${describe(input)}`
        : `${issue.message}${input !== undefined && typeof input !== 'object' ? ` (got ${describe(input)})` : ''}`;
      break;
    }
    case 'not_multiple_of':
      message = `must be a multiple of ${String(issue.divisor)}, got ${describe(input)}`;
      break;
    default:
      // custom and invalid_format issues carry the schema's own wording.
      // A refinement on a parent reports the parent as input: only echo scalars.
      message = input !== undefined && (input === null || typeof input !== 'object') ? `${issue.message} (got ${describe(input)})` : issue.message;
  }
  return [{ ...base, ...pos, path, message }];
}

/** Validate one parsed document; problems are sorted by position. */
export function validateDoc<S extends z.ZodType>(
  src: SourceDoc,
  schema: S,
  multi = false,
): { value?: z.output<S>; problems: ConfigProblem[] } {
  const r = schema.safeParse(src.value, { reportInput: true });
  if (r.success) return { value: r.data, problems: [] };
  const problems = r.error.issues.flatMap((i) => issueToProblems(src, schema, i, multi));
  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  return { problems };
}

export function readTextFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : String((err as Error).message);
    throw new UserError(`${file}: cannot read: ${why}`, 2);
  }
}

/**
 * Load a single-document YAML file and validate it. Throws ConfigError with
 * every problem (the first is the message). An empty file is validated as `{}`,
 * so missing required keys are reported as such.
 */
export function loadYamlFile<S extends z.ZodType>(file: string, schema: S, text = readTextFile(file)): z.output<S> {
  const { docs, problems } = parseYamlText(text, file);
  if (problems.length) throw new ConfigError(problems);
  if (docs.length > 1) {
    throw new ConfigError([{ file, ...locate(docs[1]!, []), path: [], message: 'expected one YAML document, found several' }]);
  }
  const src = docs[0] ?? { file, index: 0, doc: parseAllDocuments('{}')[0] as Document.Parsed, lines: new LineCounter(), value: {} };
  if (src.value === null || src.value === undefined) src.value = {};
  const { value, problems: vp } = validateDoc(src, schema);
  if (vp.length) throw new ConfigError(vp);
  return value as z.output<S>;
}
