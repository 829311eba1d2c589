import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isTerminal, type Allocation, type Job, type Node } from '../model/index.ts';
import { SchedulerHarness, mockAlloc, mockEval, mockGroup, mockJob, mockNode, mockTask } from '../testing/index.ts';

/**
 * Safety properties of the reconciler when nodes come and go: down, draining and ineligible nodes,
 * allocations marked to migrate, failed ones under a reschedule policy, disconnect windows.
 */
const NOW = 1_700_000_000_000;

const nodeArb = fc.record({
  status: fc.constantFrom('ready', 'ready', 'ready', 'down'),
  eligible: fc.constantFrom(true, true, true, false),
  draining: fc.constantFrom(false, false, true),
  downFor: fc.integer({ min: 0, max: 120_000 }),
  cpu: fc.integer({ min: 1, max: 8 }),
});

const allocArb = fc.record({
  node: fc.nat(),
  index: fc.integer({ min: 0, max: 6 }),
  desiredStatus: fc.constantFrom('run', 'run', 'run', 'stop'),
  clientStatus: fc.constantFrom('pending', 'running', 'running', 'complete', 'failed', 'lost'),
  migrate: fc.constantFrom(false, false, true),
  age: fc.integer({ min: 0, max: 3_600_000 }),
  reschedules: fc.integer({ min: 0, max: 3 }),
});

const worldArb = fc.record({
  nodes: fc.array(nodeArb, { minLength: 1, maxLength: 6 }),
  allocs: fc.array(allocArb, { maxLength: 12 }),
  count: fc.integer({ min: 0, max: 6 }),
  type: fc.constantFrom('service', 'batch'),
  lostAfterMs: fc.option(fc.integer({ min: 1, max: 60_000 }), { nil: undefined }),
  replace: fc.boolean(),
  reschedule: fc.option(
    fc.record({
      attempts: fc.integer({ min: 0, max: 3 }),
      intervalMs: fc.integer({ min: 1, max: 3_600_000 }),
      delayMs: fc.integer({ min: 0, max: 60_000 }),
      delayFunction: fc.constantFrom('constant', 'exponential', 'fibonacci'),
      maxDelayMs: fc.integer({ min: 0, max: 600_000 }),
      unlimited: fc.boolean(),
    }),
    { nil: undefined },
  ),
  evalId: fc.string({ minLength: 1, maxLength: 6 }),
});

type World = typeof worldArb extends fc.Arbitrary<infer T> ? T : never;

function build(world: World): { harness: SchedulerHarness; job: Job; nodes: Node[] } {
  const nodes = world.nodes.map((n, i) =>
    mockNode({
      id: `n${i}`,
      status: n.status as Node['status'],
      eligible: n.eligible,
      resources: { cpu: n.cpu, memoryMiB: 8192 },
      ...(n.draining ? { drain: { deadline: 0, ignoreSystem: false, startedAt: NOW } } : {}),
      ...(n.status === 'down' ? { downSince: NOW - n.downFor } : {}),
    }),
  );
  const group = mockGroup({
    name: 'g',
    count: world.count,
    tasks: [mockTask({ resources: { cpu: 0.5, memoryMiB: 128 } })],
    ...(world.lostAfterMs === undefined ? {} : { disconnect: { lostAfterMs: world.lostAfterMs, replace: world.replace, reconcile: 'keep_original' as const } }),
    ...(world.reschedule === undefined ? {} : { reschedule: world.reschedule }),
  });
  const job = mockJob({ id: 'j', type: world.type as Job['type'], groups: [group] });
  const allocs: Allocation[] = world.allocs.map((a) =>
    mockAlloc({
      jobId: 'j',
      group: 'g',
      index: a.index,
      nodeId: nodes[a.node % nodes.length].id,
      desiredStatus: a.desiredStatus as Allocation['desiredStatus'],
      clientStatus: a.clientStatus as Allocation['clientStatus'],
      resources: { cpu: 0.5, memoryMiB: 128 },
      createTime: NOW - a.age,
      modifyTime: NOW - a.age / 2,
      ...(a.migrate ? { migrate: true } : {}),
      rescheduleEvents: Array.from({ length: a.reschedules }, (_, k) => ({ time: NOW - k * 60_000, prevAllocId: `old-${k}`, prevNodeId: 'n0', delayMs: 1_000 })),
    }),
  );
  const harness = new SchedulerHarness({ now: NOW }).upsertJob(job).upsertNode(...nodes).upsertAlloc(...allocs);
  return { harness, job, nodes };
}

