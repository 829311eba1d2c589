import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Allocation, Deployment, Job } from '../../model/index.ts';
import type { AllocUpdate, JobRegisterResponse } from '../../api/index.ts';
import { FakeClock } from '../../testing/index.ts';
import { eventually, startServer, type TestServer } from '../test-server.test-helper.ts';

/** A 3-instance service with a rolling update strategy; `memory` changes force new allocations. */
function rollingJob(memory: string, update = 'max_parallel: 1, health_check: task_states, min_healthy_time: 50ms, healthy_deadline: 1s, progress_deadline: 2s, auto_revert: true'): string {
  return [
    'id: web',
    'type: service',
    `update: {${update}}`,
    'groups:',
    '  - name: web',
    '    count: 3',
    '    tasks:',
    '      - name: server',
    '        driver: process',
    '        config: {command: /bin/sleep, args: ["3600"]}',
    `        resources: {cpu: 100m, memory: ${memory}}`,
    '',
  ].join('\n');
}

/**
 * A fake agent on node-a: starts what is placed (failing allocations of the versions in `broken`),
 * stops what is stopped, and records the most allocations of a new version starting at once.
 */
function fakeAgent(s: TestServer, broken: Set<number>): { stop: () => void; maxStarting: () => number } {
  let max = 0;
  let stopped = false;
  const loop = async (): Promise<void> => {
    while (!stopped) {
      const allocs = await s.nodeAllocs('node-a').catch(() => [] as Allocation[]);
      const starting = allocs.filter((a) => a.desiredStatus === 'run' && a.clientStatus === 'pending');
      const versions = new Set(allocs.map((a) => a.jobVersion));
      if (versions.size > 1) max = Math.max(max, starting.length);
      const updates: AllocUpdate[] = [];
      for (const a of starting) {
        const failed = broken.has(a.jobVersion);
        updates.push({ id: a.id, clientStatus: failed ? 'failed' : 'running', taskStates: { server: { state: failed ? 'dead' : 'running', failed, restarts: 0, events: [] } } });
      }
      for (const a of allocs.filter((x) => x.desiredStatus === 'stop' && x.clientStatus === 'running')) {
        updates.push({ id: a.id, clientStatus: 'complete', taskStates: { server: { state: 'dead', failed: false, restarts: 0, events: [] } } });
      }
      if (updates.length > 0 && !stopped) await s.request('PUT', '/v1/nodes/node-a/allocations', { allocs: updates });
      await new Promise((r) => setTimeout(r, 15));
    }
  };
  void loop();
  return { stop: () => void (stopped = true), maxStarting: () => max };
}

async function deploymentOf(s: TestServer, id: string, status: Deployment['status']): Promise<Deployment> {
  return eventually(`deployment ${id} ${status}`, async () => {
    const d = await s.ok<Deployment>('GET', `/v1/deployments/${id}`);
    return d.status === status ? d : undefined;
  }, 8_000);
}

