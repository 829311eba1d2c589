import type { Allocation, ClientStatus, DriverName, Job, RestartPolicy, Task, TaskState } from '../../model/index.ts';
import type { TaskDriver, TaskHandle } from '../../drivers/index.ts';
import type { Clock } from '../../lib/index.ts';
import type { Logger } from '../../lib/index.ts';
import type { AllocUpdate } from '../../api/index.ts';
import type { LocalState } from './local-state.ts';
import { TaskRunner } from '../tasks/task-runner.ts';
import { taskStartRequest } from '../tasks/start-request.ts';
import { allRunning, phaseOf, runPhases, runsToCompletion, type PhasedTask } from './lifecycle.ts';
import { allocHooks } from '../hooks/alloc-hooks.ts';
import type { AllocHook, HookedTask, RunningTask } from './alloc-hook.ts';
import type { ServerPool } from '../../api/index.ts';
import type { AgentServices } from '../services/index.ts';
import type { LogForwarder } from '../logs/log-forwarder.ts';

/** What every alloc runner of an agent shares. */
export interface AllocRunnerDeps {
  nodeName: string;
  nodeAddress: string;
  drivers: ReadonlyMap<DriverName, TaskDriver>;
  defaultDriver: DriverName;
  localState: LocalState;
  clock: Clock;
  logger: Logger;
  /** Called whenever the allocation's state changes, to report it. */
  onChange: (update: AllocUpdate) => void;
  /** The servers service checks report to and templates read from; without them neither runs. */
  servers?: ServerPool;
  /** DNS servers for docker tasks that set none (berth's DNS on the bridge), so containers resolve services. */
  dnsServers?: string[];
  /** The agent's service plumbing: upstream listeners, the node DNS for containers. */
  services?: AgentServices;
  /** Where task output is forwarded (`--log-forward`); none by default. */
  logForwarder?: LogForwarder;
}

/**
 * Runs the tasks of one allocation and derives the allocation's client status from theirs. What
 * else an allocation needs (its payload, DNS servers, templates, service checks) is done by its
 * hooks (hooks/alloc-hooks.ts), each step at its point of the allocation's life (alloc-hook.ts).
 */
export class AllocRunner {
  alloc: Allocation;
  /** The job version the allocation runs; a newer one when the server updates it in place (`takeJob`). */
  job: Job;
  readonly #deps: AllocRunnerDeps;
  readonly #tasks = new Map<string, TaskRunner>();
  readonly #handles: Record<string, TaskHandle> = {};
  #description: string | undefined;
  #stopped: Promise<void> | undefined;
  #done: Promise<void> | undefined;
  /** The group's tasks as the job specifies them (their lifecycle). */
  #tasksSpec: Task[] = [];
  #detaching = false;
  readonly #hooks: AllocHook[];
  /** Each task as its hooks see it, by name. */
  readonly #hooked = new Map<string, RunningTask>();

  constructor(alloc: Allocation, job: Job, deps: AllocRunnerDeps) {
    this.alloc = alloc;
    this.job = job;
    this.#deps = deps;
    this.#hooks = allocHooks(this, deps);
  }

