/**
 * The alloc runner's hooks, after Nomad's alloc and task runner hooks: each concern an allocation
 * has besides running its tasks (the payload file, DNS servers, templates, service checks) is one
 * small hook with the steps it needs, and the runner calls every hook's step in list order.
 */
import type { TaskHandle, TaskStartRequest } from '../../drivers/index.ts';
import type { Allocation, DriverName, Job, Task } from '../../model/index.ts';
import type { TaskRunner } from '../tasks/task-runner.ts';

/** What a hook may read of its allocation runner. */
export interface HookedAlloc {
  readonly alloc: Allocation;
  /** The job version the allocation runs now (it moves on when updated in place). */
  readonly job: Job;
  handle(taskName: string): TaskHandle | undefined;
  taskNames(): string[];
}

/** A task as hooks see it before its runner exists. */
export interface HookedTask {
  readonly task: Task;
  /** The driver that runs it (a mock says the one it stands in for). */
  readonly driverName: DriverName;
  /** The directory the agent gives the task. */
  readonly taskDir: string;
  /**
   * What its runner will start it with. A prestart hook may replace it; its `env` object is the
   * one the runner's request keeps, so a hook that fills env later (templates) fills the task's.
   */
  request: TaskStartRequest;
}

/** A task whose runner exists, about to run. */
export interface RunningTask extends HookedTask {
  readonly runner: TaskRunner;
}

/** One concern of an allocation's life. Every step is optional. */
export interface AllocHook {
  /** For logs. */
  readonly name: string;
  /** Per task, when the allocation starts, before its runner is made: prepare its directory, shape its request. */
  prestart?(task: HookedTask): void;
  /** Per task, each time its phase comes and before it starts (or reattaches); the task waits for it. */
  prerun?(task: RunningTask): Promise<void>;
  /** Once, after every task's runner was made and the phases began. */
  poststart?(): void;
  /** The allocation took a new job version in place (`HookedAlloc.job` is the new one). */
  update?(): void;
  /** The allocation stops or the agent detaches from it: let go of what the hook started. Idempotent. */
  stop?(): void;
  /** A task has a running instance: just started or restarted (`fresh`), or found again after an agent restart. */
  taskStarted?(taskName: string, handle: TaskHandle, fresh: boolean): void;
  /** The checks the hook runs and the status each holds now (for the agent's metrics). */
  checks?(): { id: string; status: string }[];
}
