import assert from 'node:assert/strict';
import {
  and,
  compare,
  has,
  inSet,
  not,
  or,
  parseSelector,
  render,
  Selector,
  SELECTOR_ID_LENGTH,
} from '../../../../src/policy/selector/index.js';

// [input, expected canonical text]
const CANONICAL: ReadonlyArray<readonly [string, string]> = [
  ['', 'all()'],
  [' all() ', 'all()'],
  [' (all( ) )', 'all()'],
  ['global( )', 'global()'],
  [`a=='b'`, 'a == "b"'],
  [`a == '"'`, `a == '"'`],
  [`a == "'"`, `a == "'"`],
  [`a != '"'`, `a != '"'`],
  [`a contains '"'`, `a contains '"'`],
  [`a startswith 'x'`, 'a starts with "x"'],
  [`a ends   with 'x'`, 'a ends with "x"'],
  [`has( b)`, 'has(b)'],
  [`! (has( b)||! has(a ))`, '!(!has(a) || has(b))'],
  [`a in {"d", "a", "b"}`, 'a in {"a", "b", "d"}'],
  [`a in {"z", "z", "x", "y", "x", "a"}`, 'a in {"a", "x", "y", "z"}'],
  [`a not in {'b', "a",}`, 'a not in {"a", "b"}'],
  [`a in {}`, 'a in {}'],
  [`a in {'x'}`, 'a == "x"'],
  [`a in {'x', 'x'}`, 'a == "x"'],
  [`a notin {'x'}`, 'a != "x"'],
  [`!(a == 'x')`, 'a != "x"'],
  [`!a != 'x'`, 'a == "x"'],
  [`!a in {'y', 'x'}`, 'a not in {"x", "y"}'],
  [`!(a not in {'y', 'x'})`, 'a in {"x", "y"}'],
  [`!!has(a)`, 'has(a)'],
  [`!(!(has(a)))`, 'has(a)'],
  [`!a contains 'x'`, '!a contains "x"'],
  [`c == 'z' && a == 'x' && b == 'y'`, 'a == "x" && b == "y" && c == "z"'],
  [`(a == 'x' && (b == 'y' && c == 'z')) || d == 'w'`, '(a == "x" && b == "y" && c == "z") || d == "w"'],
  [`has(b) || (has(a) || has(c))`, 'has(a) || has(b) || has(c)'],
  [`has(a) && has(a)`, 'has(a)'],
  [`has(a) || has(a) && has(a)`, 'has(a)'],
  [`has(z) && (has(b) || has(a))`, '(has(a) || has(b)) && has(z)'],
  [`!(has(b) && has(a))`, '!(has(a) && has(b))'],
  [`all() && has(a)`, 'all() && has(a)'],
  [`global() || all()`, 'all() || global()'],
];

// Groups of spellings that must share one canonical text.
const EQUIVALENT: ReadonlyArray<readonly string[]> = [
  [`a == 'x'`, `a=="x"`, `(a == 'x')`, `((a=='x'))`, `a in {'x'}`, `!a != 'x'`, `!(a != "x")`, `!!a == 'x'`, `\ta ==\t'x' `],
  [`a in {'x', 'y'}`, `a in {"y", 'x'}`, `a in {'y','x','y',}`, `!(a not in {'x', 'y'})`, `!a notin {'x','y'}`],
  [`a starts with 'p'`, `a startswith 'p'`, `a starts\twith "p"`, `(a starts  with 'p')`],
  [`has(a) && has(b) && has(c)`, `has(c) && has(b) && has(a)`, `(has(a) && has(b)) && has(c)`, `has(a) && (has(c) && has(b))`],
  [`has(a) || has(b) && has(c)`, `(has(c) && has(b)) || has(a)`, `has(a) || (has(b) && has(c))`],
  [`!(has(a) || has(b))`, `!(has(b) || has(a))`, `!((has(a)) || has(b))`, `!!!(has(b) || has(a))`],
  [`has(a)`, `has(a) && has(a)`, `has(a) || has(a)`, `(has(a))`, `has( a )`],
  [`all()`, ``, ` `, `all( )`, `(all())`],
  [`app.kubernetes.io/name == "web" && projectcalico.org/namespace != "kube-system"`,
   `!(projectcalico.org/namespace == 'kube-system') && app.kubernetes.io/name in {'web'}`],
];

// Pairs that must NOT share a canonical text (they differ in meaning, or in
// a way the canonical form deliberately keeps: all() vs global()).
const DIFFERENT: ReadonlyArray<readonly [string, string]> = [
  [`a == 'x'`, `a == 'X'`],
  [`a == 'x'`, `a != 'x'`],
  [`a == 'x'`, `b == 'x'`],
  [`a == 'x'`, `a contains 'x'`],
  [`a in {'x', 'y'}`, `a not in {'x', 'y'}`],
  [`a in {'x', 'y'}`, `a in {'x', 'y', 'z'}`],
  [`a in {}`, `a not in {}`],
  [`has(a)`, `!has(a)`],
  [`has(a) && has(b)`, `has(a) || has(b)`],
  [`has(a) || has(b) && has(c)`, `(has(a) || has(b)) && has(c)`],
  [`all()`, `global()`],
  [`a starts with 'x'`, `a ends with 'x'`],
  [`a == ''`, `has(a)`],
  [`a != 'x'`, `a == 'x' || !has(a) || a != 'x' && has(b)`],
];

