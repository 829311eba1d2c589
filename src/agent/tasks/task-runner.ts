import fs from 'node:fs/promises';
import type { RestartPolicy, TaskEvent, TaskState } from '../../model/index.ts';
import type { TaskDriver, TaskHandle, TaskStartRequest } from '../../drivers/index.ts';
import type { Clock } from '../../lib/index.ts';
import type { Logger } from '../../lib/index.ts';
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
  /** Kill and fail the task once it has run this long (batch `max_run_duration`); no restart follows. */
  maxRunDurationMs?: number;
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
  readonly #detaching = new AbortController();
  #stopReason = 'stopped by berth';
  #restartReason: string | undefined;
  #handle: TaskHandle | undefined;
  #done: Promise<void> | undefined;
  state: TaskState;

  constructor(options: TaskRunnerOptions) {
    this.#o = options;
    this.#tracker = new RestartTracker(options.restart);
    this.state = { ...(options.initialState ?? { state: 'pending', failed: false, restarts: 0, events: [] }), driver: options.driver.name };
  }

  /** Apply a restart policy changed in place from the task's next exit on. */
  setRestartPolicy(policy: RestartPolicy): void {
    this.#tracker.setPolicy(policy);
  }

  get handle(): TaskHandle | undefined {
    return this.#handle;
  }

  /**
   * Start the loop; with a recovered handle it first reattaches to the running task. A task that
   * had ended for good before the agent restarted stays ended: its handle is kept for its logs.
   */
  run(recovered?: TaskHandle): Promise<void> {
    if (this.state.state === 'dead') {
      this.#handle = recovered;
      this.#done ??= Promise.resolve();
    }
    this.#done ??= this.#loop(recovered).catch((err: unknown) => {
      this.#o.logger.error({ err, task: this.#o.request.taskName }, 'task runner failed');
      this.#finish(true, `task runner failed: ${(err as Error).message}`);
    });
    return this.#done;
  }

  /** Stop the task (SIGTERM, then kill after the timeout) and wait for the loop to end. */
  async stop(reason?: string): Promise<void> {
    if (reason && !this.#stopping.signal.aborted) this.#stopReason = reason;
    this.#stopping.abort();
    if (this.#handle) await this.#o.driver.stop(this.#handle, this.#o.killTimeoutMs).catch((err: unknown) => this.#warn('stop failed', err));
    await this.#done;
  }

  /**
   * Restart the task now (a template it reads changed): stop it and start it again at once,
   * outside the restart policy (the task did not fail).
   */
  async restart(reason: string): Promise<void> {
    const handle = this.#handle;
    if (!handle || this.state.state !== 'running' || this.#stopping.signal.aborted) return;
    this.#restartReason = reason;
    await this.#o.driver.stop(handle, this.#o.killTimeoutMs).catch((err: unknown) => this.#warn('stop for restart failed', err));
  }

  /**
   * Send `signal` to the running task (a template it reads changed, `change_mode: signal`); it
   * keeps running and its restart count stays. A task that is not running is left alone: it
   * renders afresh when it starts. A signal the driver cannot deliver is recorded as an event.
   */
  async signal(signal: string, reason: string): Promise<void> {
    const handle = this.#handle;
    if (!handle || this.state.state !== 'running' || this.#stopping.signal.aborted) return;
    try {
      await this.#o.driver.signal(handle, signal);
      this.#event('Signaling', `${reason}: sent ${signal}`);
    } catch (err) {
      this.#event('Signaling Failed', (err as Error).message);
      this.#warn('signal failed', err);
    }
  }

  /**
   * Stop watching the task but leave it running (the agent is shutting down); the next agent
   * reattaches to it from the handle it saved.
   */
  async detach(): Promise<void> {
    this.#detaching.abort();
    await this.#done;
  }

  /** Remove what the task left behind (the container). */
  async destroy(): Promise<void> {
    if (this.#handle) await this.#o.driver.destroy(this.#handle).catch((err: unknown) => this.#warn('destroy failed', err));
    this.#handle = undefined;
  }

  /** Start (or reattach to) the task, watch it run, and apply the restart policy, until it ends for good. */
  async #loop(recovered?: TaskHandle): Promise<void> {
    const detaching = this.#detaching.signal;
    const detached = new Promise<undefined>((resolve) => {
      if (detaching.aborted) resolve(undefined);
      else detaching.addEventListener('abort', () => resolve(undefined), { once: true });
    });
    let handle = recovered;
    if (handle) {
      this.#event('Reattached', `reattached to ${handle.id}`);
      this.#handle = handle;
      this.#set({ state: 'running', network: handle.network ?? this.state.network });
    }
    for (;;) {
      if (!handle) {
        const started = await this.#startInstance();
        if (started === 'retry') continue;
        if (started === 'end') return;
        handle = started;
      }
      if ((await this.#runInstance(handle, detached)) === 'end') return;
      handle = undefined;
    }
  }

  /** Start a new instance; 'retry' after a failed start the restart policy allows again, 'end' when the task is over. */
  async #startInstance(): Promise<TaskHandle | 'retry' | 'end'> {
    const { driver, clock } = this.#o;
    const signal = this.#stopping.signal;
    if (signal.aborted) {
      this.#finish(false, 'stopped before it started');
      return 'end';
    }
    let handle: TaskHandle;
    try {
      await fs.mkdir(this.#o.request.taskDir, { recursive: true });
      handle = await driver.start(this.#o.request);
    } catch (err) {
      this.#event('Driver Failure', (err as Error).message);
      if (signal.aborted) {
        this.#finish(false, 'stopped before it started');
        return 'end';
      }
      return (await this.#afterExit(undefined)) ? 'retry' : 'end';
    }
    this.#handle = handle;
    await this.#o.onHandle(handle);
    if (this.#detaching.signal.aborted && !signal.aborted) return 'end';
    if (signal.aborted) {
      // A stop raced with the start: stop() found no handle, so stop it here.
      await driver.stop(handle, this.#o.killTimeoutMs).catch((err: unknown) => this.#warn('stop failed', err));
    }
    this.#set({ state: 'running', startedAt: clock.now(), finishedAt: undefined, exitCode: undefined, network: handle.network });
    this.#event('Started', `${driver.name} ${handle.id.slice(0, 12)}`);
    return handle;
  }

  /** Wait for a running instance to end and act on how it ended: 'restart' for a new instance, 'end' when the task is over. */
  async #runInstance(handle: TaskHandle, detached: Promise<undefined>): Promise<'restart' | 'end'> {
    const { driver, clock } = this.#o;
    const overran = this.#overrun(handle);
    const exit = await Promise.race([driver.wait(handle), detached, overran.promise]);
    overran.cancel();
    // Detached: the task runs on without us; state stays as it is for the next agent.
    if (!exit) return 'end';
    if (exit === 'overran') {
      const limit = `${this.#o.maxRunDurationMs! / 1000}s`;
      await driver.stop(handle, this.#o.killTimeoutMs).catch((err: unknown) => this.#warn('stop failed', err));
      const how = await driver.wait(handle);
      this.#set({ exitCode: how.exitCode, finishedAt: clock.now() });
      this.#event('Killed', `ran longer than its max_run_duration of ${limit}`);
      this.#finish(true, `exceeded max_run_duration (${limit})`);
      return 'end';
    }
    this.#set({ exitCode: exit.exitCode, finishedAt: clock.now() });
    const how = exit.error ?? `exit code ${exit.exitCode}${exit.signal ? `, signal ${exit.signal}` : ''}${exit.oomKilled ? ', out of memory' : ''}`;
    if (this.#stopping.signal.aborted) {
      this.#event('Killed', `${this.#stopReason} (${how})`);
      this.#finish(false);
      return 'end';
    }
    this.#event('Terminated', how);
    const forget = async (): Promise<void> => {
      await driver.destroy(handle).catch((err: unknown) => this.#warn('destroy failed', err));
      this.#handle = undefined;
      await this.#o.onHandle(undefined);
    };
    if (this.#restartReason) {
      this.#event('Restarting', this.#restartReason);
      this.#restartReason = undefined;
      await forget();
      this.#set({ state: 'pending', restarts: this.state.restarts + 1 });
      return 'restart';
    }
    // The next attempt is a new container or process, and the old one goes then. The last one
    // stays (for its logs) until the allocation is destroyed.
    return (await this.#afterExit(exit.exitCode, forget)) ? 'restart' : 'end';
  }

  /**
   * Resolves with 'overran' once the task has run past its max_run_duration, counted from when it
   * started (so an agent restart does not give it more time); never without a limit.
   */
  #overrun(handle: TaskHandle): { promise: Promise<'overran'>; cancel: () => void } {
    const abort = new AbortController();
    const limit = this.#o.maxRunDurationMs;
    if (!limit) return { promise: new Promise(() => {}), cancel: () => {} };
    const startedAt = this.state.startedAt ?? handle.startedAt;
    const left = Math.max(0, startedAt + limit - this.#o.clock.now());
    const promise = this.#o.clock.sleep(left, abort.signal).then(
      () => 'overran' as const,
      () => new Promise<'overran'>(() => {}),
    );
    return { promise, cancel: () => abort.abort() };
  }

  /** Apply the restart policy; false when the task is finished. `beforeRestart` runs before the delay. */
  async #afterExit(exitCode: number | undefined, beforeRestart?: () => Promise<void>): Promise<boolean> {
    const decision = this.#tracker.next(this.#o.clock.now(), exitCode, this.#o.batch);
    if (!decision.restart) {
      const failed = !(this.#o.batch && exitCode === 0);
      this.#finish(failed, decision.reason);
      return false;
    }
    await beforeRestart?.();
    this.#set({ state: 'pending' });
    this.#event('Restarting', `${decision.reason}; in ${Math.round(decision.delayMs / 100) / 10}s`);
    try {
      await this.#o.clock.sleep(decision.delayMs, AbortSignal.any([this.#stopping.signal, this.#detaching.signal]));
    } catch {
      // Detached: the next agent finds no handle and starts the task.
      if (this.#stopping.signal.aborted) this.#finish(false, 'stopped while waiting to restart');
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
