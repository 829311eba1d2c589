import { CommanderError, InvalidArgumentError, type Command } from 'commander';
import { EXIT_USAGE, UsageError, reportError } from './errors.ts';
import { disableColour } from './colour.ts';
import { buildProgram } from './program.ts';

/** The command whose action runs, for the usage line of a misuse it finds itself. */
let running: Command | undefined;
// Read before parsing, so that a misuse found while parsing is plain too.
const dash = process.argv.indexOf('--');
if (process.argv.slice(0, dash < 0 ? undefined : dash).includes('--no-color')) disableColour();

// A reader that goes away (`berth compose logs -f | head`) is the end of the output, not an error:
// stop quietly, with no unhandled 'error' event and stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

try {
  const program = await buildProgram(process.argv.slice(2));
  program.hook('preAction', (_root, action) => {
    running = action;
  });
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
