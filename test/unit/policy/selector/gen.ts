/**
 * Test helpers: a seeded PRNG, a random selector-tree generator, a random
 * "spelling" writer that renders a tree in many equivalent ways, and a
 * reference evaluator written independently of src/ (a direct recursive
 * interpretation of Calico's semantics).
 */
import type { SelectorNode, SetOp, ValueOp } from '../../../../src/policy/selector/ast.js';

/** mulberry32: small, fast, good enough for test data; same seed, same stream. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

// Keys include words that are keywords elsewhere, to exercise the lexer's
// context rule, and prefixed keys as Kubernetes and Calico use them.
export const KEYS = [
  'a',
  'b',
  'app',
  'app.kubernetes.io/name',
  'projectcalico.org/namespace',
  'k-1_x',
  'in',
  'not',
  'has',
  'all',
  'contains',
  'global',
  '9start',
] as const;

export const VALUES = ['', 'x', 'y', 'xy', 'yx', "it's", 'say "hi"', 'a b', 'x-y', 'all()', '{}', 'in'] as const;

const VALUE_OPS: readonly ValueOp[] = ['eq', 'ne', 'contains', 'startsWith', 'endsWith'];
const SET_OPS: readonly SetOp[] = ['in', 'notIn'];

export function randomTree(rng: Rng, depth: number): SelectorNode {
  if (depth <= 0 || rng.chance(0.35)) return randomLeaf(rng);
  const r = rng.int(10);
  if (r < 2) return { kind: 'not', operand: randomTree(rng, depth - 1) };
  const n = 2 + rng.int(3);
  const operands: SelectorNode[] = [];
  for (let i = 0; i < n; i++) operands.push(randomTree(rng, depth - 1));
  return { kind: r < 6 ? 'and' : 'or', operands };
}

function randomLeaf(rng: Rng): SelectorNode {
  const r = rng.int(20);
  if (r === 0) return { kind: 'all' };
  if (r === 1) return { kind: 'global' };
  if (r < 5) return { kind: 'has', key: rng.pick(KEYS) };
  if (r < 14) return { kind: rng.pick(VALUE_OPS), key: rng.pick(KEYS), value: rng.pick(VALUES) };
  const values: string[] = [];
  const n = rng.int(4);
  for (let i = 0; i < n; i++) values.push(rng.pick(VALUES));
  return { kind: rng.pick(SET_OPS), key: rng.pick(KEYS), values };
}

function ws(rng: Rng, required: boolean): string {
  const w = rng.pick(['', '', ' ', ' ', '  ', '\t', ' \t ']);
  return required && w === '' ? ' ' : w;
}

function quoted(rng: Rng, value: string): string {
  if (value.includes('"')) return `'${value}'`;
  if (value.includes("'")) return `"${value}"`;
  return rng.chance(0.5) ? `'${value}'` : `"${value}"`;
}

const OP_SPELLINGS: Record<ValueOp | SetOp, readonly string[]> = {
  eq: ['=='],
  ne: ['!='],
  contains: ['contains'],
  startsWith: ['starts with', 'startswith', 'starts  with', 'starts\twith'],
  endsWith: ['ends with', 'endswith', 'ends   with'],
  in: ['in'],
  notIn: ['not in', 'notin', 'not\tin'],
};

/**
 * Writes `node` as selector text, choosing at random among equivalent
 * spellings: whitespace, quotes, redundant parentheses, operator spellings,
 * set order/duplicates/trailing comma, `!!`, operand order of && and ||,
 * regrouping (associativity), and the rewrites normalize.ts knows (!= as
 * !(==), one-element sets, ...). The result means the same as `node`.
 */
export function spell(rng: Rng, node: SelectorNode): string {
  return spellAt(rng, node, 'or');
}

/** `context`: the loosest operator that may appear unparenthesised here. */
function spellAt(rng: Rng, node: SelectorNode, context: 'or' | 'and' | 'operand'): string {
  const text = spellNode(rng, node, context);
  return rng.chance(0.1) ? `(${ws(rng, false)}${text}${ws(rng, false)})` : text;
}

