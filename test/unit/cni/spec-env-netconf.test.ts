import assert from 'node:assert/strict';
import { ifnameProblem, parseCniArgs, readCniEnv } from '../../../src/cni/env.js';
import { decodeConfig, negotiateVersion, nodeConfigPath, parseNetConf } from '../../../src/cni/netconf.js';
import { CniError, encodeResult, ErrorCode, errorResult, parseResult, type SuccessResult } from '../../../src/cni/spec.js';

function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CniError, String(err));
    return err.code;
  }
  assert.fail('expected a CniError');
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return `${(err as CniError).message} | ${(err as CniError).details}`;
  }
  assert.fail('expected a CniError');
}

const RESULT: SuccessResult = {
  interfaces: [{ name: 'cali0123456789a', mac: 'ee:ee:ee:ee:ee:ee' }, { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/run/netns/x' }],
  ips: [{ address: '10.65.0.2/32', interface: 1 }, { address: 'fd00:65::2/128', interface: 1 }],
  routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }],
};

describe('cni spec: results and errors', () => {
  it('1.0.0 results carry no ips[].version; 0.3.1 and 0.4.0 do, by family', () => {
    const v1 = encodeResult(RESULT, '1.0.0') as { cniVersion: string; ips: Record<string, unknown>[]; dns: unknown };
    assert.equal(v1.cniVersion, '1.0.0');
    assert.deepEqual(v1.ips[0], { address: '10.65.0.2/32', interface: 1 });
    assert.deepEqual(v1.dns, {});
    for (const v of ['0.3.1', '0.4.0'] as const) {
      const old = encodeResult(RESULT, v) as { cniVersion: string; ips: Record<string, unknown>[] };
      assert.equal(old.cniVersion, v);
      assert.deepEqual(old.ips.map((i) => i.version), ['4', '6']);
    }
  });

  it('parses a result of any version back to the same internal form', () => {
    for (const v of ['0.3.1', '0.4.0', '1.0.0'] as const) {
      assert.deepEqual(parseResult(JSON.parse(JSON.stringify(encodeResult(RESULT, v)))), RESULT);
    }
  });

  it('rejects malformed prevResults with code 7', () => {
    assert.equal(codeOf(() => parseResult([])), ErrorCode.InvalidConfig);
    assert.equal(codeOf(() => parseResult({ ips: [{ address: 5 }] })), ErrorCode.InvalidConfig);
    assert.equal(codeOf(() => parseResult({ ips: [{ address: '10.0.0.1/32', interface: -1 }] })), ErrorCode.InvalidConfig);
    assert.equal(codeOf(() => parseResult({ interfaces: {} })), ErrorCode.InvalidConfig);
  });

  it('error JSON has cniVersion, code, msg and details only when there are details', () => {
    assert.deepEqual(errorResult(new CniError(ErrorCode.TryAgainLater, 'busy', 'etcd down'), '0.4.0'), { cniVersion: '0.4.0', code: 11, msg: 'busy', details: 'etcd down' });
    assert.deepEqual(errorResult(new CniError(ErrorCode.IoFailure, 'read'), '1.0.0'), { cniVersion: '1.0.0', code: 5, msg: 'read' });
  });
});