describe('policy/selector: canonical form', () => {
  for (const [input, expected] of CANONICAL) {
    it(`writes ${JSON.stringify(input)} as ${JSON.stringify(expected)}`, () => {
      const sel = parseSelector(input);
      assert.equal(sel.canonical(), expected);
      assert.equal(String(sel), expected);
      assert.equal(parseSelector(expected).canonical(), expected, 'not a fixed point');
    });
  }

  EQUIVALENT.forEach((group, i) => {
    it(`gives one text to equivalent spellings (group ${i}: ${JSON.stringify(group[0])})`, () => {
      const texts = group.map((s) => parseSelector(s).canonical());
      for (let j = 1; j < texts.length; j++) {
        assert.equal(texts[j], texts[0], `${JSON.stringify(group[j])} differs from ${JSON.stringify(group[0])}`);
      }
      const ids = new Set(group.map((s) => parseSelector(s).uniqueId()));
      assert.equal(ids.size, 1);
      assert.ok(group.every((s) => parseSelector(s).equals(parseSelector(group[0]!))));
    });
  });

  for (const [a, b] of DIFFERENT) {
    it(`keeps ${JSON.stringify(a)} and ${JSON.stringify(b)} apart`, () => {
      const sa = parseSelector(a);
      const sb = parseSelector(b);
      assert.notEqual(sa.canonical(), sb.canonical());
      assert.notEqual(sa.uniqueId(), sb.uniqueId());
      assert.equal(sa.equals(sb), false);
    });
  }

  it('keeps the source text and the as-written tree', () => {
    const sel = parseSelector(`!(a == 'x')`);
    assert.equal(sel.source, `!(a == 'x')`);
    assert.deepEqual(sel.ast, { kind: 'not', operand: { kind: 'eq', key: 'a', value: 'x' } });
    assert.deepEqual(sel.root, { kind: 'ne', key: 'a', value: 'x' });
  });
});

describe('policy/selector: uniqueId', () => {
  it('is 22 base64url characters and fits an ipset name after "tabby-s-"', () => {
    for (const text of ['', `a == 'x'`, `has(a) && b in {'1','2','3'} || !c contains 'q'`]) {
      const id = parseSelector(text).uniqueId();
      assert.equal(id.length, SELECTOR_ID_LENGTH);
      assert.equal(SELECTOR_ID_LENGTH, 22);
      assert.match(id, /^[A-Za-z0-9_-]{22}$/);
      assert.ok(`tabby-s-${id}`.length <= 31);
    }
  });

  it('is stable: a known selector has a known id', () => {
    // SHA-224 of the UTF-8 canonical text, base64url, first 22 characters.
    // Changing the canonical form or the hash changes every ipset name, so
    // this pins it.
    assert.equal(parseSelector('all()').uniqueId(), 'yAKsl-CNoToGJvI4pNl6xX');
    assert.equal(parseSelector('').uniqueId(), 'yAKsl-CNoToGJvI4pNl6xX');
  });

  it('is the same on each call and for each parse', () => {
    const s = parseSelector(`a == 'b'`);
    assert.equal(s.uniqueId(), s.uniqueId());
    assert.equal(parseSelector(`a == 'b'`).uniqueId(), s.uniqueId());
  });

  it('differs across many distinct selectors', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 500; i++) ids.add(parseSelector(`k == 'v${i}'`).uniqueId());
    assert.equal(ids.size, 500);
  });
});

describe('policy/selector: trees built in code', () => {
  it('renders and canonicalises like the parsed text', () => {
    const tree = and(compare('eq', 'app', 'web'), or(has('b'), not(inSet('in', 'env', ['x', 'y']))));
    assert.equal(render(tree), 'app == "web" && (has(b) || !env in {"x", "y"})');
    const sel = Selector.fromAst(tree);
    assert.equal(sel.canonical(), 'app == "web" && (env not in {"x", "y"} || has(b))');
    assert.equal(sel.source, sel.canonical());
    assert.ok(sel.equals(parseSelector(render(tree))));
  });

  it('rejects keys and values that cannot be written', () => {
    assert.throws(() => has(''), RangeError);
    assert.throws(() => has('a b'), RangeError);
    assert.throws(() => has('k'.repeat(513)), RangeError);
    assert.throws(() => compare('eq', 'a', `it's "x"`), RangeError);
    assert.throws(() => inSet('in', 'a', ['ok', `"'`]), RangeError);
  });

  it('writes a value holding a double quote with single quotes, and parses it back', () => {
    const sel = Selector.fromAst(compare('eq', 'a', 'say "hi"'));
    assert.equal(sel.canonical(), `a == 'say "hi"'`);
    assert.equal(parseSelector(sel.canonical()).evaluate({ a: 'say "hi"' }), true);
  });
});
