import type { Allocation, Evaluation, Group, Job, Node, Plan, PlacementFailure } from '../model/index.ts';
import { groupDemand, type Demand } from './feasible.ts';
import type { State } from './interfaces.ts';
import { assignPorts } from './ports.ts';
import { randomFor, shuffle, type Random } from './random.ts';
import { reconcile, type PlaceRequest } from './reconcile.ts';
import { selectNode } from './stack.ts';
import { PlanUsage } from './usage.ts';

/** What a pass needs besides the state: the time and the id maker of the schedule context. */
export interface PassOptions {
  now: number;
  newId: () => string;
}

/** Everything one placement pass shares. */
interface Pass {
  evaluation: Evaluation;
  job: Job;
  options: PassOptions;
  usage: PlanUsage;
  nodes: Node[];
  random: Random;
  plan: Plan;
}

/**
 * One scheduler pass over a snapshot, touching nothing: reconcile the job with its allocations,
 * then find a node for each slot to fill. Slots that fit nowhere become placement failures.
 */
export function computePlan(evaluation: Evaluation, state: State, options: PassOptions): Plan {
  const job = state.job(evaluation.jobId);
  const diff = reconcile(job, state.allocsByJob(evaluation.jobId), options.now);
  const plan: Plan = {
    evalId: evaluation.id,
    jobId: evaluation.jobId,
    place: [],
    stop: diff.stop.map(({ alloc, reason }) => ({ allocId: alloc.id, description: reason })),
    failures: [],
  };
  if (job === undefined || diff.place.length === 0) return plan;
  const random = randomFor(evaluation.id);
  // Sorted first so that the shuffle, not the order the state keeps nodes in, decides.
  const nodes = shuffle([...state.nodes()].sort((a, b) => a.id.localeCompare(b.id)), random);
  const usage = new PlanUsage(state, new Set(plan.stop.map((s) => s.allocId)));
  const pass: Pass = { evaluation, job, options, usage, nodes, random, plan };
  const demands = new Map(job.groups.map((g) => [g.name, groupDemand(g)]));
  for (const request of diff.place) {
    const group = job.groups.find((g) => g.name === request.group);
    const demand = demands.get(request.group);
    if (group !== undefined && demand !== undefined) place(pass, request, group, demand);
  }
  return plan;
}

/** Places one slot, or counts it as missing in its group's failure. */
function place(pass: Pass, request: PlaceRequest, group: Group, demand: Demand): void {
  const failed = pass.plan.failures.find((f) => f.group === group.name);
  // Within a pass nodes only fill up, so once a group found no node, later slots will not either.
  if (failed !== undefined) {
    failed.missing++;
    return;
  }
  const selection = selectNode(pass.nodes, { job: pass.job, group, demand, usage: pass.usage });
  const node = selection.ok ? selection.node : undefined;
  const ports = node && assignPorts(group, node, pass.usage.used(node.id).ports, pass.random);
  if (node === undefined || ports === undefined) {
    const failure: PlacementFailure = { group: group.name, missing: 1, ...selection.metrics };
    pass.plan.failures.push(failure);
    return;
  }
  const { now, newId } = pass.options;
  const alloc: Allocation = {
    id: newId(),
    name: request.name,
    jobId: pass.job.id,
    jobVersion: pass.job.version,
    group: group.name,
    index: request.index,
    nodeId: node.id,
    evalId: pass.evaluation.id,
    desiredStatus: 'run',
    clientStatus: 'pending',
    taskStates: {},
    resources: { cpu: demand.cpuMilli / 1000, memoryMiB: demand.memoryMiB },
    ports,
    createTime: now,
    modifyTime: now,
  };
  pass.usage.add(alloc);
  pass.plan.place.push(alloc);
}
