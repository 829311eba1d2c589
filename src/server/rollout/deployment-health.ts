/**
 * The health of a deployment's new allocations, judged on the server from what agents report
 * (task states) and what the catalog holds (service check statuses), as Nomad's update block
 * defines it: healthy once healthy for `min_healthy_time`, unhealthy when it fails or is not
 * healthy by `healthy_deadline`.
 */
import { aggregateStatus, type Allocation, type DeploymentHealth, type Group, type ServiceInstance, type UpdateStrategy } from '../../model/index.ts';

/** How many catalog instances an allocation of the group registers. */
function expectedInstances(group: Group): number {
  return (group.services?.length ?? 0) + group.tasks.reduce((n, t) => n + (t.services?.length ?? 0), 0);
}

/** One allocation of a deployment, with what its health is judged by. */
export interface HealthSubject {
  alloc: Allocation;
  group: Group;
  /** The group's update strategy: how health is checked and for how long. */
  update: UpdateStrategy;
  /** The allocation's service instances in the catalog. */
  instances: readonly ServiceInstance[];
}

/** Whether the allocation looks healthy right now, or why not. */
export function looksHealthy(subject: HealthSubject): { ok: boolean; why: string } {
  const { alloc, group, update: u, instances } = subject;
  if (alloc.clientStatus !== 'running') return { ok: false, why: `allocation is ${alloc.clientStatus}` };
  const main = group.tasks.filter((t) => t.lifecycle === undefined || t.lifecycle.sidecar);
  const notRunning = main.filter((t) => alloc.taskStates[t.name]?.state !== 'running');
  if (notRunning.length > 0) return { ok: false, why: `task ${notRunning.map((t) => t.name).join(', ')} not running` };
  if (u.healthCheck !== 'checks') return { ok: true, why: '' };
  const expected = expectedInstances(group);
  if (instances.length < expected) return { ok: false, why: `${instances.length} of ${expected} services registered` };
  const failing = instances.filter((i) => aggregateStatus(i.checks) !== 'passing');
  if (failing.length > 0) {
    const output = failing[0].checks.find((c) => c.status !== 'passing');
    return { ok: false, why: `service ${failing[0].name} checks ${aggregateStatus(failing[0].checks)}${output?.output ? `: ${output.output.slice(0, 120)}` : ''}` };
  }
  return { ok: true, why: '' };
}

/**
 * The verdict on one allocation without health yet: healthy, unhealthy (with the reason), or
 * undefined while it is still making up its mind. `since` remembers when it first looked healthy.
 */
export function judge(subject: HealthSubject, clock: { now: number; since: Map<string, number> }): DeploymentHealth | undefined {
  const { alloc, update: u } = subject;
  const { now, since } = clock;
  if (alloc.clientStatus === 'failed' || alloc.clientStatus === 'lost') {
    return { healthy: false, time: now, reason: `allocation ${alloc.clientStatus}${alloc.clientDescription ? `: ${alloc.clientDescription}` : ''}` };
  }
  if (u.healthCheck === 'manual') return undefined;
  const seen = looksHealthy(subject);
  if (seen.ok) {
    const first = since.get(alloc.id) ?? now;
    since.set(alloc.id, first);
    if (now - first >= u.minHealthyTimeMs) return { healthy: true, time: now };
    return undefined;
  }
  since.delete(alloc.id);
  if (now >= alloc.createTime + u.healthyDeadlineMs) {
    return { healthy: false, time: now, reason: `not healthy within healthy_deadline ${u.healthyDeadlineMs / 1000}s: ${seen.why}` };
  }
  return undefined;
}
