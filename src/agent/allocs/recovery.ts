import { isClientTerminal, type Allocation, type DriverName } from '../../model/index.ts';
import type { TaskDriver, TaskHandle } from '../../drivers/index.ts';
import type { Logger } from '../../lib/index.ts';
import type { AllocRecord, LocalState } from './local-state.ts';

/** An allocation recorded before the last stop or crash, with the handles of its tasks that still run. */
export interface RecoveredAlloc {
  record: AllocRecord;
  /** By task name; a task missing here is started again by its runner, as after a crash. */
  handles: Record<string, TaskHandle>;
}

/** What `recoverLocal` found. */
export interface Recovered {
  allocs: RecoveredAlloc[];
  /** Labelled tasks whose allocation has no record, by allocation id: adopted when the server names it again. */
  orphans: Map<string, TaskHandle[]>;
}

/** What `recoverLocal` reads. */
export interface RecoverOptions {
  localState: LocalState;
  drivers: ReadonlyMap<DriverName, TaskDriver>;
  nodeName: string;
  logger: Logger;
}

/**
 * The tasks to reattach to after the last stop or crash. A task with a saved handle is found by it
 * (container id; pid and start time). A container this node labelled for a task whose handle was
 * never saved (the agent died between start and save) is adopted rather than started twice.
 */
export async function recoverLocal(o: RecoverOptions): Promise<Recovered> {
  const records = await o.localState.load((what, err) => o.logger.warn({ what, err: err.message }, 'skipping unreadable allocation record'));
  const labelled = await labelledTasks(new Set(o.drivers.values()), o.nodeName, o.logger);
  const allocs: RecoveredAlloc[] = [];
  for (const record of records) {
    const handles: Record<string, TaskHandle> = {};
    for (const [task, handle] of Object.entries(record.handles)) {
      const driver = o.drivers.get(handle.driver);
      if (driver && (await driver.recover(handle).catch(() => false))) handles[task] = handle;
    }
    for (const h of labelled.get(record.alloc.id) ?? []) {
      if (!handles[h.taskName] && record.taskStates[h.taskName]?.state !== 'dead') handles[h.taskName] = h;
    }
    labelled.delete(record.alloc.id);
    allocs.push({ record, handles });
  }
  return { allocs, orphans: labelled };
}

/**
 * The running tasks the drivers find by this node's labels (docker containers), by allocation:
 * what an agent killed between a driver's start and the save of its handle can still adopt.
 */
export async function labelledTasks(drivers: Iterable<TaskDriver>, nodeName: string, log: Logger): Promise<Map<string, TaskHandle[]>> {
  const out = new Map<string, TaskHandle[]>();
  for (const driver of drivers) {
    let handles: TaskHandle[];
    try {
      handles = await driver.list(nodeName);
    } catch (err) {
      log.warn({ driver: driver.name, err: (err as Error).message }, 'cannot list the tasks of this node');
      continue;
    }
    for (const h of handles) {
      // Only running ones: an exited leftover is no task to adopt (its allocation starts anew).
      if (!h.allocId || (h.state.status !== undefined && h.state.status !== 'running')) continue;
      if (!(await driver.recover(h).catch(() => false))) continue;
      const list = out.get(h.allocId) ?? [];
      list.push(h);
      out.set(h.allocId, list);
    }
  }
  return out;
}

/** Whether the server placed a replacement of `alloc` (same name, wanted, not ended) among `siblings`. */
export function isReplaced(alloc: Allocation, siblings: Allocation[]): boolean {
  return siblings.some((a) => a.id !== alloc.id && a.name === alloc.name && a.desiredStatus === 'run' && !isClientTerminal(a));
}
