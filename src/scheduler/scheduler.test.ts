import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Job } from '../model/index.ts';
import { SchedulerHarness, mockAllocFor, mockEval, mockGroup, mockJob, mockNode, mockTask } from '../testing/index.ts';

function world(job: Job, nodes = [mockNode({ id: 'n1' }), mockNode({ id: 'n2' })]): SchedulerHarness {
  return new SchedulerHarness({ now: 5_000 }).upsertJob(job).upsertNode(...nodes);
}

describe('processEval placements', () => {
  test('places count allocations and records the evaluation as complete', async () => {
    const harness = world(mockJob());
    const evaluation = mockEval({ id: 'eval-a' });
    const { plans, eval: result } = await harness.run(evaluation);
    assert.equal(plans.length, 1);
    assert.deepEqual(plans[0].place.map((a) => a.name).sort(), ['web.web[0]', 'web.web[1]', 'web.web[2]']);
    assert.equal(result.status, 'complete');
    assert.equal(result.statusDescription, 'placed 3');
    assert.deepEqual(result.failures, []);
    assert.equal(result.modifyTime, 5_000);
    assert.equal(harness.liveAllocs('web').length, 3);
  });

  test('builds each allocation from the job, the group and the context', async () => {
    const job = mockJob({ version: 4, groups: [mockGroup({ count: 1, tasks: [mockTask(), mockTask({ name: 'side', resources: { cpu: 0.25, memoryMiB: 64 } })] })] });
    const harness = world(job, [mockNode({ id: 'n1' })]);
    const { plans } = await harness.run(mockEval({ id: 'eval-b' }));
    assert.deepEqual(plans[0].place[0], {
      id: '00000000-0000-4000-8000-000000000001',
      name: 'web.web[0]',
      jobId: 'web',
      jobVersion: 4,
      group: 'web',
      index: 0,
      nodeId: 'n1',
      evalId: 'eval-b',
      desiredStatus: 'run',
      clientStatus: 'pending',
      taskStates: {},
      resources: { cpu: 0.75, memoryMiB: 320 },
      ports: [],
      createTime: 5_000,
      modifyTime: 5_000,
      specHash: plans[0].place[0].specHash,
    });
  });

  test('submits no plan when nothing changes', async () => {
    const harness = world(mockJob());
    await harness.run(mockEval());
    const { plans, eval: result } = await harness.run(mockEval());
    assert.equal(plans.length, 0);
    assert.equal(result.statusDescription, 'no changes');
  });
});

describe('processEval ports', () => {
  test('gives static ports as asked and dynamic ones from the node range', async () => {
    const ports = [{ label: 'http', to: 8080 }, { label: 'admin', static: 9000 }, { label: 'metrics' }];
    const harness = world(mockJob({ groups: [mockGroup({ count: 1, ports })] }), [mockNode({ portRange: { min: 30000, max: 30100 } })]);
    const { plans } = await harness.run(mockEval());
    const [http, admin, metrics] = plans[0].place[0].ports;
    assert.equal(http.label, 'http');
    assert.ok(http.value >= 30000 && http.value <= 30100);
    assert.equal(http.to, 8080);
    assert.deepEqual(admin, { label: 'admin', value: 9000, to: 9000 });
    assert.equal(metrics.to, metrics.value);
    assert.notEqual(http.value, metrics.value);
  });

  test('never gives a port taken by another allocation on the node', async () => {
    const node = mockNode({ id: 'n1', portRange: { min: 20000, max: 20009 } });
    const other = mockJob({ id: 'other', groups: [mockGroup({ count: 1 })] });
    const taken = [20000, 20001, 20002, 20003, 20004, 20005, 20006].map((value, i) => ({ label: `p${i}`, value, to: value }));
    const job = mockJob({ groups: [mockGroup({ count: 1, ports: [{ label: 'a' }, { label: 'b' }, { label: 'c' }] })] });
    const harness = world(job, [node]).upsertAlloc(mockAllocFor(other, node, { ports: taken, resources: { cpu: 0.1, memoryMiB: 1 } }));
    const { plans } = await harness.run(mockEval());
    assert.deepEqual(plans[0].place[0].ports.map((p) => p.value).sort(), [20007, 20008, 20009]);
  });

  test('places allocations with a static port on different nodes', async () => {
    const job = mockJob({ groups: [mockGroup({ count: 3, ports: [{ label: 'http', static: 80 }] })] });
    const harness = world(job, [mockNode({ id: 'n1' }), mockNode({ id: 'n2' })]);
    const { plans, eval: result } = await harness.run(mockEval());
    assert.deepEqual(plans[0].place.map((a) => a.nodeId).sort(), ['n1', 'n2']);
    assert.deepEqual(result.failures.map((f) => ({ ...f, exhausted: undefined, topScores: undefined, nodes: undefined })), [
      { group: 'web', missing: 1, nodesEvaluated: 2, filtered: { 'port 80 in use': 2 }, exhausted: undefined, topScores: undefined, nodes: undefined, nodesOmitted: 0 },
    ]);
    // Each node ruled out is named with its reason, not only counted.
    assert.deepEqual(result.failures[0].nodes?.map((n) => [n.nodeId, n.reason]).sort(), [
      ['n1', 'port 80 in use'],
      ['n2', 'port 80 in use'],
    ]);
  });
});

