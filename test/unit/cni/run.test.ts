import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executionConfig } from '../../../src/cni/runtime.js';
import { runCni, storeConfigOf, type DepsFactory } from '../../../src/cni/run.js';
import { fakes, type Fakes } from './fakes.js';

const REPO = new URL('../../../../', import.meta.url).pathname;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
}

async function invoke(env: Record<string, string | undefined>, stdin: string | Error, makeDeps?: DepsFactory): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await runCni(
    {
      env,
      readStdin: async () => {
        if (stdin instanceof Error) throw stdin;
        return stdin;
      },
      writeStdout: async (t) => {
        stdout += t;
      },
      writeStderr: (t) => {
        stderr += t;
      },
    },
    makeDeps,
  );
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { code, stdout, stderr, json };
}

describe('cni invocation (runCni)', () => {
  let dir: string;
  let nodeConfig: string;
  let f: Fakes;
  let closed: number;
  const factory: DepsFactory = async (node) => {
    f.deps.node = node.nodeName;
    f.deps.mtu = node.dataplane.mtu;
    return { deps: f.deps, close: async () => void closed++ };
  };
  const add = (over: Record<string, string> = {}) => ({
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'abc',
    CNI_NETNS: '/run/netns/p',
    CNI_IFNAME: 'eth0',
    CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=web',
    ...over,
  });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), `tby-cni-${process.pid}-`));
    nodeConfig = join(dir, 'node.yaml');
    writeFileSync(nodeConfig, `nodeName: n1\ndatastore:\n  type: embedded\n  path: ${dir}/store\ndataplane:\n  mtu: 1400\nlog:\n  level: silent\n`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    f = fakes();
    f.dp.netns.add('/run/netns/p');
    closed = 0;
  });

  const conf = (extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'tabby', nodeConfig, ...extra });

  it('VERSION: the supported versions, in the version asked for when supported', async () => {
    assert.deepEqual((await invoke({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.3.1"}')).json, { cniVersion: '0.3.1', supportedVersions: ['0.3.1', '0.4.0', '1.0.0'] });
    assert.deepEqual((await invoke({ CNI_COMMAND: 'VERSION' }, '')).json, { cniVersion: '1.0.0', supportedVersions: ['0.3.1', '0.4.0', '1.0.0'] });
    assert.equal((await invoke({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"7.0.0"}')).json?.cniVersion, '1.0.0');
  });

  it('ADD prints the encoded result and nothing else, in the config\'s version, and closes the store', async () => {
    const o = await invoke(add(), conf({ cniVersion: '0.4.0' }), factory);
    assert.equal(o.code, 0, o.stderr);
    assert.equal(o.stdout.trim().split('\n').length, 1);
    assert.equal(o.json?.cniVersion, '0.4.0');
    assert.deepEqual((o.json?.ips as { version: string; address: string }[])[0], { version: '4', address: '10.65.0.2/32', interface: 1 });
    assert.equal(f.endpoints.weps.size, 1);
    assert.ok(f.endpoints.weps.has('default/n1-k8s-web-eth0'), 'the node name comes from the node config');
    assert.equal(closed, 1);
  });

  it('DEL and CHECK print nothing on success', async () => {
    const added = await invoke(add(), conf(), factory);
    const del = await invoke(add({ CNI_COMMAND: 'CHECK' }), conf({ prevResult: added.json }), factory);
    assert.deepEqual([del.code, del.stdout], [0, '']);
    const d = await invoke(add({ CNI_COMMAND: 'DEL' }), conf(), factory);
    assert.deepEqual([d.code, d.stdout], [0, '']);
    assert.equal(closed, 3);
  });

  it('every failure is one error JSON on stdout, a line on stderr and exit 1', async () => {
    const cases: [Record<string, string | undefined>, string | Error, number][] = [
      [add(), new Error('EIO'), 5],
      [add({ CNI_COMMAND: 'UP' }), conf(), 4],
      [add({ CNI_IFNAME: '' }), conf(), 4],
      [add(), 'not json', 6],
      [add(), conf({ cniVersion: '0.2.0' }), 1],
      [add(), conf({ mtu: 9000 }), 2],
      [add(), conf({ name: '' }), 7],
      [add(), conf({ nodeConfig: join(dir, 'missing.yaml') }), 7],
      [add({ CNI_NETNS: '/run/netns/absent' }), conf(), 3],
    ];
    for (const [env, stdin, want] of cases) {
      const o = await invoke(env, stdin, factory);
      assert.equal(o.code, 1);
      assert.equal(o.json?.code, want, `${JSON.stringify(env)} ${String(stdin)}: ${o.stdout}`);
      assert.equal(typeof o.json?.msg, 'string');
      assert.equal(o.stdout.trim().split('\n').length, 1);
      assert.match(o.stderr, /^tabby cni: /);
    }
  });

  it('the error names the config\'s cniVersion when it had one', async () => {
    const o = await invoke(add(), conf({ cniVersion: '0.4.0', mtu: 1 }), factory);
    assert.equal(o.json?.cniVersion, '0.4.0');
  });

  it('a node config that is invalid is code 7 with the reason', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'nodeName: n1\ndataplane:\n  mtu: 20\n');
    const o = await invoke(add(), conf({ nodeConfig: bad }), factory);
    assert.equal(o.json?.code, 7);
    assert.match(String(o.json?.details), /mtu/);
  });

  it('a deps factory that cannot reach the store maps to 11', async () => {
    const { StoreUnavailableError } = await import('../../../src/datastore/store/errors.js');
    const o = await invoke(add(), conf(), async () => {
      throw new StoreUnavailableError('cannot reach etcd');
    });
    assert.equal(o.json?.code, 11);
  });

  it('an unexpected error is 999 with its message; the stack goes to stderr only', async () => {
    const o = await invoke(add(), conf(), async () => {
      f.dp.netnsExists = async () => {
        throw new TypeError('boom');
      };
      return { deps: f.deps, close: async () => undefined };
    });
    assert.equal(o.json?.code, 999);
    assert.equal(o.json?.details, 'boom');
    assert.match(o.stderr, /TypeError: boom\n\s+at /);
  });

  it('node config datastores map to store configs (etcd prefix gets its trailing slash, seconds become ms)', () => {
    assert.deepEqual(storeConfigOf({ type: 'embedded', path: '/var/lib/tabby' }), { type: 'embedded', path: '/var/lib/tabby' });
    assert.deepEqual(storeConfigOf({ type: 'etcd', endpoints: ['http://10.0.0.5:2379'], prefix: '/tabby/v1', dialTimeout: 5, username: 'u', password: 'p' }), {
      type: 'etcd',
      endpoints: ['http://10.0.0.5:2379'],
      prefix: '/tabby/v1/',
      dialTimeoutMs: 5000,
      username: 'u',
      password: 'p',
    });
  });
});

describe('cni runtime helper: execution configuration (SPEC.md §3)', () => {
  it('inserts cniVersion, name, prevResult and runtimeConfig for declared capabilities only; drops capabilities', () => {
    const list = { cniVersion: '1.0.0', name: 'net', plugins: [] };
    const plugin = { type: 'portmap', capabilities: { portMappings: true, bandwidth: false }, snat: true };
    const att = { containerId: 'c', ifname: 'eth0', capabilityArgs: { portMappings: [{ hostPort: 1 }], bandwidth: { ingressRate: 1 }, mac: 'x' } };
    assert.deepEqual(executionConfig(list, plugin, att, { ips: [] }), {
      type: 'portmap',
      snat: true,
      cniVersion: '1.0.0',
      name: 'net',
      runtimeConfig: { portMappings: [{ hostPort: 1 }] },
      prevResult: { ips: [] },
    });
    assert.deepEqual(executionConfig(list, { type: 'tabby' }, att), { type: 'tabby', cniVersion: '1.0.0', name: 'net' });
  });
});

describe('bin/tabby as a CNI plugin (a real process)', () => {
  it('answers VERSION and exits 0', () => {
    const r = spawnSync(join(REPO, 'bin/tabby'), [], { env: { PATH: process.env.PATH, CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}', encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { cniVersion: '1.0.0', supportedVersions: ['0.3.1', '0.4.0', '1.0.0'] });
  });

  it('a stalled invocation ends at the deadline with code 11 (here: stdin never closes)', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(join(REPO, 'bin/tabby'), [], {
      env: { PATH: process.env.PATH, CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'a', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', TABBY_CNI_TIMEOUT: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => {
        if (child.pid) process.kill(child.pid, 'SIGKILL');
      }, 20_000);
      child.on('close', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    child.stdin.destroy();
    assert.equal(code, 1);
    assert.equal((JSON.parse(out) as { code: number }).code, 11);
  });

  it('exits 1 with the error JSON on stdout only', () => {
    const r = spawnSync(join(REPO, 'bin/tabby'), [], { env: { PATH: process.env.PATH, CNI_COMMAND: 'ADD' }, input: '{}', encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1);
    const e = JSON.parse(r.stdout) as { code: number; msg: string };
    assert.equal(e.code, 4);
    assert.match(e.msg, /CNI_CONTAINERID/);
    assert.match(r.stderr, /tabby cni: ADD: invalid environment variables/);
  });
});
