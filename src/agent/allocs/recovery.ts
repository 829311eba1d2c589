import { isClientTerminal, type Allocation } from '../../model/index.ts';
import type { TaskDriver, TaskHandle } from '../../drivers/index.ts';
import type { Logger } from '../../lib/index.ts';

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
