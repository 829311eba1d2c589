import { Command, CommanderError } from 'commander';
import { jobCommand } from './commands/job.ts';
import { deploymentCommand } from './commands/deployment.ts';
import { allocCommand } from './commands/alloc.ts';
import { nodeCommand } from './commands/node.ts';
import { evalCommand } from './commands/eval.ts';
import { runCommands } from './commands/run.ts';
import { serviceCommand } from './commands/service.ts';
import { dnsCommand } from './commands/dns.ts';
import { kvCommand } from './commands/kv.ts';
import { eventCommand } from './commands/event.ts';
import { lockCommand } from './commands/lock.ts';
import { EXIT_USAGE, reportError } from './errors.ts';

const program = new Command('berth')
  .description('berth: run containers and processes across many hosts.\nThe CLI talks to the server at BERTH_ADDR (default http://127.0.0.1:7460);\nlist several, comma-separated, and it moves to the next when one does not answer.')
  .version('0.1.0')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();

for (const cmd of [...runCommands(), jobCommand(), deploymentCommand(), allocCommand(), nodeCommand(), evalCommand(), serviceCommand(), dnsCommand(), kvCommand(), eventCommand(), lockCommand()]) program.addCommand(cmd);
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
