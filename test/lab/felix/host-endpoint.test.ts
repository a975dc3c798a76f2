/**
 * Host endpoints: a HostEndpoint naming one of the host's interfaces gets
 * policy on traffic to and from the host through that interface (Calico
 * semantics: with a host endpoint and no policy or profile allowing, the
 * host is closed on it, except the failsafe ports), the failsafe ports stay
 * open whatever the policy says, and removing the host endpoint opens the
 * interface again. Real traffic, real kernel.
 *
 *   h1 (agent) --ext0---eth0-- outside (a plain namespace, 192.168.77.2)
 *   servers: in h1 on 9090, 9091 and 22 (a failsafe port);
 *            outside on 9090 and 179 (a failsafe port outbound)
 */
import assert from 'node:assert/strict';
import { Lab, type LabHost } from '../../../src/lab/lab.js';
import { runOk } from '../../../src/lab/exec.js';
import { createNetns } from '../../../src/lab/netns.js';
import { tcpProbe } from '../../../src/lab/probe.js';
import { waitFor } from '../../../src/lab/wait.js';
import { FelixInput } from '../../../src/felix/calc/input.js';
import { FelixAgent } from '../../../src/felix/agent/agent.js';
import type { GlobalNetworkPolicy } from '../../../src/datastore/resources/index.js';
import { hostEndpoint, pool } from '../../unit/felix/calc/fixtures.js';

const HOST_IP = '192.168.77.1';
const OUT_IP = '192.168.77.2';
/** A TCP server on some ports, answering its name. */
const SERVER = `const [n,...ps]=process.argv.slice(1);let k=0;for(const p of ps)require('net').createServer((s)=>{s.on('error',()=>{});s.end(n+'\\n')}).listen({port:+p,host:'::'},()=>{if(++k===ps.length)console.log('ready '+n)});`;

/** A global policy selecting the host endpoint (the tier and fields as the resource schema stores them). */
function hepPolicy(name: string, order: number, spec: Pick<GlobalNetworkPolicy['spec'], 'types' | 'ingress' | 'egress'>): GlobalNetworkPolicy {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name, labels: { 'projectcalico.org/tier': 'default' } },
    spec: { tier: 'default', order, selector: "role == 'ext-if'", applyOnForward: false, ...spec },
  } as GlobalNetworkPolicy;
}

describe('felix agent lab: host endpoint with an interface name', function () {
  this.timeout(120_000);
  let lab: Lab;
  let h1: LabHost;
  let outside: string;
  let agent: FelixAgent;
  const input = new FelixInput();
  const toHost = async (port: number) => (await tcpProbe(outside, HOST_IP, port, { timeoutMs: 1500 })).ok;
  const fromHost = async (port: number) => (await tcpProbe(h1.netns, OUT_IP, port, { timeoutMs: 1500 })).ok;

  before(async () => {
    lab = await Lab.create();
    h1 = await lab.addHost('h1');
    outside = `${lab.prefix}-outside`;
    await createNetns(outside);
    await runOk('ip', ['-n', h1.netns, 'link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside]);
    await runOk('ip', ['-n', h1.netns, 'addr', 'add', `${HOST_IP}/24`, 'dev', 'ext0']);
    await runOk('ip', ['-n', h1.netns, 'link', 'set', 'ext0', 'up']);
    await runOk('ip', ['-n', outside, 'addr', 'add', `${OUT_IP}/24`, 'dev', 'eth0']);
    await runOk('ip', ['-n', outside, 'link', 'set', 'eth0', 'up']);
    for (const [ns, name, ports] of [[h1.netns, 'h1', ['9090', '9091', '22']], [outside, 'outside', ['9090', '179']]] as const) {
      const p = lab.startProcess(ns, `srv-${name}`, process.execPath, ['-e', SERVER, name, ...ports]);
      await waitFor(`servers in ${name}`, () => p.logTail(3).includes(`ready ${name}`), { timeoutMs: 10_000 });
    }
    input.setNode({ name: 'h1', address: `${h1.address}/${h1.prefixLength}` });
    input.setPools([pool('default-ipv4-ippool', '10.65.0.0/16')]);
    input.setLocalBlocks([h1.block]);
    input.markInSync();
    agent = await FelixAgent.create({ input, netns: h1.netns, resyncIntervalMs: 0 });
    await agent.apply();
  });

  after(async () => {
    await agent?.stop();
    await lab.destroy();
  });

  it('without a host endpoint the interface is open both ways', async () => {
    assert.ok(await toHost(9090));
    assert.ok(await toHost(9091));
    assert.ok(await fromHost(9090));
  });

  it('a host endpoint on ext0 with no policy: closed, except the failsafe ports both ways', async () => {
    input.setHostEndpoint(hostEndpoint('h1-ext0', 'h1', 'ext0', { role: 'ext-if' }));
    const r = await agent.apply();
    assert.ok(r.iptables.filter!.rewritten.some((c) => c === 'tabby-fh-ext0'), r.iptables.filter!.rewritten.join(','));
    assert.equal(await toHost(9090), false, 'to the host: denied');
    assert.equal(await toHost(9091), false);
    assert.ok(await toHost(22), 'failsafe inbound (tcp 22) open');
    assert.equal(await fromHost(9090), false, 'from the host out of ext0: denied');
    assert.ok(await fromHost(179), 'failsafe outbound (tcp 179) open');
    // The fabric interface has no host endpoint: untouched.
    const filter = await runOk('iptables-nft-save', ['-t', 'filter'], { ns: h1.netns });
    assert.match(filter, /^-A tabby-from-hep-dispatch -i ext0 .*-g tabby-fh-ext0$/m);
    assert.doesNotMatch(filter, /-i eth0 .*-g tabby-fh-/);
  });

  it('a policy selecting the host endpoint opens what it allows, and only that', async () => {
    input.setPolicy(hepPolicy('ext-allow-9090', 10, { types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', source: {}, destination: { ports: [9090] } }], egress: [] }));
    await agent.apply();
    assert.ok(await toHost(9090), 'allowed by the policy');
    assert.equal(await toHost(9091), false, 'still denied');
    assert.ok(await toHost(22), 'failsafe still open');
  });

  it('failsafe ports stay open even under a policy that denies everything', async () => {
    input.setPolicy(hepPolicy('ext-deny-all', 1, { types: ['Ingress', 'Egress'], ingress: [{ action: 'Deny', source: {}, destination: {} }], egress: [{ action: 'Deny', source: {}, destination: {} }] }));
    await agent.apply();
    assert.equal(await toHost(9090), false, 'the deny-all policy comes first');
    assert.ok(await toHost(22), 'failsafe inbound open');
    assert.ok(await fromHost(179), 'failsafe outbound open');
    input.removePolicy('GlobalNetworkPolicy', 'ext-deny-all');
    await agent.apply();
  });

  it('removing the host endpoint opens the interface again', async () => {
    input.removeHostEndpoint('h1-ext0');
    const r = await agent.apply();
    assert.ok(r.iptables.filter!.deleted.includes('tabby-fh-ext0'));
    assert.ok(await toHost(9091));
    assert.ok(await fromHost(9090));
  });
});
