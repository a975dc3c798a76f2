/**
 * Property checks on generated selectors (seeded, so a failure reproduces):
 * the canonical text is a fixed point, every spelling of a tree gets the same
 * canonical text, and the parsed selector, its canonical form, the compiled
 * matcher and an independent reference evaluator agree on random label sets.
 */
import assert from 'node:assert/strict';
import { compile, normalize, parseSelector, parseSelectorAst, render } from '../../../../src/policy/selector/index.js';
import { randomLabels, randomTree, referenceEvaluate, Rng, spell } from './gen.js';

const TREES = 600;
const LABEL_SETS = 24;

describe('policy/selector: properties on generated selectors', () => {
  it('render() of any tree parses back to a tree with the same meaning and canonical text', () => {
    const rng = new Rng(0xc0ffee);
    for (let i = 0; i < TREES; i++) {
      const tree = randomTree(rng, 4);
      const text = render(tree);
      const sel = parseSelector(text);
      assert.equal(sel.canonical(), parseSelector(render(normalize(tree))).canonical(), text);
      for (let j = 0; j < 8; j++) {
        const labels = randomLabels(rng);
        assert.equal(sel.evaluate(labels), referenceEvaluate(tree, labels), `${text} on ${JSON.stringify(labels)}`);
      }
    }
  });

  it('parse(canonical(s)).canonical() === canonical(s)', () => {
    const rng = new Rng(1);
    for (let i = 0; i < TREES; i++) {
      const text = spell(rng, randomTree(rng, 4));
      const canonical = parseSelector(text).canonical();
      assert.equal(parseSelector(canonical).canonical(), canonical, `from ${JSON.stringify(text)}`);
    }
  });

  it('gives every spelling of a tree the same canonical text and id', () => {
    const rng = new Rng(2);
    for (let i = 0; i < TREES; i++) {
      const tree = randomTree(rng, 4);
      const first = spell(rng, tree);
      const second = spell(rng, tree);
      const a = parseSelector(first);
      const b = parseSelector(second);
      assert.equal(a.canonical(), b.canonical(), `${JSON.stringify(first)} vs ${JSON.stringify(second)}`);
      assert.equal(a.uniqueId(), b.uniqueId());
    }
  });

  it('evaluates the same before and after canonicalising, and as the reference does', () => {
    const rng = new Rng(3);
    let matched = 0;
    let total = 0;
    for (let i = 0; i < TREES; i++) {
      const tree = randomTree(rng, 4);
      const text = spell(rng, tree);
      const { root: asWritten } = parseSelectorAst(text);
      const direct = compile(asWritten); // the un-normalised tree, compiled
      const sel = parseSelector(text);
      const canonical = parseSelector(sel.canonical());
      for (let j = 0; j < LABEL_SETS; j++) {
        const labels = randomLabels(rng);
        const parents = rng.chance(0.5) ? [randomLabels(rng), randomLabels(rng)] : [];
        const expected = referenceEvaluate(tree, labels, parents);
        const ctx = `${JSON.stringify(text)} on ${JSON.stringify(labels)} parents ${JSON.stringify(parents)}`;
        assert.equal(referenceEvaluate(asWritten, labels, parents), expected, `parse changed meaning: ${ctx}`);
        assert.equal(direct(labels, parents), expected, `compiled as-written tree: ${ctx}`);
        assert.equal(sel.evaluateWithParents(labels, parents), expected, `selector: ${ctx}`);
        assert.equal(canonical.evaluateWithParents(labels, parents), expected, `canonical ${sel.canonical()}: ${ctx}`);
        if (expected) matched++;
        total++;
      }
    }
    // The generator must exercise both outcomes, or this test proves little.
    assert.ok(matched > total * 0.2 && matched < total * 0.8, `matched ${matched} of ${total}`);
  });

  it('keeps labelKeys() the same across spellings and canonicalisation', () => {
    const rng = new Rng(4);
    for (let i = 0; i < 200; i++) {
      const tree = randomTree(rng, 3);
      const sel = parseSelector(spell(rng, tree));
      const keys = [...sel.labelKeys()].sort();
      assert.deepEqual([...parseSelector(sel.canonical()).labelKeys()].sort(), keys);
      assert.deepEqual([...parseSelector(render(tree)).labelKeys()].sort(), keys);
    }
  });
});
