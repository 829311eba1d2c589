import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SchedulerHarness, mockAlloc, mockEval, mockGroup, mockJob, mockNode, mockTask } from '../testing/index.ts';
import { hashString, mulberry32, randomFor, shuffle } from './random.ts';
import { binPackScore } from './rank.ts';

const demand = { cpuMilli: 1000, memoryMiB: 1024, staticPorts: [], dynamicPorts: 0 };

describe('binPackScore', () => {
  test('scores a node that ends up full at 1 and an empty one near 0', () => {
    const node = mockNode({ resources: { cpu: 1, memoryMiB: 1024 } });
    assert.equal(binPackScore(node, { cpuMilli: 0, memoryMiB: 0 }, demand), 1);
    const huge = mockNode({ resources: { cpu: 1000, memoryMiB: 1_000_000 } });
    assert.ok(binPackScore(huge, { cpuMilli: 0, memoryMiB: 0 }, demand) < 0.01);
  });

  test('scores a fuller node higher', () => {
    const node = mockNode({ resources: { cpu: 4, memoryMiB: 8192 } });
    const empty = binPackScore(node, { cpuMilli: 0, memoryMiB: 0 }, demand);
    const half = binPackScore(node, { cpuMilli: 2000, memoryMiB: 4096 }, demand);
    assert.ok(half > empty);
  });

  test('stays within 0 and 1 for a node without resources', () => {
    const node = mockNode({ resources: { cpu: 0, memoryMiB: 0 } });
    const score = binPackScore(node, { cpuMilli: 0, memoryMiB: 0 }, demand);
    assert.ok(score >= 0 && score <= 1);
  });
});

describe('ranking through the scheduler', () => {
  test('bin-packs onto the fuller node', async () => {
    const job = mockJob({ groups: [mockGroup({ count: 1 })] });
    const harness = new SchedulerHarness().upsertJob(job);
    harness.upsertNode(mockNode({ id: 'empty' }), mockNode({ id: 'fuller' }));
    harness.upsertAlloc(mockAlloc({ jobId: 'other', nodeId: 'fuller', resources: { cpu: 2, memoryMiB: 4096 } }));
    const { plans } = await harness.run(mockEval());
    assert.deepEqual(plans[0].place.map((a) => a.nodeId), ['fuller']);
  });

  test('opens the biggest empty node first', async () => {
    const job = mockJob({ groups: [mockGroup({ count: 1 })] });
    const harness = new SchedulerHarness().upsertJob(job);
    harness.upsertNode(mockNode({ id: 'small', resources: { cpu: 2, memoryMiB: 4096 } }), mockNode({ id: 'big', resources: { cpu: 32, memoryMiB: 65536 } }));
    const { plans } = await harness.run(mockEval());
    assert.deepEqual(plans[0].place.map((a) => a.nodeId), ['big']);
  });

  test('fills one node with different jobs before starting another', async () => {
    const harness = new SchedulerHarness();
    // Two nodes: both are candidates (a larger cluster scores log2 N of them).
    harness.upsertNode(mockNode({ id: 'a' }), mockNode({ id: 'b' }));
    const placed: string[] = [];
    for (const id of ['j1', 'j2', 'j3', 'j4']) {
      harness.upsertJob(mockJob({ id, groups: [mockGroup({ count: 1, tasks: [mockTask({ resources: { cpu: 1, memoryMiB: 2048 } })] })] }));
      const { plans } = await harness.run(mockEval({ jobId: id }));
      placed.push(...plans[0].place.map((a) => a.nodeId));
    }
    assert.equal(new Set(placed).size, 1);
  });

  test('spreads the allocations of one group over nodes in use (job anti-affinity)', async () => {
    const job = mockJob({ groups: [mockGroup({ count: 3, tasks: [mockTask({ resources: { cpu: 1, memoryMiB: 2048 } })] })] });
    const harness = new SchedulerHarness().upsertJob(job);
    harness.upsertNode(mockNode({ id: 'a' }), mockNode({ id: 'b' }), mockNode({ id: 'c' }));
    for (const nodeId of ['a', 'b', 'c']) harness.upsertAlloc(mockAlloc({ jobId: 'other', nodeId, resources: { cpu: 1, memoryMiB: 2048 } }));
    const { plans } = await harness.run(mockEval());
    assert.equal(new Set(plans[0].place.map((a) => a.nodeId)).size, 3);
  });

  test('breaks ties between equal nodes differently for different evaluations', async () => {
    const chosen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const harness = new SchedulerHarness().upsertJob(mockJob({ groups: [mockGroup({ count: 1 })] }));
      harness.upsertNode(mockNode({ id: 'a' }), mockNode({ id: 'b' }), mockNode({ id: 'c' }));
      const { plans } = await harness.run(mockEval({ id: `eval-tie-${i}` }));
      chosen.add(plans[0].place[0].nodeId);
    }
    assert.equal(chosen.size, 3);
  });
});

describe('seeded randomness', () => {
  test('the same seed gives the same sequence', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const seqA = Array.from({ length: 5 }, () => a());
    assert.deepEqual(Array.from({ length: 5 }, () => b()), seqA);
    assert.ok(seqA.every((x) => x >= 0 && x < 1));
  });

  test('different eval ids give different seeds', () => {
    assert.notEqual(hashString('eval-1'), hashString('eval-2'));
    assert.notDeepEqual(shuffle([1, 2, 3, 4, 5, 6, 7, 8], randomFor('eval-1')), shuffle([1, 2, 3, 4, 5, 6, 7, 8], randomFor('eval-2')));
  });

  test('shuffle keeps every item', () => {
    assert.deepEqual(shuffle([5, 3, 1, 4, 2], randomFor('x')).sort(), [1, 2, 3, 4, 5]);
  });
});
