import { isClientTerminal, type Allocation, type Job, type Node } from '../model/index.ts';
import { checkNode, constraintChecker, datacenterChecker, driverChecker, groupConstraints, groupDemand, nodeReadyChecker } from './feasible.ts';
import type { State } from './interfaces.ts';
import { classify } from './reconcile-rules.ts';
import { allocName, type ReconcileResult } from './reconcile.ts';
import { PlanUsage } from './usage.ts';

/** What makes a node one a system job belongs on; capacity and ports are checked at placement. */
const STATIC_CHAIN = [nodeReadyChecker, datacenterChecker, driverChecker, constraintChecker];

/**
 * The reconciler of a system job: one allocation of each group on every node that suits it, nodes
 * that joined since included. Allocations are classified by the same rule table as services
 * (lost, migrate, destructive, in-place); slots are nodes instead of indexes.
 */
export function reconcileSystem(job: Job, allocs: readonly Allocation[], state: State, now: number, tainted: ReadonlyMap<string, Node>): ReconcileResult {
  const result: ReconcileResult = { place: [], stop: [], inplace: [], destructive: [], migrate: [], lost: [], reschedule: [], followups: [], ignore: [] };
  /** `nodeId|group` -> the allocation that holds it. */
  const held = new Map<string, Allocation>();
  const replaced = new Map<string, Allocation>();
  for (const alloc of allocs) {
    const group = job.groups.find((g) => g.name === alloc.group);
    const { verdict, reason } = classify({ alloc, job, group, exited: isClientTerminal(alloc), node: tainted.get(alloc.nodeId), now, replaced: false });
    const key = `${alloc.nodeId}|${alloc.group}`;
    if (verdict === 'stop' || verdict === 'migrate') {
      result.stop.push({ alloc, reason });
      if (verdict === 'migrate') result.migrate.push(alloc);
    } else if (verdict === 'lost') {
      result.lost.push(alloc);
      result.stop.push({ alloc, reason, clientStatus: 'lost' });
    } else if (verdict === 'destructive') {
      result.destructive.push(alloc);
      result.stop.push({ alloc, reason });
      replaced.set(key, alloc);
    } else if (verdict === 'ignore' || verdict === 'reschedule' || verdict === 'unknown') {
      result.ignore.push(alloc);
    } else if (held.has(key)) {
      // One per node and group: a second one is a leftover of a race.
      if (isClientTerminal(alloc)) result.ignore.push(alloc);
      else result.stop.push({ alloc, reason: 'duplicate on node' });
    } else {
      held.set(key, alloc);
      if (verdict === 'inplace') result.inplace.push(alloc);
      else result.ignore.push(alloc);
    }
  }
  const usage = new PlanUsage(state, new Set());
  for (const node of state.nodes()) {
    for (const group of job.groups) {
      const key = `${node.id}|${group.name}`;
      const ask = { job, group, demand: groupDemand(group), usage, constraints: groupConstraints(job, group) };
      const suits = checkNode(node, ask, STATIC_CHAIN) === true;
      const alloc = held.get(key);
      if (alloc !== undefined) {
        // A node that no longer suits (constraints changed, went down) loses its allocation.
        if (!suits && !isClientTerminal(alloc) && node.status === 'ready' && node.drain === undefined && node.eligible) {
          result.stop.push({ alloc, reason: 'node no longer suits the job' });
        }
        continue;
      }
      if (!suits) continue;
      const previous = replaced.get(key);
      result.place.push({ group: group.name, index: 0, name: allocName(job.id, group.name, 0), nodeId: node.id, ...(previous ? { previous } : {}) });
    }
  }
  return result;
}
