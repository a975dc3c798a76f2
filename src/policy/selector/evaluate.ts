/**
 * Compiles a selector tree into a tree of closures, once, so that evaluating
 * it against thousands of endpoints does no parsing, no allocation and no
 * regular-expression work: each leaf is one property read and one string
 * comparison (or Set lookup).
 *
 * Label lookup follows Felix's label inheritance (felix/labelindex): an
 * endpoint's own labels win; otherwise the parents (profiles, e.g. the
 * namespace profile carrying `pcns.*` labels) are searched in order and the
 * first that has the key supplies the value.
 */
import type { SelectorNode } from './ast.js';

/** A label set: key -> value. Only own string-valued properties count. */
export type Labels = Readonly<Record<string, string>>;

/** A compiled selector. `parents` may be omitted when there are none. */
export type Matcher = (own: Labels, parents?: readonly Labels[]) => boolean;

/**
 * The value of `key`, or undefined when absent. Reading a plain object is
 * safe for keys such as "constructor" or "__proto__": an inherited property
 * is never a string, so `typeof` rejects it, while an own property of that
 * name (JSON.parse creates one) is found as it should be.
 */
function lookup(own: Labels, parents: readonly Labels[] | undefined, key: string): string | undefined {
  const v = own[key];
  if (typeof v === 'string') return v;
  if (parents !== undefined) {
    for (let i = 0; i < parents.length; i++) {
      const p = parents[i]![key];
      if (typeof p === 'string') return p;
    }
  }
  return undefined;
}

const alwaysTrue: Matcher = () => true;

export function compile(node: SelectorNode): Matcher {
  switch (node.kind) {
    case 'all':
    case 'global':
      // Calico's evaluator treats global() as all(); its special meaning only
      // exists when a namespaceSelector is rewritten (compose.ts).
      return alwaysTrue;
    case 'has': {
      const key = node.key;
      return (o, p) => lookup(o, p, key) !== undefined;
    }
    case 'eq': {
      const { key, value } = node;
      return (o, p) => lookup(o, p, key) === value;
    }
    case 'ne': {
      // True when the label is absent (Calico).
      const { key, value } = node;
      return (o, p) => lookup(o, p, key) !== value;
    }
    case 'contains': {
      const { key, value } = node;
      return (o, p) => {
        const v = lookup(o, p, key);
        return v !== undefined && v.includes(value);
      };
    }
    case 'startsWith': {
      const { key, value } = node;
      return (o, p) => {
        const v = lookup(o, p, key);
        return v !== undefined && v.startsWith(value);
      };
    }
    case 'endsWith': {
      const { key, value } = node;
      return (o, p) => {
        const v = lookup(o, p, key);
        return v !== undefined && v.endsWith(value);
      };
    }
    case 'in': {
      const key = node.key;
      const set = new Set(node.values);
      return (o, p) => {
        const v = lookup(o, p, key);
        return v !== undefined && set.has(v);
      };
    }
    case 'notIn': {
      // True when the label is absent (Calico).
      const key = node.key;
      const set = new Set(node.values);
      return (o, p) => {
        const v = lookup(o, p, key);
        return v === undefined || !set.has(v);
      };
    }
    case 'not': {
      const inner = compile(node.operand);
      return (o, p) => !inner(o, p);
    }
    case 'and': {
      const parts = node.operands.map(compile);
      if (parts.length === 2) {
        const [a, b] = parts as [Matcher, Matcher];
        return (o, p) => a(o, p) && b(o, p);
      }
      return (o, p) => {
        for (let i = 0; i < parts.length; i++) if (!parts[i]!(o, p)) return false;
        return true;
      };
    }
    case 'or': {
      const parts = node.operands.map(compile);
      if (parts.length === 2) {
        const [a, b] = parts as [Matcher, Matcher];
        return (o, p) => a(o, p) || b(o, p);
      }
      return (o, p) => {
        for (let i = 0; i < parts.length; i++) if (parts[i]!(o, p)) return true;
        return false;
      };
    }
  }
}
