import assert from 'node:assert/strict';
import { readCniEnv, type CniEnv } from '../../../src/cni/env.js';
import { DataplaneError } from '../../../src/cni/kernel.js';
import { parseNetConf, type NetConf } from '../../../src/cni/netconf.js';
import { cmdAdd, cmdCheck, cmdDel } from '../../../src/cni/plugin.js';
import { CniError, ErrorCode, type SuccessResult } from '../../../src/cni/spec.js';
import { IpamExhaustedError, IpamUnavailableError } from '../../../src/ipam/errors.js';
import { fakes, unavailable, type Fakes } from './fakes.js';

const NETNS = '/run/netns/pod-a';
const HANDLE = 'k8s-pod-network.abc123';
const WEP = 'prod/node--1-k8s-web--1-eth0';

function env(command: string, over: Record<string, string | undefined> = {}): CniEnv {
  return readCniEnv({
    CNI_COMMAND: command,
    CNI_CONTAINERID: 'abc123',
    CNI_NETNS: NETNS,
    CNI_IFNAME: 'eth0',
    CNI_ARGS: 'K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-1;IgnoreUnknown=1',
    ...over,
  });
}

function conf(command: string, extra: Record<string, unknown> = {}): NetConf {
  return parseNetConf({ cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'tabby', args: { tabby: { labels: { app: 'web' } } }, ...extra }, command as 'ADD');
}

async function rejectsCode(p: Promise<unknown>, code: number, re?: RegExp): Promise<CniError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CniError, `expected a CniError, got ${String(err)}`);
    assert.equal(err.code, code, `${err.message}: ${err.details}`);
    if (re) assert.match(`${err.message} ${err.details}`, re);
    return err;
  }
  assert.fail(`expected error code ${code}, but it succeeded`);
}

