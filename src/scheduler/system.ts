import { isClientTerminal, type Allocation, type Job, type Node } from '../model/index.ts';
import { checkNode, constraintChecker, datacenterChecker, driverChecker, groupConstraints, groupDemand, nodeReadyChecker } from './feasible.ts';
import type { State } from './interfaces.ts';
import { classify } from './reconcile-rules.ts';
import { allocName, type Followup, type ReconcileResult } from './reconcile.ts';
import type { Classified } from './rolling.ts';
import { PlanUsage } from './plan-usage.ts';

/** What makes a node one a system job belongs on; capacity and ports are checked at placement. */
const STATIC_CHAIN = [nodeReadyChecker, datacenterChecker, driverChecker, constraintChecker];

/**
 * The reconciler of a system job: one allocation of each group on every node that suits it, nodes
 * that joined since included. Allocations are classified by the same rule table as services
 * (lost, migrate, destructive, in-place); slots are nodes instead of indexes.
 */
export function reconcileSystem(job: Job, allocs: readonly Allocation[], on: { state: State; now: number; tainted: ReadonlyMap<string, Node> }): ReconcileResult {
  const { state, now, tainted } = on;
  const result: ReconcileResult = { place: [], stop: [], inplace: [], destructive: [], migrate: [], lost: [], reschedule: [], followups: [], ignore: [] };
  /** `nodeId|group` -> the allocation that holds it. */
  const held = new Map<string, Allocation>();
  const replaced = new Map<string, Allocation>();
  const classified: Classified[] = allocs.map((alloc) => {
    const subject = { alloc, job, group: job.groups.find((g) => g.name === alloc.group), exited: isClientTerminal(alloc), node: tainted.get(alloc.nodeId), now, replaced: false };
    return { subject, ...classify(subject) };
  });
  result.followups.push(...staggerUpdates(job, allocs, classified, now));
  for (const { subject: { alloc }, verdict, reason } of classified) {
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

/**
 * System jobs have no deployment (as in Nomad): a group with an update strategy replaces at most
 * `max_parallel` allocations of an older version per `stagger`, nodes in id order. Destructive
 * verdicts past that become `keep`, the old allocation running on; the follow-up evaluation at
 * the end of the stagger takes the next batch. A batch is the group's replacements of this
 * version placed within the last `stagger`.
 */
function staggerUpdates(job: Job, allocs: readonly Allocation[], classified: Classified[], now: number): Followup[] {
  const followups: Followup[] = [];
  for (const group of job.groups) {
    const strategy = group.update;
    if (strategy === undefined || strategy.maxParallel === 0) continue;
    const destructive = classified
      .filter((c) => c.verdict === 'destructive' && c.subject.alloc.group === group.name)
      .sort((a, b) => a.subject.alloc.nodeId.localeCompare(b.subject.alloc.nodeId) || a.subject.alloc.id.localeCompare(b.subject.alloc.id));
    if (destructive.length === 0) continue;
    const recent = allocs.filter((a) => a.group === group.name && a.jobVersion === job.version && a.previousAllocation !== undefined && a.createTime > now - strategy.staggerMs);
    const budget = Math.max(0, strategy.maxParallel - recent.length);
    const waiting = destructive.slice(budget);
    if (waiting.length === 0) continue;
    for (const c of waiting) {
      c.verdict = 'keep';
      c.reason = 'waiting for the update stagger';
    }
    // The pass that starts a batch asks for the next one. A pass inside the stagger asks only
    // when the first allocation waiting carries no follow-up yet (that batch's request was lost).
    const first = waiting[0].subject.alloc;
    if (budget === 0 && first.followupEvalId !== undefined) continue;
    const batchStart = budget > 0 ? now : Math.min(...recent.map((a) => a.createTime));
    followups.push({ alloc: first, at: batchStart + strategy.staggerMs, reason: 'update stagger' });
  }
  return followups;
}
