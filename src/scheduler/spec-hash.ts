import type { Group } from '../model/index.ts';
import { hashString } from './random.ts';

const cache = new WeakMap<Group, string>();

/**
 * A hash of what a running allocation of a group depends on: its tasks, ports and placement rules.
 * Count, restart and reschedule policies are left out: changing them needs no restart, so an
 * allocation placed for an older version with the same hash is updated in place.
 */
export function specHash(group: Group): string {
  let hash = cache.get(group);
  if (hash === undefined) {
    const { tasks, ports, constraints } = group;
    hash = hashString(JSON.stringify({ tasks, ports, constraints })).toString(16);
    cache.set(group, hash);
  }
  return hash;
}
