import { MAX_NODE_REASONS, isTerminal, type Allocation, type DependencyWait, type Evaluation, type Group, type Job, type Node, type Plan, type PlacementFailure } from '../model/index.ts';
import { groupConstraints, groupDemand, type Demand, type PlacementAsk } from './feasible.ts';
import type { State } from './interfaces.ts';
import { assignPorts } from './ports.ts';
import { JobPresence } from './presence.ts';
import { randomFor, shuffle, type Random } from './random.ts';
import type { SchedulerAlgorithm } from './rank.ts';
import { reconcile, type PlaceRequest, type ReconcileResult } from './reconcile.ts';
import { nextRescheduleEvents, reschedulePolicy } from './reschedule.ts';
import { specHash } from './spec-hash.ts';
import { candidateLimit, selectNode, type SelectMetrics } from './stack.ts';
import { reconcileSystem } from './system.ts';
import { PlanUsage } from './plan-usage.ts';
import { resolveAttribute } from './constraints.ts';

/** What a pass needs besides the state: the time and the id maker of the schedule context. */
export interface PassOptions {
  now: number;
  newId: () => string;
  /** Bin-pack (default) or spread: a cluster setting. */
  algorithm?: SchedulerAlgorithm;
  /** Keep the best scores of each placement in `scores` (for `job plan`); default false. */
  explain?: boolean;
  /**
   * The dependencies of a job (`Job.dependsOn`) not met now; absent: none are checked. The server
   * reads them from its view (conditions need the catalog's checks, which State does not hold).
   */
  waits?: (job: Job) => DependencyWait[];
}

/** A pass's plan with what the reconciler decided, and with `explain`, the scores per placed allocation. */
export type ComputedPlan = Plan & {
  diff: ReconcileResult;
  scores: Record<string, { nodeId: string; score: number }[]>;
  /** Placements held back: the job's dependencies not met yet. */
  held?: DependencyWait[];
};

/** Everything one placement pass shares. */
export interface Pass {
  evaluation: Evaluation;
  job: Job;
  options: PassOptions;
  usage: PlanUsage;
  presence: JobPresence;
  nodes: Node[];
  random: Random;
  plan: ComputedPlan;
  /** Where the next candidate search starts in `nodes`: successive placements look further on. */
  cursor: number;
  limit: number;
  values: Map<string, Set<string>>;
  /** The running deployment of this job version: new allocations belong to it. */
  deploymentId?: string;
}

/** Down or draining nodes that hold allocations of the job, by id; missing nodes count as down. */
function taintedNodes(state: State, allocs: readonly Allocation[]): Map<string, Node> {
  const tainted = new Map<string, Node>();
  for (const alloc of allocs) {
    if (tainted.has(alloc.nodeId)) continue;
    const node = state.node(alloc.nodeId);
    if (node === undefined) tainted.set(alloc.nodeId, { id: alloc.nodeId, status: 'down' } as Node);
    else if (node.status === 'down' || node.drain !== undefined) tainted.set(node.id, node);
  }
  return tainted;
}

/**
 * One scheduler pass over a snapshot, touching nothing: reconcile the job with its allocations,
 * then find a node for each slot to fill. Slots that fit nowhere become placement failures.
 */
export function computePlan(evaluation: Evaluation, state: State, options: PassOptions): ComputedPlan {
  const stored = state.job(evaluation.jobId);
  // Periodic, parameterized and dependent jobs are templates: their child jobs run, they never do.
  const job = stored && (stored.periodic || stored.parameterized || stored.after) ? { ...stored, stop: true } : stored;
  const allocs = state.allocsByJob(evaluation.jobId);
  const tainted = taintedNodes(state, allocs);
  const deployment = job === undefined ? undefined : state.latestDeployment?.(job.id);
  const diff =
    job?.type === 'system' && !job.stop ? reconcileSystem(job, allocs, { state, now: options.now, tainted }) : reconcile(job, allocs, { now: options.now, tainted, deployment });
  const plan: ComputedPlan = {
    evalId: evaluation.id,
    jobId: evaluation.jobId,
    place: [],
    stop: diff.stop.map(({ alloc, reason, clientStatus }) => (clientStatus ? { allocId: alloc.id, description: reason, clientStatus } : { allocId: alloc.id, description: reason })),
    failures: [],
    update: [],
    followups: [],
    diff,
    scores: {},
  };
  if (job !== undefined) {
    const joining = deployment?.status === 'running' && deployment.jobVersion === job.version ? deployment.id : undefined;
    for (const alloc of diff.inplace) plan.update!.push(inPlace(alloc, job, joining, options.now));
    addFollowups(plan, diff, evaluation, options);
  }
  if (job === undefined || diff.place.length === 0) return plan;
  const held = heldBy(job, allocs, options);
  if (held !== undefined) {
    plan.held = held;
    return plan;
  }
  const random = randomFor(evaluation.id);
  // Sorted first so that the shuffle, not the order the state keeps nodes in, decides (the
  // server's state lists them by id already: the check is cheaper than a sort).
  const nodes = shuffle(byId(state.nodes()), random);
  const stopping = new Map(diff.stop.map((s) => [s.alloc.id, s.alloc]));
  const usage = new PlanUsage(state, stopping);
  const presence = new JobPresence(state, allocs, new Set(stopping.keys()));
  const limit = candidateLimit(job.type, nodes.length);
  const deploymentId = deployment?.status === 'running' && deployment.jobVersion === job.version ? deployment.id : undefined;
  const pass: Pass = { evaluation, job, options, usage, presence, nodes, random, plan, cursor: 0, limit, values: new Map(), deploymentId };
  const asks = new Map<string, PlacementAsk>();
  for (const g of job.groups) {
    asks.set(g.name, { job, group: g, demand: groupDemand(g), usage, presence, constraints: groupConstraints(job, g), staticVerdicts: new Map() });
  }
  for (const request of diff.place) {
    const ask = asks.get(request.group);
    if (ask !== undefined) place(pass, request, ask);
  }
  return plan;
}

