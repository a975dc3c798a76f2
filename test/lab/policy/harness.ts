/**
 * The policy conformance lab: 2 hosts, 4 workloads in 2 namespaces, and an
 * "outside" machine on the fabric. Each host runs the real dataplane path
 * (compilePolicy -> PolicyDataplane -> iptables-restore / ipset restore in
 * the host's namespace); probes are real ICMP, TCP and UDP.
 *
 *   h1: a (prod, app=web, tier=front)   b (dev, app=db)
 *   h2: c (prod, app=db)                d (dev, app=web)
 *   out: 172.31.0.3, outside the cluster
 *   namespaces: prod {env: prod, team: blue}, dev {env: dev}
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { parseResources, type Resource } from '../../../src/datastore/resources/index.js';
import { ProcessRunner } from '../../../src/felix/iptables/runner.js';
import { run } from '../../../src/lab/exec.js';
import { Lab, type LabHost } from '../../../src/lab/lab.js';
import { ping, tcpProbe, udpProbe, type MatrixCell, type ProbeProtocol, type ProbeResult } from '../../../src/lab/probe.js';
import { waitFor } from '../../../src/lab/wait.js';
import { compilePolicy, explainFlow, formatExplanation, namespaceProfile, PolicyDataplane, type PolicyApplyReport } from '../../../src/policy/index.js';

export const WORKLOADS = ['a', 'b', 'c', 'd'] as const;
export type W = (typeof WORKLOADS)[number];
export const HOSTS = ['h1', 'h2'] as const;

const SPEC: Record<W, { host: string; namespace: string; labels: Record<string, string> }> = {
  a: { host: 'h1', namespace: 'prod', labels: { app: 'web', tier: 'front' } },
  b: { host: 'h1', namespace: 'dev', labels: { app: 'db' } },
  c: { host: 'h2', namespace: 'prod', labels: { app: 'db' } },
  d: { host: 'h2', namespace: 'dev', labels: { app: 'web' } },
};

export const TCP_PORTS = [80, 8080, 9000];
export const UDP_PORTS = [8081];
export const PROBE_TIMEOUT_MS = 1000;
const ECHO = fileURLToPath(new URL('../../../src/lab/echo-server.js', import.meta.url));
export const TOOLS = fileURLToPath(new URL('./tools.js', import.meta.url));

/** "a>c" pairs. */
export type Pairs = ReadonlySet<string>;
export const ALL: Pairs = new Set(WORKLOADS.flatMap((x) => WORKLOADS.filter((y) => y !== x).map((y) => `${x}>${y}`)));
export const NONE: Pairs = new Set();
export const pairs = (text: string): Pairs => new Set(text.split(/\s+/).filter(Boolean));
export const into = (...to: W[]): Pairs => new Set([...ALL].filter((p) => to.includes(p.split('>')[1] as W)));
export const from = (...f: W[]): Pairs => new Set([...ALL].filter((p) => f.includes(p.split('>')[0] as W)));
export const minus = (a: Pairs, ...b: Pairs[]): Pairs => new Set([...a].filter((p) => !b.some((x) => x.has(p))));
export const plus = (...xs: Pairs[]): Pairs => new Set(xs.flatMap((x) => [...x]));

export interface MatrixCheck {
  protocol: ProbeProtocol;
  port?: number;
  allow: Pairs;
}

export interface OutsideCheck {
  /** A workload, or `out`. */
  from: W | 'out';
  to: W | 'out';
  protocol: ProbeProtocol;
  port?: number;
  allowed: boolean;
}

export class PolicyLab {
  lab!: Lab;
  out!: LabHost;
  readonly dataplanes = new Map<string, PolicyDataplane>();
  baseResources: Resource[] = [];
  current: Resource[] = [];
  lastReports = new Map<string, PolicyApplyReport>();

  async setUp(): Promise<void> {
    this.lab = await Lab.create();
    for (const h of HOSTS) await this.lab.addHost(h);
    this.out = await this.lab.addHost('out');
    for (const w of WORKLOADS) await this.lab.addWorkload(SPEC[w].host, { name: w, namespace: SPEC[w].namespace, labels: SPEC[w].labels });
    await this.lab.routeBlocksStatically();
    await Promise.all(WORKLOADS.map((w) => this.lab.startEcho(w, { tcp: TCP_PORTS, udp: UDP_PORTS })));
    const p = this.lab.startProcess(this.out.netns, 'echo-out', process.execPath, [ECHO, 'out', '--tcp', '80,8080', '--udp', '8081']);
    await waitFor('echo server outside', () => p.logTail(5).includes('ready out'), { timeoutMs: 10_000 });
    for (const h of HOSTS) {
      this.dataplanes.set(h, await PolicyDataplane.create({ runner: new ProcessRunner({ netns: this.lab.host(h).netns }), backend: 'nft' }));
    }
    this.baseResources = [...this.workloadEndpoints(), ...this.namespaceProfiles()];
  }

  ip(w: W | 'out'): string {
    return w === 'out' ? this.out.address : this.lab.workload(w).ip;
  }

  netns(w: W | 'out'): string {
    return w === 'out' ? this.out.netns : this.lab.workload(w).netns;
  }

  workloadEndpoints(labels?: Partial<Record<W, Record<string, string>>>): Resource[] {
    const docs = WORKLOADS.map((w) => {
      const lw = this.lab.workload(w);
      return {
        apiVersion: 'projectcalico.org/v3',
        kind: 'WorkloadEndpoint',
        metadata: { namespace: SPEC[w].namespace, labels: labels?.[w] ?? SPEC[w].labels },
        spec: {
          orchestrator: 'k8s',
          node: SPEC[w].host,
          pod: w,
          endpoint: 'eth0',
          ipNetworks: [`${lw.ip}/32`],
          profiles: [`kns.${SPEC[w].namespace}`],
          interfaceName: lw.hostIface,
        },
      };
    });
    return parse(docs.map((d) => JSON.stringify(d)).join('\n---\n'));
  }

