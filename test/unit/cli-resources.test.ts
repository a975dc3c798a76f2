import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TABBY = join(new URL('../../../', import.meta.url).pathname, 'bin', 'tabby');

describe('tabby apply / get / delete (embedded datastore)', () => {
  let dir: string;
  let env: Record<string, string>;
  const tabby = (args: string[], input?: string) =>
    spawnSync(TABBY, args, { encoding: 'utf8', env: { ...process.env, ...env }, ...(input !== undefined ? { input } : {}) });
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const pool = (name: string, cidr: string, extra = '') => `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: { name: ${name} }\nspec: { cidr: ${cidr}${extra} }\n`;
  const netpol = `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: { name: allow-web, namespace: prod }
spec:
  selector: app == 'web'
  ingress:
    - action: Allow
      protocol: TCP
      source: { selector: app == 'frontend' }
      destination: { ports: [80] }
`;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tabby-res-'));
    env = { TABBY_CONFIG: file('node.yaml', `nodeName: n1\ndatastore: { type: embedded, path: ${join(dir, 'ds')} }\n`) };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates, reports unchanged, then configured', () => {
    const f = file('a.yaml', `${pool('pool-a', '10.65.0.0/16')}---\n${netpol}`);
    let r = tabby(['apply', '-f', f]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'ippool.projectcalico.org/pool-a created\nnetworkpolicy.projectcalico.org/prod/allow-web created\n');
    r = tabby(['apply', '-f', f]);
    assert.equal(r.stdout, 'ippool.projectcalico.org/pool-a unchanged\nnetworkpolicy.projectcalico.org/prod/allow-web unchanged\n');
    r = tabby(['apply', '-f', file('b.yaml', pool('pool-a', '10.65.0.0/16', ', natOutgoing: true'))]);
    assert.equal(r.stdout, 'ippool.projectcalico.org/pool-a configured\n');
    const y = tabby(['get', 'ippool', 'pool-a', '-o', 'json']);
    const got = JSON.parse(y.stdout) as { spec: { natOutgoing: boolean; blockSize: number }; metadata: { resourceVersion: string } };
    assert.equal(got.spec.natOutgoing, true);
    assert.equal(got.spec.blockSize, 26, 'defaults are stored');
    assert.match(got.metadata.resourceVersion, /^\d+$/);
  });

  it('reads from stdin', () => {
    const r = tabby(['apply', '-f', '-'], pool('p', '10.70.0.0/16'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(tabby(['get', 'ipp']).stdout, /^NAME +CIDR +SELECTOR\np +10\.70\.0\.0\/16 +all\(\)\n$/);
  });

  it('an invalid document anywhere means nothing is applied, and the error names file, line, document and field', () => {
    const f = file('bad.yaml', `${pool('ok-pool', '10.65.0.0/16')}---\n${pool('bad-pool', '10.66.0.0/16', ', ipipMode: Sometimes')}`);
    const r = tabby(['apply', '-f', f]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`^tabby: ${f}:\\d+:\\d+: document 2: spec\\.ipipMode: must be one of`));
    assert.equal(tabby(['get', 'ippools', '-o', 'json']).stdout.includes('ok-pool'), false);
  });

  it('refuses to change an IPPool cidr or to overlap pools, applying none of the file', () => {
    assert.equal(tabby(['apply', '-f', file('a.yaml', pool('pool-a', '10.65.0.0/16'))]).status, 0);
    let r = tabby(['apply', '-f', file('b.yaml', `${netpol}---\n${pool('pool-a', '10.66.0.0/16')}`)]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /IPPool pool-a: cidr cannot be changed .*; nothing was applied/);
    assert.equal(tabby(['get', 'netpol', '-n', 'prod']).stdout, '');
    r = tabby(['apply', '-f', file('c.yaml', pool('pool-b', '10.65.128.0/17'))]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /overlaps/);
  });

  it('get: table per namespace and across namespaces, yaml lists, not found', () => {
    tabby(['apply', '-f', file('a.yaml', netpol)]);
    assert.match(tabby(['get', 'networkpolicies', '-n', 'prod']).stdout, /^NAME +TIER\nallow-web +default\n$/);
    assert.match(tabby(['get', 'np', '-A']).stdout, /^NAMESPACE +NAME +TIER\nprod +allow-web +default\n$/);
    const r = tabby(['get', 'np', '-n', 'default']);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /No networkpolicies found in namespace default/);
    assert.match(tabby(['get', 'np', '-A', '-o', 'yaml']).stdout, /^apiVersion: projectcalico.org\/v3\nkind: NetworkPolicyList\nitems:\n/);
    const nf = tabby(['get', 'ippool', 'nope']);
    assert.equal(nf.status, 1);
    assert.equal(nf.stderr, 'tabby: IPPool(nope) not found\n');
    const uk = tabby(['get', 'widgets']);
    assert.equal(uk.status, 2);
    assert.match(uk.stderr, /unknown resource kind "widgets"/);
  });

  it('delete by kind and name, and by file; deleting what is absent exits 1', () => {
    const f = file('a.yaml', `${pool('pool-a', '10.65.0.0/16')}---\n${netpol}`);
    tabby(['apply', '-f', f]);
    let r = tabby(['delete', 'networkpolicy', 'allow-web', '-n', 'prod']);
    assert.equal(r.stdout, 'networkpolicy.projectcalico.org/prod/allow-web deleted\n');
    r = tabby(['delete', '-f', f]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, 'ippool.projectcalico.org/pool-a deleted\n');
    assert.equal(r.stderr, 'tabby: NetworkPolicy(prod/allow-web) not found\n');
    assert.equal(tabby(['get', 'ippools', '-o', 'json']).stdout.includes('pool-a'), false);
  });
});
