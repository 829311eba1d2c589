/**
 * `berth lock PREFIX -- CMD`: hold a lock through a session (as `consul lock`), run CMD while
 * holding it, stop CMD if the lock is lost, release it when CMD ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { Command } from 'commander';
import { CliError } from '../errors.ts';
import { call, kvPath } from './consul-http.ts';

interface LockOptions {
  name?: string;
  ttl: string;
  lockDelay: string;
  verbose?: boolean;
}

function say(opts: LockOptions, line: string): void {
  if (opts.verbose) process.stderr.write(`berth lock: ${line}\n`);
}

/** Wait for the key's lock to be free, then acquire it; returns false when `stop` was asked. */
async function acquire(key: string, session: string, holder: string, stopped: () => boolean): Promise<boolean> {
  let index = 0;
  while (!stopped()) {
    const ok = await call('PUT', `${kvPath(key)}?acquire=${session}`, { body: holder });
    if (ok.text.trim() === 'true') return true;
    // Held (or in lock-delay): wait for the key to change, at most a second for lock-delay to pass.
    const res = await call('GET', `${kvPath(key)}?index=${index}&wait=1s`, { timeoutMs: 10_000 });
    index = res.index;
  }
  return false;
}

/** `berth lock`. */
export function lockCommand(): Command {
  return new Command('lock')
    .description('Run a command while holding a lock under PREFIX (leader election, as `consul lock`)')
    .argument('<prefix>', 'key prefix of the lock; the lock key is PREFIX/.lock')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('--name <name>', 'session name', 'berth lock')
    .option('--ttl <duration>', 'session TTL, renewed at half of it', '15s')
    .option('--lock-delay <duration>', 'how long a lost lock stays unacquirable', '15s')
    .option('--verbose', 'say what happens on stderr')
    .action(async (prefix: string, command: string[], opts: LockOptions) => {
      const key = `${prefix.replace(/\/+$/, '')}/.lock`;
      const created = await call('PUT', '/v1/session/create', { body: JSON.stringify({ Name: opts.name, TTL: opts.ttl, LockDelay: opts.lockDelay, Behavior: 'release' }) });
      const session = (JSON.parse(created.text) as { ID: string }).ID;
      let stop = false;
      let child: ChildProcess | undefined;
      const ttlMs = Number(/^(\d+)s$/.exec(opts.ttl)?.[1] ?? 15) * 1000;
      const renew = setInterval(() => {
        void call('PUT', `/v1/session/renew/${session}`).then(
          (r) => {
            if (r.status === 404) lost('the session ended');
          },
          () => {},
        );
      }, ttlMs / 2);
      const lost = (why: string): void => {
        say(opts, `lock lost: ${why}`);
        stop = true;
        child?.kill('SIGTERM');
      };
      const onSignal = (): void => {
        stop = true;
        if (child) child.kill('SIGTERM');
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        if (!(await acquire(key, session, `${os.hostname()}:${process.pid}`, () => stop))) return;
        say(opts, `lock acquired on ${key}`);
        child = spawn(command[0], command.slice(1), { stdio: 'inherit' });
        const code = await new Promise<number>((resolve) => {
          child!.on('exit', (c, signal) => resolve(c ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
          child!.on('error', (err) => {
            process.stderr.write(`Cannot run ${command[0]}: ${err.message}\n`);
            resolve(127);
          });
        });
        process.exitCode = code;
      } finally {
        clearInterval(renew);
        await call('PUT', `${kvPath(key)}?release=${session}`, { body: '' }).catch(() => undefined);
        await call('PUT', `/v1/session/destroy/${session}`).catch(() => undefined);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      if (!command.length) throw new CliError('Cannot lock: give a command after --');
    });
}
