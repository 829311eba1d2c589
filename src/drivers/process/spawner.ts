/**
 * Spawns task processes from a worker thread. Node's spawn blocks its thread until the child has
 * exec'd (libuv forks, then reads a pipe that closes on exec), which on a busy host costs 10-40 ms
 * a task; on the main thread an agent starting a thousand cron tasks at once would stall its API
 * calls, reports and every other task for that long each. The worker takes the wait instead.
 */
import { Worker } from 'node:worker_threads';

/** One process to start: `file` with `args`, its output to the given open descriptors. */
export interface SpawnRequest {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  uid?: number;
  gid?: number;
  /** Open file descriptors for stdout and stderr; the caller closes them once `spawn` settled. */
  stdout: number;
  stderr: number;
}

/** How a spawned process ended. */
export interface SpawnExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A process the spawner started. It runs in its own session (detached). */
export interface Spawned {
  pid: number;
  /** Its start time from /proc, read before it could exit and be reaped (0 without /proc). */
  startTime: number;
  exited: Promise<SpawnExit>;
  /** Keep the event loop alive until it exits (a waiter); `unref` undoes one `ref`. */
  ref(): void;
  unref(): void;
}

type Reply = { id: number; pid: number; startTime: number } | { id: number; error: string } | { exit: number; code: number | null; signal: NodeJS.Signals | null };

// Plain JavaScript, evaluated: the worker must not depend on the TypeScript loader of the agent.
// The start time is read right after spawn, before this thread's loop can reap the child.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
function startTime(pid) {
  try {
    const stat = readFileSync('/proc/' + pid + '/stat', 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) || 0;
  } catch {
    return 0;
  }
}
parentPort.on('message', (m) => {
  let child;
  try {
    const options = { cwd: m.cwd, env: m.env, detached: true, stdio: ['ignore', m.stdout, m.stderr] };
    if (m.uid !== undefined) options.uid = m.uid;
    if (m.gid !== undefined) options.gid = m.gid;
    child = spawn(m.file, m.args, options);
  } catch (error) {
    parentPort.postMessage({ id: m.id, error: error.message });
    return;
  }
  if (child.pid === undefined) {
    child.once('error', (error) => parentPort.postMessage({ id: m.id, error: error.message }));
    return;
  }
  const pid = child.pid;
  parentPort.postMessage({ id: m.id, pid, startTime: startTime(pid) });
  child.on('error', () => {});
  child.once('exit', (code, signal) => parentPort.postMessage({ exit: pid, code, signal }));
});
`;

/** Starts processes through one worker thread, created on first use. */
export class Spawner {
  #worker: Worker | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (s: Spawned) => void; reject: (e: Error) => void }>();
  readonly #exits = new Map<number, (exit: SpawnExit) => void>();
  /** Waiters across all processes: the worker keeps the event loop alive while there are any. */
  #refs = 0;

  /** Start a process; rejects with the reason it could not start. */
  spawn(request: SpawnRequest): Promise<Spawned> {
    const worker = this.#ensureWorker();
    const id = this.#nextId++;
    return new Promise<Spawned>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // Waiting for the answer keeps the loop alive, as a synchronous spawn would have.
      this.#ref(1);
      worker.postMessage({ id, ...request });
    });
  }

  /** Stop the worker; processes it started keep running. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    // No inherited flags: the agent's (--import tsx, --input-type) would only slow or break it.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    worker.unref();
    worker.on('message', (reply: Reply) => this.#onReply(reply));
    worker.on('error', (err) => this.#fail(err));
    worker.on('exit', () => this.#fail(new Error('the spawner thread exited')));
    this.#worker = worker;
    return worker;
  }

  #onReply(reply: Reply): void {
    if ('exit' in reply) {
      const resolve = this.#exits.get(reply.exit);
      this.#exits.delete(reply.exit);
      resolve?.({ code: reply.code, signal: reply.signal });
      return;
    }
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    this.#ref(-1);
    if ('error' in reply) return pending.reject(new Error(reply.error));
    // Registered now, before any later message (its exit) is handled.
    const exited = new Promise<SpawnExit>((resolve) => this.#exits.set(reply.pid, resolve));
    let refs = 0;
    pending.resolve({
      pid: reply.pid,
      startTime: reply.startTime,
      exited,
      ref: () => {
        refs++;
        this.#ref(1);
      },
      unref: () => {
        if (refs === 0) return;
        refs--;
        this.#ref(-1);
      },
    });
  }

  /** The worker died: what waits on it can no longer be answered. */
  #fail(err: Error): void {
    if (this.#worker === undefined && this.#pending.size === 0) return;
    this.#worker = undefined;
    for (const p of this.#pending.values()) p.reject(new Error(`Cannot spawn: ${err.message}`));
    this.#pending.clear();
    // Exits of its processes are no longer reported; the exit files still are (see wait()).
    for (const resolve of this.#exits.values()) resolve({ code: null, signal: null });
    this.#exits.clear();
    this.#refs = 0;
  }

  #ref(delta: number): void {
    const before = this.#refs;
    this.#refs = Math.max(0, this.#refs + delta);
    if (before === 0 && this.#refs > 0) this.#worker?.ref();
    else if (before > 0 && this.#refs === 0) this.#worker?.unref();
  }
}
