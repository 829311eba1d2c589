import { Command, CommanderError } from 'commander';
import { EXIT_USAGE, reportError } from './errors.ts';
import { berthVersion, versionCommand } from './commands/version.ts';

/** A module of top-level commands, imported only when one of them runs. */
interface CommandModule {
  names: string[];
  load: () => Promise<Command[]>;
}

// Importing every command module costs each command the start-up of all (fastify, the agent's
// drivers, typebox...): `berth job status` should load what `job` needs and no more. The order
// here is the order of `berth --help`.
const MODULES: CommandModule[] = [
  { names: ['dev', 'server', 'agent'], load: async () => (await import('./commands/daemons.ts')).daemonCommands() },
  { names: ['job'], load: async () => [(await import('./commands/job.ts')).jobCommand()] },
  { names: ['deployment'], load: async () => [(await import('./commands/deployment.ts')).deploymentCommand()] },
  { names: ['alloc'], load: async () => [(await import('./commands/alloc.ts')).allocCommand()] },
  { names: ['node'], load: async () => [(await import('./commands/node.ts')).nodeCommand()] },
  { names: ['eval'], load: async () => [(await import('./commands/eval.ts')).evalCommand()] },
  { names: ['service'], load: async () => [(await import('./commands/service.ts')).serviceCommand()] },
  { names: ['dns'], load: async () => [(await import('./commands/dns.ts')).dnsCommand()] },
  { names: ['kv'], load: async () => [(await import('./commands/kv.ts')).kvCommand()] },
  { names: ['event'], load: async () => [(await import('./commands/event.ts')).eventCommand()] },
  { names: ['lock'], load: async () => [(await import('./commands/lock.ts')).lockCommand()] },
];

/** The modules `argv` needs: the one naming its command, or all (help, an unknown or no command). */
function modulesFor(argv: string[]): CommandModule[] {
  // Top-level options take no value, so the first word that is not an option names the command.
  const word = argv.find((a) => !a.startsWith('-'));
  if (word === 'version') return [];
  const one = MODULES.find((m) => word !== undefined && m.names.includes(word));
  return one ? [one] : MODULES;
}

const program = new Command('berth')
  .description('berth: run containers and processes across many hosts.\nThe CLI talks to the server at BERTH_ADDR (default http://127.0.0.1:7460);\nlist several, comma-separated, and it moves to the next when one does not answer.')
  .version(berthVersion())
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();

try {
  const loaded = await Promise.all(modulesFor(process.argv.slice(2)).map((m) => m.load()));
  for (const cmd of [...loaded.flat(), versionCommand()]) program.addCommand(cmd);
  // Subcommands inherit the exit override so misuse anywhere exits 2.
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride().showHelpAfterError('(add --help for usage)');
  }
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here too, successfully.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    process.exitCode = reportError(err);
  }
}