  namespaceProfiles(): Resource[] {
    return [namespaceProfile('prod', { env: 'prod', team: 'blue' }), namespaceProfile('dev', { env: 'dev' })];
  }

  /** Compile for both hosts and program them; then forget conntrack state so every probe is a new flow. */
  async apply(resources: Resource[], opts: { keepConntrack?: boolean } = {}): Promise<void> {
    this.current = resources;
    await Promise.all(
      HOSTS.map(async (h) => {
        const rs = compilePolicy(resources, { nodeName: h });
        assert.deepEqual(rs.warnings, [], `compiler warnings for ${h}`);
        const dp = this.dataplanes.get(h)!;
        dp.setRuleset(rs);
        this.lastReports.set(h, await dp.apply());
      }),
    );
    if (!opts.keepConntrack) await this.flushConntrack();
  }

  async flushConntrack(): Promise<void> {
    await Promise.all(HOSTS.map((h) => run('conntrack', ['-F'], { ns: this.lab.host(h).netns, timeoutMs: 10_000 })));
  }

  async probe(f: W | 'out', t: W | 'out', protocol: ProbeProtocol, port?: number): Promise<ProbeResult> {
    const ns = this.netns(f);
    const ip = this.ip(t);
    switch (protocol) {
      case 'icmp':
        return ping(ns, ip, { timeoutMs: PROBE_TIMEOUT_MS });
      case 'tcp':
        return tcpProbe(ns, ip, port ?? 80, { timeoutMs: PROBE_TIMEOUT_MS });
      case 'udp':
        return udpProbe(ns, ip, port ?? 8081, { timeoutMs: PROBE_TIMEOUT_MS });
    }
  }

  /** What explain says about a flow under the resources last applied. */
  explain(f: W | 'out', t: W | 'out', protocol: ProbeProtocol, port?: number) {
    const name = (x: W | 'out') => (x === 'out' ? this.out.address : `${SPEC[x].namespace}/${x}`);
    return explainFlow(this.current, { from: name(f), to: name(t), protocol, ...(protocol === 'icmp' ? {} : { port: port ?? (protocol === 'tcp' ? 80 : 8081) }) });
  }

  /**
   * Probe every ordered pair; assert the observed matrix equals `allow`, and
   * that explain predicts every cell. A cell that was expected to pass but
   * failed is probed once more (a loaded machine can lose a probe); an
   * unexpected pass is never retried.
   */
  async checkMatrix(c: MatrixCheck): Promise<void> {
    const cells: MatrixCell[] = await this.lab.matrix({ protocol: c.protocol, ...(c.port !== undefined ? { port: c.port } : {}), timeoutMs: PROBE_TIMEOUT_MS });
    for (const cell of cells) {
      if (!cell.result.ok && c.allow.has(`${cell.from}>${cell.to}`)) cell.result = await this.probe(cell.from as W, cell.to as W, c.protocol, c.port);
    }
    const seen = new Set(cells.filter((x) => x.result.ok).map((x) => `${x.from}>${x.to}`));
    const label = `${c.protocol}${c.port !== undefined ? `/${c.port}` : ''}`;
    assert.deepEqual([...seen].sort(), [...c.allow].sort(), `${label}: observed allowed pairs differ from expected\n${this.describe(cells)}`);
    for (const cell of cells) {
      if (cell.result.ok && c.protocol !== 'icmp') assert.equal(cell.result.reply, cell.to, `${label} ${cell.from}>${cell.to} answered by the wrong workload`);
      const x = this.explain(cell.from as W, cell.to as W, c.protocol, c.port);
      assert.equal(x.allowed, cell.result.ok, `${label} ${cell.from}>${cell.to}: explain disagrees with the kernel:\n${formatExplanation(x)}`);
    }
  }

  async checkOutside(c: OutsideCheck): Promise<void> {
    let r = await this.probe(c.from, c.to, c.protocol, c.port);
    if (!r.ok && c.allowed) r = await this.probe(c.from, c.to, c.protocol, c.port);
    const label = `${c.protocol}${c.port !== undefined ? `/${c.port}` : ''} ${c.from}>${c.to}`;
    assert.equal(r.ok, c.allowed, `${label}: expected ${c.allowed ? 'allowed' : 'denied'} (${r.error ?? 'ok'} ${r.detail ?? ''})`);
    const x = this.explain(c.from, c.to, c.protocol, c.port);
    assert.equal(x.allowed, c.allowed, `${label}: explain disagrees:\n${formatExplanation(x)}`);
  }

  describe(cells: MatrixCell[]): string {
    const rows = [`     ${WORKLOADS.join('  ')}`];
    for (const f of WORKLOADS) {
      rows.push(`  ${f}  ${WORKLOADS.map((t) => (t === f ? '.' : cells.find((c) => c.from === f && c.to === t)?.result.ok ? 'Y' : '-')).join('  ')}`);
    }
    return rows.join('\n');
  }

  async tearDown(): Promise<void> {
    await this.lab?.destroy();
  }
}

/** Parse manifests (throws with every problem). */
export function parse(text: string): Resource[] {
  const r = parseResources(text, 'scenario.yaml');
  if (r.problems.length) throw new Error(r.problems.map((p) => p.message ?? JSON.stringify(p)).join('\n'));
  return r.resources;
}
