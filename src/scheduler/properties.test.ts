import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Allocation, Job, Node } from '../model/index.ts';
import { SchedulerHarness, mockAlloc, mockEval, mockGroup, mockJob, mockNode, mockTask } from '../testing/index.ts';

/** A small cluster: few nodes, small port ranges, so that collisions and exhaustion happen often. */
const nodeArb = fc.record({
  status: fc.constantFrom('ready', 'ready', 'ready', 'down', 'initializing'),
  eligible: fc.constantFrom(true, true, true, false),
  datacenter: fc.constantFrom('dc1', 'dc1', 'dc2'),
  cpu: fc.integer({ min: 1, max: 8 }),
  memoryMiB: fc.integer({ min: 512, max: 8192 }),
  portCount: fc.integer({ min: 1, max: 12 }),
  docker: fc.boolean(),
});

const groupArb = fc.record({
  count: fc.integer({ min: 0, max: 8 }),
  cpu: fc.integer({ min: 1, max: 20 }).map((n) => n / 10),
  memoryMiB: fc.integer({ min: 64, max: 2048 }),
  ports: fc.array(fc.option(fc.constantFrom(80, 443, 20001), { nil: undefined }), { maxLength: 3 }),
  driver: fc.constantFrom('docker', 'process', undefined),
});

const allocArb = fc.record({
  group: fc.nat(),
  node: fc.nat(),
  index: fc.integer({ min: 0, max: 9 }),
  jobVersion: fc.integer({ min: 0, max: 2 }),
  desiredStatus: fc.constantFrom('run', 'run', 'run', 'stop'),
  clientStatus: fc.constantFrom('pending', 'running', 'running', 'complete', 'failed', 'lost'),
  ports: fc.integer({ min: 0, max: 2 }),
});

const worldArb = fc.record({
  nodes: fc.array(nodeArb, { minLength: 1, maxLength: 6 }),
  groups: fc.array(groupArb, { minLength: 1, maxLength: 2 }),
  allocs: fc.array(allocArb, { maxLength: 15 }),
  type: fc.constantFrom('service', 'batch'),
  version: fc.integer({ min: 0, max: 2 }),
  stop: fc.constantFrom(false, false, false, true),
  reject: fc.boolean(),
  evalId: fc.string({ minLength: 1, maxLength: 8 }),
});

type World = typeof worldArb extends fc.Arbitrary<infer T> ? T : never;

function build(world: World): { harness: SchedulerHarness; job: Job } {
  const nodes: Node[] = world.nodes.map((n, i) =>
    mockNode({
      id: `n${i}`,
      status: n.status as Node['status'],
      eligible: n.eligible,
      datacenter: n.datacenter,
      resources: { cpu: n.cpu, memoryMiB: n.memoryMiB },
      portRange: { min: 20000, max: 20000 + n.portCount - 1 },
      drivers: n.docker
        ? { docker: { detected: true, healthy: true }, process: { detected: true, healthy: true } }
        : { process: { detected: true, healthy: true } },
    }),
  );
  const groups = world.groups.map((g, i) =>
    mockGroup({
      name: `g${i}`,
      count: g.count,
      tasks: [mockTask({ driver: g.driver as 'docker' | 'process' | undefined, resources: { cpu: g.cpu, memoryMiB: g.memoryMiB } })],
      ports: [...new Set(g.ports)].map((p, j) => (p === undefined ? { label: `p${j}` } : { label: `p${j}`, static: p })),
    }),
  );
  const job = mockJob({ type: world.type as Job['type'], version: world.version, stop: world.stop, groups });
  const nextPort = new Map<string, number>();
  const allocs: Allocation[] = world.allocs.map((a) => {
    const node = nodes[a.node % nodes.length];
    // Existing ports are unique per node (a valid world), and sit in the node's range to crowd it.
    const ports = Array.from({ length: a.ports }, (_, k) => {
      const value = nextPort.get(node.id) ?? 20000;
      nextPort.set(node.id, value + 1);
      return { label: `x${k}`, value, to: value };
    });
    return mockAlloc({
      jobId: job.id,
      group: groups[a.group % groups.length].name,
      index: a.index,
      jobVersion: a.jobVersion,
      nodeId: node.id,
      desiredStatus: a.desiredStatus as Allocation['desiredStatus'],
      clientStatus: a.clientStatus as Allocation['clientStatus'],
      resources: { cpu: 0.1, memoryMiB: 64 },
      ports,
    });
  });
  const harness = new SchedulerHarness().upsertJob(job).upsertNode(...nodes).upsertAlloc(...allocs);
  if (world.reject) harness.rejectNextPlan({ select: (a) => a.index % 2 === 1 });
  return { harness, job };
}

