import { isTerminal, type Allocation } from '../model/index.ts';
import { resolveAttribute } from './constraints.ts';
import type { State } from './interfaces.ts';

/**
 * Where the job's live allocations are during a pass: those in the state that the plan does not
 * stop, plus those it places. distinct_hosts, distinct_property, job anti-affinity and spread
 * blocks all count from here.
 */
export class JobPresence {
  /** `nodeId` -> group -> count. */
  readonly #byNode = new Map<string, Map<string, number>>();
  /** `attribute|group` (group '' for the whole job) -> value -> count. */
  readonly #byValue = new Map<string, Map<string, number>>();
  readonly #live: Allocation[] = [];

  constructor(
    private readonly state: State,
    allocs: readonly Allocation[],
    stopping: ReadonlySet<string>,
  ) {
    for (const alloc of allocs) if (!isTerminal(alloc) && !stopping.has(alloc.id)) this.add(alloc);
  }

  /** Counts an allocation the plan places. */
  add(alloc: Allocation): void {
    this.#live.push(alloc);
    let groups = this.#byNode.get(alloc.nodeId);
    if (groups === undefined) this.#byNode.set(alloc.nodeId, (groups = new Map()));
    groups.set(alloc.group, (groups.get(alloc.group) ?? 0) + 1);
    if (this.#byValue.size === 0) return;
    const node = this.state.node(alloc.nodeId);
    for (const [key, counts] of this.#byValue) {
      const [attribute, group] = splitKey(key);
      if (group !== '' && group !== alloc.group) continue;
      const value = node === undefined ? undefined : resolveAttribute(node, attribute);
      if (value !== undefined) counts.set(value, (counts.get(value) ?? 0) + 1);
    }
  }

  /** Live allocations of the job (or of one group) on a node. */
  onNode(nodeId: string, group?: string): number {
    const groups = this.#byNode.get(nodeId);
    if (groups === undefined) return 0;
    if (group !== undefined) return groups.get(group) ?? 0;
    let n = 0;
    for (const c of groups.values()) n += c;
    return n;
  }

  /** Live allocations of the job (group '' ) or of one group, by the value of a node attribute. */
  byValue(attribute: string, group: string): ReadonlyMap<string, number> {
    const key = `${attribute}|${group}`;
    let counts = this.#byValue.get(key);
    if (counts === undefined) {
      counts = new Map();
      for (const alloc of this.#live) {
        if (group !== '' && alloc.group !== group) continue;
        const node = this.state.node(alloc.nodeId);
        const value = node === undefined ? undefined : resolveAttribute(node, attribute);
        if (value !== undefined) counts.set(value, (counts.get(value) ?? 0) + 1);
      }
      this.#byValue.set(key, counts);
    }
    return counts;
  }
}

function splitKey(key: string): [string, string] {
  const i = key.lastIndexOf('|');
  return [key.slice(0, i), key.slice(i + 1)];
}
