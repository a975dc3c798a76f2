/**
 * Every subcommand of the contract (architecture.md, "Commands"), each with
 * its --help. Commands whose capability a later piece of work builds exit 2
 * with `not implemented yet: <what>` after checking their arguments.
 */
import { Command, Option } from 'commander';
import { resolveConfigPath } from '../config/node-config.js';
import { UserError } from '../util/errors.js';
import { formatLabState, labDown, labSessions, labStatusJson, labUp, readLabState } from '../lab/persistent.js';
import type { Encap, Topology } from '../lab/cluster.js';
import { probeMatrix } from '../lab/probe.js';
import { listNetns } from '../lab/netns.js';

const outputOption = (choices: string[], def: string) =>
  new Option('-o, --output <format>', `output format (${choices.join('|')})`).choices(choices).default(def);

const configOption = () => new Option('-c, --config <file>', 'node config (else $TABBY_CONFIG, else /etc/tabby/node.yaml)');

function intArg(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new UserError(`${name} ${v}: expected a whole number`);
    return Number(v);
  };
}

export function registerCommands(program: Command): void {
  program
    .command('daemon')
    .description('run the node agent (datastore, dataplane, BGP) in this network namespace until SIGTERM')
    .addOption(configOption())
    .action(async (opts: { config?: string }) => {
      const { runDaemon } = await import('./daemon-cmd.js');
      await runDaemon(resolveConfigPath(opts.config));
    });

  program
    .command('bgp')
    .description('run the BGP speaker alone, without dataplane (route server, ToR-side speaker, benchmark DUT)')
    .requiredOption('-c, --config <file>', 'BGP-only config (see config/bgp.yaml)')
    .action(async (opts: { config: string }) => {
      const { runBgp } = await import('./bgp-cmd.js');
      await runBgp(opts.config);
    });

  program
    .command('apply')
    .description('create or update the resources of a YAML/JSON file; validates all of them first, applies none if one is invalid')
    .requiredOption('-f, --filename <file>', 'file with resources, or - for stdin')
    .addOption(configOption())
    .action(async (opts: { filename: string; config?: string }) => {
      const { applyCommand } = await import('./resource-cmds.js');
      await applyCommand(opts.filename, opts.config);
    });

  program
    .command('delete')
    .description('delete resources named in a file, or one resource by kind and name')
    .argument('[kind]', 'resource kind, e.g. ippool')
    .argument('[name]', 'resource name')
    .option('-f, --filename <file>', 'file with the resources to delete')
    .option('-n, --namespace <ns>', 'namespace of a namespaced kind', 'default')
    .addOption(configOption())
    .action(async (kind: string | undefined, name: string | undefined, opts: { filename?: string; namespace: string; config?: string }) => {
      const { deleteCommand } = await import('./resource-cmds.js');
      await deleteCommand({ ...opts, ...(opts.filename ? { file: opts.filename } : {}), ...(kind ? { kind } : {}), ...(name ? { name } : {}) });
    });

  program
    .command('get')
    .description('list resources of a kind, or show one')
    .argument('<kind>', 'resource kind, e.g. ippools, networkpolicy')
    .argument('[name]', 'resource name')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-A, --all-namespaces', 'all namespaces')
    .addOption(outputOption(['table', 'yaml', 'json'], 'table'))
    .addOption(configOption())
    .action(async (kind: string, name: string | undefined, opts: { namespace: string; allNamespaces?: boolean; output: string; config?: string }) => {
      const { getCommand } = await import('./resource-cmds.js');
      await getCommand({ kind, ...(name ? { name } : {}), ...opts });
    });

  program
    .command('status')
    .description("this node: BGP sessions, dataplane counts, datastore health (asks the running daemon)")
    .addOption(outputOption(['table', 'json'], 'table'))
    .addOption(configOption())
    .action(async (opts: { config?: string; output: string }) => {
      const { showStatus } = await import('./status-cmd.js');
      await showStatus(resolveConfigPath(opts.config), opts.output);
    });

  program
    .command('routes')
    .description('the BGP Loc-RIB of the running daemon or speaker')
    .option('--prefix <prefix>', 'only routes for this prefix')
    .addOption(outputOption(['table', 'json'], 'table'))
    .addOption(configOption())
    .action(async (opts: { config?: string; output: string; prefix?: string }) => {
      const { showRoutes } = await import('./status-cmd.js');
      await showRoutes(resolveConfigPath(opts.config), opts.output, opts.prefix);
    });

  const ipam = program.command('ipam').description('IP address management: pools, blocks, affinity');
  ipam
    .command('show')
    .description('pools, blocks and their affinity, utilisation')
    .option('--ip <addr>', 'show what owns this address')
    .addOption(configOption())
    .action(async (opts: { ip?: string; config?: string }) => {
      const { ipamShow } = await import('./ipam-cmds.js');
      await ipamShow(opts);
    });
  ipam
    .command('check')
    .description('find leaked or doubly-owned addresses and blocks (exit 0 clean, 1 with a report)')
    .option('--repair', 'fix what can be fixed safely, then check again')
    .addOption(configOption())
    .action(async (opts: { repair?: boolean; config?: string }) => {
      const { ipamCheck } = await import('./ipam-cmds.js');
      await ipamCheck(opts);
    });

  const policy = program.command('policy').description('policy tools');
  policy
    .command('explain')
    .description('name the policy and rule that decide a flow, from the compiled model the dataplane uses')
    .requiredOption('--from <workload>', 'source workload (NAMESPACE/NAME or NAME)')
    .requiredOption('--to <workload>', 'destination workload')
    .option('--port <port>', 'destination port', intArg('--port'))
    .addOption(new Option('--protocol <proto>', 'protocol').choices(['tcp', 'udp', 'icmp', 'sctp']).default('tcp'))
    .addOption(outputOption(['text', 'json'], 'text'))
    .addOption(configOption())
    .action(async (opts: { from: string; to: string; port?: number; protocol: string; output: string; config?: string }) => {
      const { policyExplain } = await import('./policy-cmds.js');
      await policyExplain(opts);
    });

  registerLab(program);
}

