import { Command } from 'commander';
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
import { allCommands, reportMisuseEverywhere } from './usage.ts';

/** The whole command tree, every command reporting misuse with its usage line and taking --no-color. */
export function buildProgram(): Command {
  const program = new Command('berth')
    .description('berth: run containers and processes across many hosts.\nThe CLI talks to the server at BERTH_ADDR (default http://127.0.0.1:7460);\nlist several, comma-separated, and it moves to the next when one does not answer.')
    .version('0.1.0')
    // Its own options only before a command, so that `job inspect --version N` is the command's.
    .enablePositionalOptions();
  for (const cmd of [...runCommands(), jobCommand(), deploymentCommand(), allocCommand(), nodeCommand(), evalCommand(), serviceCommand(), dnsCommand(), kvCommand(), eventCommand(), lockCommand()]) program.addCommand(cmd);
  program.addCommand(completionCommand(program));
  reportMisuseEverywhere(program);
  for (const cmd of allCommands(program)) cmd.option('--no-color', 'no colour in the output (also: NO_COLOR=1); there is colour only on a terminal');
  return program;
}
