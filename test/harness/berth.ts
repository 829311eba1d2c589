import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, freePorts } from '../../src/testing/index.ts';
import { killTasksUnder } from './observe.ts';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/berth.js');

/** What a CLI run printed and how it exited. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the real `berth` CLI as a user would, against `addr`. */
export function berth(args: string[], options: { addr?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...process.env, ...options.env, ...(options.addr ? { BERTH_ADDR: options.addr } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`berth ${args.join(' ')} did not finish in ${options.timeoutMs ?? 60_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

export { freePort, freePorts };

/** A running `berth dev` process. */
export interface DevProcess {
  addr: string;
  dataDir: string;
  child: ChildProcess;
  /** Everything it logged so far. */
  logs(): string;
  /** SIGTERM and wait for a clean exit (tasks keep running). */
  stop(): Promise<number | null>;
  /** Stop it and remove its data dir. */
  cleanup(): Promise<void>;
}

/** Start `berth dev` in a temp data dir (or the one given) and wait until its node is ready. */
export async function startDev(options: { driver: 'docker' | 'process'; dockerHost?: string; dataDir?: string; port?: number; args?: string[]; env?: NodeJS.ProcessEnv }): Promise<DevProcess> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'berth-dev-')));
  const port = options.port ?? (await freePort());
  const addr = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_LOG_FORMAT: 'json', BERTH_LOG_LEVEL: 'info', ...options.env };
  if (options.dockerHost) env.DOCKER_HOST = options.dockerHost;
  const child = spawn(process.execPath, [bin, 'dev', '--data-dir', dataDir, '--http-addr', `127.0.0.1:${port}`, '--driver', options.driver, ...(options.args ?? [])], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d));
  child.stderr!.on('data', (d: Buffer) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const dev: DevProcess = {
    addr,
    dataDir,
    child,
    logs: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    cleanup: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      if (!options.dataDir) {
        killTasksUnder(dataDir);
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`berth dev exited with ${child.exitCode}:\n${output}`);
    try {
      // With ACLs on there is no token yet to ask with: dev says when its node registered.
      if (options.args?.includes('--acl')) {
        if (output.includes('berth dev is running')) return dev;
      } else {
        const res = await fetch(`${addr}/v1/nodes`);
        const nodes = (await res.json()) as { status: string }[];
        if (nodes.some((n) => n.status === 'ready')) return dev;
      }
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await dev.cleanup();
      throw new Error(`berth dev did not get a ready node within 30 s:\n${output}`);
    }
    await sleep(100);
  }
}

/** Poll `fn` until it returns a truthy value, or fail after `timeoutMs` with `what`. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
    await sleep(100);
  }
}
