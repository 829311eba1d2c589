/**
 * Misuse never ends silently: every exit 2 says what was wrong, then the command's usage line and
 * where to read more, as docker does (`"docker run" requires at least 1 argument. ... Usage: ...`).
 */
import type { Command, CommanderError } from 'commander';
import { paint } from './colour.ts';

/** `berth job scale`, the words that reach a command. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** `Usage: berth job scale [options] <id> <group-or-count> [count]`. */
export function usageLine(cmd: Command): string {
  return `Usage: ${commandPath(cmd)} ${cmd.usage()}`;
}

/** The misuse report: the problem, the usage line, the help command. */
export function misuseText(cmd: Command, problem: string): string {
  const text = problem.trim().replace(/^error: /, '');
  return `${paint('red', 'Error:', process.stderr)} ${text}\n${usageLine(cmd)}\nSee '${commandPath(cmd)} --help'.\n`;
}

/** Every command under `root`, `root` included. */
export function allCommands(root: Command): Command[] {
  return [root, ...root.commands.flatMap((c) => allCommands(c))];
}

/**
 * Make every command of the tree report its misuse through `misuseText` and throw instead of
 * exiting, so that main decides the exit code. A command that needs a subcommand and got none shows
 * its help, then says so.
 */
export function reportMisuseEverywhere(root: Command): void {
  for (const cmd of allCommands(root)) {
    cmd.showHelpAfterError(false);
    cmd.configureOutput({ outputError: (str, write) => write(misuseText(cmd, str)) });
    cmd.exitOverride((err: CommanderError) => {
      if (err.code === 'commander.help') {
        const names = cmd.commands.map((c) => c.name()).filter((n) => n !== 'help');
        process.stderr.write(`\n${misuseText(cmd, `'${commandPath(cmd)}' needs a command: one of ${names.join(', ')}`)}`);
      }
      throw err;
    });
  }
}