  /** Start every task; reattach those with a recovered handle. */
  start(recovered: { handles: Record<string, TaskHandle>; taskStates: Record<string, TaskState> } = { handles: {}, taskStates: {} }): void {
    const group = this.job.groups.find((g) => g.name === this.alloc.group);
    if (!group) {
      this.#description = `job version ${this.job.version} has no group "${this.alloc.group}"`;
      this.#report();
      return;
    }
    // A recovered task goes back to the driver that started it; a new one to its spec's or the node's.
    const driverNameOf = (taskName: string, driver: DriverName | undefined): DriverName => recovered.handles[taskName]?.driver ?? driver ?? this.#deps.defaultDriver;
    // Start nothing unless every task can run: half an allocation would report itself running.
    const missing = group.tasks.find((t) => !this.#deps.drivers.has(driverNameOf(t.name, t.driver)));
    if (missing) {
      this.#description = `task "${missing.name}" needs driver ${driverNameOf(missing.name, missing.driver)}, which this node does not have`;
      this.#report();
      void this.save();
      return;
    }
    const entries: PhasedTask[] = [];
    for (const task of group.tasks) {
      const driver = this.#deps.drivers.get(driverNameOf(task.name, task.driver))!;
      const runner = this.#taskRunner(task, driver, group.restart, recovered.taskStates[task.name]);
      const handle = recovered.handles[task.name];
      if (handle) this.#handles[task.name] = handle;
      entries.push({ task, runner, handle });
    }
    this.#tasksSpec = group.tasks;
    // Prestart, main, poststop in turn (lifecycle.ts). Each task's end is persisted, so that a
    // restarted agent does not run it again.
    this.#done = runPhases(entries, { run: (e) => this.#prerun(e.task.name).then(() => e.runner.run(e.handle)).then(() => this.save()), detaching: () => this.#detaching });
    for (const hook of this.#hooks) hook.poststart?.();
    // Reattached instances run already: their hooks hear of them now.
    for (const e of entries) if (e.handle) for (const hook of this.#hooks) hook.taskStarted?.(e.task.name, e.handle, false);
    this.#report();
    void this.save();
  }

  /** The task's start request, shaped by the prestart hooks, and its runner. */
  #taskRunner(task: Task, driver: TaskDriver, restart: RestartPolicy, initialState: TaskState | undefined): TaskRunner {
    const taskDir = this.#deps.localState.taskDir(this.alloc.id, task.name);
    const request = taskStartRequest({ job: this.job, alloc: this.alloc, task, nodeName: this.#deps.nodeName, nodeAddress: this.#deps.nodeAddress, driverName: driver.name, taskDir });
    const hooked: HookedTask = { task, driverName: driver.name, taskDir, request };
    for (const hook of this.#hooks) hook.prestart?.(hooked);
    const runner: TaskRunner = new TaskRunner({
      driver,
      request: hooked.request,
      restart,
      batch: this.job.type === 'batch' || runsToCompletion(task),
      killTimeoutMs: task.killTimeoutMs,
      ...(task.maxRunDurationMs ? { maxRunDurationMs: task.maxRunDurationMs } : {}),
      clock: this.#deps.clock,
      logger: this.#deps.logger,
      initialState,
      onChange: () => {
        this.#report();
        // Kept on disk at every change, so that an agent killed now comes back knowing it.
        void this.save();
        // One task failed for good: the allocation has failed, so its other tasks stop too.
        if (runner.state.state === 'dead' && runner.state.failed && !this.#stopped) void this.stop(`sibling task "${task.name}" failed`);
      },
      onHandle: (h) => {
        if (h) this.#handles[task.name] = h;
        else delete this.#handles[task.name];
        if (h) for (const hook of this.#hooks) hook.taskStarted?.(task.name, h, true);
        return this.save();
      },
    });
    this.#tasks.set(task.name, runner);
    this.#hooked.set(task.name, { ...hooked, runner });
    return runner;
  }

  /** Every hook's prerun step for a task, in order, before it runs. */
  async #prerun(taskName: string): Promise<void> {
    const task = this.#hooked.get(taskName);
    if (!task) return;
    for (const hook of this.#hooks) await hook.prerun?.(task);
  }

  /** The server changed the allocation (e.g. wants it stopped). */
  update(alloc: Allocation): void {
    this.alloc = alloc;
    if (alloc.desiredStatus === 'stop') void this.stop();
  }

  /**
   * The server updated the allocation in place to a newer version of its job: only what needs no
   * restart changed (count, meta, services), so the tasks run on and the checks follow the new
   * services (the server re-derives the catalog entries from the allocation's version). False
   * when the runner is stopping or detached and takes nothing.
   */
  takeJob(job: Job): boolean {
    if (this.#stopped || this.#detaching) return false;
    this.job = job;
    const group = job.groups.find((g) => g.name === this.alloc.group);
    if (group) for (const runner of this.#tasks.values()) runner.setRestartPolicy(group.restart);
    if (this.#tasks.size > 0) for (const hook of this.#hooks) hook.update?.();
    void this.save();
    return true;
  }

  /** Stop every task, then run the poststop tasks; idempotent. */
  stop(reason?: string): Promise<void> {
    this.#stopHooks();
    const poststop = new Set(this.#tasksSpec.filter((t) => phaseOf(t) === 'poststop').map((t) => t.name));
    const stopping = [...this.#tasks].filter(([name]) => !poststop.has(name)).map(([, t]) => t.stop(reason));
    this.#stopped ??= Promise.all(stopping).then(() => this.done);
    return this.#stopped;
  }

  /** Stop watching the tasks and leave them running (the agent shuts down). */
  async detach(): Promise<void> {
    this.#detaching = true;
    this.#stopHooks();
    await Promise.all([...this.#tasks.values()].map((t) => t.detach()));
  }

  /** Stop, then remove containers, task files and the local record. */
  async destroy(): Promise<void> {
    await this.stop();
    await Promise.all([...this.#tasks.values()].map((t) => t.destroy()));
    await this.#deps.localState.remove(this.alloc.id);
    await this.#deps.localState.removeTaskDirs(this.alloc.id);
  }

  /** Resolves when every task has finished for good. */
  get done(): Promise<void> {
    return this.#done ?? Promise.resolve();
  }

  /** The task's handle, for logs. */
  handle(taskName: string): TaskHandle | undefined {
    return this.#tasks.get(taskName)?.handle ?? this.#handles[taskName];
  }

  taskNames(): string[] {
    return [...this.#tasks.keys()];
  }

  /** The runner of one task, for what operators do to it (restart, signal). */
  runnerOf(taskName: string): TaskRunner | undefined {
    return this.#tasks.get(taskName);
  }

  taskStates(): Record<string, TaskState> {
    const out: Record<string, TaskState> = {};
    for (const [name, t] of this.#tasks) out[name] = t.state;
    return out;
  }

  /** The allocation's service checks and the status each holds now. */
  checkStatuses(): { id: string; status: string }[] {
    return this.#hooks.flatMap((h) => h.checks?.() ?? []);
  }

  /** pending until every task runs; complete when all ended well; failed when one failed. */
  clientStatus(): ClientStatus {
    const states = Object.values(this.taskStates());
    if (this.#description) return 'failed';
    if (states.length === 0) return 'pending';
    if (states.some((s) => s.state === 'dead' && s.failed)) return 'failed';
    if (states.every((s) => s.state === 'dead')) return 'complete';
    if (allRunning(this.#tasksSpec, this.taskStates())) return 'running';
    return 'pending';
  }

  save(): Promise<void> {
    return this.#deps.localState
      .save({ alloc: this.alloc, job: this.job, handles: { ...this.#handles }, taskStates: this.taskStates() })
      .catch((err: unknown) => this.#deps.logger.error({ err, allocId: this.alloc.id }, 'cannot save allocation state'));
  }

  #stopHooks(): void {
    for (const hook of this.#hooks) hook.stop?.();
  }

  #report(): void {
    this.#deps.onChange({ id: this.alloc.id, clientStatus: this.clientStatus(), clientDescription: this.#description, taskStates: this.taskStates() });
  }
}
