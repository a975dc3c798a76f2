import assert from 'node:assert/strict';
import { parseBatchErrors } from '../../../src/ipip/io.js';
import { isNoSuchDevice, parseDevice, parseFdb, parseNeighbours, ReadbackParseError } from '../../../src/ipip/readback.js';

// Captured from iproute2 6.1 on this machine (vxlan) and in the Debian 6.1 VM (ipip).
const VXLAN_JSON =
  '[{"ifindex":2,"ifname":"vxlan.tabby","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1450,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"ether","address":"66:aa:bb:cc:dd:ee","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":0,"allmulti":0,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"vxlan","info_data":{"id":4096,"local":"172.31.0.1","port_range":{"low":0,"high":0},"port":4789,"learning":false,"ttl":0,"df":"unset","ageing":300,"udp_csum":true,"udp_zero_csum6_tx":false,"udp_zero_csum6_rx":false}},"num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":65536,"tso_max_segs":65535,"gro_max_size":65536,"addr_info":[{"family":"inet","local":"10.65.1.0","prefixlen":32,"scope":"global","label":"vxlan.tabby","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::64aa:bbff:fecc:ddee","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]';
const IPIP_JSON =
  '[{"ifindex":2,"link":null,"ifname":"tunl0","flags":["NOARP"],"mtu":1480,"qdisc":"noop","operstate":"DOWN","group":"default","txqlen":1000,"link_type":"ipip","address":"0.0.0.0","broadcast":"0.0.0.0","promiscuity":0,"allmulti":0,"min_mtu":0,"max_mtu":0,"linkinfo":{"info_kind":"ipip","info_data":{"proto":"any","remote":"any","local":"any","ttl":0,"pmtudisc":false}},"num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":65536,"tso_max_segs":65535,"gro_max_size":65536,"addr_info":[]}]';
const IPIP_PROGRAMMED_JSON =
  '[{"ifindex":3,"link":null,"ifname":"tunl0","flags":["NOARP","UP","LOWER_UP"],"mtu":1480,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"ipip","address":"0.0.0.0","broadcast":"0.0.0.0","promiscuity":0,"allmulti":0,"min_mtu":0,"max_mtu":0,"linkinfo":{"info_kind":"ipip","info_data":{"proto":"ipip","remote":"any","local":"any","ttl":0,"pmtudisc":false}},"num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":65536,"tso_max_segs":65535,"gro_max_size":65536,"addr_info":[{"family":"inet","local":"10.65.1.0","prefixlen":32,"scope":"global","label":"tunl0","valid_life_time":4294967295,"preferred_life_time":4294967295}]}]';

describe('encap: parsing iproute2 JSON', () => {
  it('a VXLAN device: kind, VNI, port, local, learning, MTU, MAC, up, IPv4 addresses only', () => {
    assert.deepEqual(parseDevice(VXLAN_JSON, 'vxlan.tabby'), {
      name: 'vxlan.tabby',
      kind: 'vxlan',
      mtu: 1450,
      up: true,
      mac: '66:aa:bb:cc:dd:ee',
      addresses: ['10.65.1.0/32'],
      vxlan: { vni: 4096, port: 4789, local: '172.31.0.1', learning: false },
    });
  });

  it('the ipip fallback tunl0: down, no MAC (0.0.0.0 is not one), local/remote any', () => {
    assert.deepEqual(parseDevice(IPIP_JSON, 'tunl0'), {
      name: 'tunl0',
      kind: 'ipip',
      mtu: 1480,
      up: false,
      addresses: [],
      ipip: { local: 'any', remote: 'any' },
    });
  });

  it('a tunl0 the programme created (VM read-back): up, the /32', () => {
    assert.deepEqual(parseDevice(IPIP_PROGRAMMED_JSON, 'tunl0'), {
      name: 'tunl0',
      kind: 'ipip',
      mtu: 1480,
      up: true,
      addresses: ['10.65.1.0/32'],
      ipip: { local: 'any', remote: 'any' },
    });
  });

  it('another device name in the output, empty output: undefined; garbage: a parse error', () => {
    assert.equal(parseDevice(VXLAN_JSON, 'tunl0'), undefined);
    assert.equal(parseDevice('', 'tunl0'), undefined);
    assert.throws(() => parseDevice('{oops', 'tunl0'), ReadbackParseError);
    assert.throws(() => parseDevice('{"a":1}', 'tunl0'), /expected a JSON array/);
  });

  it('neighbours: lladdr, states, numeric protocol; entries without lladdr kept', () => {
    const n = parseNeighbours('[{"dst":"10.65.2.0","lladdr":"66:11:22:33:44:55","state":["PERMANENT"],"protocol":"80"},{"dst":"10.65.9.9","state":["FAILED"]}]');
    assert.deepEqual(n, [
      { ip: '10.65.2.0', mac: '66:11:22:33:44:55', states: ['PERMANENT'], protocol: 80 },
      { ip: '10.65.9.9', states: ['FAILED'] },
    ]);
  });

  it('FDB: mac, dst, self, permanent', () => {
    const f = parseFdb('[{"mac":"66:11:22:33:44:57","dst":"172.31.0.4","flags":["self"],"state":"permanent"},{"mac":"00:00:00:00:00:00","dst":"172.31.0.3","flags":["self"],"state":""}]');
    assert.deepEqual(f, [
      { mac: '66:11:22:33:44:57', dst: '172.31.0.4', self: true, permanent: true },
      { mac: '00:00:00:00:00:00', dst: '172.31.0.3', self: true, permanent: false },
    ]);
  });

  it('recognises "no such device" in each tool\'s words', () => {
    assert.ok(isNoSuchDevice('Device "tunl0" does not exist.'));
    assert.ok(isNoSuchDevice('Cannot find device "vxlan.tabby"'));
    assert.ok(!isNoSuchDevice('RTNETLINK answers: Operation not permitted'));
  });

  it('attributes -force -batch errors to their lines', () => {
    const stderr = 'Error: Unknown device type.\nCommand failed -:1\nCannot find device "tunl0"\nCommand failed -:3\n';
    assert.deepEqual(parseBatchErrors(stderr), [
      { line: 1, message: 'Error: Unknown device type.' },
      { line: 3, message: 'Cannot find device "tunl0"' },
    ]);
  });
});
