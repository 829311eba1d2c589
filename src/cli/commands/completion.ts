import { Argument, Command } from 'commander';
import { SHELLS, completionEntries, completionScript, type Shell } from '../completion.ts';

/** `berth completion bash|zsh|fish`: print the completion script for a shell. */
export function completionCommand(program: Command): Command {
  return new Command('completion')
    .description('Print a shell completion script: source <(berth completion bash), source <(berth completion zsh), berth completion fish | source')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .action((shell: Shell) => {
      // Generated when asked for, so that it covers every command this berth has.
      process.stdout.write(completionScript(shell, completionEntries(program)));
    });
}
