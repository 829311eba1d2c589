import { Command, CommanderError } from 'commander';
import { jobCommand } from './commands/job.ts';
import { allocCommand } from './commands/alloc.ts';
import { nodeCommand } from './commands/node.ts';
import { evalCommand } from './commands/eval.ts';
import { runCommands } from './commands/run.ts';
import { serviceCommand } from './commands/service.ts';
import { dnsCommand } from './commands/dns.ts';
import { EXIT_USAGE, reportError } from './errors.ts';

const program = new Command('berth')
  .description('berth: run containers and processes across many hosts.\nThe CLI talks to the server at BERTH_ADDR (default http://127.0.0.1:7460).')
  .version('0.1.0')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();

for (const cmd of [...runCommands(), jobCommand(), allocCommand(), nodeCommand(), evalCommand(), serviceCommand(), dnsCommand()]) program.addCommand(cmd);
// Subcommands inherit the exit override so misuse anywhere exits 2.
for (const cmd of program.commands) {
  cmd.exitOverride();
  for (const sub of cmd.commands) sub.exitOverride().showHelpAfterError('(add --help for usage)');
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here too, successfully.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    process.exitCode = reportError(err);
  }
}
