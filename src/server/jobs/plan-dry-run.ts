import { isTerminal, type DependencyWait, type Evaluation, type Job } from '../../model/index.ts';
import type { GroupPlanCounts, JobPlanResponse } from '../../api/index.ts';
import { computePlan, explain, type State } from '../../scheduler/index.ts';
import type { StateView } from '../../state/index.ts';
import { newId } from '../../lib/index.ts';
import type { JobSpec } from './job-service.ts';

/**
 * `job plan`: runs the scheduler on the current state with the spec laid over it, and reports what
 * it would place, stop and update, and why what cannot be placed would not be. Commits nothing.
 */
export function planJob(
  view: StateView,
  spec: JobSpec,
  options: { now: number; changed: boolean; algorithm?: 'binpack' | 'spread'; waits?: (job: Job) => DependencyWait[] },
): JobPlanResponse {
  const prev = view.job(spec.id);
  const version = prev === undefined ? 0 : options.changed ? prev.version + 1 : prev.version;
  const job: Job = { ...spec, version, stop: false, submitTime: options.now };
  const base = view.snapshot();
  const state: State = {
    job: (id) => (id === job.id ? job : base.job(id)),
    nodes: () => base.nodes(),
    node: (id) => base.node(id),
    allocsByJob: (id) => base.allocsByJob(id),
    allocsByNode: (id) => base.allocsByNode(id),
  };
  const evaluation: Evaluation = {
    id: newId(),
    jobId: job.id,
    priority: job.priority,
    triggeredBy: 'plan-dry-run',
    status: 'pending',
    failures: [],
    createTime: options.now,
    modifyTime: options.now,
  };
  const plan = computePlan(evaluation, state, { now: options.now, newId, algorithm: options.algorithm, explain: true });
  const groups: Record<string, GroupPlanCounts> = {};
  for (const g of job.groups) groups[g.name] = { place: 0, stop: 0, inplace: 0, destructive: 0, migrate: 0, lost: 0, reschedule: 0 };
  const count = (bucket: keyof GroupPlanCounts, group: string): void => {
    if (groups[group] !== undefined) groups[group][bucket]++;
  };
  for (const a of plan.place) count('place', a.group);
  for (const s of plan.diff.stop) count('stop', s.alloc.group);
  for (const bucket of ['inplace', 'destructive', 'migrate', 'lost', 'reschedule'] as const) for (const a of plan.diff[bucket]) count(bucket, a.group);
  // A version with canaries first places that many beside the old allocations (when it replaces any).
  for (const g of job.groups) {
    const c = groups[g.name];
    if (c !== undefined && g.update !== undefined && g.update.canary > 0 && c.destructive > 0) c.canary = Math.min(g.update.canary, c.destructive);
  }
  // Where the placements would go is shown either way; `held` says they wait for dependencies first.
  const held = plan.place.length > 0 && job.dependsOn?.length && !base.allocsByJob(job.id).some((a) => !isTerminal(a)) ? options.waits?.(job) : undefined;
  return {
    ...(held?.length ? { held } : {}),
    jobId: job.id,
    version,
    changed: options.changed,
    groups,
    placements: plan.place.map((a) => ({ name: a.name, nodeId: a.nodeId, nodeName: base.node(a.nodeId)?.name ?? a.nodeId, topScores: plan.scores[a.id] ?? [] })),
    failures: plan.failures,
    explanation: plan.failures.map((f) => `cannot place ${f.missing} of group "${f.group}": ${explain(f)}`),
  };
}
