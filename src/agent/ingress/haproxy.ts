import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../../lib/index.ts';
import type { IngressDataPath } from './data-path.ts';
import { haproxyConfig, type IngressTimeouts, type Slots } from './haproxy-config.ts';
import { runtimeCommand, workerPid } from './haproxy-runtime.ts';
import { assignSlots, describeSlots } from './haproxy-slots.ts';
import { sameRoutes, type IngressPlan, type ListenAddress } from './ingress-plan.ts';

const run = promisify(execFile);
/** How long a (re)started worker has to answer on the runtime API. */
const READY_MS = 10_000;

/** Options of the HAProxy data path. */
export interface HaproxyIngressOptions {
  addresses: ListenAddress[];
  /** Where the configuration, sockets and pid file go (the agent's data dir, `ingress-haproxy/`). */
  dir: string;
  logger: Logger;
  /** The haproxy program. Default `haproxy` on PATH. */
  binary?: string;
  /** Worker threads (`nbthread`). Default HAProxy's: one per CPU. */
  threads?: number;
  /** Request and idle timeouts. Default 60 s each. */
  timeouts?: IngressTimeouts;
}

/**
 * HAProxy as the ingress's data path, driven by berth: one master-worker process (`-W`) per
 * agent, instances moved in and out of server slots through the runtime API (no reload, no
 * dropped connection), and a seamless reload (SIGUSR2 to the master, listening sockets passed
 * to the new worker through the stats socket's `expose-fd listeners`) only when the routes change
 * or a backend needs more slots. The old worker finishes its connections.
 */
export class HaproxyIngress implements IngressDataPath {
  readonly name = 'haproxy';
  readonly #o: HaproxyIngressOptions;
  readonly #config: string;
  readonly #admin: string;
  readonly #pidFile: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #output = '';
  #plan: IngressPlan = { http: [], tcp: [], endpoints: new Map() };
  #slots = new Map<string, Slots>();
  #tail: Promise<void> = Promise.resolve();

  constructor(options: HaproxyIngressOptions) {
    this.#o = options;
    this.#config = path.join(options.dir, 'haproxy.cfg');
    this.#admin = path.join(options.dir, 'admin.sock');
    this.#pidFile = path.join(options.dir, 'haproxy.pid');
  }

  async start(): Promise<void> {
    await fs.mkdir(this.#o.dir, { recursive: true, mode: 0o700 });
    await this.#stopStale();
    await this.#write();
    const binary = this.#o.binary ?? 'haproxy';
    const child = spawn(binary, ['-W', '-f', this.#config, '-p', this.#pidFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    const keep = (b: Buffer): void => {
      this.#output = (this.#output + b.toString()).slice(-4000);
      this.#o.logger.debug({ haproxy: b.toString().trim() }, 'ingress: haproxy');
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let spawnError: Error | undefined;
    this.#exited = new Promise((resolve) => {
      child.once('error', (err) => ((spawnError = err), resolve()));
      child.once('exit', () => resolve());
    });
    await this.#waitForWorker(undefined, () => spawnError ?? (child.exitCode !== null ? new Error(`haproxy exited (${child.exitCode}): ${this.#output.trim()}`) : undefined));
  }

  /** Applied one at a time, in order. */
  apply(plan: IngressPlan): Promise<void> {
    this.#tail = this.#tail.catch(() => undefined).then(() => this.#apply(plan));
    return this.#tail;
  }

  async #apply(plan: IngressPlan): Promise<void> {
    const child = this.#child;
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      // Killed or crashed under the agent: a new one, with everything in its file.
      this.#o.logger.warn({ exitCode: child.exitCode, signal: child.signalCode, output: this.#output.trim() }, 'ingress: haproxy exited; starting it again');
      this.#plan = plan;
      this.#slots = assignSlots(new Map(), plan).slots;
      return this.start();
    }
    const change = assignSlots(this.#slots, plan);
    const reload = change.reload || !sameRoutes(this.#plan, plan);
    const previous = { plan: this.#plan, slots: this.#slots };
    this.#plan = plan;
    this.#slots = change.slots;
    try {
      if (!reload) {
        if (change.commands.length > 0) await runtimeCommand(this.#admin, change.commands);
        return;
      }
      await this.#write();
      const before = await workerPid(this.#admin);
      this.#child?.kill('SIGUSR2');
      await this.#waitForWorker(before, () => undefined);
      this.#o.logger.info({ slots: describeSlots(this.#slots) }, 'ingress: haproxy reloaded with new routes');
    } catch (err) {
      // The file is refused, the worker did not come up or did not take the commands: the running
      // one goes on as it was, and the next apply works from what it had.
      this.#plan = previous.plan;
      this.#slots = previous.slots;
      throw err;
    }
  }

  /** Write the configuration for the current plan and slots, and have haproxy check it. */
  async #write(): Promise<void> {
    const text = haproxyConfig({ addresses: this.#o.addresses, plan: this.#plan, slots: this.#slots, adminSocket: this.#admin, threads: this.#o.threads, timeouts: this.#o.timeouts });
    const next = `${this.#config}.next`;
    await fs.writeFile(next, text, { mode: 0o600 });
    await run(this.#o.binary ?? 'haproxy', ['-c', '-q', '-f', next]).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`haproxy refused the ingress configuration: ${(err.stderr ?? err.message).trim()}`);
    });
    await fs.rename(next, this.#config);
  }

  /** Wait until a worker other than `before` answers on the runtime API. */
  async #waitForWorker(before: number | undefined, failed: () => Error | undefined): Promise<void> {
    const deadline = Date.now() + READY_MS;
    while (Date.now() < deadline) {
      const error = failed();
      if (error) throw new Error(`cannot start haproxy: ${error.message}`);
      const pid = await workerPid(this.#admin);
      if (pid !== undefined && pid !== before) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`haproxy's worker did not answer on ${this.#admin} within ${READY_MS} ms: ${this.#output.trim()}`);
  }

  /** A master left by an agent that was killed still holds the ports: stop it (it is ours: our pid file, our config). */
  async #stopStale(): Promise<void> {
    const pid = Number((await fs.readFile(this.#pidFile, 'utf8').catch(() => '')).trim());
    if (!pid) return;
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes(this.#config)) return;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && (await fs.stat(`/proc/${pid}`).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 50));
  }

  /** The current worker's pid (for its CPU figures); undefined when it does not answer. */
  workerPid(): Promise<number | undefined> {
    return workerPid(this.#admin);
  }

  async close(): Promise<void> {
    if (!this.#child || this.#child.exitCode !== null) return;
    this.#child.kill('SIGTERM');
    await this.#exited;
    await fs.rm(this.#pidFile, { force: true });
  }
}
