import type { Task, TaskState } from '../../model/index.ts';
import type { TaskHandle } from '../../drivers/index.ts';
import type { TaskRunner } from '../tasks/task-runner.ts';

/** When a task runs within its allocation. */
export type TaskPhase = 'prestart' | 'sidecar' | 'main' | 'poststop';

/** The phase of a task, from its lifecycle block. */
export function phaseOf(task: Task): TaskPhase {
  if (!task.lifecycle) return 'main';
  if (task.lifecycle.hook === 'poststop') return 'poststop';
  return task.lifecycle.sidecar ? 'sidecar' : 'prestart';
}

/** Prestart and poststop tasks run once to completion: an exit 0 ends them, even in a service job. */
export function runsToCompletion(task: Task): boolean {
  const phase = phaseOf(task);
  return phase === 'prestart' || phase === 'poststop';
}

/** A task of an allocation with its runner and, after an agent restart, the handle to reattach. */
export interface PhasedTask {
  task: Task;
  runner: TaskRunner;
  handle?: TaskHandle;
}

/** Hooks the phases need from their allocation. */
export interface PhaseHooks {
  /** Run the task's loop (reattaching to `handle`), resolving when it is over. */
  run(entry: PhasedTask): Promise<void>;
  /** The allocation is being let go (agent shutdown): nothing more is started or stopped. */
  detaching(): boolean;
}

/**
 * Runs an allocation's tasks in lifecycle order: prestart tasks (to completion) with the sidecars,
 * then, when every prestart task succeeded, the main tasks; once those have ended, the sidecars
 * are stopped and the poststop tasks run. An allocation without lifecycle blocks is one phase.
 */
export async function runPhases(entries: PhasedTask[], hooks: PhaseHooks): Promise<void> {
  const of = (phase: TaskPhase): PhasedTask[] => entries.filter((e) => phaseOf(e.task) === phase);
  const sidecars = of('sidecar').map((e) => hooks.run(e));
  await Promise.all(of('prestart').map((e) => hooks.run(e)));
  if (hooks.detaching()) return;
  const prepared = of('prestart').every((e) => e.runner.state.state === 'dead' && !e.runner.state.failed);
  // A failed prestart task fails the allocation; its main tasks never start (they are stopped).
  await Promise.all(of('main').map((e) => (prepared ? hooks.run(e) : e.runner.stop('a prestart task failed').then(() => hooks.run(e)))));
  if (hooks.detaching()) return;
  await Promise.all(of('sidecar').map((e) => e.runner.stop('the main tasks have ended')));
  await Promise.all(sidecars);
  if (hooks.detaching()) return;
  await Promise.all(of('poststop').map((e) => hooks.run(e)));
}

/**
 * Running: every main task and sidecar runs, the prestart tasks finished well and the poststop
 * tasks wait their turn. Without lifecycle blocks: every task runs.
 */
export function allRunning(tasks: Task[], states: Record<string, TaskState>): boolean {
  return tasks.every((t) => {
    const s = states[t.name];
    if (!s) return false;
    const phase = phaseOf(t);
    if (phase === 'prestart') return s.state === 'dead' && !s.failed;
    if (phase === 'poststop') return s.state === 'pending';
    return s.state === 'running';
  });
}