/** Live, as a user counts: not terminal, and not on a node that stopped answering. */
function running(harness: SchedulerHarness, a: Allocation): boolean {
  return !isTerminal(a) && harness.nodes.get(a.nodeId)?.status !== 'down';
}

describe('reconciler safety with nodes coming and going', () => {
  test('never more than count desired-running allocations of a group after a pass', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const { harness } = build(world);
        await harness.run(mockEval({ id: world.evalId, jobId: 'j' }));
        const live = [...harness.allocs.values()].filter((a) => running(harness, a));
        assert.ok(live.length <= world.count, `${live.length} running, count ${world.count}`);
        assert.equal(new Set(live.map((a) => a.index)).size, live.length, 'two running allocations share a slot');
      }),
      { numRuns: 300 },
    );
  });

  test('nothing is placed on a down, ineligible or draining node', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const { harness } = build(world);
        const { plans } = await harness.run(mockEval({ id: world.evalId, jobId: 'j' }));
        for (const alloc of plans.flatMap((p) => p.place)) {
          const node = harness.nodes.get(alloc.nodeId);
          assert.ok(node !== undefined && node.status === 'ready' && node.eligible && node.drain === undefined, `placed on ${alloc.nodeId}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('a lost allocation is always replaced or reported as a placement failure', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const { harness } = build(world);
        const before = new Map(harness.allocs);
        const { plans, eval: result } = await harness.run(mockEval({ id: world.evalId, jobId: 'j' }));
        const lost = plans.flatMap((p) => p.stop).filter((s) => s.clientStatus === 'lost');
        for (const stop of lost) {
          const alloc = before.get(stop.allocId)!;
          if (alloc.index >= world.count) continue;
          // Held: running again elsewhere, or (batch) done by another allocation of the slot.
          const replaced = [...harness.allocs.values()].some(
            (a) => a.index === alloc.index && (running(harness, a) || (world.type === 'batch' && a.clientStatus === 'complete')),
          );
          // Or waiting: a failed allocation of the slot holds it until its reschedule follow-up.
          const waiting = [...harness.allocs.values()].some((a) => a.index === alloc.index && a.followupEvalId !== undefined);
          const reported = result.failures.some((f) => f.group === 'g' && f.missing > 0);
          assert.ok(replaced || reported || waiting, `lost ${alloc.id} in slot ${alloc.index} neither replaced nor reported`);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('an allocation on a down node inside its lost_after window is neither stopped nor lost, and gets a follow-up', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const { harness } = build(world);
        const before = new Map(harness.allocs);
        const { plans } = await harness.run(mockEval({ id: world.evalId, jobId: 'j' }));
        if (world.lostAfterMs === undefined) return;
        for (const alloc of [...harness.allocs.values()]) {
          const node = harness.nodes.get(alloc.nodeId)!;
          const inWindow = node.status === 'down' && NOW < (node.downSince ?? NOW) + world.lostAfterMs;
          const shared = [...before.values()].some((o) => o.id !== alloc.id && o.index === alloc.index && !isTerminal(o));
          if (!inWindow || shared || alloc.index >= world.count || alloc.desiredStatus === 'stop' || ['complete', 'failed', 'lost'].includes(alloc.clientStatus)) continue;
          assert.ok(!plans.some((p) => p.stop.some((s) => s.allocId === alloc.id)), `${alloc.id} stopped inside its window`);
          assert.ok(harness.createdEvals.some((e) => e.id === alloc.followupEvalId && (e.waitUntil ?? 0) > NOW - 1));
        }
      }),
      { numRuns: 200 },
    );
  });
});
