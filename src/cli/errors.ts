import { isBerthError } from '../model/index.ts';

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

/** Print an error for people (stderr) and return the exit code it deserves. */
export function reportError(err: unknown): number {
  if (err instanceof CliError) {
    process.stderr.write(`Error: ${err.message}\n`);
    return err.exitCode;
  }
  if (isBerthError(err)) {
    process.stderr.write(`Error: ${err.message}\n`);
    // The first problem is in the message already; list the rest.
    if (err.details.length > 1) for (const d of err.details) process.stderr.write(`  ${d.path ? `${d.path}: ` : ''}${d.message}\n`);
    return EXIT_FAILURE;
  }
  process.stderr.write(`Error: ${(err as Error)?.stack ?? String(err)}\n`);
  return EXIT_FAILURE;
}
