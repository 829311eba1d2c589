/**
 * Rolling updates: a group with an update strategy replaces at most `max_parallel` allocations of
 * an older version at a time, and only once those of the new version already placed are healthy
 * (the deployment watcher sets their health). A paused or failed deployment replaces nothing.
 */
import { isTerminal, type Allocation, type Deployment, type Job } from '../model/index.ts';
import type { PlaceRequest, Subject, Verdict } from './reconcile-rules.ts';

/** What pacing reads: the job, its allocations and its newest deployment. */
export interface Rollout {
  job: Job;
  allocs: readonly Allocation[];
  deployment: Deployment | undefined;
}

/** One classified allocation, as the reconciler holds it before settling it in its buckets. */
export interface Classified {
  subject: Subject;
  verdict: Verdict;
  reason: string;
}

/**
 * How many more destructive updates a group may start now: `max_parallel` minus the new
 * allocations of this deployment that are not healthy yet; none while one is unhealthy or the
 * deployment is not running. Undefined: no pacing (no strategy, or no deployment of this version).
 */
export function destructiveBudget(rollout: Rollout, group: string): number | undefined {
  const { job, allocs, deployment } = rollout;
  const strategy = job.groups.find((g) => g.name === group)?.update;
  if (job.type !== 'service' || strategy === undefined || strategy.maxParallel === 0) return undefined;
  if (deployment === undefined || deployment.jobVersion !== job.version) return undefined;
  if (deployment.status !== 'running') return 0;
  const state = deployment.groups[group];
  if (state !== undefined && state.desiredCanaries > 0 && !state.promoted) return 0;
  let inFlight = 0;
  for (const a of allocs) {
    if (a.group !== group || a.deploymentId !== deployment.id) continue;
    if (a.deploymentHealth?.healthy === false || (a.clientStatus === 'failed' && a.deploymentHealth === undefined)) return 0;
    if (!isTerminal(a) && a.deploymentHealth === undefined) inFlight++;
  }
  return Math.max(0, strategy.maxParallel - inFlight);
}

/**
 * Turns destructive verdicts past each group's budget into `keep`: those allocations run on, in
 * their slots, until a later evaluation has room for them. Lowest slots go first.
 */
export function paceDestructive(rollout: Rollout, classified: Classified[]): void {
  const { job, allocs, deployment } = rollout;
  const budgets = new Map<string, number | undefined>();
  const destructive = classified.filter((c) => c.verdict === 'destructive').sort((a, b) => a.subject.alloc.index - b.subject.alloc.index);
  for (const c of destructive) {
    const group = c.subject.alloc.group;
    if (!budgets.has(group)) budgets.set(group, destructiveBudget(rollout, group));
    const budget = budgets.get(group);
    if (budget === undefined) continue;
    // A promoted canary already holds this slot: stopping the old allocation places nothing.
    if (!awaitingPromotion(job, group, deployment) && allocs.some((a) => a.canary === true && a.group === group && a.index === c.subject.alloc.index && a.deploymentId === deployment?.id && !isTerminal(a))) continue;
    if (budget > 0) budgets.set(group, budget - 1);
    else {
      c.verdict = 'keep';
      c.reason = 'waiting for the rolling update';
    }
  }
}

/** The group's state in a running deployment of this job version that waits for a promotion. */
function awaitingPromotion(job: Job, group: string, deployment: Deployment | undefined): boolean {
  if (deployment === undefined || deployment.status !== 'running' || deployment.jobVersion !== job.version) return false;
  const state = deployment.groups[group];
  return state !== undefined && state.desiredCanaries > 0 && !state.promoted;
}

/**
 * Canaries: until the deployment is promoted, they run beside the allocation of their slot, so
 * the slot logic does not see them (it would stop one of the two).
 */
export function setCanariesAside(job: Job, classified: Classified[], deployment: Deployment | undefined): void {
  for (const c of classified) {
    const a = c.subject.alloc;
    if (a.canary === true && a.deploymentId === deployment?.id && c.verdict === 'keep' && awaitingPromotion(job, a.group, deployment)) {
      c.verdict = 'ignore';
      c.reason = 'canary';
    }
  }
}

/**
 * The canaries still to place for each group awaiting promotion: each in the slot of a live
 * allocation of an older version (the lowest first), which keeps running beside it.
 */
export function canaryPlacements(rollout: Rollout, name: (group: string, index: number) => string): PlaceRequest[] {
  const { job, allocs, deployment } = rollout;
  const out: PlaceRequest[] = [];
  for (const group of job.groups) {
    if (!awaitingPromotion(job, group.name, deployment)) continue;
    const mine = allocs.filter((a) => a.group === group.name && !isTerminal(a));
    const canaries = mine.filter((a) => a.canary === true && a.deploymentId === deployment!.id);
    const taken = new Set(canaries.map((a) => a.index));
    const slots = mine.filter((a) => a.jobVersion !== job.version && !taken.has(a.index) && a.index < group.count).map((a) => a.index);
    const need = deployment!.groups[group.name].desiredCanaries - canaries.length;
    for (const index of [...new Set(slots)].sort((x, y) => x - y).slice(0, Math.max(0, need))) {
      out.push({ group: group.name, index, name: name(group.name, index), canary: true });
    }
  }
  return out;
}