/**
 * The dependencies that hold a job's placements: only while the job runs nothing, so a job that
 * started keeps its replacements and scale-ups whatever its dependencies do later (as Compose's
 * `depends_on` orders start-up only).
 */
function heldBy(job: Job, allocs: readonly Allocation[], options: PassOptions): DependencyWait[] | undefined {
  if (!job.dependsOn?.length || options.waits === undefined || job.stop) return undefined;
  if (allocs.some((a) => !isTerminal(a))) return undefined;
  const waits = options.waits(job);
  return waits.length > 0 ? waits : undefined;
}

/**
 * An allocation updated in place joins the running deployment of the new version: a healthy one
 * stays healthy (nothing restarted), any other is judged again.
 */
function inPlace(alloc: Allocation, job: Job, deploymentId: string | undefined, now: number): Allocation {
  const out: Allocation = { ...alloc, jobVersion: job.version, modifyTime: now };
  if (deploymentId === undefined) return out;
  out.deploymentId = deploymentId;
  if (alloc.deploymentHealth?.healthy !== true && alloc.clientStatus === 'running') delete out.deploymentHealth;
  if (alloc.deploymentHealth === undefined && alloc.clientStatus === 'running') out.deploymentHealth = { healthy: true, time: now };
  return out;
}

/**
 * Delayed evaluations for what must be looked at later, one per distinct time; each allocation
 * it covers is marked with it, so that later passes do not make another.
 */
function addFollowups(plan: Plan, diff: ReconcileResult, evaluation: Evaluation, options: PassOptions): void {
  const byTime = new Map<number, Evaluation>();
  for (const f of diff.followups) {
    let followup = byTime.get(f.at);
    if (followup === undefined) {
      followup = {
        id: options.newId(),
        jobId: evaluation.jobId,
        priority: evaluation.priority,
        triggeredBy: 'reschedule',
        status: 'pending',
        statusDescription: `follow-up: ${f.reason}`,
        failures: [],
        createTime: options.now,
        modifyTime: options.now,
        waitUntil: f.at,
        previousEval: evaluation.id,
      };
      byTime.set(f.at, followup);
      plan.followups!.push(followup);
    }
    const updated = plan.update!.find((a) => a.id === f.alloc.id);
    if (updated !== undefined) updated.followupEvalId = followup.id;
    else plan.update!.push({ ...f.alloc, followupEvalId: followup.id });
  }
}

/** The distinct values of an attribute over every node, for even spreads. */
function valuesOf(pass: Pass, attribute: string): Set<string> {
  let values = pass.values.get(attribute);
  if (values === undefined) {
    values = new Set();
    for (const node of pass.nodes) {
      const v = resolveAttribute(node, attribute);
      if (v !== undefined) values.add(v);
    }
    pass.values.set(attribute, values);
  }
  return values;
}