function registerLab(program: Command): void {
  const lab = program.command('lab').description('a self-contained multi-host lab in network namespaces on this machine');
  lab
    .command('up')
    .description('build the lab (idempotent) and print its hosts, workloads and connectivity matrix')
    .option('--name <name>', 'lab name (several labs can coexist)', 'tabby')
    .option('--hosts <n>', 'number of hosts running tabby daemon (rr: at least 3, the first 2 reflect; tor: split over 2 racks)', intArg('--hosts'), 3)
    .option('--workloads <n>', 'workloads per host', intArg('--workloads'), 2)
    .addOption(new Option('--topology <t>', 'BGP topology').choices(['mesh', 'rr', 'tor']).default('mesh'))
    .addOption(new Option('--encap <e>', 'encapsulation between hosts').choices(['none', 'ipip', 'vxlan']).default('none'))
    .addOption(new Option('--datastore <d>', 'datastore').choices(['embedded', 'etcd']).default('embedded'))
    .addOption(outputOption(['table', 'json'], 'table'))
    .action(async (opts: { name: string; hosts: number; workloads: number; topology: string; encap: string; datastore: string; output: string }) => {
      const r = await labUp({ name: opts.name, hosts: opts.hosts, workloadsPerHost: opts.workloads, topology: opts.topology as Topology, encap: opts.encap as Encap, datastore: opts.datastore as 'embedded' | 'etcd' });
      if (opts.output === 'json') {
        process.stdout.write(JSON.stringify({ ...labStatusJson(r.state), already: r.already, revived: r.revived, sessions: r.sessions, matrix: r.matrix.map((c) => ({ from: c.from, to: c.to, ok: c.result.ok })) }, null, 2) + '\n');
      } else {
        if (r.already) process.stdout.write(`lab "${opts.name}" is already up${r.revived.length ? ` (restarted what had stopped: ${r.revived.join(', ')})` : ''}\n\n`);
        process.stdout.write(formatLabState(r.state, { cells: r.matrix, endpoints: r.endpoints, sessions: r.sessions }) + '\n');
        process.stdout.write(`\nRun a shell on a host:  ip netns exec ${r.state.hosts[0]?.netns ?? '<netns>'} bash\nSessions of a host:     tabby status --config ${r.state.hosts[0]?.config ?? '<config>'}\nTear it down:           tabby lab down${opts.name === 'tabby' ? '' : ` --name ${opts.name}`}\n`);
      }
    });
  lab
    .command('down')
    .description('remove everything of the lab: processes, namespaces, state (idempotent)')
    .option('--name <name>', 'lab name', 'tabby')
    .action(async (opts: { name: string }) => {
      const r = await labDown(opts.name);
      process.stdout.write(r.removed.length ? `lab "${opts.name}" removed (${r.removed.length} namespaces)\n` : `lab "${opts.name}" is not up; nothing to remove\n`);
    });
  lab
    .command('status')
    .description('show the lab: hosts, workloads, and (table output) a fresh ping matrix')
    .option('--name <name>', 'lab name', 'tabby')
    .addOption(outputOption(['table', 'json'], 'table'))
    .action(async (opts: { name: string; output: string }) => {
      const s = readLabState(opts.name);
      if (!s) throw new UserError(`lab "${opts.name}" is not up (run: tabby lab up)`, 1);
      const missing = s.hosts.filter((h) => !listNetns().includes(h.netns));
      if (opts.output === 'json') {
        process.stdout.write(JSON.stringify({ ...labStatusJson(s), healthy: missing.length === 0 }, null, 2) + '\n');
        return;
      }
      const endpoints = s.workloads.map((w) => ({ name: w.name, netns: w.netns, ip: w.ip }));
      const cells = missing.length ? undefined : await probeMatrix(endpoints, { protocol: 'icmp' });
      const sessions = missing.length ? undefined : await labSessions(s);
      process.stdout.write(formatLabState(s, cells ? { cells, endpoints, ...(sessions ? { sessions } : {}) } : undefined) + '\n');
      if (missing.length) process.stdout.write(`\nwarning: host namespaces missing: ${missing.map((h) => h.netns).join(', ')} (run tabby lab down && tabby lab up)\n`);
    });
}