async function runWorld(world: World): Promise<{ harness: SchedulerHarness; job: Job; placed: Allocation[] }> {
  const { harness, job } = build(world);
  const { plans } = await harness.run(mockEval({ id: world.evalId, jobId: job.id }));
  const placed = plans.flatMap((p) => p.place).filter((a) => harness.allocs.has(a.id));
  return { harness, job, placed };
}

describe('scheduler properties', () => {
  test('never more live allocations per group than its count, one per slot', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const { harness, job } = await runWorld(world);
        for (const group of job.groups) {
          const live = harness.liveAllocs(job.id).filter((a) => a.group === group.name);
          const limit = job.stop ? 0 : group.count;
          assert.ok(live.length <= limit, `${live.length} live in ${group.name}, count ${limit}`);
          assert.equal(new Set(live.map((a) => a.index)).size, live.length);
          assert.ok(live.every((a) => a.index < limit && a.jobVersion === job.version));
        }
      }),
      { numRuns: 200 },
    );
  });

  test('nothing is placed on a node that is down, ineligible, elsewhere or full', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const { harness, job, placed } = await runWorld(world);
        for (const alloc of placed) {
          const node = harness.nodes.get(alloc.nodeId);
          assert.ok(node !== undefined);
          assert.equal(node.status, 'ready');
          assert.equal(node.eligible, true);
          assert.ok(job.datacenters.includes(node.datacenter));
          const live = [...harness.allocs.values()].filter((a) => a.nodeId === node.id && a.desiredStatus === 'run' && !['complete', 'failed', 'lost'].includes(a.clientStatus));
          const cpuMilli = live.reduce((sum, a) => sum + Math.round(a.resources.cpu * 1000), 0);
          const memory = live.reduce((sum, a) => sum + a.resources.memoryMiB, 0);
          assert.ok(cpuMilli <= node.resources.cpu * 1000, `cpu ${cpuMilli} on ${node.id}`);
          assert.ok(memory <= node.resources.memoryMiB, `memory ${memory} on ${node.id}`);
        }
      }),
      { numRuns: 200 },
    );
  });

  test('no two live allocations on a node share a host port', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const { harness } = await runWorld(world);
        const seen = new Map<string, Set<number>>();
        for (const alloc of harness.allocs.values()) {
          if (alloc.desiredStatus === 'stop' || ['complete', 'failed', 'lost'].includes(alloc.clientStatus)) continue;
          const ports = seen.get(alloc.nodeId) ?? new Set<number>();
          for (const port of alloc.ports) {
            assert.ok(!ports.has(port.value), `port ${port.value} twice on ${alloc.nodeId}`);
            ports.add(port.value);
          }
          seen.set(alloc.nodeId, ports);
        }
      }),
      { numRuns: 200 },
    );
  });

  test('the same world and evaluation id always give the same plans', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const first = build(world);
        const second = build(world);
        const a = await first.harness.run(mockEval({ id: world.evalId }));
        const b = await second.harness.run(mockEval({ id: world.evalId }));
        // Mock allocation ids differ between the two worlds; what the plans decide must not.
        const strip = (plans: typeof a.plans) =>
          plans.map((p) => ({ ...p, stop: p.stop.map((s) => s.description), update: p.update?.length, place: p.place.map((x) => ({ ...x, previousAllocation: undefined, rescheduleEvents: undefined })) }));
        assert.deepEqual(strip(b.plans), strip(a.plans));
      }),
      { numRuns: 100 },
    );
  });
});
