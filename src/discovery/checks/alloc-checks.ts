/**
 * Which checks an allocation's services have and the ids they report under: pure, so that the
 * catalog (server, which registers the instances) and the check runners (agent, which runs them)
 * agree on every instance and check id without talking to each other. It lives in checks/, not
 * catalog/, because the agent may import checks/ only.
 */
import type { Allocation, Job, ServiceSpec } from '../../model/index.ts';

/** A service of an allocation with where it was declared. */
export interface AllocService {
  spec: ServiceSpec;
  /** The task that declared it; absent for a group service. */
  task?: string;
}

/** Every service an allocation's group and tasks declare. */
export function allocServices(job: Job, groupName: string): AllocService[] {
  const group = job.groups.find((g) => g.name === groupName);
  if (!group) return [];
  const out: AllocService[] = (group.services ?? []).map((spec) => ({ spec }));
  for (const task of group.tasks) for (const spec of task.services ?? []) out.push({ spec, task: task.name });
  return out;
}

/**
 * The instance id, after Nomad's `_nomad-task-<alloc>-<task>-<service>-<port>`: unique in the
 * cluster and stable for the allocation's life, so a re-sync rewrites rather than duplicates.
 */
export function instanceId(allocId: string, svc: AllocService): string {
  const owner = svc.task === undefined ? 'group' : `task-${svc.task}`;
  return `_berth-${owner}-${allocId}-${svc.spec.name}-${svc.spec.portLabel ?? 'none'}`;
}

/** Consul's check ids for a service's checks: `service:<id>`, or `service:<id>:<n>` (from 1) when it has several. */
export function checkIds(serviceId: string, count: number): string[] {
  if (count === 1) return [`service:${serviceId}`];
  return Array.from({ length: count }, (_, i) => `service:${serviceId}:${i + 1}`);
}

/** The port an allocation gave a label: the host port (what other hosts reach). 0 when none. */
export function hostPort(alloc: Allocation, label: string | undefined): number {
  if (label === undefined) return 0;
  return alloc.ports.find((p) => p.label === label)?.value ?? 0;
}
