import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ReschedulePolicy } from '../model/index.ts';
import { SchedulerHarness, mockAllocFor, mockEval, mockGroup, mockJob, mockNode } from '../testing/index.ts';
import { rescheduleDelay, rescheduleVerdict } from './reschedule.ts';
import { candidateLimit } from './stack.ts';

const NOW = 1_700_000_000_000;

describe('reschedule policy', () => {
  const base: ReschedulePolicy = { attempts: 3, intervalMs: 3_600_000, delayMs: 10_000, delayFunction: 'constant', maxDelayMs: 60_000, unlimited: false };

  test('delays grow as the delay function says, up to the cap', () => {
    const delays = (fn: ReschedulePolicy['delayFunction']) => [0, 1, 2, 3, 4, 5].map((n) => rescheduleDelay({ ...base, delayFunction: fn }, n));
    assert.deepEqual(delays('constant'), [10_000, 10_000, 10_000, 10_000, 10_000, 10_000]);
    assert.deepEqual(delays('exponential'), [10_000, 20_000, 40_000, 60_000, 60_000, 60_000]);
    assert.deepEqual(delays('fibonacci'), [10_000, 10_000, 20_000, 30_000, 50_000, 60_000]);
  });

  test('allows attempts within the interval, then no more; unlimited always allows', () => {
    const failed = mockAllocFor(mockJob(), mockNode(), { clientStatus: 'failed', modifyTime: NOW });
    const events = (n: number) => Array.from({ length: n }, (_, i) => ({ time: NOW - i * 1000, prevAllocId: `a${i}`, prevNodeId: 'n', delayMs: 0 }));
    assert.deepEqual(rescheduleVerdict({ ...failed, rescheduleEvents: events(2) }, base, NOW), { reschedule: true, at: NOW + 10_000, delayMs: 10_000 });
    assert.deepEqual(rescheduleVerdict({ ...failed, rescheduleEvents: events(3) }, base, NOW), { reschedule: false });
    // Old reschedules fall out of the interval.
    const old = events(3).map((e) => ({ ...e, time: e.time - 7_200_000 }));
    assert.equal(rescheduleVerdict({ ...failed, rescheduleEvents: old }, base, NOW).reschedule, true);
    assert.equal(rescheduleVerdict({ ...failed, rescheduleEvents: events(10) }, { ...base, unlimited: true }, NOW).reschedule, true);
  });
});

describe('service: failed allocations and the reschedule policy', () => {
  const policy: ReschedulePolicy = { attempts: 1, intervalMs: 3_600_000, delayMs: 5_000, delayFunction: 'constant', maxDelayMs: 0, unlimited: false };

  test('places a failed allocation again on another node once its delay has passed, recording the reschedule', async () => {
    const job = mockJob({ groups: [mockGroup({ count: 1, reschedule: policy })] });
    const [a, b] = [mockNode({ id: 'a' }), mockNode({ id: 'b' })];
    const failed = mockAllocFor(job, a, { clientStatus: 'failed', modifyTime: NOW - 6_000 });
    const harness = new SchedulerHarness({ now: NOW }).upsertJob(job).upsertNode(a, b).upsertAlloc(failed);
    const { plans } = await harness.run(mockEval());
    const [replacement] = plans[0].place;
    assert.equal(replacement.nodeId, 'b', 'the node it failed on is penalized');
    assert.equal(replacement.previousAllocation, failed.id);
    assert.deepEqual(replacement.rescheduleEvents?.map((e) => [e.prevAllocId, e.delayMs]), [[failed.id, 5_000]]);
    // The attempt is used up: when the replacement fails too, it stays failed.
    harness.upsertAlloc({ ...harness.allocs.get(replacement.id)!, clientStatus: 'failed', modifyTime: NOW - 10_000 });
    assert.equal((await harness.run(mockEval())).plans.length, 0);
  });

  test('waits for the delay with a follow-up evaluation instead of placing at once', async () => {
    const job = mockJob({ groups: [mockGroup({ count: 1, reschedule: policy })] });
    const node = mockNode();
    const failed = mockAllocFor(job, node, { clientStatus: 'failed', modifyTime: NOW - 1_000 });
    const harness = new SchedulerHarness({ now: NOW }).upsertJob(job).upsertNode(node).upsertAlloc(failed);
    const { plans } = await harness.run(mockEval());
    assert.equal(plans[0].place.length, 0);
    assert.deepEqual(plans[0].followups?.map((e) => e.waitUntil), [NOW + 4_000]);
    assert.equal(harness.allocs.get(failed.id)?.followupEvalId, plans[0].followups?.[0].id);
    // A second pass before then makes no second follow-up.
    assert.equal((await harness.run(mockEval())).plans.length, 0);
  });
});

