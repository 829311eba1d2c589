import { Command } from 'commander';
import { berthVersion, versionCommand } from './commands/version.ts';
import { completionCommand } from './commands/completion.ts';
import { allCommands, reportMisuseEverywhere } from './misuse.ts';
import { addClientTlsOptions, useClientTls } from './client-tls.ts';

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
  { names: ['compose'], load: async () => [(await import('./commands/compose.ts')).composeCommand()] },
  { names: ['deployment'], load: async () => [(await import('./commands/deployment.ts')).deploymentCommand()] },
  { names: ['logs'], load: async () => [(await import('./commands/logs.ts')).logsCommand()] },
  { names: ['alloc'], load: async () => [(await import('./commands/alloc.ts')).allocCommand()] },
  { names: ['node'], load: async () => [(await import('./commands/node.ts')).nodeCommand()] },
  { names: ['eval'], load: async () => [(await import('./commands/eval.ts')).evalCommand()] },
  { names: ['service'], load: async () => [(await import('./commands/service.ts')).serviceCommand()] },
  { names: ['ingress'], load: async () => [(await import('./commands/ingress.ts')).ingressCommand()] },
  { names: ['dns'], load: async () => [(await import('./commands/dns.ts')).dnsCommand()] },
  { names: ['kv'], load: async () => [(await import('./commands/kv.ts')).kvCommand()] },
  { names: ['event'], load: async () => [(await import('./commands/event.ts')).eventCommand()] },
  { names: ['lock'], load: async () => [(await import('./commands/lock.ts')).lockCommand()] },
  { names: ['acl'], load: async () => [(await import('./commands/acl.ts')).aclCommand()] },
  { names: ['tls'], load: async () => [(await import('./commands/tls.ts')).tlsCommand()] },
  { names: ['var'], load: async () => [(await import('./commands/var.ts')).varCommand()] },
  { names: ['operator'], load: async () => [(await import('./commands/var.ts')).operatorCommand()] },
  { names: ['system'], load: async () => [(await import('./commands/system.ts')).systemCommand()] },
];

/**
 * The modules `argv` needs: the one naming its command, none for `version`, or all (help,
 * `completion`, which describes the whole tree, an unknown or no command).
 */
function modulesFor(argv: string[]): CommandModule[] {
  // Top-level options take no value, so the first word that is not an option names the command.
  const word = argv.find((a) => !a.startsWith('-'));
  if (word === 'version') return [];
  const one = MODULES.find((m) => word !== undefined && m.names.includes(word));
  return one ? [one] : MODULES;
}

/**
 * The command tree for `argv` (the arguments after `berth`; default: everything), each command
 * reporting misuse with its usage line and taking --no-color.
 */
export async function buildProgram(argv?: string[]): Promise<Command> {
  const program = new Command('berth')
    .description('berth: run containers and processes across many hosts.\nThe CLI talks to the server at BERTH_ADDR (default http://127.0.0.1:7460);\nlist several, comma-separated, and it moves to the next when one does not answer.')
    .version(berthVersion())
    // Its own options only before a command, so that `job inspect --version N` is the command's.
    .enablePositionalOptions();
  const loaded = await Promise.all((argv === undefined ? MODULES : modulesFor(argv)).map((m) => m.load()));
  for (const cmd of [...loaded.flat(), versionCommand(), completionCommand(program)]) program.addCommand(cmd);
  addClientTlsOptions(program);
  program.hook('preAction', (_root, action) => useClientTls(action));
  reportMisuseEverywhere(program);
  for (const cmd of allCommands(program)) {
    cmd.option('--no-color', 'no colour in the output (also: NO_COLOR=1); there is colour only on a terminal');
    // Every command that talks to a server may be given its token; BERTH_TOKEN is what the client reads.
    cmd.option('--token <secret>', 'ACL token secret ID (also: BERTH_TOKEN)');
  }
  // A parent command takes its options anywhere after it (`node status --token X` sets node's), so
  // the token is looked for from the action up.
  program.hook('preAction', (_program, action) => {
    for (let cmd: Command | null = action; cmd; cmd = cmd.parent) {
      const token = (cmd.opts() as { token?: string }).token;
      if (token === undefined) continue;
      process.env.BERTH_TOKEN = token;
      break;
    }
  });
  return program;
}