describe('processEval updates', () => {
  test('scales up by placing the new slots only', async () => {
    const harness = world(mockJob());
    await harness.run(mockEval());
    harness.upsertJob(mockJob({ groups: [mockGroup({ count: 5 })] }));
    const { plans } = await harness.run(mockEval());
    assert.deepEqual(plans[0].place.map((a) => a.name).sort(), ['web.web[3]', 'web.web[4]']);
    assert.equal(harness.liveAllocs('web').length, 5);
  });

  test('scales down by stopping the highest slots', async () => {
    const harness = world(mockJob());
    await harness.run(mockEval());
    harness.upsertJob(mockJob({ groups: [mockGroup({ count: 1 })] }));
    const { plans, eval: result } = await harness.run(mockEval());
    assert.deepEqual(plans[0].place, []);
    assert.deepEqual(
      plans[0].stop.map((s) => [harness.allocs.get(s.allocId)?.name, s.description]),
      [['web.web[2]', 'scaled down'], ['web.web[1]', 'scaled down']],
    );
    assert.equal(result.statusDescription, 'stopped 2');
    assert.deepEqual(harness.liveAllocs('web').map((a) => a.name), ['web.web[0]']);
  });

  test('stops every allocation of a stopped job', async () => {
    const harness = world(mockJob());
    await harness.run(mockEval());
    harness.upsertJob(mockJob({ stop: true }));
    const { plans } = await harness.run(mockEval({ triggeredBy: 'job-deregister' }));
    assert.equal(plans[0].stop.length, 3);
    assert.ok(plans[0].stop.every((s) => s.description === 'job stopped'));
    assert.deepEqual(harness.liveAllocs('web'), []);
  });

  test('stops every allocation of a purged job', async () => {
    const harness = world(mockJob());
    await harness.run(mockEval());
    harness.jobs.delete('web');
    const { plans } = await harness.run(mockEval({ triggeredBy: 'job-deregister' }));
    assert.equal(plans[0].stop.length, 3);
    assert.deepEqual(harness.liveAllocs('web'), []);
  });

  test('updates allocations in place when only the count or meta changed', async () => {
    const harness = world(mockJob());
    await harness.run(mockEval());
    const before = harness.liveAllocs('web').map((a) => a.id).sort();
    harness.upsertJob(mockJob({ version: 1, meta: { owner: 'ops' } }));
    const { plans } = await harness.run(mockEval());
    assert.equal(plans[0].stop.length, 0);
    assert.equal(plans[0].place.length, 0);
    assert.deepEqual(harness.liveAllocs('web').map((a) => a.id).sort(), before);
    assert.ok(harness.liveAllocs('web').every((a) => a.jobVersion === 1));
  });

  test('updates allocations in place when only task service tags, meta or checks changed', async () => {
    const service = (tags: string[], meta: Record<string, string>, path: string) => ({
      name: 'web',
      tags,
      meta,
      addressMode: 'auto' as const,
      checks: [{ type: 'http' as const, path, intervalMs: 1_000, timeoutMs: 500, successBeforePassing: 1, failuresBeforeCritical: 1 }],
    });
    const version = (v: number, tags: string[], meta: Record<string, string>, path: string) =>
      mockJob({ version: v, groups: [mockGroup({ tasks: [mockTask({ services: [service(tags, meta, path)] })] })] });
    const harness = world(version(0, ['v1'], { a: '1' }, '/'));
    await harness.run(mockEval());
    const before = harness.liveAllocs('web').map((a) => a.id).sort();
    harness.upsertJob(version(1, ['v2', 'canary'], { a: '2' }, '/health'));
    const { plans } = await harness.run(mockEval());
    assert.equal(plans[0].stop.length, 0);
    assert.equal(plans[0].place.length, 0);
    assert.equal(plans[0].update?.length, 3);
    assert.deepEqual(harness.liveAllocs('web').map((a) => a.id).sort(), before);
    assert.ok(harness.liveAllocs('web').every((a) => a.jobVersion === 1));
  });

  test('replaces every allocation when the tasks change', async () => {
    const harness = world(mockJob());
    await harness.run(mockEval());
    const before = harness.liveAllocs('web').map((a) => a.id);
    harness.upsertJob(mockJob({ version: 1, groups: [mockGroup({ tasks: [mockTask({ env: { V: '2' } })] })] }));
    const { plans } = await harness.run(mockEval());
    assert.deepEqual(plans[0].stop.map((s) => s.allocId).sort(), before.sort());
    assert.ok(plans[0].stop.every((s) => s.description === 'replaced by job version 1'));
    assert.equal(plans[0].place.length, 3);
    assert.ok(harness.liveAllocs('web').every((a) => a.jobVersion === 1));
  });

  test('reuses the room of the allocations it replaces on a full node', async () => {
    const node = mockNode({ id: 'n1', resources: { cpu: 1.5, memoryMiB: 768 } });
    const harness = world(mockJob(), [node]);
    await harness.run(mockEval());
    harness.upsertJob(mockJob({ version: 1, groups: [mockGroup({ tasks: [mockTask({ env: { V: '2' } })] })] }));
    const { plans, eval: result } = await harness.run(mockEval());
    assert.equal(plans[0].place.length, 3);
    assert.deepEqual(result.failures, []);
  });

  test('does not run a completed batch allocation again', async () => {
    const job = mockJob({ type: 'batch', groups: [mockGroup({ count: 2 })] });
    const harness = world(job);
    await harness.run(mockEval());
    const [done] = harness.liveAllocs('web');
    harness.upsertAlloc({ ...done, clientStatus: 'complete' });
    const { plans } = await harness.run(mockEval());
    assert.equal(plans.length, 0);
  });

  test('replaces a service allocation that completed', async () => {
    const harness = world(mockJob({ groups: [mockGroup({ count: 1 })] }));
    await harness.run(mockEval());
    const [done] = harness.liveAllocs('web');
    harness.upsertAlloc({ ...done, clientStatus: 'complete' });
    const { plans } = await harness.run(mockEval());
    assert.deepEqual(plans[0].place.map((a) => a.name), ['web.web[0]']);
  });
});

