/**
 * The deployment a registration writes: made when a registration changes a service job whose
 * groups have an update strategy, superseding the job's running one. rollout/ moves it on from there.
 */
import type { Deployment, DeploymentGroupState, Job } from '../../model/index.ts';
import type { StateView, Write } from '../../state/index.ts';
import { newId } from '../../lib/index.ts';

/** Statuses a deployment can still leave. */
export function isActive(d: Deployment): boolean {
  return d.status === 'running' || d.status === 'paused';
}

/** The deployment of a new job version, or undefined when no group has an update strategy. */
export function newDeployment(job: Job, now: number, hasPrevious = true): Deployment | undefined {
  if (job.type !== 'service' || job.stop) return undefined;
  const groups: Record<string, DeploymentGroupState> = {};
  for (const g of job.groups) {
    const u = g.update;
    if (u === undefined || u.maxParallel === 0) continue;
    groups[g.name] = {
      desired: g.count,
      // A first version has nothing to compare canaries with: it places everything at once.
      desiredCanaries: hasPrevious ? u.canary : 0,
      canaries: [],
      promoted: !hasPrevious || u.canary === 0,
      autoRevert: u.autoRevert,
      placed: 0,
      healthy: 0,
      unhealthy: 0,
      // No deployment waits forever: without a progress deadline, the healthy deadline bounds it.
      progressDeadline: now + (u.progressDeadlineMs || u.healthyDeadlineMs),
    };
  }
  if (Object.keys(groups).length === 0) return undefined;
  return { id: newId(), jobId: job.id, jobVersion: job.version, status: 'running', statusDescription: 'Deployment is running', groups, createTime: now, modifyTime: now };
}

/** Writes that cancel the job's active deployments, saying why. */
export function cancelActive(view: StateView, cancel: { jobId: string; why: string; now: number }): Write[] {
  const { jobId, why, now } = cancel;
  return view
    .deploymentsByJob(jobId)
    .filter(isActive)
    .map((d) => ({ table: 'deployments' as const, id: d.id, value: { ...d, status: 'cancelled' as const, statusDescription: why, modifyTime: now }, ifModRevision: view.modRevision('deployments', d.id) }));
}

/** Writes for a registration: supersede the active deployment, start the new one (if any). */
export function deploymentWrites(view: StateView, job: Job, now: number): { deployment?: Deployment; writes: Write[] } {
  const writes = cancelActive(view, { jobId: job.id, why: `Cancelled because job version ${job.version} was registered`, now });
  const hasPrevious = view.allocsByJob(job.id).some((a) => a.desiredStatus === 'run' && a.jobVersion !== job.version);
  const deployment = newDeployment(job, now, hasPrevious);
  if (deployment) writes.push({ table: 'deployments', id: deployment.id, value: deployment });
  return { deployment, writes };
}
