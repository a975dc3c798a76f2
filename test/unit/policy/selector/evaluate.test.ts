import assert from 'node:assert/strict';
import { parseSelector, Selector } from '../../../../src/policy/selector/index.js';
import { referenceEvaluate } from './gen.js';

type L = Record<string, string>;

interface Case {
  readonly sel: string;
  readonly match: readonly L[];
  readonly noMatch: readonly L[];
}

// Each row: a selector, label sets it must match, label sets it must not.
const CASES: readonly Case[] = [
  // == and !=
  { sel: `a == 'b'`, match: [{ a: 'b' }, { a: 'b', c: 'd' }], noMatch: [{}, { a: 'c' }, { c: 'b' }, { a: 'B' }] },
  { sel: `a == "b"`, match: [{ a: 'b' }], noMatch: [{ a: 'bb' }] },
  { sel: `a == ''`, match: [{ a: '' }], noMatch: [{}, { a: ' ' }] },
  { sel: `a != 'b'`, match: [{}, { a: 'c' }, { a: '' }, { c: 'b' }], noMatch: [{ a: 'b' }] },
  { sel: `a != ""`, match: [{}, { a: 'x' }], noMatch: [{ a: '' }] },
  { sel: `a==\t'b'`, match: [{ a: 'b' }], noMatch: [{ a: 'c' }] },
  { sel: `a=='b'`, match: [{ a: 'b' }], noMatch: [{}] },
  { sel: `  a   ==   'b'  `, match: [{ a: 'b' }], noMatch: [{}] },
  // Quotes: no escapes, the other quote kind is plain text.
  { sel: `a == "it's"`, match: [{ a: "it's" }], noMatch: [{ a: 'its' }] },
  { sel: `a == 'say "hi"'`, match: [{ a: 'say "hi"' }], noMatch: [{ a: 'say hi' }] },
  { sel: `a == "x y"`, match: [{ a: 'x y' }], noMatch: [{ a: 'x' }] },
  { sel: `a == 'x\ny'`, match: [{ a: 'x\ny' }], noMatch: [{ a: 'x y' }] },
  { sel: `a == "\\n"`, match: [{ a: '\\n' }], noMatch: [{ a: '\n' }] },
  // Label keys: prefixes, dots, slashes, dashes, underscores, leading digits.
  { sel: `app.kubernetes.io/name == 'web'`, match: [{ 'app.kubernetes.io/name': 'web' }], noMatch: [{ name: 'web' }] },
  { sel: `projectcalico.org/namespace == 'default'`, match: [{ 'projectcalico.org/namespace': 'default' }], noMatch: [{}] },
  { sel: `k-1_x.y == 'v'`, match: [{ 'k-1_x.y': 'v' }], noMatch: [{ k: 'v' }] },
  { sel: `9lives == 'v'`, match: [{ '9lives': 'v' }], noMatch: [{}] },
  { sel: `-/. == 'v'`, match: [{ '-/.': 'v' }], noMatch: [{}] },
  // Operator words are labels when not after a label.
  { sel: `in == 'x'`, match: [{ in: 'x' }], noMatch: [{}] },
  { sel: `has == 'x'`, match: [{ has: 'x' }], noMatch: [{}] },
  { sel: `all == 'x'`, match: [{ all: 'x' }], noMatch: [{}] },
  { sel: `contains contains 'x'`, match: [{ contains: 'axb' }], noMatch: [{ contains: 'y' }] },
  { sel: `not not in {'x'}`, match: [{}, { not: 'y' }], noMatch: [{ not: 'x' }] },
  { sel: `global == 'x' && has(has)`, match: [{ global: 'x', has: '' }], noMatch: [{ global: 'x' }] },
  // in / not in
  { sel: `a in {'x', 'y'}`, match: [{ a: 'x' }, { a: 'y' }], noMatch: [{}, { a: 'z' }, { a: 'x, y' }] },
  { sel: `a in {"'", '"', "c"}`, match: [{ a: "'" }, { a: '"' }, { a: 'c' }], noMatch: [{}, { a: 'e' }] },
  { sel: `a not in {"'", '"', "c"}`, match: [{}, { a: 'e' }], noMatch: [{ a: "'" }, { a: '"' }, { a: 'c' }] },
  { sel: `a in {}`, match: [], noMatch: [{}, { a: '' }, { a: 'x' }] },
  { sel: `a not in {}`, match: [{}, { a: '' }, { a: 'x' }], noMatch: [] },
  { sel: `a in {'x',}`, match: [{ a: 'x' }], noMatch: [{ a: '' }] },
  { sel: `a in{'x'}`, match: [{ a: 'x' }], noMatch: [{}] },
  { sel: `a notin {'x'}`, match: [{}, { a: 'y' }], noMatch: [{ a: 'x' }] },
  { sel: `a not\t  in {'x'}`, match: [{ a: 'y' }], noMatch: [{ a: 'x' }] },
  { sel: `a in {'', 'x'}`, match: [{ a: '' }, { a: 'x' }], noMatch: [{}] },
  // contains / starts with / ends with
  { sel: `a contains 'a'`, match: [{ a: 'a' }, { a: 'bab' }, { a: 'aaa', b: 'c' }], noMatch: [{}, { a: 'b' }, { b: 'aaa' }] },
  { sel: `a starts with 'a'`, match: [{ a: 'a' }, { a: 'abb' }], noMatch: [{}, { a: 'b' }, { a: 'baa' }, { b: 'aaa' }] },
  { sel: `a ends with 'a'`, match: [{ a: 'a' }, { a: 'bba' }], noMatch: [{}, { a: 'b' }, { a: 'aab' }] },
  { sel: `a startswith "x"`, match: [{ a: 'xy' }], noMatch: [{ a: 'yx' }] },
  { sel: `a endswith "x"`, match: [{ a: 'yx' }], noMatch: [{ a: 'xy' }] },
  { sel: `a contains ''`, match: [{ a: '' }, { a: 'q' }], noMatch: [{}] },
  { sel: `a starts with '.*'`, match: [{ a: '.*x' }], noMatch: [{ a: 'abc' }] },
  { sel: `a contains'x'`, match: [{ a: 'x' }], noMatch: [{ a: 'y' }] },
  // has, all, global, empty
  { sel: `has(a)`, match: [{ a: '' }, { a: 'b' }], noMatch: [{}, { b: 'a' }] },
  { sel: `has( a )`, match: [{ a: 'b' }], noMatch: [{}] },
  { sel: `!has(a)`, match: [{}, { b: 'b' }], noMatch: [{ a: 'b' }] },
  { sel: `has(app.kubernetes.io/name)`, match: [{ 'app.kubernetes.io/name': '' }], noMatch: [{}] },
  { sel: `all()`, match: [{}, { a: 'b' }], noMatch: [] },
  { sel: `all( \t)`, match: [{}], noMatch: [] },
  { sel: `global()`, match: [{}, { a: 'b' }], noMatch: [] },
  { sel: ``, match: [{}, { a: 'b' }], noMatch: [] },
  { sel: ` \t `, match: [{}], noMatch: [] },
  { sel: `!all()`, match: [], noMatch: [{}, { a: 'b' }] },
  // Negation: binds to one operand; runs of ! collapse.
  { sel: `!a == 'x'`, match: [{}, { a: 'y' }], noMatch: [{ a: 'x' }] },
  { sel: `!a != 'x'`, match: [{ a: 'x' }], noMatch: [{}, { a: 'y' }] },
  { sel: `!!has(a)`, match: [{ a: 'b' }], noMatch: [{}] },
  { sel: `!!!has(a)`, match: [{}], noMatch: [{ a: 'b' }] },
  { sel: `! !!has(a)`, match: [{}], noMatch: [{ a: 'b' }] },
  { sel: `!a in {'x'}`, match: [{}, { a: 'y' }], noMatch: [{ a: 'x' }] },
  { sel: `!a not in {'x'}`, match: [{ a: 'x' }], noMatch: [{}, { a: 'y' }] },
  { sel: `!a contains 'x'`, match: [{}, { a: 'y' }], noMatch: [{ a: 'axa' }] },
  { sel: `!has(a) && has(b)`, match: [{ b: '' }], noMatch: [{ a: '', b: '' }, {}] },
  { sel: `!(has(a) && has(b))`, match: [{}, { a: '' }, { b: '' }], noMatch: [{ a: '', b: '' }] },
  { sel: `!(!has(a) || has(b))`, match: [{ a: 'a' }], noMatch: [{}, { a: 'a', b: 'b' }] },
  // && and || and precedence: || loosest, then &&, then !.
  { sel: `a == 'a1' && b == 'b1'`, match: [{ a: 'a1', b: 'b1' }], noMatch: [{ a: 'a1' }, { b: 'b1' }, { a: 'a1', b: 'x' }] },
  { sel: `a == 'a1' || b == 'b1'`, match: [{ a: 'a1' }, { b: 'b1' }, { a: 'a1', b: 'b1' }], noMatch: [{}, { a: 'x', b: 'y' }] },
  { sel: `a != 'a1' || b != 'b1'`, match: [{}, { a: 'a1' }], noMatch: [{ a: 'a1', b: 'b1' }] },
  { sel: `has(a) || has(b) && has(c)`, match: [{ a: '' }, { b: '', c: '' }], noMatch: [{ b: '' }, { c: '' }] },
  { sel: `(has(a) || has(b)) && has(c)`, match: [{ a: '', c: '' }, { b: '', c: '' }], noMatch: [{ a: '' }, { c: '' }] },
  { sel: `has(a) && has(b) || has(c)`, match: [{ c: '' }, { a: '', b: '' }], noMatch: [{ a: '' }, { b: '' }] },
  { sel: `has(a) && (has(b) || has(c))`, match: [{ a: '', b: '' }, { a: '', c: '' }], noMatch: [{ c: '' }, { a: '' }] },
  { sel: `!has(a) || has(b)`, match: [{}, { a: '', b: '' }], noMatch: [{ a: '' }] },
  { sel: `((((has(a)))))`, match: [{ a: '' }], noMatch: [{}] },
  { sel: `a == 'x' && a == 'y'`, match: [], noMatch: [{ a: 'x' }, { a: 'y' }, {}] },
  { sel: `a == 'x' || a != 'x'`, match: [{}, { a: 'x' }, { a: 'y' }], noMatch: [] },
  { sel: `all() && has(a)`, match: [{ a: '' }], noMatch: [{}] },
  { sel: `global() || has(a)`, match: [{}, { a: '' }], noMatch: [] },
  {
    sel: `role == 'db' && (env in {'prod', 'staging'} || tier starts with 'back') && !has(quarantine)`,
    match: [{ role: 'db', env: 'prod' }, { role: 'db', tier: 'backend' }],
    noMatch: [{ role: 'db', env: 'dev' }, { role: 'db', env: 'prod', quarantine: 'y' }, { env: 'prod' }],
  },
  // Keys that are Object.prototype members are ordinary, absent-unless-set keys.
  { sel: `has(constructor)`, match: [{ constructor: 'x' }], noMatch: [{}] },
  { sel: `toString != 'x'`, match: [{}], noMatch: [{ toString: 'x' }] },
  { sel: `__proto__ in {'x'}`, match: [JSON.parse('{"__proto__":"x"}') as L], noMatch: [{}] },
];

