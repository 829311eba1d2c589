import { isTerminal, type Allocation } from '../model/index.ts';
import type { State } from './interfaces.ts';

/** What is taken on one node: by its live allocations and by what the plan puts there. */
export interface NodeUsed {
  /** CPU in millicores, so that sums of fractions of cores stay exact. */
  cpuMilli: number;
  memoryMiB: number;
  diskMiB: number;
  /** Live allocations. */
  count: number;
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

  /**
   * `stopping`: the allocations the plan stops, by id (a map with the allocations themselves lets
   * the state's per-node usage be used, minus them).
   */
  constructor(
    private readonly state: State,
    private readonly stopping: ReadonlySet<string> | ReadonlyMap<string, Allocation>,
  ) {}

  /** What is in use on a node; the same object grows as the plan places allocations there. */
  used(nodeId: string): NodeUsed {
    let used = this.cache.get(nodeId);
    if (used === undefined) {
      used = this.fromState(nodeId) ?? this.sum(nodeId);
      this.cache.set(nodeId, used);
    }
    return used;
  }

  private sum(nodeId: string): NodeUsed {
    const used: NodeUsed = { cpuMilli: 0, memoryMiB: 0, diskMiB: 0, count: 0, ports: new Set() };
    for (const alloc of this.state.allocsByNode(nodeId)) {
      if (!isTerminal(alloc) && !this.stopping.has(alloc.id)) take(used, alloc);
    }
    return used;
  }

  /** The state's usage of the node, minus what the plan stops there; undefined when it has none. */
  private fromState(nodeId: string): NodeUsed | undefined {
    if (this.state.nodeUsage === undefined || !(this.stopping instanceof Map)) return undefined;
    const base = this.state.nodeUsage(nodeId);
    if (base === undefined) return undefined;
    // The state's port set is shared until this pass changes it (see `take`).
    const used: NodeUsed = { cpuMilli: base.cpuMilli, memoryMiB: base.memoryMiB, diskMiB: base.diskMiB, count: base.count, ports: base.ports as Set<number> };
    sharedPorts.add(used);
    for (const alloc of this.stopping.values()) {
      if (alloc.nodeId !== nodeId || isTerminal(alloc)) continue;
      ownPorts(used);
      used.cpuMilli -= toMilli(alloc.resources.cpu);
      used.memoryMiB -= alloc.resources.memoryMiB;
      used.diskMiB -= alloc.resources.diskMiB ?? 0;
      used.count--;
      for (const port of alloc.ports) used.ports.delete(port.value);
    }
    return used;
  }

  /** Counts an allocation the plan places. */
  add(alloc: Allocation): void {
    take(this.used(alloc.nodeId), alloc);
  }
}

/** Usages whose `ports` is still the state's set, not to be changed in place. */
const sharedPorts = new WeakSet<NodeUsed>();

function ownPorts(used: NodeUsed): void {
  if (sharedPorts.delete(used)) used.ports = new Set(used.ports);
}

function take(used: NodeUsed, alloc: Allocation): void {
  if (alloc.ports.length > 0) ownPorts(used);
  used.cpuMilli += toMilli(alloc.resources.cpu);
  used.memoryMiB += alloc.resources.memoryMiB;
  used.diskMiB += alloc.resources.diskMiB ?? 0;
  used.count++;
  for (const port of alloc.ports) used.ports.add(port.value);
}
