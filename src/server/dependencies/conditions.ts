/**
 * Whether a job's dependencies (`after:` with conditions, `Job.dependsOn`) are met, read from the
 * state view: a dependency's allocations and their task states, its service instances' checks in
 * the catalog, its deployment, and for batch jobs their last run. Pure reads; the scheduler holds
 * placements on the answer and the dependency watcher wakes held jobs with it.
 */
import { aggregateStatus, type Allocation, type Dependency, type DependencyWait, type Group, type Job, type ServiceInstance } from '../../model/index.ts';
import type { StateView } from '../../state/index.ts';
import type { JobSummary } from '../../api/index.ts';
import { isTemplate, lastResult } from '../periodic/index.ts';

/** The dependencies of `job` that are not met now, each with what it is at; empty when all are. */
export function dependencyWaits(view: StateView, job: Job): DependencyWait[] {
  const waits: DependencyWait[] = [];
  for (const dep of job.dependsOn ?? []) {
    const reason = unmet(view, dep);
    if (reason !== undefined) waits.push({ job: dep.job, condition: dep.condition, reason });
  }
  return waits;
}

/** Why one dependency is not met, or undefined when it is. */
export function unmet(view: StateView, dep: Dependency): string | undefined {
  const target = view.job(dep.job);
  if (!target) return `no job "${dep.job}" yet (it is held until the job exists and is ${dep.condition})`;
  if (target.stop) return `job "${dep.job}" is stopped`;
  if (dep.condition === 'completed') return notCompleted(view, target);
  if (isTemplate(target)) {
    // A periodic, dispatched or chained job runs as children: its last run says how it is doing.
    const last = lastResult(view, target.id);
    return last?.outcome === 'complete' ? undefined : `job "${dep.job}" has no successful run yet`;
  }
  const wanted = target.groups.reduce((n, g) => n + g.count, 0);
  const live = currentAllocs(view, target);
  if (dep.condition === 'started') {
    const started = live.filter((a) => a.clientStatus === 'running' || a.clientStatus === 'complete').length;
    return started >= wanted ? undefined : `${started} of ${wanted} allocations running`;
  }
  return notHealthy(view, target, live, wanted);
}

function notCompleted(view: StateView, target: Job): string | undefined {
  if (target.type !== 'batch') return `job "${target.id}" is a ${target.type} job and never completes; wait for it to be started or healthy instead`;
  const last = lastResult(view, target.id);
  if (last === undefined) return `job "${target.id}" has not finished yet`;
  if (last.outcome === 'failed') return `job "${target.id}" failed (run ${last.run} at ${new Date(last.end).toISOString()}); run it again, or mark the run successful with \`berth job mark-success ${target.id}\``;
  return undefined;
}

/** The allocations of the job that count now: wanted to run (or finished, for batch), of any version. */
function currentAllocs(view: StateView, job: Job): Allocation[] {
  return view.allocsByJob(job.id).filter((a) => a.desiredStatus === 'run' && a.clientStatus !== 'failed' && a.clientStatus !== 'lost');
}

/** `healthy`: every wanted allocation runs its tasks and passes its checks (a successful deployment of the version is enough). */
function notHealthy(view: StateView, job: Job, live: Allocation[], wanted: number): string | undefined {
  const deployment = view.latestDeployment(job.id);
  if (deployment?.jobVersion === job.version && deployment.status === 'successful') return undefined;
  const byAlloc = instancesByAlloc(view, live);
  let healthy = 0;
  let why = '';
  for (const alloc of live) {
    const group = job.groups.find((g) => g.name === alloc.group);
    const verdict = group === undefined ? 'its group is gone' : allocUnhealthy(alloc, group, byAlloc.get(alloc.id) ?? []);
    if (verdict === undefined) healthy++;
    else why ||= `${alloc.name}: ${verdict}`;
  }
  if (healthy >= wanted) return undefined;
  return `${healthy} of ${wanted} allocations healthy${why ? ` (${why})` : ''}`;
}

function instancesByAlloc(view: StateView, allocs: Allocation[]): Map<string, ServiceInstance[]> {
  const ids = new Set(allocs.map((a) => a.id));
  const out = new Map<string, ServiceInstance[]>();
  for (const i of view.serviceInstances()) {
    if (i.source.kind !== 'alloc' || !ids.has(i.source.allocId)) continue;
    out.set(i.source.allocId, [...(out.get(i.source.allocId) ?? []), i]);
  }
  return out;
}

/** Why one allocation is not healthy, or undefined: a completed batch allocation is. */
function allocUnhealthy(alloc: Allocation, group: Group, instances: ServiceInstance[]): string | undefined {
  if (alloc.clientStatus === 'complete') return undefined;
  if (alloc.deploymentHealth?.healthy === false) return `unhealthy: ${alloc.deploymentHealth.reason ?? 'deployment says so'}`;
  if (alloc.clientStatus !== 'running') return `allocation ${alloc.clientStatus}`;
  const main = group.tasks.filter((t) => t.lifecycle === undefined || t.lifecycle.sidecar);
  const down = main.filter((t) => alloc.taskStates[t.name]?.state !== 'running');
  if (down.length > 0) return `task ${down.map((t) => t.name).join(', ')} not running`;
  const expected = (group.services?.length ?? 0) + group.tasks.reduce((n, t) => n + (t.services?.length ?? 0), 0);
  if (instances.length < expected) return `${instances.length} of ${expected} services registered`;
  const failing = instances.find((i) => aggregateStatus(i.checks) !== 'passing');
  if (failing === undefined) return undefined;
  const check = failing.checks.find((c) => c.status !== 'passing');
  return `service ${failing.name} checks ${aggregateStatus(failing.checks)}${check?.output ? `: ${check.output.slice(0, 120)}` : ''}`;
}

/** When a job's allocations last (re)started: the newest task start over its running allocations, or undefined. */
export function lastStart(view: StateView, jobId: string): number | undefined {
  let newest: number | undefined;
  for (const a of view.allocsByJob(jobId)) {
    if (a.desiredStatus !== 'run' || a.clientStatus !== 'running') continue;
    for (const t of Object.values(a.taskStates)) if (t.startedAt !== undefined && (newest === undefined || t.startedAt > newest)) newest = t.startedAt;
  }
  return newest;
}

/** One dependency of a job and whether it is met now, for `job status` and the API. */
export interface DependencyState {
  job: string;
  condition: Dependency['condition'];
  restart: boolean;
  met: boolean;
  /** What it is at, when not met. */
  reason?: string;
}

/** Every dependency of a job with its state now. */
export function dependencyStates(view: StateView, job: Job): DependencyState[] {
  return (job.dependsOn ?? []).map((dep) => {
    const reason = unmet(view, dep);
    return reason === undefined ? { ...dep, met: true } : { ...dep, met: false, reason };
  });
}

/**
 * A job's summary with its dependencies and, when its latest evaluation held its placements, what
 * it waits for now (read fresh: the evaluation's reasons may be older).
 */
export function withDependencies(view: StateView, summary: JobSummary): JobSummary {
  const job = view.job(summary.jobId);
  if (!job?.dependsOn?.length) return summary;
  const dependencies = dependencyStates(view, job);
  const out: JobSummary = { ...summary, dependencies };
  if (!job.stop && summary.latestEval?.held?.length) {
    const waits = dependencyWaits(view, job);
    out.held = waits.length > 0 ? waits : summary.latestEval.held;
  }
  return out;
}
