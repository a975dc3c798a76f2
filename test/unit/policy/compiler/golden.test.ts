/**
 * Golden files: each `golden/<case>.yaml` manifest compiled for each node
 * (and IP version) it names must render byte for byte to
 * `golden/<case>.<node>.v<4|6>.rules`. Regenerate after an intended change
 * with `UPDATE_GOLDEN=1` and review the diff like code.
 *
 * Also: the output does not depend on the order of the input resources.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'mocha';
import { parseResources, type Resource } from '../../../../src/datastore/resources/index.js';
import { compilePolicy, formatRuleset, type IpVersion } from '../../../../src/policy/index.js';
import { manyEndpoints } from './fixtures.js';

// Goldens live in the source tree (this file runs from dist/).
const DIR = new URL('../../../../../test/unit/policy/compiler/golden/', import.meta.url);

function load(name: string): Resource[] {
  const text = readFileSync(new URL(name, DIR), 'utf8');
  const r = parseResources(text, name);
  assert.deepEqual(r.problems, [], `${name} must be valid`);
  return r.resources;
}

const CASES: { name: string; resources: () => Resource[]; nodes: string[]; versions: IpVersion[] }[] = [
  { name: 'basic', resources: () => load('basic.yaml'), nodes: ['h1', 'h2'], versions: [4] },
  { name: 'hostendpoint', resources: () => load('hostendpoint.yaml'), nodes: ['n1'], versions: [4] },
  { name: 'edge-rules', resources: () => load('edge-rules.yaml'), nodes: ['n1'], versions: [4, 6] },
  { name: 'many-endpoints', resources: () => manyEndpoints(40, 3), nodes: ['n1'], versions: [4] },
];

/** A fixed shuffle (no randomness in tests). */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('policy compiler golden files', () => {
  for (const c of CASES) {
    for (const node of c.nodes) {
      for (const v of c.versions) {
        const file = `${c.name}.${node}.v${v}.rules`;
        it(`${c.name}: node ${node}, IPv${v} matches ${file}`, () => {
          const text = formatRuleset(compilePolicy(c.resources(), { nodeName: node, ipVersion: v }));
          const url = new URL(file, DIR);
          if (process.env.UPDATE_GOLDEN === '1' || !existsSync(url)) {
            writeFileSync(url, text);
            if (process.env.UPDATE_GOLDEN !== '1') assert.fail(`${file} did not exist; written now, review it and run again`);
          }
          assert.equal(text, readFileSync(url, 'utf8'));
        });
      }
    }
    it(`${c.name}: the same resources in any order compile to byte-identical rulesets`, () => {
      const res = c.resources();
      for (const node of c.nodes) {
        const want = formatRuleset(compilePolicy(res, { nodeName: node }));
        for (const seed of [1, 2, 3]) assert.equal(formatRuleset(compilePolicy(shuffled(res, seed), { nodeName: node })), want);
      }
    });
  }
});
