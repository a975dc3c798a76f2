import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TABBY = join(new URL('../../../', import.meta.url).pathname, 'bin', 'tabby');

const wep = (name: string, ns: string, ip: string, app: string, iface: string) => `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: n1-k8s-${name}-eth0
  namespace: ${ns}
  labels: { app: ${app}, projectcalico.org/namespace: ${ns}, projectcalico.org/orchestrator: k8s }
spec: { node: n1, orchestrator: k8s, pod: ${name}, endpoint: eth0, interfaceName: ${iface}, ipNetworks: ["${ip}/32"], profiles: [kns.${ns}] }
`;

describe('tabby policy explain', () => {
  let dir: string;
  let env: Record<string, string>;
  const tabby = (args: string[]) => spawnSync(TABBY, args, { encoding: 'utf8', env: { ...process.env, ...env } });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tabby-explain-'));
    const cfg = join(dir, 'node.yaml');
    writeFileSync(cfg, `nodeName: n1\ndatastore: { type: embedded, path: ${join(dir, 'ds')} }\n`);
    env = { TABBY_CONFIG: cfg };
    const f = join(dir, 'r.yaml');
    writeFileSync(f, [
      wep('web', 'prod', '10.65.1.1', 'web', 'cali0000000001'),
      wep('front', 'prod', '10.65.1.2', 'frontend', 'cali0000000002'),
      wep('other', 'dev', '10.65.1.3', 'other', 'cali0000000003'),
      `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: { name: allow-front, namespace: prod }
spec:
  selector: app == 'web'
  ingress:
    - action: Allow
      protocol: TCP
      source: { selector: app == 'frontend' }
      destination: { ports: [80] }
`,
    ].join('---\n'));
    const r = tabby(['apply', '-f', f]);
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('names the policy and rule that allow a flow', () => {
    const r = tabby(['policy', 'explain', '--from', 'prod/front', '--to', 'prod/web', '--port', '80', '-o', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const x = JSON.parse(r.stdout) as { allowed: boolean; hops: { decision: string }[] };
    assert.equal(x.allowed, true);
    assert.ok(x.hops.some((h) => /allow-front/.test(JSON.stringify(h))), r.stdout);
  });

  it('says a flow no rule allows is denied, and why', () => {
    const r = tabby(['policy', 'explain', '--from', 'dev/other', '--to', 'prod/web', '--port', '80']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /deny|drop/i);
    const wrongPort = tabby(['policy', 'explain', '--from', 'prod/front', '--to', 'prod/web', '--port', '443', '-o', 'json']);
    assert.equal((JSON.parse(wrongPort.stdout) as { allowed: boolean }).allowed, false);
  });

  it('an unknown workload is a one-line error', () => {
    const r = tabby(['policy', 'explain', '--from', 'prod/nobody', '--to', 'prod/web', '--port', '80']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^tabby: .*nobody/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});
