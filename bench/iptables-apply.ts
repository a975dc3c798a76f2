/**
 * Benchmark: the iptables table driver against the floor, a raw
 * `iptables-restore --noflush` of the very same text.
 *
 *   node dist/bench/iptables-apply.js            (env: RULES=10000 REPS=3 BACKENDS=nft,legacy)
 *
 * Layout as in platform.md §2(c): a dispatch chain with one
 * `-o caliI -g tabby-tw-caliI` per endpoint, and per endpoint a chain of 9
 * rules (conntrack, mark, --match-set, multiport, comment); endpoints =
 * RULES/10. Each repetition uses fresh network namespaces
 * (`tby-<pid>-<hex>-bench-*`), deleted at the end.
 *
 * Measured:
 *   full      first apply into an empty table: driver (read-back + render +
 *             hash + restore) vs raw restore of the driver's own input;
 *   one-chain one endpoint chain changed in the full table: driver
 *             (setChain + apply) vs raw restore of the same one-chain input;
 *   adopt     a restarted driver reading the full table back and finding
 *             nothing to do (no raw equivalent; compared to a bare -save).
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { IptablesExecutor, type IptablesBackend } from '../src/felix/iptables/backend.js';
import type { Chain, Rule } from '../src/felix/iptables/model.js';
import { ProcessRunner } from '../src/felix/iptables/runner.js';
import { IptablesTable } from '../src/felix/iptables/table.js';
import { newTestRunPrefix } from '../src/lab/names.js';
import { createNetns, deleteNetns } from '../src/lab/netns.js';

const RULES = Number(process.env.RULES ?? 10_000);
const REPS = Number(process.env.REPS ?? 3);
const BACKENDS = (process.env.BACKENDS ?? 'nft').split(',') as IptablesBackend[];
const prefix = newTestRunPrefix();
const created: string[] = [];

function endpointChain(i: number, variant = 0): Chain {
  const rules: Rule[] = [
    { match: { ctState: ['RELATED', 'ESTABLISHED'] }, action: { type: 'accept' } },
    { match: { ctState: ['INVALID'] }, action: { type: 'drop' } },
    { action: { type: 'setXmark', mark: 0, mask: 0x10000 } },
    { match: { protocol: 'tcp', dstPorts: [80, 443, 8080 + variant], sets: [{ set: 'tabby-s-bench', direction: 'src' }] }, action: { type: 'setMark', mark: 0x10000, mask: 0x10000 } },
    { match: { protocol: 'udp', dstPorts: [53] }, action: { type: 'setMark', mark: 0x10000, mask: 0x10000 } },
    { match: { mark: { value: 0x10000, mask: 0x10000 } }, action: { type: 'return' }, comment: `policy allow ep${i}` },
    { match: { source: '10.65.0.0/16' }, action: { type: 'return' } },
    { action: { type: 'log', prefix: 'tabby-drop: ' } },
    { action: { type: 'drop' }, comment: 'default deny' },
  ];
  return { name: `tabby-tw-cali${i}`, rules };
}

function ruleset(endpoints: number): Chain[] {
  const dispatch: Chain = {
    name: 'tabby-to-wl',
    rules: Array.from({ length: endpoints }, (_, i) => ({ match: { outInterface: `cali${i}` }, action: { type: 'goto' as const, target: `tabby-tw-cali${i}` } })),
  };
  return [dispatch, ...Array.from({ length: endpoints }, (_, i) => endpointChain(i))];
}

function exec(ns: string, cmd: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exit ${code}: ${err}`))));
    if (input !== undefined) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
  });
}

async function freshNs(tag: string): Promise<string> {
  const ns = `${prefix}-bench-${tag}`;
  await createNetns(ns);
  created.push(ns);
  await exec(ns, 'ipset', ['create', 'tabby-s-bench', 'hash:ip']);
  return ns;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const min = (xs: number[]) => Math.min(...xs);
const fmt = (xs: number[]) => `${min(xs).toFixed(1)} / ${median(xs).toFixed(1)} ms`;

function newTable(ns: string, backend: IptablesBackend, endpoints: number): IptablesTable {
  const t = new IptablesTable({ table: 'filter', executor: new IptablesExecutor(new ProcessRunner({ netns: ns }), backend) });
  t.replaceChains(ruleset(endpoints));
  t.setHooks('FORWARD', [{ action: { type: 'jump', target: 'tabby-to-wl' } }]);
  return t;
}

async function benchBackend(backend: IptablesBackend): Promise<void> {
  const endpoints = Math.round(RULES / 10);
  const restoreCmd = backend === 'nft' ? 'iptables-nft-restore' : 'iptables-legacy-restore';
  const restoreArgs = backend === 'nft' ? ['--noflush'] : ['-w', '10', '--noflush'];
  const saveCmd = backend === 'nft' ? 'iptables-nft-save' : 'iptables-legacy-save';
  const r: Record<string, number[]> = { render: [], fullDriver: [], fullRaw: [], incDriver: [], incRaw: [], adopt: [], save: [] };
  for (let rep = 0; rep < REPS; rep++) {
    // Pure CPU part: building the model and rendering + hashing every rule.
    const [tRender] = await timed(async () => newTable('unused', backend, endpoints));
    r.render!.push(tRender);

    const nsDriver = await freshNs(`${backend}-d${rep}`);
    const nsRaw = await freshNs(`${backend}-r${rep}`);
    // Includes building the model (setChain renders and hashes every rule).
    let table!: IptablesTable;
    const [tFull, res] = await timed(async () => {
      table = newTable(nsDriver, backend, endpoints);
      return table.apply();
    });
    r.fullDriver!.push(tFull);
    const input = res.input!;
    const [tRaw] = await timed(() => exec(nsRaw, restoreCmd, restoreArgs, input));
    r.fullRaw!.push(tRaw);

    // One endpoint chain changes (timed: setChain, which renders it, + apply).
    const victim = Math.floor(endpoints / 2);
    const [tInc, inc] = await timed(() => {
      table.setChain(endpointChain(victim, rep + 1));
      return table.apply();
    });
    if (inc.rewritten.length !== 1) throw new Error(`expected one chain rewritten, got ${inc.rewritten.length}`);
    r.incDriver!.push(tInc);
    const [tIncRaw] = await timed(() => exec(nsRaw, restoreCmd, restoreArgs, inc.input!));
    r.incRaw!.push(tIncRaw);

    // Restart: a new driver adopts the 10k rules without writing.
    const [tAdopt, adopted] = await timed(() => {
      const restarted = newTable(nsDriver, backend, endpoints);
      restarted.setChain(endpointChain(victim, rep + 1));
      return restarted.apply();
    });
    if (adopted.restoreRan) throw new Error('restart rewrote chains');
    r.adopt!.push(tAdopt);
    const [tSave] = await timed(() => exec(nsDriver, saveCmd, ['-t', 'filter']));
    r.save!.push(tSave);

    await deleteNetns([nsDriver, nsRaw]);
  }
  const ratio = (a: number[], b: number[]) => (median(a) / median(b)).toFixed(2);
  const row = (label: string, xs: number[], extra = '') => console.log(`  ${label.padEnd(40)}${fmt(xs)}${extra}`);
  console.log(`\n${backend}: ${RULES} rules (${endpoints} endpoint chains of 9 + a dispatch chain of ${endpoints}), ${REPS} reps, min / median`);
  row('model + render + hash (CPU only)', r.render!);
  row('full apply, driver (incl. model)', r.fullDriver!);
  row(`full apply, raw ${restoreCmd}`, r.fullRaw!);
  row('one-chain update, driver', r.incDriver!);
  row('one-chain update, raw', r.incRaw!);
  row('restart adopt (model + read-back)', r.adopt!, `   (bare ${saveCmd}: ${fmt(r.save!)})`);
  console.log(`  ratio driver/raw: full ${ratio(r.fullDriver!, r.fullRaw!)}x, one-chain ${ratio(r.incDriver!, r.incRaw!)}x, adopt/save ${ratio(r.adopt!, r.save!)}x`);
}

try {
  for (const b of BACKENDS) await benchBackend(b);
} finally {
  await deleteNetns(created);
}
