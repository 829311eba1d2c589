import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_NODE_REASONS, type DependencyWait, type Job } from '../model/index.ts';
import { SchedulerHarness, mockAllocFor, mockEval, mockGroup, mockJob, mockNode } from '../testing/index.ts';

const WAIT: DependencyWait = { job: 'db', condition: 'healthy', reason: '0 of 1 allocations healthy' };

function dependent(): Job {
  return mockJob({ id: 'api', groups: [mockGroup({ count: 2 })], dependsOn: [{ job: 'db', condition: 'healthy', restart: false }] });
}

test('a job whose dependencies are not met is held: nothing placed, the evaluation says which and why', async () => {
  const harness = new SchedulerHarness({ waits: () => [WAIT] }).upsertJob(dependent()).upsertNode(mockNode({ id: 'n1' }));
  const { plans, eval: result } = await harness.run(mockEval({ jobId: 'api' }));
  assert.equal(plans.length, 0);
  assert.equal(result.status, 'complete');
  assert.deepEqual(result.held, [WAIT]);
  assert.equal(result.statusDescription, 'no changes; held: waiting for job "db" to be healthy: 0 of 1 allocations healthy');
  assert.equal(harness.liveAllocs('api').length, 0);
});

test('a held job is placed once its dependencies are met, and the evaluation no longer says held', async () => {
  let waits: DependencyWait[] = [WAIT];
  const harness = new SchedulerHarness({ waits: () => waits }).upsertJob(dependent()).upsertNode(mockNode({ id: 'n1' }));
  await harness.run(mockEval({ jobId: 'api' }));
  waits = [];
  const { eval: result } = await harness.run(mockEval({ id: 'eval-2', jobId: 'api' }));
  assert.equal(result.held, undefined);
  assert.equal(harness.liveAllocs('api').length, 2);
});

test('a job that runs already is not held when a dependency goes down: its scale-up is placed', async () => {
  const node = mockNode({ id: 'n1' });
  const job = dependent();
  const harness = new SchedulerHarness({ waits: () => [WAIT] }).upsertJob(job).upsertNode(node);
  harness.upsertAlloc(mockAllocFor(job, node, { clientStatus: 'running' }));
  const { eval: result } = await harness.run(mockEval({ jobId: 'api' }));
  assert.equal(result.held, undefined);
  assert.equal(harness.liveAllocs('api').length, 2);
});

test('a job without dependencies is never asked about them', async () => {
  const harness = new SchedulerHarness({ waits: () => assert.fail('waits called for a job without dependencies') }).upsertJob(mockJob()).upsertNode(mockNode({ id: 'n1' }));
  const { eval: result } = await harness.run(mockEval());
  assert.equal(result.held, undefined);
});

test('placement failures name each ruled-out node with its reason, at most MAX_NODE_REASONS, the rest counted', async () => {
  const nodes = Array.from({ length: MAX_NODE_REASONS + 5 }, (_, i) => mockNode({ id: `n${String(i).padStart(2, '0')}`, name: `node-${i}`, resources: { cpu: 4, memoryMiB: 64 } }));
  const job = mockJob({ groups: [mockGroup({ count: 1 })] });
  const harness = new SchedulerHarness().upsertJob(job).upsertNode(...nodes);
  const { eval: result } = await harness.run(mockEval());
  const [failure] = result.failures;
  assert.equal(failure.nodes?.length, MAX_NODE_REASONS);
  assert.equal(failure.nodesOmitted, 5);
  assert.ok(failure.nodes!.every((n) => n.reason === 'memory exhausted' && n.nodeName === `node-${Number(n.nodeId.slice(1))}`));
});