describe('processEval determinism and retries', () => {
  test('makes the same plan for the same evaluation over the same state', async () => {
    const make = () => world(mockJob({ groups: [mockGroup({ count: 4, ports: [{ label: 'http' }] })] }), [mockNode({ id: 'a' }), mockNode({ id: 'b' }), mockNode({ id: 'c' })]);
    const first = await make().run(mockEval({ id: 'same' }));
    const second = await make().run(mockEval({ id: 'same' }));
    assert.deepEqual(second.plans, first.plans);
  });

  test('does not depend on the order the state lists nodes in', async () => {
    const nodes = [mockNode({ id: 'a' }), mockNode({ id: 'b' }), mockNode({ id: 'c' })];
    const job = mockJob({ groups: [mockGroup({ count: 2, ports: [{ label: 'http' }] })] });
    const first = await world(job, nodes).run(mockEval({ id: 'order' }));
    const second = await world(job, [...nodes].reverse()).run(mockEval({ id: 'order' }));
    assert.deepEqual(second.plans, first.plans);
  });

  test('retries the rejected placements of a plan', async () => {
    const harness = world(mockJob()).rejectNextPlan({ select: (a) => a.index === 1 });
    const { plans, eval: result } = await harness.run(mockEval());
    assert.equal(plans.length, 2);
    assert.equal(plans[0].place.length, 3);
    assert.deepEqual(plans[1].place.map((a) => a.name), ['web.web[1]']);
    assert.equal(result.status, 'complete');
    assert.equal(result.statusDescription, 'placed 3');
    assert.equal(harness.liveAllocs('web').length, 3);
  });

  test('retries over its own committed plan when the planner cannot refresh the state', async () => {
    const harness = new SchedulerHarness({ refresh: false }).upsertJob(mockJob()).upsertNode(mockNode());
    harness.rejectNextPlan({ select: (a) => a.index === 2 });
    const { plans } = await harness.run(mockEval());
    assert.deepEqual(plans[1].place.map((a) => a.name), ['web.web[2]']);
    assert.equal(harness.liveAllocs('web').length, 3);
  });

  test('gives up after three rejected plans and marks the evaluation failed', async () => {
    const harness = world(mockJob()).rejectNextPlan({ plans: 3 });
    const { plans, eval: result } = await harness.run(mockEval());
    assert.equal(plans.length, 3);
    assert.equal(result.status, 'failed');
    assert.equal(result.statusDescription, 'no changes; gave up after 3 plans: 3 allocations still did not fit when applied');
  });
});
