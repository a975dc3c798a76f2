/**
 * Selector tokenizer. It accepts exactly the token streams Calico's tokenizer
 * (libcalico-go `selector/tokenizer`) accepts, with the same context rule:
 * the operator words `contains`, `starts with`, `ends with`, `not in` and `in`
 * are only operators directly after a label; anywhere else they are labels.
 *
 * Lexical facts (Calico's, kept on purpose):
 * - whitespace is only space and tab; a newline is an invalid character;
 * - strings are quoted with ' or " and have no escapes: a string ends at the
 *   next quote of the same kind, so it may contain the other quote (and
 *   newlines);
 * - `has(`, `all(` and `global(` must be written without a space before the
 *   parenthesis (`has (a)` is the label `has` followed by `(`), but spaces are
 *   allowed inside: `has( a )`, `all( )`;
 * - multi-word operators may be written with any run of spaces/tabs between
 *   the words, or none: `starts with`, `startswith`, `not  in`, `notin`;
 * - an operator word must end at a word boundary (`a inx` is not `a in x`).
 *
 * The lexer is pulled one token at a time by the parser, so that the first
 * error in reading order is the one reported.
 */
import { isLabelKeyChar, MAX_LABEL_KEY_LENGTH } from './ast.js';
import { SelectorSyntaxError } from './errors.js';

export type TokenKind =
  | 'label'
  | 'string'
  | 'lbrace'
  | 'rbrace'
  | 'comma'
  | 'eq'
  | 'ne'
  | 'in'
  | 'notIn'
  | 'contains'
  | 'startsWith'
  | 'endsWith'
  | 'not'
  | 'and'
  | 'or'
  | 'lparen'
  | 'rparen'
  | 'has'
  | 'all'
  | 'global'
  /** A character that starts no token; the parser always rejects it. */
  | 'invalid'
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** 0-based index of the first character of the token in the source text. */
  readonly start: number;
  /** Index just past the token. */
  readonly end: number;
  /** label: the key; string: the unquoted text; has: the key; invalid: the character. */
  readonly value: string;
}

const SPACE = 0x20;
const TAB = 0x09;

function isWhitespace(code: number): boolean {
  return code === SPACE || code === TAB;
}

export class Lexer {
  private pos = 0;
  private lastKind: TokenKind | undefined;
  private done = false;

  constructor(readonly text: string) {}

  /** The next token; after `eof` (or `invalid`) it keeps returning `eof`. */
  next(): Token {
    const tok = this.scan();
    this.lastKind = tok.kind;
    return tok;
  }

  private scan(): Token {
    const text = this.text;
    if (this.done) return this.token('eof', text.length, text.length);
    let pos = this.skipWhitespace(this.pos);
    if (pos >= text.length) {
      this.done = true;
      return this.token('eof', text.length, text.length);
    }
    const ch = text[pos]!;
    switch (ch) {
      case '(':
        return this.token('lparen', pos, pos + 1);
      case ')':
        return this.token('rparen', pos, pos + 1);
      case '{':
        return this.token('lbrace', pos, pos + 1);
      case '}':
        return this.token('rbrace', pos, pos + 1);
      case ',':
        return this.token('comma', pos, pos + 1);
      case '"':
      case "'": {
        const close = text.indexOf(ch, pos + 1);
        if (close < 0) this.fail(pos, `a closing ${ch} to end this string`, 'end of input');
        return this.token('string', pos, close + 1, text.slice(pos + 1, close));
      }
      case '=':
        if (text[pos + 1] === '=') return this.token('eq', pos, pos + 2);
        return this.fail(pos, '"=="', 'a single "="');
      case '!':
        if (text[pos + 1] === '=') return this.token('ne', pos, pos + 2);
        return this.token('not', pos, pos + 1);
      case '&':
        if (text[pos + 1] === '&') return this.token('and', pos, pos + 2);
        return this.fail(pos, '"&&"', 'a single "&"');
      case '|':
        if (text[pos + 1] === '|') return this.token('or', pos, pos + 2);
        return this.fail(pos, '"||"', 'a single "|"');
    }

    if (this.lastKind === 'label') {
      const op = this.scanOperatorWord(pos);
      if (op !== undefined) return op;
      // Not an operator: lex whatever is there; the parser reports it as
      // "expected an operator", since nothing else may follow a label.
    }

    if (text.startsWith('has(', pos)) {
      const keyStart = this.skipWhitespace(pos + 4);
      const keyEnd = this.scanKey(keyStart);
      if (keyEnd === keyStart) this.fail(keyStart, 'a label key inside "has("', this.describeAt(keyStart));
      const close = this.skipWhitespace(keyEnd);
      if (text[close] !== ')') this.fail(close, '")" to close "has("', this.describeAt(close));
      return this.token('has', pos, close + 1, text.slice(keyStart, keyEnd));
    }
    for (const word of ['all', 'global'] as const) {
      if (text.startsWith(word + '(', pos)) {
        const close = this.skipWhitespace(pos + word.length + 1);
        if (text[close] !== ')') this.fail(close, `")" after "${word}("`, this.describeAt(close));
        return this.token(word, pos, close + 1);
      }
    }

    const keyEnd = this.scanKey(pos);
    if (keyEnd > pos) return this.token('label', pos, keyEnd, text.slice(pos, keyEnd));

    // A character that begins no token. Stop here: the parser rejects it.
    const cp = String.fromCodePoint(text.codePointAt(pos)!);
    this.done = true;
    return this.token('invalid', pos, pos + cp.length, cp);
  }