describe('cni plugin commands (fake kernel, IPAM and store)', () => {
  let f: Fakes;
  beforeEach(() => {
    f = fakes();
    f.dp.netns.add(NETNS);
  });

  describe('ADD', () => {
    it('allocates, plumbs, then writes the endpoint; the result names both interfaces', async () => {
      const r = await cmdAdd(env('ADD'), conf('ADD'), f.deps);
      assert.equal(r.interfaces.length, 2);
      assert.match(r.interfaces[0]!.name, /^cali[0-9a-f]{11}$/);
      assert.deepEqual(r.interfaces[1], { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: NETNS });
      assert.deepEqual(r.ips, [{ address: '10.65.0.2/32', interface: 1 }]);
      assert.deepEqual(f.ipam.handles.get(HANDLE), ['10.65.0.2']);
      const wep = f.endpoints.weps.get(WEP)!;
      assert.equal(wep.spec.interfaceName, r.interfaces[0]!.name);
      assert.deepEqual(wep.spec.ipNetworks, ['10.65.0.2/32']);
      assert.equal(wep.metadata.labels?.app, 'web');
      // The endpoint is written only once the interface exists.
      assert.deepEqual(f.dp.calls, [`setUp ${r.interfaces[0]!.name}`]);
      assert.deepEqual(f.endpoints.calls, [`put ${WEP}`]);
    });

    it('asks for IPv6 too when configured, and passes the pool restriction', async () => {
      const r = await cmdAdd(env('ADD'), conf('ADD', { ipam: { assign_ipv6: 'true', ipv4_pools: ['p4'], ipv6_pools: ['p6'] } }), f.deps);
      assert.deepEqual(f.ipam.calls, [`assign ${HANDLE} v4=1 v6=1`]);
      assert.deepEqual(r.ips.map((i) => i.address), ['10.65.0.2/32', 'fd00:65::3/128']);
      assert.deepEqual(r.routes.map((x) => x.dst), ['0.0.0.0/0', '::/0']);
    });

    it('is idempotent: a second ADD of a whole attachment returns the same result and changes nothing', async () => {
      const first = await cmdAdd(env('ADD'), conf('ADD'), f.deps);
      const calls = f.dp.calls.length;
      const second = await cmdAdd(env('ADD'), conf('ADD'), f.deps);
      assert.deepEqual(second, first);
      assert.equal(f.dp.calls.length, calls, 'no kernel changes');
      assert.deepEqual(f.ipam.calls, [`assign ${HANDLE} v4=1 v6=0`]);
    });

    it('repairs a partial attachment with the addresses the handle already holds', async () => {
      const first = await cmdAdd(env('ADD'), conf('ADD'), f.deps);
      f.dp.hostRoutes.clear();
      const again = await cmdAdd(env('ADD'), conf('ADD'), f.deps);
      assert.deepEqual(again.ips, first.ips);
      assert.equal(again.interfaces[1]!.mac, first.interfaces[1]!.mac, 'keeps the MAC the endpoint records');
      assert.equal(f.ipam.calls.filter((c) => c.startsWith('assign')).length, 1);
      assert.ok(f.logs.some((l) => l.event === 'cni.add.repair'));
      assert.equal(f.dp.hostRoutes.size, 1);
    });

    it('with a prevResult (not first in a chain) appends its interfaces and re-indexes its addresses', async () => {
      const prev = { interfaces: [{ name: 'lo', sandbox: NETNS }], ips: [{ address: '127.0.0.1/8', interface: 0 }], routes: [] };
      const r = await cmdAdd(env('ADD'), conf('ADD', { prevResult: prev }), f.deps);
      assert.equal(r.interfaces.length, 3);
      assert.deepEqual(r.ips[1], { address: '10.65.0.2/32', interface: 2 });
      assert.deepEqual(r.ips[0], prev.ips[0]);
    });

    it('a netns that does not exist is code 3 and allocates nothing', async () => {
      await rejectsCode(cmdAdd(env('ADD', { CNI_NETNS: '/run/netns/gone' }), conf('ADD'), f.deps), ErrorCode.UnknownContainer);
      assert.deepEqual(f.ipam.calls, []);
    });

    it('rolls back when the kernel fails midway: host interface deleted, address released, no endpoint', async () => {
      f.dp.failSetUp = new DataplaneError('configure the host side', 'failed', 'RTNETLINK answers: Network is down');
      await rejectsCode(cmdAdd(env('ADD'), conf('ADD'), f.deps), ErrorCode.DataplaneFailure, /Network is down/);
      assert.equal(f.dp.hostLinks.size, 0);
      assert.equal(f.dp.containers.get(NETNS)?.size ?? 0, 0);
      assert.equal(f.ipam.handles.size, 0);
      assert.equal(f.endpoints.weps.size, 0);
      assert.ok(f.logs.some((l) => l.event === 'cni.add.rolled_back'));
    });

    it('rolls back when writing the endpoint fails (the write may have applied): code 11 for an unreachable store', async () => {
      f.endpoints.failPut = unavailable();
      await rejectsCode(cmdAdd(env('ADD'), conf('ADD'), f.deps), ErrorCode.TryAgainLater);
      assert.equal(f.endpoints.weps.size, 0, 'the endpoint is deleted again');
      assert.equal(f.dp.hostLinks.size, 0);
      assert.equal(f.ipam.handles.size, 0);
    });

    it('CNI_IFNAME taken in the container: code 104, the address released, the foreign interface left alone', async () => {
      f.dp.containers.set(NETNS, new Map([['eth0', { peer: 'other', mac: '02:aa:00:00:00:01', up: true, addrs: [], routes: [] }]]));
      await rejectsCode(cmdAdd(env('ADD'), conf('ADD'), f.deps), ErrorCode.InterfaceExists);
      assert.equal(f.ipam.handles.size, 0);
      assert.ok(f.dp.containers.get(NETNS)!.has('eth0'));
      assert.ok(!f.dp.calls.some((c) => c.startsWith('deleteHostLink')), 'no host link of that name to delete');
    });

    it('IPAM errors: exhausted is 100, unavailable is 11', async () => {
      f.ipam.failAssign = new IpamExhaustedError('no free address', ['pool default full']);
      await rejectsCode(cmdAdd(env('ADD'), conf('ADD'), f.deps), ErrorCode.IpamFailure, /no free address/);
      f.ipam.failAssign = new IpamUnavailableError('etcd down', true);
      await rejectsCode(cmdAdd(env('ADD'), conf('ADD'), f.deps), ErrorCode.TryAgainLater);
      assert.equal(f.ipam.calls.filter((c) => c.startsWith('release')).length, 2, 'an in-doubt allocation is released by handle');
    });

    it('deletes a host interface of the same name left by an earlier sandbox of the pod', async () => {
      const r1 = await cmdAdd(env('ADD', { CNI_CONTAINERID: 'old1' }), conf('ADD'), f.deps);
      f.dp.netns.add('/run/netns/pod-b');
      const r2 = await cmdAdd(env('ADD', { CNI_CONTAINERID: 'new2', CNI_NETNS: '/run/netns/pod-b' }), conf('ADD'), f.deps);
      assert.equal(r2.interfaces[0]!.name, r1.interfaces[0]!.name);
      assert.ok(f.dp.calls.includes(`deleteHostLink ${r1.interfaces[0]!.name}`));
      assert.equal(f.dp.containers.get(NETNS)?.size ?? 0, 0, 'the old sandbox lost its end of the pair');
      assert.equal(f.endpoints.weps.get(WEP)!.spec.containerID, 'new2');
    });
  });

  describe('DEL', () => {
    it('removes the interface inside the netns, the endpoint and the handle; twice is fine', async () => {
      await cmdAdd(env('ADD'), conf('ADD'), f.deps);
      await cmdDel(env('DEL'), conf('DEL'), f.deps);
      assert.equal(f.dp.hostLinks.size, 0);
      assert.equal(f.endpoints.weps.size, 0);
      assert.equal(f.ipam.handles.size, 0);
      await cmdDel(env('DEL'), conf('DEL'), f.deps);
    });

    it('with the netns gone or CNI_NETNS absent, deletes the host side by name', async () => {
      const r = await cmdAdd(env('ADD'), conf('ADD'), f.deps);
      f.dp.netns.delete(NETNS);
      await cmdDel(env('DEL', { CNI_NETNS: undefined }), conf('DEL'), f.deps);
      assert.ok(f.dp.calls.includes(`deleteHostLink ${r.interfaces[0]!.name}`));
      assert.equal(f.dp.hostLinks.size, 0);
      assert.equal(f.ipam.handles.size, 0);
    });

    it('for an old sandbox whose pod has a newer one: releases only its handle, leaves endpoint and interface', async () => {
      await cmdAdd(env('ADD', { CNI_CONTAINERID: 'old1' }), conf('ADD'), f.deps);
      f.dp.netns.add('/run/netns/pod-b');
      await cmdAdd(env('ADD', { CNI_CONTAINERID: 'new2', CNI_NETNS: '/run/netns/pod-b' }), conf('ADD'), f.deps);
      f.dp.netns.delete(NETNS);
      await cmdDel(env('DEL', { CNI_CONTAINERID: 'old1' }), conf('DEL'), f.deps);
      assert.equal(f.endpoints.weps.get(WEP)!.spec.containerID, 'new2');
      assert.equal(f.dp.hostLinks.size, 1);
      assert.deepEqual([...f.ipam.handles.keys()], ['k8s-pod-network.new2']);
    });

    it('a store that cannot be reached is code 11 (the runtime retries DEL)', async () => {
      f.ipam.failRelease = unavailable();
      await rejectsCode(cmdDel(env('DEL'), conf('DEL'), f.deps), ErrorCode.TryAgainLater);
    });
  });

  describe('CHECK', () => {
    let result: SuccessResult;
    beforeEach(async () => {
      result = await cmdAdd(env('ADD'), conf('ADD'), f.deps);
    });

    it('passes for the attachment ADD made', async () => {
      await cmdCheck(env('CHECK'), conf('CHECK', { prevResult: result }), f.deps);
    });

    it('lists every problem: host route gone, endpoint gone, handle released', async () => {
      f.dp.hostRoutes.clear();
      f.endpoints.weps.clear();
      f.ipam.handles.clear();
      const e = await rejectsCode(cmdCheck(env('CHECK'), conf('CHECK', { prevResult: result }), f.deps), ErrorCode.CheckFailed);
      assert.match(e.details, /host route to 10\.65\.0\.2/);
      assert.match(e.details, /WorkloadEndpoint prod\/node--1-k8s-web--1-eth0 is missing/);
      assert.match(e.details, /IPAM handle k8s-pod-network\.abc123 holds nothing/);
    });

    it('a MAC changed by a later plugin is fine when prevResult carries it', async () => {
      const link = f.dp.containers.get(NETNS)!.get('eth0')!;
      link.mac = '02:12:34:56:78:9a';
      const prev = { ...result, interfaces: result.interfaces.map((i) => (i.sandbox ? { ...i, mac: '02:12:34:56:78:9a' } : i)) };
      await cmdCheck(env('CHECK'), conf('CHECK', { prevResult: prev }), f.deps);
      await rejectsCode(cmdCheck(env('CHECK'), conf('CHECK', { prevResult: result }), f.deps), ErrorCode.CheckFailed, /MAC/);
    });

    it('a prevResult without our container interface fails', async () => {
      const prev = { ...result, interfaces: [result.interfaces[0]!] };
      await rejectsCode(cmdCheck(env('CHECK'), conf('CHECK', { prevResult: prev }), f.deps), ErrorCode.CheckFailed, /no interface eth0/);
    });

    it('a container netns that is gone is code 3', async () => {
      f.dp.netns.delete(NETNS);
      await rejectsCode(cmdCheck(env('CHECK'), conf('CHECK', { prevResult: result }), f.deps), ErrorCode.UnknownContainer);
    });
  });
});
