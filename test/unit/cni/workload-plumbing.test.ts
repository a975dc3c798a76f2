import assert from 'node:assert/strict';
import { workloadEndpointSchema } from '../../../src/datastore/resources/endpoints.js';
import { readCniEnv } from '../../../src/cni/env.js';
import {
  attachmentProblems,
  attachmentResult,
  containerBatch,
  hostBatch,
  hostSysctls,
  randomMac,
  splitFamilies,
  type ExpectedAttachment,
  type ObservedHost,
  type ObservedNetns,
  type VethPlan,
} from '../../../src/cni/plumbing.js';
import { CniError, ErrorCode } from '../../../src/cni/spec.js';
import { buildWorkloadEndpoint, workloadIdentity } from '../../../src/cni/workload.js';
import { workloadIfaceName } from '../../../src/util/ifname.js';

const env = (over: Record<string, string> = {}) =>
  readCniEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c0ffee', CNI_NETNS: '/run/netns/p', CNI_IFNAME: 'eth0', ...over });

describe('cni workload identity and endpoint', () => {
  it('a Kubernetes pod: orchestrator k8s, Calico\'s endpoint name, handle <network>.<container>', () => {
    const id = workloadIdentity(env({ CNI_ARGS: 'K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-1;K8S_POD_INFRA_CONTAINER_ID=c0ffee' }), 'k8s-pod-network', 'node-a');
    assert.equal(id.orchestrator, 'k8s');
    assert.equal(id.namespace, 'prod');
    assert.equal(id.pod, 'web-1');
    assert.equal(id.name, 'node--a-k8s-web--1-eth0');
    assert.equal(id.hostIface, workloadIfaceName('prod/node--a-k8s-web--1-eth0'));
    assert.match(id.hostIface, /^cali[0-9a-f]{11}$/);
    assert.equal(id.handleId, 'k8s-pod-network.c0ffee');
  });

  it('without pod arguments: orchestrator cni, the container id names the endpoint; a second interface has its own handle and host side', () => {
    const a = workloadIdentity(env(), 'net', 'n1');
    assert.equal(a.orchestrator, 'cni');
    assert.equal(a.namespace, 'default');
    assert.equal(a.name, 'n1-cni-c0ffee-eth0');
    const b = workloadIdentity(env({ CNI_IFNAME: 'net1' }), 'net', 'n1');
    assert.equal(b.handleId, 'net.c0ffee.net1');
    assert.notEqual(b.hostIface, a.hostIface);
  });

  it('values an endpoint cannot hold are code 4 naming the variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ CNI_ARGS: 'K8S_POD_NAME=web' }, /K8S_POD_NAMESPACE/],
      [{ CNI_ARGS: 'K8S_POD_NAMESPACE=Prod;K8S_POD_NAME=web' }, /K8S_POD_NAMESPACE/],
      [{ CNI_ARGS: 'K8S_POD_NAMESPACE=prod;K8S_POD_NAME=Web_1' }, /K8S_POD_NAME/],
      [{ CNI_CONTAINERID: 'ABC' }, /lowercase/],
      [{ CNI_CONTAINERID: 'a_b', CNI_ARGS: 'K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web' }, /CNI_CONTAINERID/],
      [{ CNI_IFNAME: 'Eth0' }, /CNI_IFNAME/],
    ];
    for (const [over, re] of cases) {
      try {
        workloadIdentity(env(over), 'net', 'n1');
        assert.fail(`accepted ${JSON.stringify(over)}`);
      } catch (err) {
        assert.ok(err instanceof CniError);
        assert.equal(err.code, ErrorCode.InvalidEnvironment);
        assert.match(`${err.message} ${err.details}`, re);
      }
    }
  });

  it('builds a WorkloadEndpoint the resource schema accepts unchanged, with the system labels and the namespace profile', () => {
    const id = workloadIdentity(env({ CNI_ARGS: 'K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-1' }), 'k8s-pod-network', 'n1');
    const wep = buildWorkloadEndpoint(id, { ipNetworks: ['10.65.0.2/32'], mac: '02:00:00:00:00:01', labels: { app: 'web', 'projectcalico.org/namespace': 'spoofed' } });
    assert.deepEqual(workloadEndpointSchema.parse(wep), wep);
    assert.deepEqual(wep.metadata, {
      name: 'n1-k8s-web--1-eth0',
      namespace: 'prod',
      labels: { app: 'web', 'projectcalico.org/namespace': 'prod', 'projectcalico.org/orchestrator': 'k8s' },
    });
    assert.deepEqual(wep.spec.profiles, ['kns.prod']);
    assert.equal(wep.spec.interfaceName, id.hostIface);
    assert.equal(wep.spec.containerID, 'c0ffee');
    assert.equal(wep.spec.pod, 'web-1');
  });
});

