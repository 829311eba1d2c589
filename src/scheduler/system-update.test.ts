import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Group, UpdateStrategy } from '../model/index.ts';
import { SchedulerHarness, mockEval, mockGroup, mockJob, mockNode, mockTask } from '../testing/index.ts';

const NOW = 1_700_000_000_000;

/** Nomad's defaults; system jobs read only max_parallel and stagger. */
function strategy(overrides: Partial<UpdateStrategy> = {}): UpdateStrategy {
  return { maxParallel: 1, healthCheck: 'checks', minHealthyTimeMs: 10_000, healthyDeadlineMs: 300_000, progressDeadlineMs: 600_000, autoRevert: false, canary: 0, autoPromote: false, staggerMs: 30_000, ...overrides };
}

function sysJob(version: number, group: Partial<Group> = {}) {
  return mockJob({ id: 'sys', type: 'system', version, groups: [mockGroup({ name: 'agent', count: 1, ...group })] });
}

/** Four nodes, each running version 0 of the system job. */
async function running(group: Partial<Group>): Promise<SchedulerHarness> {
  const harness = new SchedulerHarness({ now: NOW }).upsertJob(sysJob(0, group));
  harness.upsertNode(...['a', 'b', 'c', 'd'].map((id) => mockNode({ id })));
  await harness.run(mockEval({ jobId: 'sys' }));
  assert.equal(harness.liveAllocs('sys').length, 4);
  return harness;
}

const v1Tasks = [mockTask({ env: { V: '1' } })];
const nodesAt = (harness: SchedulerHarness, version: number) =>
  harness
    .liveAllocs('sys')
    .filter((a) => a.jobVersion === version)
    .map((a) => a.nodeId)
    .sort();

describe('system jobs: update stagger', () => {
  test('replace max_parallel allocations, then the next batch once the stagger has passed', async () => {
    const update = strategy({ maxParallel: 2, staggerMs: 30_000 });
    const harness = await running({ update });
    harness.upsertJob(sysJob(1, { update, tasks: v1Tasks }));

    const first = await harness.run(mockEval({ jobId: 'sys' }));
    assert.equal(first.plans[0].stop.length, 2);
    assert.deepEqual(nodesAt(harness, 1), ['a', 'b'], 'the first batch, nodes in id order');
    assert.deepEqual(nodesAt(harness, 0), ['c', 'd'], 'the rest run on, untouched');
    const [followup] = first.plans[0].followups ?? [];
    assert.equal(followup?.waitUntil, NOW + 30_000);
    assert.equal(followup?.statusDescription, 'follow-up: update stagger');

    // An evaluation inside the stagger (a node update, say) starts no batch and no second follow-up.
    harness.now = NOW + 10_000;
    const early = await harness.run(mockEval({ jobId: 'sys', triggeredBy: 'node-update' }));
    assert.equal(early.plans.length, 0);
    assert.deepEqual(nodesAt(harness, 0), ['c', 'd']);

    harness.now = followup!.waitUntil!;
    const second = await harness.run(followup!);
    assert.equal(second.plans[0].stop.length, 2);
    assert.deepEqual(nodesAt(harness, 1), ['a', 'b', 'c', 'd']);
    assert.deepEqual(second.plans[0].followups, [], 'nothing is left to wait for');
    assert.equal((await harness.run(mockEval({ jobId: 'sys' }))).plans.length, 0);
  });

  test('with max_parallel 1 take one node per stagger, each follow-up making the next', async () => {
    const update = strategy({ maxParallel: 1, staggerMs: 5_000 });
    const harness = await running({ update });
    harness.upsertJob(sysJob(1, { update, tasks: v1Tasks }));
    let evaluation = mockEval({ jobId: 'sys' });
    const times: number[] = [];
    for (let batch = 1; batch <= 4; batch++) {
      const { plans } = await harness.run(evaluation);
      assert.equal(nodesAt(harness, 1).length, batch);
      const next = plans[0].followups?.[0];
      if (batch === 4) {
        assert.equal(next, undefined);
        break;
      }
      times.push(next!.waitUntil!);
      harness.now = next!.waitUntil!;
      evaluation = next!;
    }
    assert.deepEqual(times, [NOW + 5_000, NOW + 10_000, NOW + 15_000]);
  });

  test('a newer version registered mid-update finishes through follow-ups alone', async () => {
    const update = strategy({ maxParallel: 1, staggerMs: 5_000 });
    const harness = await running({ update });
    harness.upsertJob(sysJob(1, { update, tasks: v1Tasks }));
    const pending = [...((await harness.run(mockEval({ jobId: 'sys' }))).plans[0].followups ?? [])];
    harness.now = NOW + 1_000;
    harness.upsertJob(sysJob(2, { update, tasks: [mockTask({ env: { V: '2' } })] }));
    pending.push(...((await harness.run(mockEval({ jobId: 'sys' }))).plans[0].followups ?? []));
    // As the broker would: each follow-up at its time, earliest first, until none is left.
    for (let i = 0; pending.length > 0 && i < 20; i++) {
      pending.sort((x, y) => x.waitUntil! - y.waitUntil!);
      const next = pending.shift()!;
      harness.now = next.waitUntil!;
      for (const plan of (await harness.run(next)).plans) pending.push(...(plan.followups ?? []));
    }
    assert.deepEqual(pending, []);
    assert.deepEqual(nodesAt(harness, 2), ['a', 'b', 'c', 'd']);
  });

  test('without an update block, or with max_parallel 0, replace every node at once', async () => {
    for (const group of [{}, { update: strategy({ maxParallel: 0 }) }]) {
      const harness = await running(group);
      harness.upsertJob(sysJob(1, { ...group, tasks: v1Tasks }));
      const { plans } = await harness.run(mockEval({ jobId: 'sys' }));
      assert.equal(plans[0].stop.length, 4);
      assert.deepEqual(plans[0].followups, []);
      assert.deepEqual(nodesAt(harness, 1), ['a', 'b', 'c', 'd']);
    }
  });

  test('update in place every node at once: the stagger paces only replacements', async () => {
    const update = strategy({ maxParallel: 1 });
    const harness = await running({ update });
    const before = harness.liveAllocs('sys').map((a) => a.id).sort();
    harness.upsertJob({ ...sysJob(1, { update }), meta: { owner: 'ops' } });
    const { plans } = await harness.run(mockEval({ jobId: 'sys' }));
    assert.equal(plans[0].stop.length, 0);
    assert.equal(plans[0].update?.length, 4);
    assert.deepEqual(harness.liveAllocs('sys').map((a) => a.id).sort(), before);
    assert.deepEqual(nodesAt(harness, 1), ['a', 'b', 'c', 'd']);
  });

  test('a node that joins mid-update gets the new version at once', async () => {
    const update = strategy({ maxParallel: 1, staggerMs: 30_000 });
    const harness = await running({ update });
    harness.upsertJob(sysJob(1, { update, tasks: v1Tasks }));
    await harness.run(mockEval({ jobId: 'sys' }));
    harness.upsertNode(mockNode({ id: 'e' }));
    harness.now = NOW + 1_000;
    const { plans } = await harness.run(mockEval({ jobId: 'sys', triggeredBy: 'node-update' }));
    assert.deepEqual(plans[0].place.map((a) => [a.nodeId, a.jobVersion]), [['e', 1]]);
    assert.equal(plans[0].stop.length, 0, 'still inside the stagger: no old allocation stops');
    assert.deepEqual(nodesAt(harness, 0), ['b', 'c', 'd']);
  });
});
