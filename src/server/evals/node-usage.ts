import { isTerminal } from '../../model/index.ts';
import type { NodeUsage, State } from '../../scheduler/index.ts';
import type { StateSnapshot, StateView } from '../../state/index.ts';

/**
 * What each node's live allocations take, kept across scheduler passes: summing a node's
 * allocations again for every evaluation is most of a pass's cost on a large cluster. An entry is
 * good while the node's allocations have not changed (`nodeAllocsIndex`), and is only handed out
 * for a snapshot at the view's own revision, so that it always agrees with the snapshot.
 */
export class NodeUsageCache {
  readonly #view: StateView;
  readonly #entries = new Map<string, { index: number; usage: NodeUsage }>();

  constructor(view: StateView) {
    this.#view = view;
  }

  /**
   * The live view as the scheduler's State, with `nodeUsage` from this cache. A scheduler pass is
   * synchronous (`computePlan`), and the view only moves between turns of the event loop, so a
   * pass reads the view as it would a snapshot taken when it began, without the cost of forking
   * the tables (which makes the next write copy what it touches).
   */
  live(): State {
    const view = this.#view;
    return {
      job: (id) => view.job(id),
      nodes: () => view.nodes(),
      node: (id) => view.node(id),
      allocsByJob: (id) => view.allocsByJob(id),
      allocsByNode: (id) => view.allocsByNode(id),
      nodeUsage: (id) => this.#usage(view, id),
      latestDeployment: (id) => view.latestDeployment(id),
    };
  }

  /** A snapshot as the scheduler's State; `nodeUsage` only while the view has not moved past it. */
  stateOf(snapshot: StateSnapshot): State {
    return {
      job: (id) => snapshot.job(id),
      // The live view keeps its sorted node list between writes; a snapshot sorts its own again.
      nodes: () => (snapshot.index === this.#view.index ? this.#view.nodes() : snapshot.nodes()),
      node: (id) => snapshot.node(id),
      allocsByJob: (id) => snapshot.allocsByJob(id),
      allocsByNode: (id) => snapshot.allocsByNode(id),
      nodeUsage: (id) => this.#usage(snapshot, id),
      latestDeployment: (id) => snapshot.latestDeployment(id),
    };
  }

  #usage(snapshot: StateSnapshot | StateView, nodeId: string): NodeUsage | undefined {
    if (snapshot.index !== this.#view.index) return undefined;
    const index = this.#view.nodeAllocsIndex(nodeId);
    const hit = this.#entries.get(nodeId);
    if (hit !== undefined && hit.index === index) return hit.usage;
    const usage = { cpuMilli: 0, memoryMiB: 0, diskMiB: 0, count: 0, ports: new Set<number>() };
    for (const a of snapshot.allocsByNode(nodeId)) {
      if (isTerminal(a)) continue;
      usage.cpuMilli += Math.round(a.resources.cpu * 1000);
      usage.memoryMiB += a.resources.memoryMiB;
      usage.diskMiB += a.resources.diskMiB ?? 0;
      usage.count++;
      for (const p of a.ports) usage.ports.add(p.value);
    }
    this.#entries.set(nodeId, { index, usage });
    return usage;
  }
}
