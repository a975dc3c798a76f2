import assert from 'node:assert/strict';
import { checkWorkloadName, hostSysctls, workloadSysctls, type ResolvedInterfaceSpec } from '../../../../src/felix/interfaces/model.js';
import { parseAddrShowBatch, parseGrepOutput, parseIfInet6, parseLinkShowBatch, parseLocalTable } from '../../../../src/felix/interfaces/parse.js';
import { planHostSysctls, planInterface } from '../../../../src/felix/interfaces/plan.js';
import { ADDR_BATCH_V4, IF_INET6, LINK_BATCH_STDOUT, LOCAL_TABLE } from '../routes/fixtures.js';

function spec(over: Partial<ResolvedInterfaceSpec> = {}): ResolvedInterfaceSpec {
  const name = over.name ?? 'calia';
  return { name, ipv4: true, ipv6: false, mtu: 1440, mac: 'ee:ee:ee:ee:ee:ee', sysctls: workloadSysctls(name, { ipv4: true, ipv6: false }, 1), ...over };
}

describe('felix/interfaces parsing, sysctls and planning', () => {
  it('parses a `link show dev` batch (a missing device prints nothing)', () => {
    const links = parseLinkShowBatch(LINK_BATCH_STDOUT);
    assert.deepEqual([...links.keys()], ['calia', 'caliDown']);
    assert.deepEqual(links.get('calia'), { name: 'calia', ifindex: 5, up: true, lowerUp: true, mtu: 1440, mac: 'ee:ee:ee:ee:ee:ee', operstate: 'UP' });
    assert.equal(links.get('caliDown')!.up, false);
  });

  it('finds IPv4 addresses in the local table and their prefix length with addr show', () => {
    const local = parseLocalTable(LOCAL_TABLE);
    assert.deepEqual(local.get('calia'), ['10.9.9.9']);
    assert.deepEqual(local.get('lo'), ['127.0.0.0/8', '127.0.0.1']);
    assert.deepEqual(parseAddrShowBatch(ADDR_BATCH_V4).get('calia'), [{ address: '10.9.9.9', prefixLength: 24, family: 4 }]);
  });

  it('parses /proc/net/if_inet6 into canonical addresses with scope', () => {
    const all = parseIfInet6(IF_INET6);
    const calia = all.filter((e) => e.ifname === 'calia');
    assert.deepEqual(calia.map((e) => [e.address, e.prefixLength, e.scope]), [
      ['fe80::ecee:eeff:feee:eeee', 64, 0x20],
      ['fd00:99::1', 64, 0],
    ]);
    assert.equal(all.find((e) => e.ifname === 'lo')!.address, '::1');
  });

  it('parses grep -H output, including multi-line files', () => {
    const m = parseGrepOutput('sys/net/ipv4/ip_forward:1\nnet/if_inet6:line one\nnet/if_inet6:line two\n');
    assert.equal(m.get('sys/net/ipv4/ip_forward'), '1');
    assert.equal(m.get('net/if_inet6'), 'line one\nline two');
  });

  it('computes Calico\'s sysctls per family, as /proc/sys paths', () => {
    assert.deepEqual(Object.fromEntries(workloadSysctls('cali1', { ipv4: true, ipv6: false }, 1)), {
      'net/ipv4/conf/cali1/proxy_arp': '1',
      'net/ipv4/neigh/cali1/proxy_delay': '0',
      'net/ipv4/conf/cali1/forwarding': '1',
      'net/ipv4/conf/cali1/rp_filter': '1',
      'net/ipv4/conf/cali1/route_localnet': '1',
      'net/ipv6/conf/cali1/accept_ra': '0',
    });
    const v6 = workloadSysctls('cali1', { ipv4: false, ipv6: true }, 1);
    assert.deepEqual([...v6.keys()], ['net/ipv6/conf/cali1/accept_ra', 'net/ipv6/conf/cali1/proxy_ndp', 'net/ipv6/conf/cali1/forwarding']);
    assert.equal(workloadSysctls('cali1', { ipv4: true, ipv6: false, allowSpoofedSource: true }, 1).get('net/ipv4/conf/cali1/rp_filter'), '0');
    assert.equal(workloadSysctls('vxlan.x1', { ipv4: true, ipv6: false }, 2).get('net/ipv4/conf/vxlan.x1/rp_filter'), '2', 'a dotted name stays one path element');
    assert.deepEqual([...hostSysctls(true)], [['net/ipv4/ip_forward', '1'], ['net/ipv6/conf/all/forwarding', '1']]);
    assert.deepEqual([...hostSysctls(false).keys()], ['net/ipv4/ip_forward']);
  });

  it('only accepts names with the workload prefix', () => {
    assert.doesNotThrow(() => checkWorkloadName('cali0123456789a', 'cali'));
    assert.throws(() => checkWorkloadName('eth0', 'cali'), /never touches other interfaces/);
    assert.throws(() => checkWorkloadName('cali', 'cali'), /workload prefix/);
    assert.throws(() => checkWorkloadName('cali0123456789ab', 'cali'), /not a valid interface name/);
    assert.throws(() => checkWorkloadName('cali;rm', 'tap'), /workload prefix/);
  });

  it('plans nothing for an interface already in shape', () => {
    const s = spec();
    const p = planInterface(s, { link: { name: 'calia', ifindex: 5, up: true, lowerUp: true, mtu: 1440, mac: 'ee:ee:ee:ee:ee:ee', operstate: 'UP' }, addresses: [], sysctls: s.sysctls });
    assert.deepEqual(p, { linkLines: [], sysctlWrites: [], changes: [], bringsUp: false, flaps: false });
  });

  it('plans a fresh veth: MAC and MTU before up, sysctls, stray addresses removed', () => {
    const s = spec();
    const p = planInterface(s, {
      link: { name: 'calia', ifindex: 5, up: false, lowerUp: false, mtu: 1500, mac: '56:92:ec:14:e4:98', operstate: 'DOWN' },
      addresses: [{ address: '10.9.9.9', prefixLength: 24, family: 4 }],
      sysctls: new Map([['net/ipv4/conf/calia/proxy_arp', '0'], ['net/ipv4/conf/calia/rp_filter', '1']]),
    });
    assert.deepEqual(p.linkLines, [
      'link set dev calia address ee:ee:ee:ee:ee:ee',
      'link set dev calia mtu 1440',
      'addr del 10.9.9.9/24 dev calia',
      'link set dev calia up',
    ]);
    assert.equal(p.bringsUp, true);
    assert.equal(p.flaps, false);
    assert.deepEqual(p.sysctlWrites.map(([k]) => k).sort(), [
      'net/ipv4/conf/calia/forwarding',
      'net/ipv4/conf/calia/proxy_arp',
      'net/ipv4/conf/calia/route_localnet',
      'net/ipv4/neigh/calia/proxy_delay',
      'net/ipv6/conf/calia/accept_ra',
    ]);
    assert.deepEqual(p.changes.map((c) => c.what), ['mac', 'mtu', 'address', 'up', 'sysctl', 'sysctl', 'sysctl', 'sysctl', 'sysctl']);
  });

  it('flaps an up IPv6 interface for a MAC change (its link-local follows the MAC), changes it in place otherwise', () => {
    const link = { name: 'calia', ifindex: 5, up: true, lowerUp: true, mtu: 1440, mac: '02:00:00:00:00:01', operstate: 'UP' };
    const v6 = spec({ ipv6: true, sysctls: new Map() });
    const p6 = planInterface(v6, { link, addresses: [], sysctls: new Map() });
    assert.deepEqual(p6.linkLines, ['link set dev calia down', 'link set dev calia address ee:ee:ee:ee:ee:ee', 'link set dev calia up']);
    assert.equal(p6.flaps, true);
    const p4 = planInterface(spec({ sysctls: new Map() }), { link, addresses: [], sysctls: new Map() });
    assert.deepEqual(p4.linkLines, ['link set dev calia address ee:ee:ee:ee:ee:ee']);
    assert.equal(p4.bringsUp, false);
    const keep = planInterface(spec({ mac: undefined, sysctls: new Map() }), { link, addresses: [], sysctls: new Map() });
    assert.deepEqual(keep.linkLines, [], 'hostMac null leaves the MAC alone');
  });

  it('plans host sysctls', () => {
    const { writes, changes } = planHostSysctls(hostSysctls(true), new Map([['net/ipv4/ip_forward', '1'], ['net/ipv6/conf/all/forwarding', '0']]));
    assert.deepEqual(writes, [['net/ipv6/conf/all/forwarding', '1']]);
    assert.equal(changes[0]!.iface, '(host)');
  });
});
