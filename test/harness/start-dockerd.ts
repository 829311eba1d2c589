/**
 * Starts the test Docker engine (see `startDockerd`), prints one JSON line `{"host","image"}` on
 * stdout once it is ready, and keeps it running until SIGTERM or SIGINT, then stops it and exits.
 * For scripts and people: `node --import tsx test/harness/start-dockerd.ts`.
 * Exit status: 0 after a clean stop, 1 when the engine could not start (the reason on stderr).
 */
import { startDockerd } from './dockerd.ts';

async function main(): Promise<void> {
  const env = await startDockerd();
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    env.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Cannot stop the test dockerd cleanly: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`${JSON.stringify({ host: env.host, image: env.image })}\n`);
  // Keeps the process alive until a signal arrives.
  setInterval(() => {}, 1 << 30);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