describe('deployments: rolling updates and the watcher', () => {
  it('replaces one allocation at a time, waits for health, and succeeds', async (t) => {
    const s = await startServer(t);
    await s.registerNode();
    s.keepAlive('node-a');
    const agent = fakeAgent(s, new Set());
    t.after(agent.stop);
    const v0 = await s.ok<JobRegisterResponse>('POST', '/v1/jobs', rollingJob('64Mi'), 'application/yaml');
    await deploymentOf(s, v0.deploymentId!, 'successful');
    const v1 = await s.ok<JobRegisterResponse>('POST', '/v1/jobs', rollingJob('96Mi'), 'application/yaml');
    const d = await deploymentOf(s, v1.deploymentId!, 'successful');

    assert.deepEqual([d.groups.web.healthy, d.groups.web.desired, d.groups.web.unhealthy], [3, 3, 0]);
    assert.equal(agent.maxStarting(), 1, 'max_parallel 1: never two new allocations starting at once');
    const live = (await s.nodeAllocs('node-a')).filter((a) => a.desiredStatus === 'run');
    assert.deepEqual(live.map((a) => a.jobVersion), [1, 1, 1]);
    const versions = await s.ok<Job[]>('GET', '/v1/jobs/web/versions');
    assert.deepEqual(versions.map((v) => [v.version, v.stable === true]), [[1, true], [0, true]]);
  });

  it('fails a deployment whose allocations fail and rolls back to the last stable version', async (t) => {
    const s = await startServer(t);
    await s.registerNode();
    s.keepAlive('node-a');
    const agent = fakeAgent(s, new Set([1]));
    t.after(agent.stop);
    const v0 = await s.ok<JobRegisterResponse>('POST', '/v1/jobs', rollingJob('64Mi'), 'application/yaml');
    await deploymentOf(s, v0.deploymentId!, 'successful');
    const v1 = await s.ok<JobRegisterResponse>('POST', '/v1/jobs', rollingJob('96Mi'), 'application/yaml');
    const failed = await deploymentOf(s, v1.deploymentId!, 'failed');

    assert.match(failed.statusDescription, /unhealthy: allocation failed.*rolling back to job version 0/);
    const job = await eventually('the revert', async () => {
      const j = await s.ok<Job>('GET', '/v1/jobs/web');
      return j.version === 2 ? j : undefined;
    });
    assert.equal(job.groups[0].tasks[0].resources.memoryMiB, 64);
    await eventually('3 allocations of the reverted version running', async () => {
      const live = (await s.nodeAllocs('node-a')).filter((a) => a.desiredStatus === 'run' && a.clientStatus === 'running' && a.jobVersion === 2);
      return live.length === 3 ? live : undefined;
    }, 8_000);
  });

  it('pauses and resumes a deployment; a paused one replaces nothing', async (t) => {
    const s = await startServer(t);
    await s.registerNode();
    s.keepAlive('node-a');
    const agent = fakeAgent(s, new Set());
    t.after(agent.stop);
    const v0 = await s.ok<JobRegisterResponse>('POST', '/v1/jobs', rollingJob('64Mi', 'max_parallel: 1, health_check: task_states, min_healthy_time: 300ms, healthy_deadline: 3s'), 'application/yaml');
    await deploymentOf(s, v0.deploymentId!, 'successful');
    const v1 = await s.ok<JobRegisterResponse>('POST', '/v1/jobs', rollingJob('96Mi', 'max_parallel: 1, health_check: task_states, min_healthy_time: 300ms, healthy_deadline: 3s'), 'application/yaml');
    await s.ok('POST', `/v1/deployments/${v1.deploymentId}/pause`, {});
    await new Promise((r) => setTimeout(r, 700));
    const paused = await s.ok<Deployment>('GET', `/v1/deployments/${v1.deploymentId}`);
    assert.equal(paused.status, 'paused');
    const newOnes = (await s.nodeAllocs('node-a')).filter((a) => a.jobVersion === 1 && a.desiredStatus === 'run');
    assert.ok(newOnes.length <= 1, `paused: at most the one allocation started before the pause, got ${newOnes.length}`);
    await s.ok('POST', `/v1/deployments/${v1.deploymentId}/resume`, {});
    await deploymentOf(s, v1.deploymentId!, 'successful');
    assert.equal((await s.request('POST', `/v1/deployments/${v1.deploymentId}/pause`, {})).status, 400);
  });

  it('scales in place and restarts allocations with fresh ones', async (t) => {
    const s = await startServer(t);
    await s.registerNode();
    s.keepAlive('node-a');
    const agent = fakeAgent(s, new Set());
    t.after(agent.stop);
    const v0 = await s.ok<JobRegisterResponse>('POST', '/v1/jobs', rollingJob('64Mi'), 'application/yaml');
    await deploymentOf(s, v0.deploymentId!, 'successful');
    const before = (await s.nodeAllocs('node-a')).filter((a) => a.desiredStatus === 'run').map((a) => a.id).sort();

    const scaled = await s.ok<JobRegisterResponse>('POST', '/v1/jobs/web/scale', { count: 4 });
    await deploymentOf(s, scaled.deploymentId!, 'successful');
    const after = (await s.nodeAllocs('node-a')).filter((a) => a.desiredStatus === 'run');
    assert.equal(after.length, 4);
    assert.ok(before.every((id) => after.some((a) => a.id === id && a.jobVersion === 1)), 'the 3 running allocations were kept, updated in place');

    const res = await s.ok<{ restarted: string[] }>('POST', '/v1/jobs/web/restart', { allocIds: [before[0]] });
    assert.deepEqual(res.restarted, [before[0]]);
    await eventually('a fresh allocation in its place', async () => {
      const allocs = await s.nodeAllocs('node-a');
      const old = allocs.find((a) => a.id === before[0]);
      const fresh = allocs.find((a) => a.previousAllocation === before[0] && a.clientStatus === 'running');
      return old?.desiredStatus === 'stop' && fresh ? fresh : undefined;
    });
  });

  it('places one canary beside the old allocations and waits for promote', async (t) => {
    const s = await startServer(t);
    await s.registerNode();
    s.keepAlive('node-a');
    const agent = fakeAgent(s, new Set());
    t.after(agent.stop);
    const update = 'max_parallel: 1, canary: 1, health_check: task_states, min_healthy_time: 50ms, healthy_deadline: 2s, progress_deadline: 10s';
    const v0 = await s.ok<JobRegisterResponse>('POST', '/v1/jobs', rollingJob('64Mi', update), 'application/yaml');
    await deploymentOf(s, v0.deploymentId!, 'successful');
    const v1 = await s.ok<JobRegisterResponse>('POST', '/v1/jobs', rollingJob('96Mi', update), 'application/yaml');
    const waiting = await eventually('the canary healthy', async () => {
      const d = await s.ok<Deployment>('GET', `/v1/deployments/${v1.deploymentId}`);
      return d.groups.web.canaries.length === 1 && d.groups.web.healthy === 1 ? d : undefined;
    });
    await new Promise((r) => setTimeout(r, 500));
    const live = (await s.nodeAllocs('node-a')).filter((a) => a.desiredStatus === 'run');
    assert.deepEqual(live.map((a) => a.jobVersion).sort(), [0, 0, 0, 1], 'the canary runs beside all 3 old allocations');
    assert.equal((await s.ok<Deployment>('GET', `/v1/deployments/${v1.deploymentId}`)).status, 'running');
    assert.equal(waiting.groups.web.promoted, false);

    await s.ok('POST', `/v1/deployments/${v1.deploymentId}/promote`, {});
    await deploymentOf(s, v1.deploymentId!, 'successful');
    const after = (await s.nodeAllocs('node-a')).filter((a) => a.desiredStatus === 'run');
    assert.deepEqual(after.map((a) => a.jobVersion), [1, 1, 1]);
    assert.ok(after.some((a) => a.id === waiting.groups.web.canaries[0]), 'the canary stays, promoted');
  });

  it('counts min_healthy_time on the server clock: allocations are healthy only once it has passed', async (t) => {
    const clock = new FakeClock();
    // Nodes must not miss heartbeats while the test moves the clock.
    const s = await startServer(t, { clock, heartbeat: { minHeartbeatTtlMs: 3_600_000 } });
    await eventually('the server to lead', async () => (s.server.leading ? true : undefined));
    await s.registerNode();
    const update = 'max_parallel: 3, health_check: task_states, min_healthy_time: 30s, healthy_deadline: 5m, progress_deadline: 10m';
    const v0 = await s.ok<JobRegisterResponse>('POST', '/v1/jobs', rollingJob('64Mi', update), 'application/yaml');
    const placed = await eventually('3 allocations placed', async () => {
      const allocs = await s.nodeAllocs('node-a');
      return allocs.length === 3 ? allocs : undefined;
    });
    const running: AllocUpdate[] = placed.map((a) => ({ id: a.id, clientStatus: 'running', taskStates: { server: { state: 'running', failed: false, restarts: 0, events: [] } } }));
    await s.ok('PUT', '/v1/nodes/node-a/allocations', { allocs: running });
    await clock.run(29_000, 250);
    const waiting = await s.ok<Deployment>('GET', `/v1/deployments/${v0.deploymentId}`);
    assert.deepEqual([waiting.status, waiting.groups.web.healthy], ['running', 0], 'running for 29 s is not yet healthy');
    await clock.run(1_500, 250);
    const done = await deploymentOf(s, v0.deploymentId!, 'successful');
    assert.equal(done.groups.web.healthy, 3);
  });

  it('health_check manual: waits for the operator to mark allocations healthy', async (t) => {
    const s = await startServer(t);
    await s.registerNode();
    s.keepAlive('node-a');
    const agent = fakeAgent(s, new Set());
    t.after(agent.stop);
    const v0 = await s.ok<JobRegisterResponse>('POST', '/v1/jobs', rollingJob('64Mi', 'health_check: manual, min_healthy_time: 0s, healthy_deadline: 5s'), 'application/yaml');
    const allocs = await eventually('3 running', async () => {
      const live = (await s.nodeAllocs('node-a')).filter((a) => a.clientStatus === 'running');
      return live.length === 3 ? live : undefined;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await s.ok<Deployment>('GET', `/v1/deployments/${v0.deploymentId}`)).status, 'running');
    await s.ok('POST', `/v1/deployments/${v0.deploymentId}/allocation-health`, { healthy: allocs.map((a) => a.id) });
    await deploymentOf(s, v0.deploymentId!, 'successful');
  });
});