describe('policy/selector: parse and evaluate (table)', () => {
  it('has at least 60 cases', () => {
    assert.ok(CASES.length >= 60, `only ${CASES.length} cases`);
  });

  for (const c of CASES) {
    describe(`selector ${JSON.stringify(c.sel)}`, () => {
      const sel = parseSelector(c.sel);
      const again = parseSelector(sel.canonical());

      it('matches what it should, before and after canonicalising', () => {
        for (const labels of c.match) {
          assert.equal(sel.evaluate(labels), true, `should match ${JSON.stringify(labels)}`);
          assert.equal(again.evaluate(labels), true, `canonical ${sel.canonical()} should match ${JSON.stringify(labels)}`);
          assert.equal(referenceEvaluate(sel.ast, labels), true, 'reference evaluator disagrees');
        }
      });

      it('does not match what it should not, before and after canonicalising', () => {
        for (const labels of c.noMatch) {
          assert.equal(sel.evaluate(labels), false, `should not match ${JSON.stringify(labels)}`);
          assert.equal(again.evaluate(labels), false, `canonical ${sel.canonical()} should not match ${JSON.stringify(labels)}`);
          assert.equal(referenceEvaluate(sel.ast, labels), false, 'reference evaluator disagrees');
        }
      });
    });
  }
});