describe('cni environment', () => {
  const base = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0' };

  it('reads a complete environment', () => {
    const e = readCniEnv({ ...base, CNI_ARGS: 'K8S_POD_NAME=a;IgnoreUnknown=1', CNI_PATH: '/opt/cni/bin:/usr/lib/cni' });
    assert.equal(e.command, 'ADD');
    assert.equal(e.args.get('K8S_POD_NAME'), 'a');
    assert.deepEqual(e.path, ['/opt/cni/bin', '/usr/lib/cni']);
  });

  it('VERSION needs nothing else', () => {
    assert.equal(readCniEnv({ CNI_COMMAND: 'VERSION' }).command, 'VERSION');
  });

  it('an unknown or missing command is code 4', () => {
    assert.equal(codeOf(() => readCniEnv({ ...base, CNI_COMMAND: 'GC' })), ErrorCode.InvalidEnvironment);
    assert.equal(codeOf(() => readCniEnv({})), ErrorCode.InvalidEnvironment);
  });

  it('names every invalid variable in one code 4 error', () => {
    const msg = messageOf(() => readCniEnv({ CNI_COMMAND: 'CHECK', CNI_CONTAINERID: '-bad', CNI_IFNAME: 'a b', CNI_ARGS: 'novalue' }));
    for (const v of ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_NETNS', 'CNI_ARGS']) assert.match(msg, new RegExp(v));
  });

  it('CNI_NETNS is optional for DEL only, and must be absolute', () => {
    assert.equal(readCniEnv({ ...base, CNI_COMMAND: 'DEL', CNI_NETNS: '' }).netns, undefined);
    assert.equal(codeOf(() => readCniEnv({ ...base, CNI_NETNS: '' })), ErrorCode.InvalidEnvironment);
    assert.equal(codeOf(() => readCniEnv({ ...base, CNI_NETNS: 'run/netns/x' })), ErrorCode.InvalidEnvironment);
  });

  it('interface names follow the Linux rules', () => {
    assert.equal(ifnameProblem('eth0'), undefined);
    assert.ok(ifnameProblem('a-very-long-name0'));
    assert.ok(ifnameProblem('..'));
    assert.ok(ifnameProblem('et:h0'));
  });

  it('CNI_ARGS: pairs split on ";", values may contain "="', () => {
    assert.deepEqual([...parseCniArgs('A=1;B=x=y;;')], [['A', '1'], ['B', 'x=y']]);
    assert.equal(parseCniArgs('').size, 0);
    assert.equal(codeOf(() => parseCniArgs('A=1;=2')), ErrorCode.InvalidEnvironment);
  });
});

describe('cni network configuration', () => {
  const ok = { cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'tabby' };

  it('decoding: not JSON or not an object is code 6', () => {
    assert.equal(codeOf(() => decodeConfig('{')), ErrorCode.DecodingFailure);
    assert.equal(codeOf(() => decodeConfig('[1]')), ErrorCode.DecodingFailure);
    assert.equal(codeOf(() => decodeConfig('')), ErrorCode.DecodingFailure);
  });

  it('versions: supported ones pass, unknown or absent are code 1, CHECK needs 0.4.0+', () => {
    assert.equal(negotiateVersion({ cniVersion: '0.3.1' }, 'ADD'), '0.3.1');
    assert.equal(codeOf(() => negotiateVersion({ cniVersion: '1.1.0' }, 'ADD')), ErrorCode.IncompatibleVersion);
    assert.equal(codeOf(() => negotiateVersion({}, 'ADD')), ErrorCode.IncompatibleVersion);
    assert.equal(codeOf(() => negotiateVersion({ cniVersion: '0.3.1' }, 'CHECK')), ErrorCode.IncompatibleVersion);
    assert.equal(codeOf(() => negotiateVersion({ cniVersion: 1 }, 'ADD')), ErrorCode.DecodingFailure);
  });

  it('defaults: IPv4 only, no pools, no labels', () => {
    const c = parseNetConf(ok, 'ADD');
    assert.deepEqual(c.ipam, { assignIpv4: true, assignIpv6: false, ipv4Pools: [], ipv6Pools: [] });
    assert.deepEqual(c.labels, {});
    assert.equal(c.nodeConfig, undefined);
  });

  it('reads Calico-style ipam keys, labels, dns, nodeConfig, prevResult', () => {
    const c = parseNetConf(
      {
        ...ok,
        nodeConfig: '/etc/tabby/h1.yaml',
        ipam: { type: 'tabby-ipam', assign_ipv4: 'false', assign_ipv6: true, ipv6_pools: ['v6'] },
        args: { tabby: { labels: { 'app.kubernetes.io/name': 'web', tier: '' } }, cni: { ips: ['x'] } },
        dns: { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'] },
        runtimeConfig: { portMappings: [] },
        'cni.dev/attachment': 'x',
        prevResult: encodeResult(RESULT, '1.0.0'),
      },
      'DEL',
    );
    assert.deepEqual(c.ipam, { assignIpv4: false, assignIpv6: true, ipv4Pools: [], ipv6Pools: ['v6'] });
    assert.deepEqual(c.labels, { 'app.kubernetes.io/name': 'web', tier: '' });
    assert.deepEqual(c.dns, { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'] });
    assert.equal(c.nodeConfig, '/etc/tabby/h1.yaml');
    assert.deepEqual(c.prevResult, RESULT);
  });

  it('unknown keys are code 2 naming key and value, never ignored', () => {
    assert.match(messageOf(() => parseNetConf({ ...ok, mtu: 1400 }, 'ADD')), /mtu=1400/);
    assert.equal(codeOf(() => parseNetConf({ ...ok, ipam: { subnet: '10.0.0.0/8' } }, 'ADD')), ErrorCode.UnsupportedField);
    assert.equal(codeOf(() => parseNetConf({ ...ok, ipam: { type: 'calico-ipam' } }, 'ADD')), ErrorCode.UnsupportedField);
    assert.equal(codeOf(() => parseNetConf({ ...ok, args: { tabby: { annotations: {} } } }, 'ADD')), ErrorCode.UnsupportedField);
  });

  it('invalid values are code 7', () => {
    const bad: Record<string, unknown>[] = [
      { ...ok, name: '' },
      { ...ok, name: 'has space' },
      { ...ok, type: 3 },
      { ...ok, nodeConfig: 'relative.yaml' },
      { ...ok, ipam: { assign_ipv4: 'yes' } },
      { ...ok, ipam: { assign_ipv4: false } },
      { ...ok, ipam: { ipv4_pools: 'default' } },
      { ...ok, args: { tabby: { labels: { 'bad key': 'x' } } } },
      { ...ok, args: { tabby: { labels: { app: 'has space' } } } },
      { ...ok, args: { tabby: { labels: { app: 1 } } } },
      { ...ok, dns: { nameservers: '8.8.8.8' } },
      { ...ok, runtimeConfig: [] },
    ];
    for (const c of bad) assert.equal(codeOf(() => parseNetConf(c, 'ADD')), ErrorCode.InvalidConfig, JSON.stringify(c));
    assert.equal(codeOf(() => parseNetConf(ok, 'CHECK')), ErrorCode.InvalidConfig, 'CHECK without prevResult');
  });

  it('the node config: nodeConfig, else TABBY_CONFIG, else /etc/tabby/node.yaml', () => {
    assert.equal(nodeConfigPath(parseNetConf({ ...ok, nodeConfig: '/a.yaml' }, 'ADD'), { TABBY_CONFIG: '/b.yaml' }), '/a.yaml');
    assert.equal(nodeConfigPath(parseNetConf(ok, 'ADD'), { TABBY_CONFIG: '/b.yaml' }), '/b.yaml');
    assert.equal(nodeConfigPath(parseNetConf(ok, 'ADD'), {}), '/etc/tabby/node.yaml');
  });
});
