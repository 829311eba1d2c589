import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mockAlloc, mockEval, mockJob, mockNode } from './factories.ts';
import { SchedulerHarness } from './harness.ts';

describe('SchedulerHarness', () => {
  test('a snapshot does not change when the world does', async () => {
    const harness = new SchedulerHarness().upsertJob(mockJob()).upsertNode(mockNode({ id: 'n1' }));
    const alloc = mockAlloc({ nodeId: 'n1' });
    harness.upsertAlloc(alloc);
    const snapshot = harness.snapshot();
    await harness.submitPlan({ evalId: 'e', jobId: 'web', place: [mockAlloc({ nodeId: 'n1', index: 1 })], stop: [{ allocId: alloc.id, description: 'x' }], failures: [] });
    assert.equal(snapshot.allocsByNode('n1').length, 1);
    assert.equal(snapshot.allocsByJob('web')[0].desiredStatus, 'run');
    assert.equal(harness.snapshot().allocsByNode('n1').length, 2);
    assert.equal(harness.allocs.get(alloc.id)?.desiredStatus, 'stop');
  });

  test('applies a plan and answers with what it placed and stopped', async () => {
    const harness = new SchedulerHarness();
    const existing = mockAlloc();
    harness.upsertAlloc(existing);
    const placed = mockAlloc({ index: 1 });
    const result = await harness.submitPlan({ evalId: 'e', jobId: 'web', place: [placed], stop: [{ allocId: existing.id, description: 'scaled down' }, { allocId: 'nope', description: 'x' }], failures: [] });
    assert.deepEqual(result, { placed: [placed.id], stopped: [existing.id], rejected: [], index: 2 });
    assert.equal(harness.allocs.get(existing.id)?.desiredDescription, 'scaled down');
  });

  test('rejects the chosen placements of the next plans, then none', async () => {
    const harness = new SchedulerHarness().rejectNextPlan({ plans: 2, select: (a) => a.index === 0 });
    const plan = () => ({ evalId: 'e', jobId: 'web', place: [mockAlloc({ index: 0 }), mockAlloc({ index: 1 })], stop: [], failures: [] });
    assert.equal((await harness.submitPlan(plan())).rejected.length, 1);
    assert.equal((await harness.submitPlan(plan())).rejected.length, 1);
    assert.equal((await harness.submitPlan(plan())).rejected.length, 0);
    assert.equal(harness.plans.length, 3);
    assert.equal(harness.allocs.size, 4);
  });

  test('makes deterministic UUID-shaped ids', () => {
    const harness = new SchedulerHarness();
    assert.equal(harness.newId(), '00000000-0000-4000-8000-000000000001');
    assert.equal(harness.newId(), '00000000-0000-4000-8000-000000000002');
  });

  test('run returns the plans and the evaluation update of that run', async () => {
    const harness = new SchedulerHarness().upsertJob(mockJob()).upsertNode(mockNode());
    const { plans, eval: result } = await harness.run(mockEval({ id: 'e1' }));
    assert.equal(plans.length, 1);
    assert.equal(result.id, 'e1');
    assert.equal(harness.evalUpdates.length, 1);
  });
});

describe('factories', () => {
  test('name allocations after their job, group and slot', () => {
    assert.equal(mockAlloc({ jobId: 'api', group: 'db', index: 2 }).name, 'api.db[2]');
  });

  test('give every node and allocation a new id', () => {
    assert.notEqual(mockNode().id, mockNode().id);
    assert.notEqual(mockAlloc().id, mockAlloc().id);
    assert.notEqual(mockEval().id, mockEval().id);
  });
});
