import fs from 'node:fs/promises';
import type { DriverName, RestartPolicy, TaskEvent, TaskState } from '../model/index.ts';
import type { TaskDriver, TaskHandle, TaskStartRequest } from '../drivers/index.ts';
import type { Clock } from '../lib/index.ts';
import type { Logger } from '../lib/index.ts';
import { RestartTracker } from './restart-tracker.ts';

/** Events kept per task; older ones are dropped. */
const MAX_EVENTS = 20;

/** What a task runner is given. */
export interface TaskRunnerOptions {
  driver: TaskDriver;
  request: TaskStartRequest;
  restart: RestartPolicy;
  /** Batch tasks that exit 0 are done; service tasks are restarted whatever their exit. */
  batch: boolean;
  killTimeoutMs: number;
  clock: Clock;
  logger: Logger;
  /** State before this runner (after an agent restart). */
  initialState?: TaskState;
  /** Called on every state change. */
  onChange: () => void;
  /** Called when the handle changes, to persist it; undefined once the task is gone. */
  onHandle: (handle: TaskHandle | undefined) => Promise<void>;
}

/**
 * Runs one task through its driver: start, wait, apply the restart policy, stop on request.
 * The loop is the only writer of `state`.
 */
export class TaskRunner {
  readonly #o: TaskRunnerOptions;
  readonly #tracker: RestartTracker;
  readonly #stopping = new AbortController();
  #handle: TaskHandle | undefined;
  #done: Promise<void> | undefined;
  state: TaskState;

  constructor(options: TaskRunnerOptions) {
    this.#o = options;
    this.#tracker = new RestartTracker(options.restart);
    this.state = options.initialState ?? { state: 'pending', failed: false, restarts: 0, events: [] };
    this.state.driver = options.driver.name as DriverName;
  }

  get handle(): TaskHandle | undefined {
    return this.#handle;
  }

  /** Start the loop; with a recovered handle it first reattaches to the running task. */
  run(recovered?: TaskHandle): Promise<void> {
    this.#done ??= this.#loop(recovered).catch((err: unknown) => {
      this.#o.logger.error({ err, task: this.#o.request.taskName }, 'task runner failed');
      this.#finish(true, `task runner failed: ${(err as Error).message}`);
    });
    return this.#done;
  }

  /** Stop the task (SIGTERM, then kill after the timeout) and wait for the loop to end. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    if (this.#handle) await this.#o.driver.stop(this.#handle, this.#o.killTimeoutMs).catch((err: unknown) => this.#warn('stop failed', err));
    await this.#done;
  }

  /** Remove what the task left behind (the container). */
  async destroy(): Promise<void> {
    if (this.#handle) await this.#o.driver.destroy(this.#handle).catch((err: unknown) => this.#warn('destroy failed', err));
    this.#handle = undefined;
  }

  async #loop(recovered?: TaskHandle): Promise<void> {
    const { driver, clock } = this.#o;
    const signal = this.#stopping.signal;
    let handle = recovered;
    if (handle) this.#event('Reattached', `reattached to ${handle.id}`);
    for (;;) {
      if (!handle) {
        if (signal.aborted) return this.#finish(false, 'stopped before it started');
        try {
          await fs.mkdir(this.#o.request.taskDir, { recursive: true });
          handle = await driver.start(this.#o.request);
        } catch (err) {
          this.#event('Driver Failure', (err as Error).message);
          if (!(await this.#afterExit(undefined))) return;
          continue;
        }
        this.#handle = handle;
        await this.#o.onHandle(handle);
        if (signal.aborted) {
          // A stop raced with the start: stop() found no handle, so stop it here.
          await driver.stop(handle, this.#o.killTimeoutMs).catch((err: unknown) => this.#warn('stop failed', err));
        }
        this.#set({ state: 'running', startedAt: clock.now(), finishedAt: undefined, exitCode: undefined });
        this.#event('Started', `${driver.name} ${handle.id.slice(0, 12)}`);
      } else {
        this.#handle = handle;
        this.#set({ state: 'running' });
      }
      const exit = await driver.wait(handle);
      this.#set({ exitCode: exit.exitCode, finishedAt: clock.now() });
      const how = exit.error ?? `exit code ${exit.exitCode}${exit.signal ? `, signal ${exit.signal}` : ''}${exit.oomKilled ? ', out of memory' : ''}`;
      if (signal.aborted) {
        this.#event('Killed', `stopped by berth (${how})`);
        return this.#finish(false);
      }
      this.#event('Terminated', how);
      // The next attempt is a new container or process; the old one goes now.
      await driver.destroy(handle).catch((err: unknown) => this.#warn('destroy failed', err));
      handle = undefined;
      this.#handle = undefined;
      await this.#o.onHandle(undefined);
      if (!(await this.#afterExit(exit.exitCode))) return;
    }
  }

  /** Apply the restart policy; false when the task is finished. */
  async #afterExit(exitCode: number | undefined): Promise<boolean> {
    const decision = this.#tracker.next(this.#o.clock.now(), exitCode, this.#o.batch);
    if (!decision.restart) {
      const failed = !(this.#o.batch && exitCode === 0);
      this.#finish(failed, decision.reason);
      return false;
    }
    this.#set({ state: 'pending' });
    this.#event('Restarting', `${decision.reason}; in ${Math.round(decision.delayMs / 100) / 10}s`);
    try {
      await this.#o.clock.sleep(decision.delayMs, this.#stopping.signal);
    } catch {
      this.#finish(false, 'stopped while waiting to restart');
      return false;
    }
    this.#set({ restarts: this.state.restarts + 1 });
    return true;
  }

  #finish(failed: boolean, reason?: string): void {
    if (reason) this.#event(failed ? 'Not Restarting' : 'Finished', reason);
    this.#set({ state: 'dead', failed, finishedAt: this.state.finishedAt ?? this.#o.clock.now() });
  }

  #set(patch: Partial<TaskState>): void {
    this.state = { ...this.state, ...patch };
    this.#o.onChange();
  }

  #event(type: string, message: string): void {
    const event: TaskEvent = { time: this.#o.clock.now(), type, message };
    this.state = { ...this.state, events: [...this.state.events, event].slice(-MAX_EVENTS) };
    this.#o.onChange();
  }

  #warn(what: string, err: unknown): void {
    this.#o.logger.warn({ err, task: this.#o.request.taskName, allocId: this.#o.request.allocId }, what);
  }
}
