import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Allocation, Node } from '../../model/index.ts';
import { FakeClock } from '../../testing/index.ts';
import { eventually, nodeBody, startServer, type TestServer } from '../test-server.test-helper.ts';

function jobJson(id: string, count: number, maxParallel: number, type = 'service'): unknown {
  return {
    id,
    type,
    groups: [
      {
        name: 'web',
        count,
        tasks: [{ name: 'server', driver: 'process', config: { command: '/bin/sleep', args: ['3600'] }, resources: { cpu: '100m', memory: '32Mi' } }],
        ...(type === 'system' ? {} : { migrate: { max_parallel: maxParallel } }),
      },
    ],
  };
}

async function live(s: TestServer, nodeId: string): Promise<Allocation[]> {
  return (await s.nodeAllocs(nodeId)).filter((a) => a.desiredStatus === 'run');
}

describe('node drain and eligibility', () => {
  it('moves allocations off a draining node no more than max_parallel at a time, then leaves it ineligible', async (t) => {
    const s = await startServer(t, { heartbeat: { minHeartbeatTtlMs: 60_000 }, drainIntervalMs: 50 });
    await s.registerNode(nodeBody({ id: 'node-a' }));
    await s.ok('POST', '/v1/jobs', jobJson('web', 4, 2));
    const onA = await eventually('4 allocations on node-a', async () => ((await live(s, 'node-a')).length === 4 ? live(s, 'node-a') : undefined));
    await s.report('node-a', onA, 'running');
    await s.registerNode(nodeBody({ id: 'node-b' }));

    const drained = await s.ok<{ node: Node }>('PUT', '/v1/nodes/node-a/drain', { enable: true, deadlineMs: 0 });
    assert.deepEqual([drained.node.eligible, drained.node.drain?.deadline], [false, 0]);

    let most = 0;
    await eventually('everything to move to node-b', async () => {
      const onB = await live(s, 'node-b');
      const pending = onB.filter((a) => a.clientStatus === 'pending');
      most = Math.max(most, pending.length);
      // The agent on node-b starts what it gets, a little later.
      if (pending.length > 0) await s.report('node-b', pending, 'running');
      return onB.length === 4 && (await live(s, 'node-a')).length === 0 ? true : undefined;
    }, 10_000);
    assert.ok(most <= 2, `${most} migrations at once, max_parallel 2`);
    const node = await eventually('the drain to finish', async () => {
      const n = await s.node('node-a');
      return n.drain === undefined ? n : undefined;
    });
    assert.equal(node.eligible, false);
  });

  it('moves everything left at once when the deadline passes', async (t) => {
    // The deadline is on the server's clock: nothing passes it until the test moves the clock.
    const clock = new FakeClock();
    const s = await startServer(t, { heartbeat: { minHeartbeatTtlMs: 60_000 }, drainIntervalMs: 50, clock });
    await s.registerNode(nodeBody({ id: 'node-a' }));
    await s.ok('POST', '/v1/jobs', jobJson('web', 3, 1));
    const onA = await eventually('3 allocations on node-a', async () => ((await live(s, 'node-a')).length === 3 ? live(s, 'node-a') : undefined));
    await s.report('node-a', onA, 'running');
    await s.registerNode(nodeBody({ id: 'node-b' }));
    await s.ok('PUT', '/v1/nodes/node-a/drain', { enable: true, deadlineMs: 30_000 });
    // node-b never reports its replacements running: before the deadline only one moves.
    await eventually('one replacement on node-b', async () => ((await live(s, 'node-b')).length === 1 ? true : undefined));
    assert.equal((await live(s, 'node-a')).length, 2);
    await clock.run(29_999, 5_000);
    assert.equal((await live(s, 'node-a')).length, 2, 'nothing more moves before the deadline');
    await clock.run(100, 50);
    await eventually('the rest to move at the deadline', async () => ((await live(s, 'node-b')).length === 3 ? true : undefined));
    assert.equal((await live(s, 'node-a')).length, 0);
  });

  it('leaves system allocations in place with ignoreSystem', async (t) => {
    const s = await startServer(t, { heartbeat: { minHeartbeatTtlMs: 60_000 }, drainIntervalMs: 50 });
    await s.registerNode(nodeBody({ id: 'node-a' }));
    await s.ok('POST', '/v1/jobs', jobJson('sys', 1, 1, 'system'));
    await eventually('the system allocation', async () => ((await live(s, 'node-a')).length === 1 ? true : undefined));
    await s.ok('PUT', '/v1/nodes/node-a/drain', { enable: true, ignoreSystem: true });
    await eventually('the drain to finish', async () => ((await s.node('node-a')).drain === undefined ? true : undefined));
    assert.equal((await live(s, 'node-a')).length, 1);
  });

  it('turns eligibility off and on, and refuses to make a draining node eligible', async (t) => {
    const s = await startServer(t, { heartbeat: { minHeartbeatTtlMs: 60_000 } });
    await s.registerNode(nodeBody({ id: 'node-a' }));
    await s.ok('POST', '/v1/jobs', jobJson('web', 1, 1));
    await eventually('the allocation', async () => ((await live(s, 'node-a')).length === 1 ? true : undefined));
    assert.equal((await s.ok<{ node: Node }>('PUT', '/v1/nodes/node-a/eligibility', { eligible: false })).node.eligible, false);
    assert.equal((await s.ok<{ node: Node }>('PUT', '/v1/nodes/node-a/eligibility', { eligible: true })).node.eligible, true);
    // With nowhere to move its allocation, the drain stays under way.
    await s.ok('PUT', '/v1/nodes/node-a/drain', { enable: true, deadlineMs: 60_000 });
    const refused = await s.request('PUT', '/v1/nodes/node-a/eligibility', { eligible: true });
    assert.equal(refused.status, 400);
    assert.equal((await s.request('PUT', '/v1/nodes/ghost/drain', { enable: true })).status, 404);
  });
});
