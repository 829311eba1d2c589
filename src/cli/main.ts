import { Command, CommanderError, InvalidArgumentError } from 'commander';
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
import { completionCommand } from './commands/completion.ts';
import { EXIT_USAGE, UsageError, reportError } from './errors.ts';
import { disableColour } from './colour.ts';
import { allCommands, reportMisuseEverywhere } from './usage.ts';

const program = new Command('berth')
  .description('berth: run containers and processes across many hosts.\nThe CLI talks to the server at BERTH_ADDR (default http://127.0.0.1:7460);\nlist several, comma-separated, and it moves to the next when one does not answer.')
  .version('0.1.0')
  // Its own options only before a command, so that `job inspect --version N` is the command's.
  .enablePositionalOptions();

for (const cmd of [...runCommands(), jobCommand(), deploymentCommand(), allocCommand(), nodeCommand(), evalCommand(), serviceCommand(), dnsCommand(), kvCommand(), eventCommand(), lockCommand()]) program.addCommand(cmd);
program.addCommand(completionCommand(program));
reportMisuseEverywhere(program);
for (const cmd of allCommands(program)) cmd.option('--no-color', 'no colour in the output (also: NO_COLOR=1); there is colour only on a terminal');

/** The command whose action runs, for the usage line of a misuse it finds itself. */
let running: Command | undefined;
program.hook('preAction', (_root, action) => {
  running = action;
});
// Read before parsing, so that a misuse found while parsing is plain too.
const dash = process.argv.indexOf('--');
if (process.argv.slice(0, dash < 0 ? undefined : dash).includes('--no-color')) disableColour();

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof InvalidArgumentError) {
    // Thrown by an action's own check, so commander has not printed it.
    process.exitCode = reportError(new UsageError(err.message), running);
  } else if (err instanceof CommanderError) {
    // --help and --version end here too, successfully; commander printed the misuse already.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    process.exitCode = reportError(err, running);
  }
}
