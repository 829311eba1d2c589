import { isTerminal, type Allocation } from '../model/index.ts';
import type { State } from './interfaces.ts';

/** What is taken on one node: by its live allocations and by what the plan puts there. */
export interface NodeUsed {
  /** CPU in millicores, so that sums of fractions of cores stay exact. */
  cpuMilli: number;
  memoryMiB: number;
  /** Host ports in use. */
  ports: Set<number>;
}

/** Cores to millicores. */
export function toMilli(cores: number): number {
  return Math.round(cores * 1000);
}

/**
 * What each node has in use while a plan is being built. Allocations the plan stops free their
 * share (a destructive update may reuse it on the same node: the plan applier must count the same
 * way); allocations it places take theirs.
 */
export class PlanUsage {
  private readonly cache = new Map<string, NodeUsed>();

  constructor(
    private readonly state: State,
    private readonly stopping: ReadonlySet<string>,
  ) {}

  /** What is in use on a node; the same object grows as the plan places allocations there. */
  used(nodeId: string): NodeUsed {
    let used = this.cache.get(nodeId);
    if (used === undefined) {
      used = { cpuMilli: 0, memoryMiB: 0, ports: new Set() };
      for (const alloc of this.state.allocsByNode(nodeId)) {
        if (!isTerminal(alloc) && !this.stopping.has(alloc.id)) take(used, alloc);
      }
      this.cache.set(nodeId, used);
    }
    return used;
  }

  /** Counts an allocation the plan places. */
  add(alloc: Allocation): void {
    take(this.used(alloc.nodeId), alloc);
  }
}

function take(used: NodeUsed, alloc: Allocation): void {
  used.cpuMilli += toMilli(alloc.resources.cpu);
  used.memoryMiB += alloc.resources.memoryMiB;
  for (const port of alloc.ports) used.ports.add(port.value);
}
