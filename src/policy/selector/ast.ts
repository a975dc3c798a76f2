/**
 * The selector syntax tree. Nodes are plain immutable objects (a discriminated
 * union on `kind`) so that the parser, the normaliser, the evaluator compiler
 * and the composition helpers can all work on the same shape.
 *
 * Semantics are Calico's (libcalico-go `selector/parser/ast.go`), restated in
 * README.md: a comparison against an absent label is false, except `!=` and
 * `not in`, which are true when the label is absent.
 */

/** Label comparisons that take one string value. */
export type ValueOp = 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith';
/** Label comparisons that take a set of string values. */
export type SetOp = 'in' | 'notIn';

export type SelectorNode =
  | { readonly kind: 'all' }
  | { readonly kind: 'global' }
  | { readonly kind: 'has'; readonly key: string }
  | { readonly kind: ValueOp; readonly key: string; readonly value: string }
  | { readonly kind: SetOp; readonly key: string; readonly values: readonly string[] }
  | { readonly kind: 'not'; readonly operand: SelectorNode }
  | { readonly kind: 'and' | 'or'; readonly operands: readonly SelectorNode[] };

export type ValueNode = Extract<SelectorNode, { kind: ValueOp }>;
export type SetNode = Extract<SelectorNode, { kind: SetOp }>;
export type BoolNode = Extract<SelectorNode, { kind: 'and' | 'or' }>;

/** Calico's limit on a label key inside a selector (tokenizer `MaxLabelLength`). */
export const MAX_LABEL_KEY_LENGTH = 512;

/**
 * Characters a label key may contain in a selector: the same set as Calico's
 * tokenizer (`identifierChar`). Note that it is wider than Kubernetes' label
 * key syntax (a key may start with a digit, `.`, `/` or `-`).
 */
export function isLabelKeyChar(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x5f || // _
    code === 0x2e || // .
    code === 0x2f || // /
    code === 0x2d // -
  );
}

/** True when `key` can be written in a selector (1..512 key characters). */
export function isValidLabelKey(key: string): boolean {
  if (key.length === 0 || key.length > MAX_LABEL_KEY_LENGTH) return false;
  for (let i = 0; i < key.length; i++) {
    if (!isLabelKeyChar(key.charCodeAt(i))) return false;
  }
  return true;
}

function checkKey(key: string): string {
  if (!isValidLabelKey(key)) {
    throw new RangeError(`invalid selector label key ${JSON.stringify(key)}`);
  }
  return key;
}

// Constructors for callers that build selectors programmatically (composition
// helpers, tests). They validate keys so that every tree can be rendered as
// text and parsed back.
/**
 * A selector string literal has no escapes, so a value can be written only if
 * it does not contain both kinds of quote.
 */
export function isWritableValue(value: string): boolean {
  return !(value.includes('"') && value.includes("'"));
}

function checkValue(value: string): string {
  if (!isWritableValue(value)) {
    throw new RangeError(`selector value ${JSON.stringify(value)} contains both quote characters`);
  }
  return value;
}

export const ALL: SelectorNode = Object.freeze({ kind: 'all' });
export const GLOBAL: SelectorNode = Object.freeze({ kind: 'global' });

export function has(key: string): SelectorNode {
  return { kind: 'has', key: checkKey(key) };
}

export function compare(kind: ValueOp, key: string, value: string): SelectorNode {
  return { kind, key: checkKey(key), value: checkValue(value) };
}

export function inSet(kind: SetOp, key: string, values: readonly string[]): SelectorNode {
  return { kind, key: checkKey(key), values: values.map(checkValue) };
}

export function not(operand: SelectorNode): SelectorNode {
  return { kind: 'not', operand };
}

export function and(...operands: SelectorNode[]): SelectorNode {
  if (operands.length === 0) return ALL;
  if (operands.length === 1) return operands[0]!;
  return { kind: 'and', operands };
}

export function or(...operands: SelectorNode[]): SelectorNode {
  if (operands.length === 0) throw new RangeError('or() needs at least one operand');
  if (operands.length === 1) return operands[0]!;
  return { kind: 'or', operands };
}

/**
 * Rebuilds a tree bottom-up, letting `leaf` replace any non-boolean node.
 * Used by the composition helpers (key prefixing, all()/global() rewriting).
 */
export function mapLeaves(node: SelectorNode, leaf: (n: SelectorNode) => SelectorNode): SelectorNode {
  switch (node.kind) {
    case 'not':
      return { kind: 'not', operand: mapLeaves(node.operand, leaf) };
    case 'and':
    case 'or':
      return { kind: node.kind, operands: node.operands.map((o) => mapLeaves(o, leaf)) };
    default:
      return leaf(node);
  }
}

/** Every label key the tree reads, in first-seen order. */
export function collectLabelKeys(node: SelectorNode, into: Set<string> = new Set()): Set<string> {
  switch (node.kind) {
    case 'all':
    case 'global':
      break;
    case 'not':
      collectLabelKeys(node.operand, into);
      break;
    case 'and':
    case 'or':
      for (const o of node.operands) collectLabelKeys(o, into);
      break;
    default:
      into.add(node.key);
  }
  return into;
}