describe('policy/selector: empty selector', () => {
  it('parses "" and blanks to all() and says it was empty', () => {
    for (const text of ['', ' ', '\t \t']) {
      const sel = parseSelector(text);
      assert.equal(sel.empty, true);
      assert.equal(sel.canonical(), 'all()');
      assert.equal(sel.evaluate({}), true);
    }
  });

  it('does not flag an explicit all() as empty, though it is the same selector', () => {
    const sel = parseSelector('all()');
    assert.equal(sel.empty, false);
    assert.ok(sel.equals(parseSelector('')));
    assert.equal(sel.uniqueId(), parseSelector('').uniqueId());
  });
});

describe('policy/selector: evaluation with parent labels', () => {
  // Endpoint labels plus its profiles' labels, Felix style: own labels win,
  // then parents in order.
  const own = { app: 'web', env: 'own' };
  const nsProfile = { 'pcns.env': 'prod', 'pcns.projectcalico.org/name': 'shop', env: 'ns' };
  const otherProfile = { team: 'blue', 'pcns.env': 'other', app: 'other' };

  it('finds inherited labels', () => {
    const sel = parseSelector(`pcns.env == 'prod' && team == 'blue'`);
    assert.equal(sel.evaluateWithParents(own, [nsProfile, otherProfile]), true);
    assert.equal(sel.evaluate(own), false);
  });

  it('lets own labels win over parents', () => {
    assert.equal(parseSelector(`env == 'own'`).evaluateWithParents(own, [nsProfile]), true);
    assert.equal(parseSelector(`env == 'ns'`).evaluateWithParents(own, [nsProfile]), false);
    assert.equal(parseSelector(`app == 'web'`).evaluateWithParents(own, [otherProfile]), true);
  });

  it('takes the first parent that has the key', () => {
    assert.equal(parseSelector(`pcns.env == 'prod'`).evaluateWithParents(own, [nsProfile, otherProfile]), true);
    assert.equal(parseSelector(`pcns.env == 'prod'`).evaluateWithParents(own, [otherProfile, nsProfile]), false);
  });

  it('treats a key absent everywhere as absent (!= and not in are true)', () => {
    const sel = parseSelector(`missing != 'x' && missing not in {'y'} && !has(missing)`);
    assert.equal(sel.evaluateWithParents(own, [nsProfile, otherProfile]), true);
    assert.equal(sel.evaluateWithParents(own, [{ missing: 'z' }]), false);
  });

  it('uses an empty parent list like no parents', () => {
    const sel = parseSelector(`app == 'web'`);
    assert.equal(sel.evaluateWithParents(own, []), sel.evaluate(own));
  });
});

