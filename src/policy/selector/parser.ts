/**
 * Recursive-descent parser for Calico selectors. Grammar and precedence are
 * given in README.md; in short `||` binds loosest, then `&&`, then prefix `!`
 * (which applies to one operand: a comparison, has(), all(), global() or a
 * parenthesised expression).
 *
 * The tree it returns is the selector as written (a run of `!` is collapsed to
 * one or none, as Calico's parser does); normalisation is a separate step
 * (normalize.ts).
 */
import type { SelectorNode, SetOp, ValueOp } from './ast.js';
import { SelectorSyntaxError } from './errors.js';
import { describeToken, Lexer, type Token, type TokenKind } from './lexer.js';

export interface ParseResult {
  readonly root: SelectorNode;
  /**
   * True when the text held no tokens at all ("" or only spaces/tabs). The
   * parser then returns all(), as Calico's parser does; callers that give ""
   * another meaning (an absent rule selector means "no constraint", not
   * "every endpoint") check this flag.
   */
  readonly empty: boolean;
}

const EXPECTED_OPERAND = 'a label, "!", "(", "has(", "all()" or "global()"';
const EXPECTED_OPERATOR = 'an operator (==, !=, in, not in, contains, starts with, ends with)';
const EXPECTED_STRING = 'a quoted string';

/**
 * Deepest parenthesis nesting accepted. Calico has no limit; here the parser,
 * normaliser and compiler recurse, and a stack overflow must not be how a
 * hostile manifest is reported. No real selector comes near this.
 */
export const MAX_NESTING = 1000;

const VALUE_OPS: Partial<Record<TokenKind, ValueOp>> = {
  eq: 'eq',
  ne: 'ne',
  contains: 'contains',
  startsWith: 'startsWith',
  endsWith: 'endsWith',
};
const SET_OPS: Partial<Record<TokenKind, SetOp>> = { in: 'in', notIn: 'notIn' };

class Parser {
  private readonly lexer: Lexer;
  // Tokens are lexed only when the parser asks for them, so that a parse
  // error on one token is reported before a lexical error further on.
  private peeked: Token | undefined;
  private depth = 0;

  constructor(private readonly text: string) {
    this.lexer = new Lexer(text);
  }

  private peek(): Token {
    return (this.peeked ??= this.lexer.next());
  }

  parseRoot(): ParseResult {
    if (this.peek().kind === 'eof') return { root: { kind: 'all' }, empty: true };
    const root = this.parseOr();
    if (this.peek().kind !== 'eof') this.fail(this.peek(), '"&&", "||" or end of input');
    return { root, empty: false };
  }

  private parseOr(): SelectorNode {
    const first = this.parseAnd();
    if (this.peek().kind !== 'or') return first;
    const operands = [first];
    while (this.peek().kind === 'or') {
      this.advance();
      operands.push(this.parseAnd());
    }
    return { kind: 'or', operands };
  }

  private parseAnd(): SelectorNode {
    const first = this.parseUnary();
    if (this.peek().kind !== 'and') return first;
    const operands = [first];
    while (this.peek().kind === 'and') {
      this.advance();
      operands.push(this.parseUnary());
    }
    return { kind: 'and', operands };
  }

  private parseUnary(): SelectorNode {
    let negated = false;
    while (this.peek().kind === 'not') {
      negated = !negated;
      this.advance();
    }
    const operand = this.parseOperand();
    return negated ? { kind: 'not', operand } : operand;
  }

  private parseOperand(): SelectorNode {
    const tok = this.advance();
    switch (tok.kind) {
      case 'has':
        return { kind: 'has', key: tok.value };
      case 'all':
        return { kind: 'all' };
      case 'global':
        return { kind: 'global' };
      case 'lparen': {
        if (++this.depth > MAX_NESTING) {
          throw new SelectorSyntaxError(this.text, tok.start, `at most ${MAX_NESTING} nested parentheses`, 'more');
        }
        const inner = this.parseOr();
        this.depth--;
        if (this.peek().kind !== 'rparen') this.fail(this.peek(), '"&&", "||" or ")"');
        this.advance();
        return inner;
      }
      case 'label':
        return this.parseComparison(tok.value);
      default:
        return this.fail(tok, EXPECTED_OPERAND);
    }
  }

  private parseComparison(key: string): SelectorNode {
    const op = this.advance();
    const valueOp = VALUE_OPS[op.kind];
    if (valueOp !== undefined) {
      const value = this.advance();
      if (value.kind !== 'string') this.fail(value, EXPECTED_STRING);
      return { kind: valueOp, key, value: value.value };
    }
    const setOp = SET_OPS[op.kind];
    if (setOp !== undefined) {
      const brace = this.advance();
      if (brace.kind !== 'lbrace') this.fail(brace, '"{"');
      return { kind: setOp, key, values: this.parseSetBody() };
    }
    return this.fail(op, EXPECTED_OPERATOR);
  }

  /**
   * The strings of a set literal after its "{", through the "}". As in Calico
   * the set may be empty and may end with one trailing comma: `{}`, `{'a',}`.
   */
  private parseSetBody(): string[] {
    const values: string[] = [];
    for (;;) {
      const tok = this.advance();
      if (tok.kind === 'rbrace') return values;
      if (tok.kind !== 'string') this.fail(tok, `${EXPECTED_STRING} or "}"`);
      values.push(tok.value);
      const sep = this.advance();
      if (sep.kind === 'rbrace') return values;
      if (sep.kind !== 'comma') this.fail(sep, '"," or "}"');
    }
  }

  private advance(): Token {
    const tok = this.peek();
    this.peeked = undefined;
    return tok;
  }

  private fail(tok: Token, expected: string): never {
    throw new SelectorSyntaxError(this.text, tok.start, expected, describeToken(this.text, tok));
  }
}

/** Parses selector text into its syntax tree. Throws SelectorSyntaxError. */
export function parseSelectorAst(text: string): ParseResult {
  return new Parser(text).parseRoot();
}
