import assert from 'node:assert/strict';
import { MAX_NESTING, parseSelector, SelectorSyntaxError } from '../../../../src/policy/selector/index.js';
import { UserError } from '../../../../src/util/errors.js';

const OPERAND = 'a label, "!", "(", "has(", "all()" or "global()"';
const OPERATOR = 'an operator (==, !=, in, not in, contains, starts with, ends with)';

// [selector, column, expected, found]
const ERRORS: ReadonlyArray<readonly [string, number, string, string]> = [
  ['app == ', 7, 'a quoted string', 'end of input'],
  ['app ==', 6, 'a quoted string', 'end of input'],
  ['b == b', 5, 'a quoted string', 'label "b"'],
  ['b contains b', 11, 'a quoted string', 'label "b"'],
  ['b starts with b', 14, 'a quoted string', 'label "b"'],
  ['b ends with {', 12, 'a quoted string', '"{"'],
  ['b ends with b', 12, 'a quoted string', 'label "b"'],
  ['a ', 2, OPERATOR, 'end of input'],
  ['foo in ""', 7, '"{"', 'string ""'],
  ["'FOO", 0, "a closing ' to end this string", 'end of input'],
  ['a == "b" || %', 12, OPERAND, 'character "%"'],
  ["'b1' == b", 0, OPERAND, "string 'b1'"],
  ['b', 1, OPERATOR, 'end of input'],
  ['a b', 2, OPERATOR, 'label "b"'],
  ['a (', 2, OPERATOR, '"("'],
  ['has (a)', 4, OPERATOR, '"("'],
  ['a\n== "x"', 1, OPERATOR, 'character "\\n"'],
  ['a inx {"x"}', 2, OPERATOR, 'label "inx"'],
  ['!', 1, OPERAND, 'end of input'],
  ['foo == "bar" &', 13, '"&&"', 'a single "&"'],
  ['foo == "bar" |', 13, '"||"', 'a single "|"'],
  ['foo = "bar"', 4, '"=="', 'a single "="'],
  ['foo != ||', 7, 'a quoted string', '"||"'],
  ['foo in {"", ||', 12, 'a quoted string or "}"', '"||"'],
  ['foo in {"" ||', 11, '"," or "}"', '"||"'],
  ['foo in {"",,}', 11, 'a quoted string or "}"', '","'],
  ['foo in {,}', 8, 'a quoted string or "}"', '","'],
  ['foo in {"a" "b"}', 12, '"," or "}"', 'string "b"'],
  ['foo in "a"', 7, '"{"', 'string "a"'],
  ['foo in {"a"', 11, '"," or "}"', 'end of input'],
  ['foo in {', 8, 'a quoted string or "}"', 'end of input'],
  ['"FOO', 0, 'a closing " to end this string', 'end of input'],
  [`"FOO'`, 0, 'a closing " to end this string', 'end of input'],
  ["a == 'FOO", 5, "a closing ' to end this string", 'end of input'],
  ['(', 1, OPERAND, 'end of input'],
  ['(a == "foo"', 11, '"&&", "||" or ")"', 'end of input'],
  ['(a == "foo" b', 12, '"&&", "||" or ")"', 'label "b"'],
  [')', 0, OPERAND, '")"'],
  ['()', 1, OPERAND, '")"'],
  ['%', 0, OPERAND, 'character "%"'],
  ['a == "b" && %', 12, OPERAND, 'character "%"'],
  ['a == "b" || é == "x"', 12, OPERAND, 'character "é"'],
  ['a == "b" c == "d"', 9, '"&&", "||" or end of input', 'label "c"'],
  ['has(a) has(b)', 7, '"&&", "||" or end of input', '"has(b)"'],
  ['has(foo) &&', 11, OPERAND, 'end of input'],
  ['has()', 4, 'a label key inside "has("', 'character ")"'],
  ['has(a b)', 6, '")" to close "has("', '"b"'],
  ['has(a', 5, '")" to close "has("', 'end of input'],
  ['all(x)', 4, '")" after "all("', '"x"'],
  ['global(', 7, '")" after "global("', 'end of input'],
  ['a starts "x"', 9, '"with" after "starts"', 'character "\\""'],
  ['a ends', 6, '"with" after "ends"', 'end of input'],
  ['a not {"x"}', 6, '"in" after "not"', 'character "{"'],
  ['a starts withx "y"', 9, '"with" after "starts"', '"withx"'],
  ['a == "x" && !', 13, OPERAND, 'end of input'],
  ['a == "x" &&& b == "y"', 11, '"&&"', 'a single "&"'],
  ['a === "x"', 4, '"=="', 'a single "="'],
  [`${'k'.repeat(513)} == 'x'`, 0, 'a label key of at most 512 characters', 'one of 513'],
  // The first error in reading order wins over a lexical error further on.
  ['a == b "unterminated', 5, 'a quoted string', 'label "b"'],
];

describe('policy/selector: syntax errors', () => {
  const rows = ERRORS;

  it('has at least 20 error cases', () => {
    assert.ok(rows.length >= 20);
  });

  for (const [text, column, expected, found] of rows) {
    it(`rejects ${JSON.stringify(text.length > 40 ? text.slice(0, 40) + '...' : text)} at column ${column}`, () => {
      assert.throws(
        () => parseSelector(text),
        (err: unknown) => {
          assert.ok(err instanceof SelectorSyntaxError, `not a SelectorSyntaxError: ${String(err)}`);
          assert.equal(err.column, column);
          assert.equal(err.expected, expected);
          assert.equal(err.found, found);
          assert.equal(
            err.message,
            `selector ${JSON.stringify(text)} at column ${column}: expected ${expected}, found ${found}`,
          );
          assert.equal(err.selector, text);
          return true;
        },
      );
    });
  }

  it('produces the message format of the contract', () => {
    assert.throws(() => parseSelector('app == '), {
      message: 'selector "app == " at column 7: expected a quoted string, found end of input',
    });
  });

  it('is a UserError, so the CLI prints it as one line', () => {
    assert.throws(() => parseSelector('a =='), (err: unknown) => err instanceof UserError && err.exitCode === 2);
  });

  it('limits parenthesis nesting to MAX_NESTING instead of overflowing the stack', () => {
    const ok = '('.repeat(MAX_NESTING) + 'has(a)' + ')'.repeat(MAX_NESTING);
    assert.equal(parseSelector(ok).canonical(), 'has(a)');
    const deep = '!('.repeat(MAX_NESTING + 1) + 'has(a)' + ')'.repeat(MAX_NESTING + 1);
    assert.throws(() => parseSelector(deep), {
      message: `selector ${JSON.stringify(deep)} at column ${2 * MAX_NESTING + 1}: expected at most ${MAX_NESTING} nested parentheses, found more`,
    });
    const huge = '('.repeat(100000);
    assert.throws(() => parseSelector(huge), SelectorSyntaxError);
  });

  it('accepts a 512-character key', () => {
    const key = 'k'.repeat(512);
    assert.equal(parseSelector(`${key} == 'x'`).evaluate({ [key]: 'x' }), true);
    assert.equal(parseSelector(`has(${key})`).evaluate({ [key]: '' }), true);
  });
});