function spellNode(rng: Rng, node: SelectorNode, context: 'or' | 'and' | 'operand'): string {
  switch (node.kind) {
    case 'all':
      return rng.chance(0.5) ? 'all()' : `all(${ws(rng, false)})`;
    case 'global':
      return rng.chance(0.5) ? 'global()' : `global(${ws(rng, false)})`;
    case 'has':
      return `has(${ws(rng, false)}${node.key}${ws(rng, false)})`;
    case 'eq':
    case 'ne':
      if (rng.chance(0.2)) {
        // k == v  <=>  !(k != v), and k == v <=> k in {v}
        if (rng.chance(0.5)) {
          const flipped: SelectorNode = { kind: node.kind === 'eq' ? 'ne' : 'eq', key: node.key, value: node.value };
          return `!${ws(rng, false)}(${spellAt(rng, flipped, 'or')})`;
        }
        return spellNode(rng, { kind: node.kind === 'eq' ? 'in' : 'notIn', key: node.key, values: [node.value] }, context);
      }
      return spellValueOp(rng, node.kind, node.key, node.value);
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return spellValueOp(rng, node.kind, node.key, node.value);
    case 'in':
    case 'notIn': {
      let values = rng.shuffle(node.values);
      if (values.length > 0 && rng.chance(0.3)) values = rng.shuffle([...values, rng.pick(values)]);
      const items = values.map((v) => ws(rng, false) + quoted(rng, v) + ws(rng, false));
      const trailing = values.length > 0 && rng.chance(0.2) ? ',' : '';
      const op = rng.pick(OP_SPELLINGS[node.kind]);
      return `${node.key}${ws(rng, true)}${op}${ws(rng, false)}{${items.join(',')}${trailing}${ws(rng, false)}}`;
    }
    case 'not': {
      const bangs = rng.chance(0.2) ? '!!!' : '!';
      return `${bangs}${ws(rng, false)}${spellOperand(rng, node.operand)}`;
    }
    case 'and':
    case 'or': {
      const text = spellBool(rng, node.kind, rng.shuffle(node.operands));
      const fits = node.kind === 'or' ? context === 'or' : context !== 'operand';
      return fits ? text : `(${text})`;
    }
  }
}

function spellValueOp(rng: Rng, kind: ValueOp, key: string, value: string): string {
  const op = rng.pick(OP_SPELLINGS[kind]);
  const wordy = /^[a-z]/.test(op);
  return `${key}${ws(rng, wordy)}${op}${ws(rng, false)}${quoted(rng, value)}`;
}

/** An operand of `!`: compound trees need parentheses. */
function spellOperand(rng: Rng, node: SelectorNode): string {
  return spellAt(rng, node, 'operand');
}

function spellBool(rng: Rng, kind: 'and' | 'or', operands: readonly SelectorNode[]): string {
  // Regroup: (x && y) && z is the same as x && y && z.
  if (operands.length > 2 && rng.chance(0.3)) {
    const cut = 1 + rng.int(operands.length - 1);
    const left = operands.slice(0, cut);
    const right = operands.slice(cut);
    const group = (ops: readonly SelectorNode[]): string =>
      ops.length === 1 ? spellAt(rng, ops[0]!, kind) : `(${spellBool(rng, kind, ops)})`;
    return group(left) + joiner(rng, kind) + group(right);
  }
  return operands.map((o) => spellAt(rng, o, kind)).join(joiner(rng, kind));
}

function joiner(rng: Rng, kind: 'and' | 'or'): string {
  return ws(rng, false) + (kind === 'and' ? '&&' : '||') + ws(rng, false);
}

export type LabelSet = Record<string, string>;

/** A random label set over KEYS/VALUES, dense enough that selectors often match. */
export function randomLabels(rng: Rng): LabelSet {
  const out: LabelSet = {};
  for (const k of KEYS) {
    if (rng.chance(0.45)) out[k] = rng.pick(VALUES);
  }
  return out;
}

/** Reference semantics, independent of src/: own labels first, then parents in order. */
export function referenceEvaluate(node: SelectorNode, own: LabelSet, parents: readonly LabelSet[] = []): boolean {
  const get = (key: string): string | undefined => {
    for (const set of [own, ...parents]) {
      if (Object.prototype.hasOwnProperty.call(set, key)) return set[key];
    }
    return undefined;
  };
  switch (node.kind) {
    case 'all':
    case 'global':
      return true;
    case 'has':
      return get(node.key) !== undefined;
    case 'eq': {
      const v = get(node.key);
      return v !== undefined && v === node.value;
    }
    case 'ne': {
      const v = get(node.key);
      return v === undefined || v !== node.value;
    }
    case 'contains': {
      const v = get(node.key);
      return v !== undefined && v.indexOf(node.value) >= 0;
    }
    case 'startsWith': {
      const v = get(node.key);
      return v !== undefined && v.slice(0, node.value.length) === node.value;
    }
    case 'endsWith': {
      const v = get(node.key);
      return v !== undefined && v.length >= node.value.length && v.slice(v.length - node.value.length) === node.value;
    }
    case 'in': {
      const v = get(node.key);
      return v !== undefined && node.values.includes(v);
    }
    case 'notIn': {
      const v = get(node.key);
      return v === undefined || !node.values.includes(v);
    }
    case 'not':
      return !referenceEvaluate(node.operand, own, parents);
    case 'and':
      return node.operands.every((o) => referenceEvaluate(o, own, parents));
    case 'or':
      return node.operands.some((o) => referenceEvaluate(o, own, parents));
  }
}
