/**
 * The `tabby` command. One program, two faces: when CNI_COMMAND is set it is
 * the CNI plugin (stdin/stdout per the CNI spec); otherwise the CLI below.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';
// commander and the config machinery load only on the CLI path: the CNI path
// (a process per pod) must not pay for them.

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

let verbose = process.argv.includes('-v') || process.argv.includes('--verbose');

function fail(err: unknown): never {
  if (err instanceof Error && err.name === 'CommanderError') {
    const exitCode = (err as Error & { exitCode: number }).exitCode;
    // commander already printed its message; usage errors exit 2.
    process.exit(exitCode === 0 ? 0 : 2);
  }
  if (err instanceof UserError) {
    process.stderr.write(`tabby: ${err.message}\n`);
    if (err.name === 'ConfigError' && err.details.length) {
      for (const d of err.details) process.stderr.write(`tabby: ${d}\n`);
    } else if (verbose) {
      for (const d of err.details) process.stderr.write(`  ${d}\n`);
    }
    process.exit(err.exitCode);
  }
  const e = err as Error;
  process.stderr.write(`tabby: internal error: ${e?.message ?? String(err)}\n`);
  if (verbose && e?.stack) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  // `tabby routes | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  if (process.env.CNI_COMMAND) {
    // Only the CNI code is loaded on this path: runtimes call it per pod.
    const { runCniStub } = await import('./cni-entry.js');
    process.exitCode = await runCniStub();
    return;
  }
  const { Command, Option } = await import('commander');
  const program = new Command('tabby')
    .description('tabby: a pure-L3 container networking daemon (BGP, iptables/ipsets, CNI, IPAM)')
    .version(`tabby ${packageVersion()}`, '-V, --version', 'print the version')
    .addOption(new Option('-v, --verbose', 'more detail on errors'))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `tabby: ${s.slice(7)}` : s),
    });
  program.hook('preAction', (cmd) => {
    verbose = verbose || cmd.optsWithGlobals().verbose === true;
  });
  const { registerCommands } = await import('./commands.js');
  registerCommands(program);
  await program.parseAsync(process.argv);
}

main().catch(fail);
