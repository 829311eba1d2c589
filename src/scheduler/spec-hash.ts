import type { Group, Task } from '../model/index.ts';
import { hashString } from './random.ts';

const cache = new WeakMap<Group, string>();

/**
 * A hash of what a running allocation of a group depends on: its tasks, ports, placement rules and
 * upstreams (in its tasks' environment; left out when absent, so older hashes stay the same).
 * Count, restart and reschedule policies are left out: changing them needs no restart, so an
 * allocation placed for an older version with the same hash is updated in place. So are services,
 * the group's and the tasks' (as in Nomad): tags, meta and checks live in the catalog, which the
 * server re-derives from the allocation's new version, and the agent restarts the checks.
 */
export function specHash(group: Group): string {
  let hash = cache.get(group);
  if (hash === undefined) {
    const { ports, constraints, upstreams } = group;
    const tasks = group.tasks.map(withoutServices);
    hash = hashString(JSON.stringify({ tasks, ports, constraints, ...(upstreams ? { upstreams } : {}) })).toString(16);
    cache.set(group, hash);
  }
  return hash;
}

/** A task without its services; a task that has none serializes as before, so its hash is unchanged. */
function withoutServices(task: Task): Omit<Task, 'services'> {
  if (task.services === undefined) return task;
  const { services: _services, ...rest } = task;
  return rest;
}
