import type { Allocation, Evaluation, Group, Job, Node, Task } from '../model/index.ts';

/** Counters per kind, so that mock ids read `node-3`, `alloc-12` and never collide within a run. */
const counters = new Map<string, number>();

function nextId(kind: string): string {
  const n = (counters.get(kind) ?? 0) + 1;
  counters.set(kind, n);
  return `${kind}-${n}`;
}

/** A docker task running busybox httpd with half a core and 256 MiB. */
export function mockTask(overrides: Partial<Task> = {}): Task {
  return {
    name: 'web',
    driver: 'docker',
    config: { image: 'busybox', command: 'httpd', args: ['-f'] },
    env: {},
    resources: { cpu: 0.5, memoryMiB: 256 },
    killTimeoutMs: 5_000,
    ...overrides,
  };
}

/** A group "web" of 3 with one `mockTask` and no ports. */
export function mockGroup(overrides: Partial<Group> = {}): Group {
  return {
    name: 'web',
    count: 3,
    tasks: [mockTask()],
    ports: [],
    restart: { attempts: 2, intervalMs: 1_800_000, delayMs: 15_000, mode: 'fail' },
    ...overrides,
  };
}

/** A service job "web", version 0, in dc1, with one `mockGroup`. */
export function mockJob(overrides: Partial<Job> = {}): Job {
  return {
    id: 'web',
    type: 'service',
    priority: 50,
    datacenters: ['dc1'],
    groups: [mockGroup()],
    meta: {},
    version: 0,
    stop: false,
    submitTime: 0,
    ...overrides,
  };
}

/** A ready, eligible node in dc1 with 4 cores, 8 GiB, docker and process drivers, ports 20000-32000. */
export function mockNode(overrides: Partial<Node> = {}): Node {
  const id = overrides.id ?? nextId('node');
  return {
    id,
    name: id,
    datacenter: 'dc1',
    address: '10.0.0.1',
    httpAddr: 'http://10.0.0.1:7461',
    status: 'ready',
    eligible: true,
    attributes: { os: 'linux', arch: 'x86_64' },
    drivers: { docker: { detected: true, healthy: true }, process: { detected: true, healthy: true } },
    defaultDriver: 'docker',
    resources: { cpu: 4, memoryMiB: 8192 },
    portRange: { min: 20_000, max: 32_000 },
    lastHeartbeat: 0,
    ...overrides,
  };
}

/** A running allocation of job "web", group "web", slot 0, with half a core and 256 MiB. */
export function mockAlloc(overrides: Partial<Allocation> = {}): Allocation {
  const jobId = overrides.jobId ?? 'web';
  const group = overrides.group ?? 'web';
  const index = overrides.index ?? 0;
  return {
    id: nextId('alloc'),
    name: `${jobId}.${group}[${index}]`,
    jobId,
    jobVersion: 0,
    group,
    index,
    nodeId: 'node-1',
    evalId: 'eval-0',
    desiredStatus: 'run',
    clientStatus: 'running',
    taskStates: {},
    resources: { cpu: 0.5, memoryMiB: 256 },
    ports: [],
    createTime: 0,
    modifyTime: 0,
    ...overrides,
  };
}

/** A running allocation of `job`'s first group (or `overrides.group`) on `node`, sized like the group. */
export function mockAllocFor(job: Job, node: Node, overrides: Partial<Allocation> = {}): Allocation {
  const group = job.groups.find((g) => g.name === (overrides.group ?? job.groups[0]?.name)) ?? mockGroup();
  const cpu = group.tasks.reduce((sum, t) => sum + t.resources.cpu, 0);
  const memoryMiB = group.tasks.reduce((sum, t) => sum + t.resources.memoryMiB, 0);
  return mockAlloc({
    jobId: job.id,
    jobVersion: job.version,
    group: group.name,
    nodeId: node.id,
    resources: { cpu, memoryMiB },
    ...overrides,
  });
}

/** A pending evaluation of job "web", triggered by a registration. */
export function mockEval(overrides: Partial<Evaluation> = {}): Evaluation {
  return {
    id: nextId('eval'),
    jobId: 'web',
    priority: 50,
    triggeredBy: 'job-register',
    status: 'pending',
    failures: [],
    createTime: 0,
    modifyTime: 0,
    ...overrides,
  };
}