describe('policy/selector: labelKeys', () => {
  const cases: ReadonlyArray<[string, string[]]> = [
    ['', []],
    ['all() || global()', []],
    [`a == 'x'`, ['a']],
    [`has(b) && !(c in {'x'} || d contains 'y') && e != 'z'`, ['b', 'c', 'd', 'e']],
    [`a == 'x' && a != 'y' || has(a)`, ['a']],
    [`app.kubernetes.io/name starts with 'w' && pcns.env ends with 'd'`, ['app.kubernetes.io/name', 'pcns.env']],
  ];
  for (const [text, keys] of cases) {
    it(`reads ${JSON.stringify(keys)} in ${JSON.stringify(text)}`, () => {
      assert.deepEqual([...parseSelector(text).labelKeys()].sort(), [...keys].sort());
    });
  }

  it('means a change to an unread label cannot change the result', () => {
    const sel = parseSelector(`a == 'x' || !has(b)`);
    const keys = sel.labelKeys();
    const base = { a: 'y', b: '1', c: 'q' };
    const changed = { ...base, c: 'other', d: 'new' };
    assert.ok(!keys.has('c') && !keys.has('d'));
    assert.equal(sel.evaluate(base), sel.evaluate(changed));
  });
});

describe('policy/selector: matcher', () => {
  it('is a plain function equal to evaluate', () => {
    const sel = Selector.parse(`a in {'1', '2'} && b != '3'`);
    const m = sel.matcher;
    const sets: L[] = [{}, { a: '1' }, { a: '2', b: '3' }, { a: '3' }];
    for (const labels of sets) {
      assert.equal(m(labels), sel.evaluate(labels));
    }
  });
});
