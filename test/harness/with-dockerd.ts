/**
 * Runs a command against the test Docker engine: starts it (see `startDockerd`), runs the command
 * with `BERTH_TEST_DOCKER_HOST` and `BERTH_TEST_IMAGE` set, stops the engine, exits with the
 * command's status.
 *   node --import tsx test/harness/with-dockerd.ts node --import tsx --test src/drivers/docker/docker-driver.test.ts
 * Exit status: the command's; 1 when the engine could not start; 2 without a command.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { startDockerd } from './dockerd.ts';

async function main(): Promise<number> {
  const [command, ...args] = process.argv.slice(2);
  if (!command) {
    process.stderr.write('Usage: with-dockerd.ts <command> [args...]\n');
    return 2;
  }
  const env = await startDockerd();
  try {
    const child = spawn(command, args, {
      stdio: 'inherit',
      env: { ...process.env, BERTH_TEST_DOCKER_HOST: env.host, BERTH_TEST_IMAGE: env.image },
    });
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    return await new Promise<number>((resolve) => {
      child.once('error', (error) => {
        process.stderr.write(`Cannot run "${command}": ${error.message}\n`);
        resolve(1);
      });
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
  } finally {
    await env.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  },
);