/** Places one slot, or counts it as missing in its group's failure. */
function place(pass: Pass, request: PlaceRequest, base: PlacementAsk): void {
  const group = base.group;
  const failed = pass.plan.failures.find((f) => f.group === group.name);
  // Within a pass nodes only fill up, so once a group found no node, later slots will not either.
  if (failed !== undefined && request.nodeId === undefined) {
    failed.missing++;
    return;
  }
  const candidates = request.nodeId === undefined ? pass.nodes : pass.nodes.filter((n) => n.id === request.nodeId);
  const penaltyNodes = request.previous === undefined ? undefined : new Set([request.previous.nodeId, ...(request.previous.rescheduleEvents ?? []).map((e) => e.prevNodeId)]);
  const ask: PlacementAsk = penaltyNodes === undefined ? base : { ...base, penaltyNodes };
  // Affinities and spreads are about the whole cluster: every feasible node is scored (as Nomad does).
  const soft = (pass.job.affinities?.length ?? 0) + (pass.job.spreads?.length ?? 0) + (group.affinities?.length ?? 0) + (group.spreads?.length ?? 0) > 0;
  const selection = selectNode(candidates, ask, {
    limit: request.nodeId === undefined && !soft ? pass.limit : Infinity,
    start: request.nodeId === undefined ? pass.cursor : 0,
    preferUsed: (pass.options.algorithm ?? 'binpack') === 'binpack',
    rank: { algorithm: pass.options.algorithm ?? 'binpack', allValues: (a) => valuesOf(pass, a) },
    scores: pass.options.explain === true,
  });
  const node = selection.ok ? selection.node : undefined;
  const ports = node && assignPorts(group, node, { used: pass.usage.used(node.id).ports, random: pass.random });
  if (node === undefined || ports === undefined) {
    if (request.nodeId !== undefined) {
      // A system job: the node suits it but has no room; say so in the group's failure.
      if (failed !== undefined) mergeMetrics(failed, selection.metrics);
      else pass.plan.failures.push({ group: group.name, missing: 1, ...selection.metrics });
      return;
    }
    const failure: PlacementFailure = { group: group.name, missing: 1, ...selection.metrics };
    pass.plan.failures.push(failure);
    return;
  }
  const alloc = newAlloc(pass, request, group, base.demand, node, ports);
  pass.plan.place.push(alloc);
  if (pass.options.explain === true) pass.plan.scores[alloc.id] = selection.metrics.topScores;
  // The next placement starts its search at this node: it fills up before the search moves on,
  // which packs well, while the seeded shuffle keeps different jobs on different nodes.
  if (request.nodeId === undefined && selection.ok) pass.cursor = selection.position;
}

function newAlloc(pass: Pass, request: PlaceRequest, group: Group, demand: Demand, node: Node, ports: Allocation['ports']): Allocation {
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
    resources: demand.diskMiB > 0 ? { cpu: demand.cpuMilli / 1000, memoryMiB: demand.memoryMiB, diskMiB: demand.diskMiB } : { cpu: demand.cpuMilli / 1000, memoryMiB: demand.memoryMiB },
    ports,
    createTime: now,
    modifyTime: now,
    specHash: specHash(group),
  };
  if (pass.deploymentId !== undefined) alloc.deploymentId = pass.deploymentId;
  if (request.canary === true) alloc.canary = true;
  const prev = request.previous;
  if (prev !== undefined) {
    alloc.previousAllocation = prev.id;
    if (request.rescheduleDelayMs !== undefined) {
      alloc.rescheduleEvents = nextRescheduleEvents(prev, reschedulePolicy(pass.job.type, group), { now, delayMs: request.rescheduleDelayMs });
    } else if (prev.rescheduleEvents !== undefined) alloc.rescheduleEvents = prev.rescheduleEvents;
  }
  pass.usage.add(alloc);
  pass.presence.add(alloc);
  return alloc;
}

function mergeMetrics(failure: PlacementFailure, metrics: SelectMetrics): void {
  failure.missing++;
  failure.nodesEvaluated += metrics.nodesEvaluated;
  for (const [k, v] of Object.entries(metrics.filtered)) failure.filtered[k] = (failure.filtered[k] ?? 0) + v;
  failure.exhausted ??= {};
  for (const [k, v] of Object.entries(metrics.exhausted)) failure.exhausted[k] = (failure.exhausted[k] ?? 0) + v;
  // The listed nodes stay bounded: past the limit a rejected node is only counted.
  failure.nodes ??= [];
  for (const r of metrics.nodes) {
    if (failure.nodes.length < MAX_NODE_REASONS) failure.nodes.push(r);
    else failure.nodesOmitted = (failure.nodesOmitted ?? 0) + 1;
  }
  failure.nodesOmitted = (failure.nodesOmitted ?? 0) + metrics.nodesOmitted;
  for (const [k, v] of Object.entries(metrics.shortfall ?? {})) {
    failure.shortfall ??= {};
    if (!failure.shortfall[k] || v.mostFree > failure.shortfall[k].mostFree) failure.shortfall[k] = v;
  }
}

function byId(nodes: Node[]): Node[] {
  for (let i = 1; i < nodes.length; i++) {
    if (nodes[i - 1].id > nodes[i].id) return [...nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  return nodes;
}
