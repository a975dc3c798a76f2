/**
 * Canonical form of a selector: a normalised tree and its text.
 *
 * Two selectors written differently get the same canonical text when they
 * differ only by rewrites that keep the meaning under Calico's semantics in
 * every context Calico uses a selector (plain evaluation, namespaceSelector
 * rewriting, key prefixing):
 *
 * - whitespace, quote style, redundant parentheses, `notin`/`not in` and
 *   similar spellings (these vanish in parsing);
 * - `&&` and `||` are flattened (associativity), their operands sorted by
 *   canonical text and de-duplicated (commutativity, idempotence);
 * - `!!x` is `x`;
 * - `!(k == v)` is `k != v`, `!(k != v)` is `k == v`, `!(k in S)` is
 *   `k not in S`, `!(k not in S)` is `k in S` (exact under Calico's absent-
 *   label rules: `!=` and `not in` are true when the label is absent);
 * - set literals are sorted and de-duplicated, and a one-element set becomes
 *   `==` / `!=`.
 *
 * Deliberately NOT done: folding all() or global() (their meaning changes
 * when a namespaceSelector is rewritten, see compose.ts), De Morgan, or any
 * other reasoning about satisfiability. Canonical text equality therefore
 * implies equivalence, but not the other way round.
 */
import type { SelectorNode } from './ast.js';

interface Canon {
  readonly node: SelectorNode;
  readonly text: string;
}

/** Ordinal (UTF-16 code unit) order, independent of locale. */
function ordinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function canon(node: SelectorNode): Canon {
  switch (node.kind) {
    case 'in':
    case 'notIn': {
      const values = [...new Set(node.values)].sort(ordinal);
      if (values.length === 1) {
        return leaf({ kind: node.kind === 'in' ? 'eq' : 'ne', key: node.key, value: values[0]! });
      }
      return leaf({ kind: node.kind, key: node.key, values });
    }
    case 'not':
      return negate(canon(node.operand));
    case 'and':
    case 'or':
      return combine(node.kind, node.operands);
    default:
      return leaf(node);
  }
}

function leaf(node: SelectorNode): Canon {
  return { node, text: render(node) };
}

function negate(inner: Canon): Canon {
  const n = inner.node;
  switch (n.kind) {
    case 'not':
      return canon(n.operand);
    case 'eq':
      return leaf({ kind: 'ne', key: n.key, value: n.value });
    case 'ne':
      return leaf({ kind: 'eq', key: n.key, value: n.value });
    case 'in':
      return leaf({ kind: 'notIn', key: n.key, values: n.values });
    case 'notIn':
      return leaf({ kind: 'in', key: n.key, values: n.values });
    default: {
      const node: SelectorNode = { kind: 'not', operand: n };
      return { node, text: '!' + wrapIfCompound(n, inner.text) };
    }
  }
}

function combine(kind: 'and' | 'or', operands: readonly SelectorNode[]): Canon {
  const parts = new Map<string, SelectorNode>();
  const add = (c: Canon): void => {
    if (c.node.kind === kind) {
      // Already canonical: its operands are canonical, sorted and distinct.
      for (const o of c.node.operands) parts.set(render(o), o);
    } else {
      parts.set(c.text, c.node);
    }
  };
  for (const o of operands) add(canon(o));
  const texts = [...parts.keys()].sort(ordinal);
  if (texts.length === 1) return { node: parts.get(texts[0]!)!, text: texts[0]! };
  const node: SelectorNode = { kind, operands: texts.map((t) => parts.get(t)!) };
  return { node, text: renderBool(kind, node.operands, texts) };
}

/** The canonical tree of `node`. */
export function normalize(node: SelectorNode): SelectorNode {
  return canon(node).node;
}

/** The canonical text of `node` (normalises first). */
export function canonicalText(node: SelectorNode): string {
  return canon(node).text;
}

/** Double quotes unless the value holds a double quote (it then holds no single one). */
function quote(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}

const OP_TEXT = {
  eq: ' == ',
  ne: ' != ',
  contains: ' contains ',
  startsWith: ' starts with ',
  endsWith: ' ends with ',
} as const;

function isCompound(node: SelectorNode): boolean {
  return node.kind === 'and' || node.kind === 'or';
}

function wrapIfCompound(node: SelectorNode, text: string): string {
  return isCompound(node) ? `(${text})` : text;
}

function renderBool(kind: 'and' | 'or', operands: readonly SelectorNode[], texts: readonly string[]): string {
  const sep = kind === 'and' ? ' && ' : ' || ';
  return operands.map((o, i) => wrapIfCompound(o, texts[i]!)).join(sep);
}

/**
 * Selector text for any tree, as it stands (no normalisation). Compound
 * operands of `&&`, `||` and `!` are always parenthesised, so the text parses
 * back to the same structure. Keys and values must be writable (trees from
 * the parser or the ast.ts constructors always are).
 */
export function render(node: SelectorNode): string {
  switch (node.kind) {
    case 'all':
      return 'all()';
    case 'global':
      return 'global()';
    case 'has':
      return `has(${node.key})`;
    case 'eq':
    case 'ne':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return node.key + OP_TEXT[node.kind] + quote(node.value);
    case 'in':
    case 'notIn':
      return `${node.key} ${node.kind === 'in' ? 'in' : 'not in'} {${node.values.map(quote).join(', ')}}`;
    case 'not':
      return '!' + wrapIfCompound(node.operand, render(node.operand));
    case 'and':
    case 'or':
      return renderBool(node.kind, node.operands, node.operands.map(render));
  }
}
