#!/usr/bin/env node
// Prints docs/log-events.md: every structured log event in src/, its levels and where it is emitted.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const repo = new URL('..', import.meta.url).pathname;
const CALL = /\.(trace|debug|info|warn|error|fatal)\(\s*'([^']+)'/g;
const files = (d) => readdirSync(d).flatMap((e) => (statSync(join(d, e)).isDirectory() ? files(join(d, e)) : e.endsWith('.ts') ? [join(d, e)] : []));
const events = new Map();
for (const f of files(join(repo, 'src'))) {
  for (const m of readFileSync(f, 'utf8').matchAll(CALL)) {
    const e = events.get(m[2]) ?? { levels: new Set(), files: new Set() };
    e.levels.add(m[1]);
    e.files.add(relative(repo, f));
    events.set(m[2], e);
  }
}
const out = [
  '# Log events',
  '',
  'Every log line is one JSON object (or a readable line on a terminal) with an `event` field naming what happened, `component`, `level`, `time` and the fields of that event. Names are `component.noun[.verb]`; this table is generated from the code by `node scripts/log-events.mjs` and a unit test keeps it in step.',
  '',
  '| event | levels | emitted in |',
  '| --- | --- | --- |',
];
for (const [name, e] of [...events].sort(([a], [b]) => (a < b ? -1 : 1))) out.push(`| \`${name}\` | ${[...e.levels].join(', ')} | ${[...e.files].join(', ')} |`);
console.log(out.join('\n'));
