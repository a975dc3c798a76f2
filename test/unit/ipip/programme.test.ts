import assert from 'node:assert/strict';
import { buildIpipProgramme, buildVxlanProgramme, IPIP_FALLBACK_DEVICE, programmeBatches } from '../../../src/ipip/programme.js';
import { renderCommands } from '../../../src/ipip/plan.js';

const h1 = { name: 'h1', address: '172.31.0.1/24', ipipTunnelAddress: '10.65.1.0', vxlanTunnelAddress: '10.65.1.0' };
const remotes = [
  { name: 'h3', address: '172.31.0.3', vxlanTunnelAddress: '10.65.3.0', blocks: ['10.65.3.0/26'] },
  { name: 'h2', address: '172.31.0.2', vxlanTunnelAddress: '10.65.2.0', vxlanMac: '02:00:00:00:00:02', blocks: ['10.65.2.0/26'] },
  { name: 'h4', address: '172.31.0.4', blocks: ['10.65.4.0/26'] }, // no VTEP yet
  h1ish(), // this node in the remote list is ignored
];
function h1ish() {
  return { name: 'h1', address: '172.31.0.1', vxlanTunnelAddress: '10.65.1.0', blocks: [] };
}

describe('encap: whole programmes', () => {
  it('IPIP from nothing: create tunl0 with the MTU, the /32 from the block, up', () => {
    assert.deepEqual(renderCommands(buildIpipProgramme(h1)), [
      'ip link add name tunl0 mtu 1480 type ipip',
      'ip addr add 10.65.1.0/32 dev tunl0',
      'ip link set dev tunl0 up',
    ]);
  });

  it('IPIP over the fallback tunl0 the module leaves: no create, just address and up', () => {
    assert.deepEqual(renderCommands(buildIpipProgramme(h1, IPIP_FALLBACK_DEVICE)), ['ip addr add 10.65.1.0/32 dev tunl0', 'ip link set dev tunl0 up']);
    assert.deepEqual(renderCommands(buildIpipProgramme({ ...h1, mtu: 9000 }, IPIP_FALLBACK_DEVICE)), [
      'ip link set dev tunl0 mtu 8980',
      'ip addr add 10.65.1.0/32 dev tunl0',
      'ip link set dev tunl0 up',
    ]);
  });

  it('IPIP off: nothing to create', () => {
    assert.deepEqual(buildIpipProgramme({ name: 'h1', address: '172.31.0.1/24' }), []);
  });

  it('VXLAN from nothing: the device, then per remote VTEP a permanent neighbour and an FDB entry', () => {
    assert.deepEqual(renderCommands(buildVxlanProgramme(h1, remotes)), [
      'ip link add name vxlan.tabby mtu 1450 address 66:ac:4a:e9:72:85 type vxlan id 4096 dstport 4789 local 172.31.0.1 nolearning',
      'ip addr add 10.65.1.0/32 dev vxlan.tabby',
      'ip link set dev vxlan.tabby up',
      'ip neigh replace 10.65.2.0 lladdr 02:00:00:00:00:02 dev vxlan.tabby nud permanent protocol 80',
      'ip neigh replace 10.65.3.0 lladdr 66:8d:bc:60:58:e0 dev vxlan.tabby nud permanent protocol 80',
      'bridge fdb replace 02:00:00:00:00:02 dev vxlan.tabby dst 172.31.0.2 self permanent',
      'bridge fdb replace 66:8d:bc:60:58:e0 dev vxlan.tabby dst 172.31.0.3 self permanent',
    ]);
  });

  it('VXLAN honours MTU overrides and another neighbour protocol number', () => {
    const lines = renderCommands(buildVxlanProgramme({ ...h1, mtu: 9000 }, remotes.slice(0, 1), { proto: 99 }));
    assert.match(lines[0]!, / mtu 8950 /);
    assert.match(lines[3]!, / protocol 99$/);
  });

  it('batches: consecutive lines of one tool run in one process', () => {
    const b = programmeBatches(buildVxlanProgramme(h1, remotes));
    assert.deepEqual(b.map((x) => [x.tool, x.lines.length]), [
      ['ip', 5],
      ['bridge', 2],
    ]);
  });
});