  /** Operators that may only follow a label (Calico checks them in this order). */
  private scanOperatorWord(pos: number): Token | undefined {
    const end = this.matchWord(pos, 'contains');
    if (end >= 0) return this.token('contains', pos, end);
    for (const [first, second, kind] of [
      ['starts', 'with', 'startsWith'],
      ['ends', 'with', 'endsWith'],
      ['not', 'in', 'notIn'],
    ] as const) {
      const tok = this.matchTwoWords(pos, first, second, kind);
      if (tok !== undefined) return tok;
    }
    const inEnd = this.matchWord(pos, 'in');
    if (inEnd >= 0) return this.token('in', pos, inEnd);
    return undefined;
  }

  private matchTwoWords(pos: number, first: string, second: string, kind: TokenKind): Token | undefined {
    const text = this.text;
    if (!text.startsWith(first, pos)) return undefined;
    const afterFirst = pos + first.length;
    const secondStart = this.skipWhitespace(afterFirst);
    const end = this.matchWord(secondStart, second);
    if (end >= 0) return this.token(kind, pos, end);
    // "starts" standing alone as a word is a half-written operator; "startsx"
    // is just a label (and an error in the parser).
    if (this.isBoundary(afterFirst)) {
      this.fail(secondStart, `"${second}" after "${first}"`, this.describeAt(secondStart));
    }
    return undefined;
  }

  /** End of `word` at `pos` if it is there and ends at a word boundary, else -1. */
  private matchWord(pos: number, word: string): number {
    if (!this.text.startsWith(word, pos)) return -1;
    const end = pos + word.length;
    return this.isBoundary(end) ? end : -1;
  }

  private isBoundary(pos: number): boolean {
    return pos >= this.text.length || !isLabelKeyChar(this.text.charCodeAt(pos));
  }

  /** End of the run of label-key characters at `pos`; checks Calico's length limit. */
  private scanKey(pos: number): number {
    const text = this.text;
    let end = pos;
    while (end < text.length && isLabelKeyChar(text.charCodeAt(end))) end++;
    if (end - pos > MAX_LABEL_KEY_LENGTH) {
      this.fail(pos, `a label key of at most ${MAX_LABEL_KEY_LENGTH} characters`, `one of ${end - pos}`);
    }
    return end;
  }

  private skipWhitespace(pos: number): number {
    const text = this.text;
    while (pos < text.length && isWhitespace(text.charCodeAt(pos))) pos++;
    return pos;
  }

  /** What the text holds at `pos`, for a lexical error message. */
  private describeAt(pos: number): string {
    if (pos >= this.text.length) return 'end of input';
    const end = this.scanKeyUnchecked(pos);
    if (end > pos) return JSON.stringify(this.text.slice(pos, end));
    return `character ${JSON.stringify(String.fromCodePoint(this.text.codePointAt(pos)!))}`;
  }

  private scanKeyUnchecked(pos: number): number {
    let end = pos;
    while (end < this.text.length && isLabelKeyChar(this.text.charCodeAt(end))) end++;
    return end;
  }

  private token(kind: TokenKind, start: number, end: number, value = ''): Token {
    this.pos = end;
    return { kind, start, end, value };
  }

  private fail(column: number, expected: string, found: string): never {
    throw new SelectorSyntaxError(this.text, column, expected, found);
  }
}

/** Describes a token as the "found ..." part of a parse error. */
export function describeToken(text: string, tok: Token): string {
  switch (tok.kind) {
    case 'eof':
      return 'end of input';
    case 'label':
      return `label ${JSON.stringify(tok.value)}`;
    case 'string':
      return `string ${text.slice(tok.start, tok.end)}`;
    case 'invalid':
      return `character ${JSON.stringify(tok.value)}`;
    default:
      return JSON.stringify(text.slice(tok.start, tok.end));
  }
}

/** The whole token stream, ending with `eof`. Throws SelectorSyntaxError on a lexical error. */
export function tokenize(text: string): Token[] {
  const lexer = new Lexer(text);
  const out: Token[] = [];
  for (;;) {
    const tok = lexer.next();
    out.push(tok);
    if (tok.kind === 'eof') return out;
    if (tok.kind === 'invalid') {
      throw new SelectorSyntaxError(text, tok.start, 'a token', describeToken(text, tok));
    }
  }
}