describe('cni plumbing', () => {
  const plan: VethPlan = {
    hostIface: 'cali0123456789a',
    ifname: 'eth0',
    netns: '/run/netns/p',
    hostNetnsRef: '/proc/42/ns/net',
    containerMac: '02:00:00:00:00:01',
    mtu: 1440,
    routeProtocol: 80,
    ipv4: ['10.65.0.2'],
    ipv6: ['fd00:65::2'],
  };

  it('container batch: the pair with the peer moved to the host, then addresses and routes', () => {
    assert.deepEqual(containerBatch(plan), [
      'link add eth0 mtu 1440 address 02:00:00:00:00:01 type veth peer name cali0123456789a mtu 1440 address ee:ee:ee:ee:ee:ee netns /proc/42/ns/net',
      'link set eth0 up',
      'addr add 10.65.0.2/32 dev eth0',
      'route add 169.254.1.1 dev eth0 scope link',
      'route add 0.0.0.0/0 via 169.254.1.1 dev eth0',
      'addr add fd00:65::2/128 dev eth0 nodad',
      'route add ::/0 via fe80::ecee:eeff:feee:eeee dev eth0',
    ]);
  });

  it('host batch: up first, then tagged routes; sysctls per family', () => {
    assert.deepEqual(hostBatch(plan), [
      'link set cali0123456789a up',
      'route replace 10.65.0.2/32 dev cali0123456789a scope link proto 80',
      'route replace fd00:65::2/128 dev cali0123456789a proto 80',
    ]);
    const v4only = new Map(hostSysctls({ ...plan, ipv6: [] }));
    assert.equal(v4only.get('net/ipv4/conf/cali0123456789a/proxy_arp'), '1');
    assert.equal(v4only.get('net/ipv4/neigh/cali0123456789a/proxy_delay'), '0');
    assert.equal(v4only.get('net/ipv4/conf/cali0123456789a/forwarding'), '1');
    assert.equal([...v4only.keys()].some((k) => k.startsWith('net/ipv6')), false);
    assert.equal(new Map(hostSysctls(plan)).get('net/ipv6/conf/cali0123456789a/accept_dad'), '0');
  });

  it('random MACs are unicast and locally administered', () => {
    for (const first of [0x00, 0x01, 0xff, 0xfe]) {
      const mac = randomMac(Uint8Array.from([first, 1, 2, 3, 4, 5]));
      const b0 = parseInt(mac.slice(0, 2), 16);
      assert.equal(b0 & 0x01, 0, 'unicast');
      assert.equal(b0 & 0x02, 2, 'locally administered');
      assert.match(mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    }
  });

  it('result: host and container interfaces, addresses on the container one, default routes', () => {
    const r = attachmentResult({ hostIface: plan.hostIface, ifname: 'eth0', netns: plan.netns, containerMac: plan.containerMac, ipv4: plan.ipv4, ipv6: plan.ipv6 });
    assert.deepEqual(r, {
      interfaces: [{ name: 'cali0123456789a', mac: 'ee:ee:ee:ee:ee:ee' }, { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/run/netns/p' }],
      ips: [{ address: '10.65.0.2/32', interface: 1 }, { address: 'fd00:65::2/128', interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }, { dst: '::/0', gw: 'fe80::ecee:eeff:feee:eeee' }],
    });
  });

  it('splits addresses by family and drops prefix lengths', () => {
    assert.deepEqual(splitFamilies(['10.0.0.1/32', 'fd00::1', '10.0.0.2']), { ipv4: ['10.0.0.1', '10.0.0.2'], ipv6: ['fd00::1'] });
  });

  describe('attachmentProblems', () => {
    const exp: ExpectedAttachment = { ifname: 'eth0', hostIface: 'cali0123456789a', containerMac: '02:00:00:00:00:01', ipv4: ['10.65.0.2'], ipv6: [], routeProtocol: 80 };
    const good = (): { c: ObservedNetns; h: ObservedHost } => ({
      c: {
        links: [{ ifname: 'lo', flags: ['UP'], mtu: 65536 }, { ifname: 'eth0', flags: ['BROADCAST', 'UP'], mtu: 1440, address: '02:00:00:00:00:01' }],
        addrs: [{ ifname: 'eth0', addresses: [{ local: '10.65.0.2', prefixlen: 32 }] }],
        routes: [
          { dst: 'default', gateway: '169.254.1.1', dev: 'eth0' },
          { dst: '169.254.1.1', dev: 'eth0', scope: 'link' },
          { dst: '10.99.0.0/16', gateway: '169.254.1.1', dev: 'eth0' },
        ],
      },
      h: {
        link: { ifname: 'cali0123456789a', flags: ['UP'], mtu: 1440, address: 'ee:ee:ee:ee:ee:ee' },
        routes: [{ dst: '10.65.0.2', dev: 'cali0123456789a', protocol: '80', scope: '253' }],
        sysctls: { 'net/ipv4/conf/cali0123456789a/proxy_arp': '1', 'net/ipv4/neigh/cali0123456789a/proxy_delay': '0', 'net/ipv4/conf/cali0123456789a/forwarding': '1' },
      },
    });

    it('none for a whole attachment (extra routes from other plugins are fine)', () => {
      const { c, h } = good();
      assert.deepEqual(attachmentProblems(exp, c, h), []);
    });

    it('names each difference', () => {
      const { c, h } = good();
      c.links[1]!.flags = ['BROADCAST'];
      c.addrs[0]!.addresses = [];
      c.routes = c.routes.filter((r) => r.dst !== 'default');
      h.routes[0]!.protocol = 'boot';
      h.sysctls['net/ipv4/conf/cali0123456789a/proxy_arp'] = '0';
      const p = attachmentProblems(exp, c, h).join('\n');
      assert.match(p, /eth0 in the container is down/);
      assert.match(p, /address 10\.65\.0\.2\/32 is missing/);
      assert.match(p, /default route via 169\.254\.1\.1 is missing/);
      assert.match(p, /protocol boot, expected 80/);
      assert.match(p, /proxy_arp is 0, expected 1/);
    });

    it('missing interfaces on either side', () => {
      const p = attachmentProblems(exp, { links: [], addrs: [], routes: [] }, { routes: [], sysctls: {} }).join('\n');
      assert.match(p, /interface eth0 is missing in the container/);
      assert.match(p, /host interface cali0123456789a is missing/);
    });
  });
});
