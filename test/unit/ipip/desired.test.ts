import assert from 'node:assert/strict';
import { isGroupMac, normaliseMac, vtepMacForNode } from '../../../src/ipip/mac.js';
import { EncapInputError, firstAddressOfBlock, ipipDeviceSpec, vtepsOf, vxlanDeviceSpec } from '../../../src/ipip/desired.js';

describe('encap: desired state from the cluster view', () => {
  describe('vtepMacForNode (Calico: 0x66 + first 5 bytes of SHA-1(node name))', () => {
    // Vectors computed independently with Python's hashlib.
    for (const [name, mac] of [
      ['node-1', '66:b3:68:28:39:8e'],
      ['h2', '66:bf:1c:36:57:41'],
      ['calico-node-a', '66:22:09:0b:d8:f0'],
    ] as const) {
      it(`${name} -> ${mac}`, () => assert.equal(vtepMacForNode(name), mac));
    }

    it('is a unicast, locally administered MAC', () => {
      const first = parseInt(vtepMacForNode('anything').slice(0, 2), 16);
      assert.equal(first & 0x02, 0x02, 'locally administered bit');
      assert.equal(isGroupMac(vtepMacForNode('anything')), false);
    });
  });

  it('normaliseMac accepts upper case and dashes, rejects junk', () => {
    assert.equal(normaliseMac('66-AA-bb-CC-dd-EE'), '66:aa:bb:cc:dd:ee');
    assert.equal(normaliseMac('66:aa:bb:cc:dd'), undefined);
    assert.equal(normaliseMac('zz:aa:bb:cc:dd:ee'), undefined);
  });

  it('firstAddressOfBlock is the block\'s ordinal 0 (Calico\'s first allocation)', () => {
    assert.equal(firstAddressOfBlock('10.65.1.0/26'), '10.65.1.0');
    assert.equal(firstAddressOfBlock('10.65.1.77/26'), '10.65.1.64');
    assert.throws(() => firstAddressOfBlock('fd00::/64'), EncapInputError);
  });

  describe('ipipDeviceSpec', () => {
    it('MTU defaults to node MTU - 20, the tunnel address becomes the /32', () => {
      assert.deepEqual(ipipDeviceSpec({ name: 'n1', address: '172.31.0.1/24', ipipTunnelAddress: '10.65.1.0' }), { name: 'tunl0', mtu: 1480, address: '10.65.1.0' });
      assert.deepEqual(ipipDeviceSpec({ name: 'n1', address: '172.31.0.1/24', ipipTunnelAddress: '10.65.1.0', mtu: 9000 }).mtu, 8980);
      assert.deepEqual(ipipDeviceSpec({ name: 'n1', address: '172.31.0.1/24', ipipTunnelAddress: '10.65.1.0', ipipMtu: 1400 }).mtu, 1400);
    });
    it('no tunnel address: IPIP off (no address in the spec)', () => {
      assert.deepEqual(ipipDeviceSpec({ name: 'n1', address: '172.31.0.1/24' }), { name: 'tunl0', mtu: 1480 });
    });
    it('rejects a bad MTU and a non-IPv4 tunnel address', () => {
      assert.throws(() => ipipDeviceSpec({ name: 'n1', address: '172.31.0.1/24', ipipTunnelAddress: '10.65.1.0', mtu: 100 }), /MTU 80/);
      assert.throws(() => ipipDeviceSpec({ name: 'n1', address: '172.31.0.1/24', ipipTunnelAddress: 'fd00::1' }), /not an IPv4 address/);
    });
  });

  describe('vxlanDeviceSpec', () => {
    it('Calico\'s parameters: VNI 4096, port 4789, local = node address, MTU node - 50, MAC from the node name', () => {
      assert.deepEqual(vxlanDeviceSpec({ name: 'node-1', address: '172.31.0.1/24', vxlanTunnelAddress: '10.65.1.0' }), {
        name: 'vxlan.tabby',
        vni: 4096,
        port: 4789,
        local: '172.31.0.1',
        mac: '66:b3:68:28:39:8e',
        mtu: 1450,
        address: '10.65.1.0',
      });
    });
    it('an explicit vxlanMac wins (normalised); without a tunnel address VXLAN is off', () => {
      assert.equal(vxlanDeviceSpec({ name: 'n', address: '172.31.0.1/24', vxlanTunnelAddress: '10.65.1.0', vxlanMac: '02:AA:00:00:00:01' })?.mac, '02:aa:00:00:00:01');
      assert.equal(vxlanDeviceSpec({ name: 'n', address: '172.31.0.1/24' }), undefined);
      assert.throws(() => vxlanDeviceSpec({ name: 'n', address: '172.31.0.1/24', vxlanTunnelAddress: '10.65.1.0', vxlanMac: 'nope' }), /not a MAC/);
    });
  });

  it('vtepsOf: one VTEP per remote with a tunnel address, sorted by node, prefix stripped from the address', () => {
    const vteps = vtepsOf([
      { name: 'h3', address: '172.31.0.3/24', vxlanTunnelAddress: '10.65.3.0', blocks: [] },
      { name: 'h2', address: '172.31.0.2', vxlanTunnelAddress: '10.65.2.0', vxlanMac: '02:00:00:00:00:02', blocks: [] },
      { name: 'h4', address: '172.31.0.4', blocks: [] },
    ]);
    assert.deepEqual(vteps, [
      { node: 'h2', tunnelIp: '10.65.2.0', mac: '02:00:00:00:00:02', hostIp: '172.31.0.2' },
      { node: 'h3', tunnelIp: '10.65.3.0', mac: vtepMacForNode('h3'), hostIp: '172.31.0.3' },
    ]);
  });
});
