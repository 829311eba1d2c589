/**
 * What the catalog should hold for one allocation: pure, with the ids from checks/alloc-checks.ts,
 * so that the sync loop (server) and the check runners (agent) agree on every instance and check id.
 */
import type { Allocation, CheckState, Job, Node, ServiceInstance, TaskNetwork } from '../../model/index.ts';
import { allocServices, checkIds, hostPort, instanceId, type AllocService } from '../checks/index.ts';

/**
 * Where an instance is reached, by its service's address mode (Nomad's rules): `host`, the node's
 * address and the label's host port; `driver`, the task's own address (a container's IP) and the
 * port inside it (the label's `to`); `auto`, the driver's when the driver advertises it (a
 * container on a network other than the default bridge), else the host's. Undefined for `driver`
 * when the task has no address of its own (a process, host networking): Nomad does not register
 * such a service either.
 */
function instanceAddress(alloc: Allocation, job: Job, node: Node, svc: AllocService): { address: string; port: number } | undefined {
  const mode = svc.spec.addressMode;
  const network = mode === 'host' ? undefined : taskNetwork(alloc, job, svc);
  if (mode === 'driver' && !network) return undefined;
  if (network && (mode === 'driver' || network.autoAdvertise)) {
    const port = svc.spec.portLabel === undefined ? 0 : (alloc.ports.find((p) => p.label === svc.spec.portLabel)?.to ?? 0);
    return { address: network.ip, port };
  }
  return { address: node.address, port: hostPort(alloc, svc.spec.portLabel) };
}

/** The address of the service's task, or for a group service of the group's first task that has one. */
function taskNetwork(alloc: Allocation, job: Job, svc: AllocService): TaskNetwork | undefined {
  if (svc.task !== undefined) return alloc.taskStates[svc.task]?.network;
  const tasks = job.groups.find((g) => g.name === alloc.group)?.tasks ?? [];
  for (const t of tasks) {
    const network = alloc.taskStates[t.name]?.network;
    if (network) return network;
  }
  return undefined;
}

/** True when the allocation's services belong in the catalog: it runs and is wanted. */
export function allocServing(alloc: Allocation): boolean {
  return alloc.desiredStatus === 'run' && alloc.clientStatus === 'running';
}

/** What `deriveInstances` reads. */
export interface DeriveInput {
  alloc: Allocation;
  job: Job;
  node: Node;
  /** The instance the catalog holds under an id, if any. */
  previous: (id: string) => ServiceInstance | undefined;
  now: number;
  /** The state index new instances are created at. */
  index: number;
}

/**
 * The instances an allocation should have in the catalog. Checks keep the status `previous`
 * holds for the same id; new ones start critical, as in Consul.
 */
export function deriveInstances(input: DeriveInput): ServiceInstance[] {
  const { alloc, job, node, previous, now, index } = input;
  if (!allocServing(alloc)) return [];
  const out: ServiceInstance[] = [];
  for (const svc of allocServices(job, alloc.group)) {
    // A task service is there only while its task runs.
    if (svc.task !== undefined && alloc.taskStates[svc.task]?.state !== 'running') continue;
    const at = instanceAddress(alloc, job, node, svc);
    if (!at) continue;
    const id = instanceId(alloc.id, svc);
    const prev = previous(id);
    const ids = checkIds(id, svc.spec.checks.length);
    const checks: CheckState[] = svc.spec.checks.map((spec, i) => {
      const old = prev?.checks.find((c) => c.id === ids[i]);
      const name = spec.name ?? `service: "${svc.spec.name}" check`;
      if (old && old.type === spec.type) return { ...old, name, spec };
      return { id: ids[i], name, type: spec.type, status: 'critical', output: '', notes: '', spec, updatedAt: now, criticalSince: now };
    });
    out.push({
      id,
      name: svc.spec.name,
      nodeId: node.id,
      nodeName: node.name,
      datacenter: node.datacenter,
      address: at.address,
      port: at.port,
      tags: [...svc.spec.tags],
      meta: { ...svc.spec.meta },
      checks,
      source: { kind: 'alloc', allocId: alloc.id, jobId: alloc.jobId, group: alloc.group, ...(svc.task !== undefined ? { task: svc.task } : {}) },
      createIndex: prev?.createIndex ?? index,
    });
  }
  return out;
}

/** True when two instances would serve the same to readers (ignores nothing but identity). */
export function sameInstance(a: ServiceInstance, b: ServiceInstance): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
