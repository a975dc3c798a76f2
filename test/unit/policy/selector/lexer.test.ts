import assert from 'node:assert/strict';
import { SelectorSyntaxError, tokenize } from '../../../../src/policy/selector/index.js';

/** Tokens as "kind@start[:value]" for compact comparison. */
function lex(text: string): string[] {
  return tokenize(text).map((t) => `${t.kind}@${t.start}${t.value !== '' ? ':' + t.value : ''}`);
}

describe('policy/selector: tokenizer', () => {
  it('lexes a comparison with positions', () => {
    assert.deepEqual(lex(`app == 'web'`), ['label@0:app', 'eq@4', 'string@7:web', 'eof@12']);
  });

  it('lexes every punctuation and operator', () => {
    assert.deepEqual(lex(`!(a != "x" || b in {'1', '2'}) && has(c)`), [
      'not@0',
      'lparen@1',
      'label@2:a',
      'ne@4',
      'string@7:x',
      'or@11',
      'label@14:b',
      'in@16',
      'lbrace@19',
      'string@20:1',
      'comma@23',
      'string@25:2',
      'rbrace@28',
      'rparen@29',
      'and@31',
      'has@34:c',
      'eof@40',
    ]);
  });

  it('treats operator words as operators only right after a label', () => {
    assert.deepEqual(lex(`in in {}`), ['label@0:in', 'in@3', 'lbrace@6', 'rbrace@7', 'eof@8']);
    assert.deepEqual(lex(`contains contains ''`), ['label@0:contains', 'contains@9', 'string@18', 'eof@20']);
    assert.deepEqual(lex(`not not in {}`), ['label@0:not', 'notIn@4', 'lbrace@11', 'rbrace@12', 'eof@13']);
  });

  it('accepts multi-word operators with any blanks between the words, or none', () => {
    for (const [text, kind] of [
      [`a starts with 'x'`, 'startsWith'],
      [`a startswith 'x'`, 'startsWith'],
      [`a starts \t with 'x'`, 'startsWith'],
      [`a ends with 'x'`, 'endsWith'],
      [`a endswith 'x'`, 'endsWith'],
      [`a not in {}`, 'notIn'],
      [`a notin {}`, 'notIn'],
    ] as const) {
      assert.equal(tokenize(text)[1]!.kind, kind, text);
    }
  });

  it('requires a word boundary after an operator word', () => {
    // "inx" after a label is not "in" + "x": it is another label (a parse error later).
    assert.deepEqual(lex(`a inx`), ['label@0:a', 'label@2:inx', 'eof@5']);
    assert.deepEqual(lex(`a in{}`), ['label@0:a', 'in@2', 'lbrace@4', 'rbrace@5', 'eof@6']);
    assert.deepEqual(lex(`a contains'x'`), ['label@0:a', 'contains@2', 'string@10:x', 'eof@13']);
  });

  it('reads has(, all( and global( only when the parenthesis follows at once', () => {
    assert.deepEqual(lex(`has( a.b/c )`), ['has@0:a.b/c', 'eof@12']);
    assert.deepEqual(lex(`all(\t)`), ['all@0', 'eof@6']);
    assert.deepEqual(lex(`global( )`), ['global@0', 'eof@9']);
    assert.deepEqual(lex(`has (a)`), ['label@0:has', 'lparen@4', 'label@5:a', 'rparen@6', 'eof@7']);
    assert.deepEqual(lex(`hasty == 'x'`), ['label@0:hasty', 'eq@6', 'string@9:x', 'eof@12']);
  });

  it('keeps the other quote and newlines inside strings, with no escapes', () => {
    assert.deepEqual(lex(`"it's" 'say "hi"' "a\\"`), ["string@0:it's", 'string@7:say "hi"', 'string@18:a\\', 'eof@22']);
    assert.deepEqual(lex(`'x\ny'`), ['string@0:x\ny', 'eof@5']);
  });

  it('treats only space and tab as whitespace', () => {
    assert.deepEqual(lex(` \t a`), ['label@3:a', 'eof@4']);
    assert.throws(() => tokenize('a\n'), (e: unknown) => e instanceof SelectorSyntaxError && e.column === 1);
    assert.throws(() => tokenize('\ra'), (e: unknown) => e instanceof SelectorSyntaxError && e.column === 0);
  });

  it('throws on a lexical error with its column', () => {
    assert.throws(() => tokenize(`a == 'x`), { message: `selector "a == 'x" at column 5: expected a closing ' to end this string, found end of input` });
    assert.throws(() => tokenize(`a = 'x'`), { message: `selector "a = 'x'" at column 2: expected "==", found a single "="` });
    assert.throws(() => tokenize(`a ¬`), { message: `selector "a ¬" at column 2: expected a token, found character "¬"` });
  });

  it('reports a character outside the BMP whole', () => {
    assert.throws(() => tokenize(`😀`), { message: `selector "😀" at column 0: expected a token, found character "😀"` });
  });
});
