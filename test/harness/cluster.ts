import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './berth.ts';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/berth.js');

/** A `berth server` or `berth agent` child process. */
export interface BerthProcess {
  child: ChildProcess;
  /** Everything it logged so far. */
  logs(): string;
  /** SIGTERM, and wait for it to exit. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash or the OOM killer would: no clean-up runs. */
  kill9(): Promise<void>;
}

/** Run the berth CLI with `args`, inside network namespace `netns` when one is given. */
export function launch(args: string[], env: NodeJS.ProcessEnv = {}, netns?: string): BerthProcess {
  const argv = [process.execPath, bin, ...args];
  const [command, ...commandArgs] = netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv;
  const child = spawn(command, commandArgs, {
    cwd: root,
    env: { ...process.env, BERTH_LOG_FORMAT: 'json', BERTH_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output = (output + d).slice(-200_000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d).slice(-200_000)));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return { child, logs: () => output, stop: () => end('SIGTERM'), kill9: () => end('SIGKILL') };
}

/**
 * A `berth server` on a free port (or the one given) of `host` (default 127.0.0.1) with its state
 * in `dataDir`, and extra `flags` (`--heartbeat-ttl 1s`).
 */
export async function startServer(dataDir: string, port?: number, host = '127.0.0.1', flags: string[] = []): Promise<BerthProcess & { addr: string; port: number }> {
  const p = port ?? (await freePort());
  const proc = launch(['server', '--data-dir', dataDir, '--http-addr', `${host}:${p}`, ...flags]);
  const addr = `http://${host}:${p}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`berth server exited with ${proc.child.exitCode}:\n${proc.logs()}`);
    try {
      if ((await fetch(`${addr}/v1/nodes`)).ok) return { ...proc, addr, port: p };
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await proc.kill9();
      throw new Error(`berth server did not answer within 30 s:\n${proc.logs()}`);
    }
    await sleep(100);
  }
}

/** Options of `startAgent`. */
export interface AgentProcessOptions {
  servers: string[];
  dataDir: string;
  nodeName: string;
  driver: 'docker' | 'process';
  dockerHost?: string;
  /** Run it under `ip netns exec NAME` (its own network namespace). */
  netns?: string;
  /** More flags (`--task-dns 10.0.0.53`). */
  args?: string[];
  /** More environment (NODE_OPTIONS). */
  env?: NodeJS.ProcessEnv;
}

/** A `berth agent`; resolves once it has logged "agent started". */
export async function startAgent(o: AgentProcessOptions): Promise<BerthProcess> {
  const args = ['agent', '--data-dir', o.dataDir, '--node-name', o.nodeName, '--driver', o.driver];
  for (const s of o.servers) args.push('--server', s);
  if (o.dockerHost) args.push('--docker-host', o.dockerHost);
  args.push(...(o.args ?? []));
  const proc = launch(args, o.env ?? {}, o.netns);
  const deadline = Date.now() + 30_000;
  while (!proc.logs().includes('agent started')) {
    if (proc.child.exitCode !== null) throw new Error(`berth agent exited with ${proc.child.exitCode}:\n${proc.logs()}`);
    if (Date.now() > deadline) {
      await proc.kill9();
      throw new Error(`berth agent did not start within 30 s:\n${proc.logs()}`);
    }
    await sleep(100);
  }
  return proc;
}