describe('batch jobs', () => {
  test('do not run a completed allocation again, and stop one past max_run_duration for good', async () => {
    const job = mockJob({ type: 'batch', maxRunDurationMs: 60_000, groups: [mockGroup({ count: 2 })] });
    const node = mockNode();
    const done = mockAllocFor(job, node, { index: 0, clientStatus: 'complete' });
    const long = mockAllocFor(job, node, { index: 1, clientStatus: 'running', createTime: NOW - 61_000 });
    const harness = new SchedulerHarness({ now: NOW }).upsertJob(job).upsertNode(node).upsertAlloc(done, long);
    const { plans } = await harness.run(mockEval());
    assert.deepEqual(plans[0].stop, [{ allocId: long.id, description: 'exceeded max_run_duration' }]);
    assert.equal(plans[0].place.length, 0);
    assert.equal((await harness.run(mockEval())).plans.length, 0);
  });

  test('evaluate again when a running allocation will reach max_run_duration', async () => {
    const job = mockJob({ type: 'batch', maxRunDurationMs: 60_000, groups: [mockGroup({ count: 1 })] });
    const node = mockNode();
    const running = mockAllocFor(job, node, { clientStatus: 'running', createTime: NOW - 1_000 });
    const harness = new SchedulerHarness({ now: NOW }).upsertJob(job).upsertNode(node).upsertAlloc(running);
    const { plans } = await harness.run(mockEval());
    assert.deepEqual(plans[0].followups?.map((e) => e.waitUntil), [NOW + 59_000]);
  });

  test('score 2 candidates, services log2 N, system jobs every node', () => {
    assert.equal(candidateLimit('batch', 5000), 2);
    assert.equal(candidateLimit('service', 5000), 13);
    assert.equal(candidateLimit('service', 3), 2);
    assert.equal(candidateLimit('system', 5000), Infinity);
  });
});

describe('system jobs', () => {
  const sysJob = (overrides = {}) => mockJob({ id: 'sys', type: 'system', groups: [mockGroup({ name: 'agent', count: 1 })], ...overrides });

  test('place one allocation on every eligible node, and on a node that joins later', async () => {
    const nodes = [mockNode({ id: 'a' }), mockNode({ id: 'b' }), mockNode({ id: 'c', eligible: false }), mockNode({ id: 'd', status: 'down' })];
    const harness = new SchedulerHarness({ now: NOW }).upsertJob(sysJob()).upsertNode(...nodes);
    const first = await harness.run(mockEval({ jobId: 'sys' }));
    assert.deepEqual(first.plans[0].place.map((a) => a.nodeId).sort(), ['a', 'b']);
    assert.equal((await harness.run(mockEval({ jobId: 'sys' }))).plans.length, 0, 'nothing changes on a second pass');
    harness.upsertNode(mockNode({ id: 'e' }));
    const joined = await harness.run(mockEval({ jobId: 'sys' }));
    assert.deepEqual(joined.plans[0].place.map((a) => a.nodeId), ['e']);
  });

  test('respect constraints, and stop the allocation of a node that went down without moving it', async () => {
    const nodes = [mockNode({ id: 'a', attributes: { os: 'linux' } }), mockNode({ id: 'b', attributes: { os: 'windows' } }), mockNode({ id: 'c', attributes: { os: 'linux' } })];
    const job = sysJob({ constraints: [{ attribute: '${attr.os}', operator: '=', value: 'linux' }] });
    const harness = new SchedulerHarness({ now: NOW }).upsertJob(job).upsertNode(...nodes);
    await harness.run(mockEval({ jobId: 'sys' }));
    assert.deepEqual(harness.liveAllocs('sys').map((a) => a.nodeId).sort(), ['a', 'c']);
    harness.upsertNode({ ...harness.nodes.get('c')!, status: 'down' });
    const { plans } = await harness.run(mockEval({ jobId: 'sys' }));
    assert.deepEqual(plans[0].stop.map((s) => s.clientStatus), ['lost']);
    assert.equal(plans[0].place.length, 0);
  });

  test('report a node that suits the job but has no room', async () => {
    const nodes = [mockNode({ id: 'a' }), mockNode({ id: 'tiny', resources: { cpu: 0.1, memoryMiB: 64 } })];
    const harness = new SchedulerHarness({ now: NOW }).upsertJob(sysJob()).upsertNode(...nodes);
    const { eval: result } = await harness.run(mockEval({ jobId: 'sys' }));
    assert.equal(result.failures[0].missing, 1);
    assert.ok(result.failures[0].filtered['cpu exhausted'] === 1);
  });
});

