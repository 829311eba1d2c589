import type { Command } from 'commander';
import { isBerthError } from '../model/index.ts';
import { paint } from './colour.ts';
import { misuseText } from './misuse.ts';

/** Exit codes: 0 success, 1 failure, 2 misuse. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure the CLI reports in its own words, with the exit code to use. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = EXIT_FAILURE) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** A misuse found by a command itself (a count that is not a number): exit 2, with the usage line. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

function errorLine(message: string): string {
  return `${paint('red', 'Error:', process.stderr)} ${message}\n`;
}

/**
 * Print an error for people (stderr) and return the exit code it deserves. `command` is the one
 * that was running: a misuse shows its usage line.
 */
export function reportError(err: unknown, command?: Command): number {
  if (err instanceof CliError) {
    if (err.exitCode === EXIT_USAGE && command) process.stderr.write(misuseText(command, err.message));
    else process.stderr.write(errorLine(err.message));
    return err.exitCode;
  }
  if (isBerthError(err)) {
    process.stderr.write(errorLine(err.message));
    // The first problem is in the message already; list the rest.
    if (err.details.length > 1) for (const d of err.details) process.stderr.write(`  ${d.path ? `${d.path}: ` : ''}${d.message}\n`);
    return EXIT_FAILURE;
  }
  process.stderr.write(errorLine((err as Error)?.stack ?? String(err)));
  return EXIT_FAILURE;
}
