import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadYamlFile } from '../../../src/config/yaml-validate.js';
import { loadNodeConfig, nodeConfigSchema } from '../../../src/config/node-config.js';
import { badNodeConfigs } from './cases.js';

const ROOT = new URL('../../../../', import.meta.url).pathname;
const TABBY = join(ROOT, 'bin', 'tabby');

describe('node config', () => {
  describe('bad configs name the file, line, key path and why', () => {
    for (const c of badNodeConfigs) {
      it(c.name, () => {
        assert.throws(
          () => loadYamlFile('node.yaml', nodeConfigSchema, c.yaml),
          (err: unknown) => {
            assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
            assert.equal(err.message, c.error);
            assert.equal(err.exitCode, 2);
            return true;
          },
        );
      });
    }
  });

  it('the documented example parses, and shows exactly the defaults', () => {
    const example = loadNodeConfig(join(ROOT, 'config', 'node.yaml'));
    const defaults = loadYamlFile('x.yaml', nodeConfigSchema, 'nodeName: node-1\n');
    assert.deepEqual(example, defaults);
    assert.equal(example.controlSocket, '/run/tabby/node-1.sock');
    assert.deepEqual(example.datastore, { type: 'embedded', path: '/var/lib/tabby/datastore' });
    assert.equal(example.dataplane.resyncInterval, 90);
    assert.equal(example.dataplane.iptablesBackend, 'nft');
  });

  it('reports every problem of a file, sorted by line', () => {
    const yaml = 'nodeName: a\nlog:\n  level: loud\ndataplane:\n  mtu: 1\n  extra: 2\n';
    try {
      loadYamlFile('n.yaml', nodeConfigSchema, yaml);
      assert.fail('no error');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems.map((p) => `${p.line}:${p.path.join('.')}`), ['3:log.level', '5:dataplane.mtu', '6:dataplane.extra']);
    }
  });

  it('accepts an etcd datastore with TLS and auth', () => {
    const c = loadYamlFile('n.yaml', nodeConfigSchema, [
      'nodeName: node-2',
      'address: 172.31.0.2/24',
      'datastore:',
      '  type: etcd',
      '  endpoints: [https://10.0.0.5:2379, http://10.0.0.6:2379]',
      '  username: tabby',
      '  password: pw',
      '  tls: { caFile: /etc/ca.pem, certFile: /etc/c.pem, keyFile: /etc/k.pem }',
      '',
    ].join('\n'));
    assert.equal(c.datastore.type, 'etcd');
    if (c.datastore.type === 'etcd') {
      assert.equal(c.datastore.dialTimeout, 5);
      assert.equal(c.datastore.endpoints.length, 2);
    }
  });

  describe('tabby daemon --config with a bad file', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'tabby-cfg-'));
      execFileSync('test', ['-x', TABBY]);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('prints one line on stderr per problem and exits 2', () => {
      const file = join(dir, 'node.yaml');
      writeFileSync(file, 'nodeName: a\ndataplane:\n  mtu: big\n');
      const r = spawnSync(TABBY, ['daemon', '--config', file], { encoding: 'utf8' });
      assert.equal(r.status, 2);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `tabby: ${file}:3:8: dataplane.mtu: expected a number, got "big"\n`);
    });

    it('a missing file is one line too', () => {
      const file = join(dir, 'absent.yaml');
      const r = spawnSync(TABBY, ['daemon', '--config', file], { encoding: 'utf8' });
      assert.equal(r.status, 2);
      assert.equal(r.stderr, `tabby: ${file}: cannot read: no such file\n`);
    });

    it('TABBY_CONFIG is used when --config is absent', () => {
      const file = join(dir, 'env.yaml');
      writeFileSync(file, 'nodeName: UPPER\n');
      const r = spawnSync(TABBY, ['daemon'], { encoding: 'utf8', env: { ...process.env, TABBY_CONFIG: file } });
      assert.equal(r.status, 2);
      assert.match(r.stderr, new RegExp(`^tabby: ${file}:1:11: nodeName: must be a DNS-1123 subdomain`));
    });
  });
});
