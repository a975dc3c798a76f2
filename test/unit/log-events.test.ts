/**
 * One vocabulary of structured log events (issue 7): every log call in src/
 * names its event as `component.noun[.verb]` in lower case, the component is
 * one of the known ones, and docs/log-events.md lists exactly the events the
 * code can emit, so an operator can grep, alert and filter on them.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const REPO = new URL('../../../', import.meta.url).pathname;
const COMPONENTS = ['bgp', 'control', 'datastore', 'encap', 'felix', 'ipam', 'node', 'cni', 'lab', 'policy', 'cli'];
const CALL = /\.(trace|debug|info|warn|error|fatal)\(\s*'([^']+)'/g;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

function eventsInCode(): Map<string, Set<string>> {
  const m = new Map<string, Set<string>>();
  for (const f of sources(join(REPO, 'src'))) {
    const text = readFileSync(f, 'utf8');
    for (const x of text.matchAll(CALL)) {
      const ev = x[2]!;
      if (!m.has(ev)) m.set(ev, new Set());
      m.get(ev)!.add(x[1]!);
    }
  }
  return m;
}

describe('log event vocabulary', () => {
  const code = eventsInCode();

  it('every event is component.noun[.verb], lower case, from a known component', () => {
    assert.ok(code.size > 50, `found only ${code.size} events: is the scan broken?`);
    const bad = [...code.keys()].filter((e) => !/^[a-z]+(\.[a-z0-9_]+){1,3}$/.test(e) || !COMPONENTS.includes(e.split('.')[0]!));
    assert.deepEqual(bad, []);
  });

  it('docs/log-events.md lists exactly the events the code emits', () => {
    const doc = readFileSync(join(REPO, 'docs', 'log-events.md'), 'utf8');
    const documented = new Set([...doc.matchAll(/^\| `([a-z0-9_.]+)` \|/gm)].map((m) => m[1]!));
    const missing = [...code.keys()].filter((e) => !documented.has(e)).sort();
    const stale = [...documented].filter((e) => !code.has(e)).sort();
    assert.deepEqual({ missing, stale }, { missing: [], stale: [] }, 'regenerate with: node scripts/log-events.mjs > docs/log-events.md');
  });
});
