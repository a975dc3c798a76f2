/**
 * A parsed, compiled selector: the object the policy compiler holds.
 * Immutable, so callers may memoise Selectors by their source text.
 */
import { createHash } from 'node:crypto';
import { collectLabelKeys, type SelectorNode } from './ast.js';
import { compile, type Labels, type Matcher } from './evaluate.js';
import { canonicalText, normalize } from './normalize.js';
import { parseSelectorAst } from './parser.js';

/**
 * Length of `uniqueId()`: 22 base64url characters = 132 bits of SHA-224.
 * ipset names are at most 31 characters; with the caller's `tabby-s-` prefix
 * (8) an id of 22 leaves one character spare (for example a family or
 * swap-set suffix) and is the same size as Felix's selector ids.
 */
export const SELECTOR_ID_LENGTH = 22;

export class Selector {
  /** The tree as written (runs of `!` collapsed, as Calico's parser does). */
  readonly ast: SelectorNode;
  /** The canonical tree (normalize.ts). Evaluation uses this one. */
  readonly root: SelectorNode;
  /** A function for hot loops: `sel.matcher(labels)` is `sel.evaluate(labels)`. */
  readonly matcher: Matcher;
  private readonly canonicalString: string;
  private id: string | undefined;
  private keys: ReadonlySet<string> | undefined;

  /** The text this selector was parsed from, or its canonical text if it was built in code. */
  readonly source: string;

  private constructor(
    source: string | undefined,
    ast: SelectorNode,
    /** True when the source held no tokens ("" or blanks): the selector is all(). */
    readonly empty: boolean,
  ) {
    this.ast = ast;
    this.root = normalize(ast);
    this.canonicalString = canonicalText(this.root);
    this.source = source ?? this.canonicalString;
    this.matcher = compile(this.root);
  }

  /** Parses selector text. Throws SelectorSyntaxError. "" and blanks give all() with `empty` set. */
  static parse(text: string): Selector {
    const { root, empty } = parseSelectorAst(text);
    return new Selector(text, root, empty);
  }

  /** Wraps a tree built in code (see ast.ts constructors and compose.ts). */
  static fromAst(node: SelectorNode): Selector {
    return new Selector(undefined, node, false);
  }

  /** Does the selector match this label set? */
  evaluate(labels: Labels): boolean {
    return this.matcher(labels);
  }

  /**
   * Matches `own` labels with inherited ones: own labels win, then each
   * parent in order (Felix's profile label inheritance; a namespace's labels
   * reach its endpoints this way, under the `pcns.` prefix).
   */
  evaluateWithParents(own: Labels, parents: readonly Labels[]): boolean {
    return this.matcher(own, parents);
  }

  /** The canonical text (normalize.ts): equal for equivalent spellings, and it parses back to itself. */
  canonical(): string {
    return this.canonicalString;
  }

  toString(): string {
    return this.canonicalString;
  }

  /** True when both have the same canonical text (and so the same meaning). */
  equals(other: Selector): boolean {
    return this.canonicalString === other.canonicalString;
  }

  /**
   * A stable short name for the canonical form, for naming ipsets:
   * base64url(SHA-224(canonical text)) cut to SELECTOR_ID_LENGTH characters
   * (characters A-Z a-z 0-9 - _, all allowed in ipset names).
   */
  uniqueId(): string {
    this.id ??= createHash('sha224').update(this.canonicalString, 'utf8').digest('base64url').slice(0, SELECTOR_ID_LENGTH);
    return this.id;
  }

  /**
   * Every label key the selector reads. A change to any other label (own or
   * inherited) cannot change whether it matches, so incremental recalculation
   * may skip it. Empty for all() and global().
   */
  labelKeys(): ReadonlySet<string> {
    this.keys ??= collectLabelKeys(this.root);
    return this.keys;
  }
}

/** Parses selector text (see Selector.parse). */
export function parseSelector(text: string): Selector {
  return Selector.parse(text);
}