describe('ranking settings and disconnected nodes', () => {
  test('the spread algorithm puts a placement on the emptiest node', async () => {
    const job = mockJob({ groups: [mockGroup({ count: 1 })] });
    const [busy, idle] = [mockNode({ id: 'busy' }), mockNode({ id: 'idle' })];
    const other = mockAllocFor(mockJob({ id: 'other' }), busy, { resources: { cpu: 2, memoryMiB: 4096 } });
    const packed = new SchedulerHarness({ now: NOW }).upsertJob(job).upsertNode(busy, idle).upsertAlloc(other);
    assert.deepEqual((await packed.run(mockEval())).plans[0].place.map((a) => a.nodeId), ['busy']);
    const spread = new SchedulerHarness({ now: NOW, algorithm: 'spread' }).upsertJob(job).upsertNode(busy, idle).upsertAlloc(other);
    assert.deepEqual((await spread.run(mockEval())).plans[0].place.map((a) => a.nodeId), ['idle']);
  });

  test('disconnect: with replace, a replacement runs while the original waits; when the node returns, keep_replacement stops the original', async () => {
    const group = mockGroup({ count: 1, disconnect: { lostAfterMs: 60_000, replace: true, reconcile: 'keep_replacement' } });
    const job = mockJob({ groups: [group] });
    const down = mockNode({ id: 'down', status: 'down', downSince: NOW - 1_000 });
    const up = mockNode({ id: 'up' });
    const original = mockAllocFor(job, down, { createTime: NOW - 100_000 });
    const harness = new SchedulerHarness({ now: NOW }).upsertJob(job).upsertNode(down, up).upsertAlloc(original);
    const first = await harness.run(mockEval());
    assert.deepEqual(first.plans[0].place.map((a) => a.nodeId), ['up']);
    assert.deepEqual(first.plans[0].stop, [], 'the original is not given up inside lost_after');
    assert.deepEqual(first.plans[0].followups?.map((e) => e.waitUntil), [NOW - 1_000 + 60_000]);
    // The node comes back with the original still running.
    harness.upsertNode({ ...down, status: 'ready' });
    const [replacement] = first.plans[0].place;
    harness.upsertAlloc({ ...harness.allocs.get(replacement.id)!, clientStatus: 'running' });
    const back = await harness.run(mockEval());
    assert.deepEqual(back.plans[0].stop.map((s) => [s.allocId, s.description]), [[original.id, 'duplicate index']]);
  });

  test('disconnect: past lost_after the allocation is lost and replaced', async () => {
    const job = mockJob({ groups: [mockGroup({ count: 1, disconnect: { lostAfterMs: 60_000, replace: false, reconcile: 'keep_original' } })] });
    const down = mockNode({ id: 'down', status: 'down', downSince: NOW - 61_000 });
    const original = mockAllocFor(job, down);
    const harness = new SchedulerHarness({ now: NOW }).upsertJob(job).upsertNode(down, mockNode({ id: 'up' })).upsertAlloc(original);
    const { plans } = await harness.run(mockEval());
    assert.deepEqual(plans[0].stop, [{ allocId: original.id, description: 'node down', clientStatus: 'lost' }]);
    assert.equal(plans[0].place[0].previousAllocation, original.id);
  });
});
