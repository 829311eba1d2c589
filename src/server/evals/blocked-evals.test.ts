import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Evaluation } from '../../model/index.ts';
import { eventually, jobYaml, nodeBody, startServer } from '../test-server.test-helper.ts';

describe('blocked evaluations', () => {
  it('park what fits nowhere, and place it when an allocation stops and frees the room', async (t) => {
    const s = await startServer(t, { heartbeat: { minHeartbeatTtlMs: 60_000 } });
    await s.registerNode(nodeBody({ resources: { cpu: 1, memoryMiB: 1024 } }));
    await s.ok('POST', '/v1/jobs', jobYaml({ id: 'big', memory: '768Mi' }), 'application/yaml');
    await eventually('big to be placed', async () => ((await s.nodeAllocs('node-a')).length === 1 ? true : undefined));
    await s.ok('POST', '/v1/jobs', jobYaml({ id: 'late', memory: '512Mi' }), 'application/yaml');

    const blocked = await eventually('a blocked evaluation of late', async () => {
      const evals = await s.ok<Evaluation[]>('GET', '/v1/jobs/late/evaluations');
      return evals.find((e) => e.status === 'blocked');
    });
    assert.deepEqual(blocked.queuedAllocs, { web: 1 });
    const first = (await s.ok<Evaluation[]>('GET', '/v1/jobs/late/evaluations')).find((e) => e.status === 'complete');
    assert.equal(first?.blockedEval, blocked.id);

    await s.ok('DELETE', '/v1/jobs/big');
    const placed = await eventually('late to be placed once big stops', async () =>
      (await s.nodeAllocs('node-a')).find((a) => a.jobId === 'late' && a.desiredStatus === 'run'),
    );
    assert.equal(placed.evalId, blocked.id);
    const woken = await s.ok<Evaluation>('GET', `/v1/evaluations/${blocked.id}`);
    assert.equal(woken.status, 'complete');
  });

  it('keep one blocked evaluation per job: a newer one cancels the older', async (t) => {
    const s = await startServer(t, { heartbeat: { minHeartbeatTtlMs: 60_000 } });
    await s.registerNode(nodeBody({ resources: { cpu: 1, memoryMiB: 256 } }));
    await s.ok('POST', '/v1/jobs', jobYaml({ id: 'big', memory: '1Gi' }), 'application/yaml');
    await eventually('one blocked', async () => ((await s.ok<Evaluation[]>('GET', '/v1/jobs/big/evaluations')).some((e) => e.status === 'blocked') ? true : undefined));
    await s.ok('POST', '/v1/jobs', jobYaml({ id: 'big', memory: '2Gi' }), 'application/yaml');
    const evals = await eventually('the older blocked one to be canceled', async () => {
      const all = await s.ok<Evaluation[]>('GET', '/v1/jobs/big/evaluations');
      return all.some((e) => e.status === 'canceled') ? all : undefined;
    });
    assert.equal(evals.filter((e) => e.status === 'blocked').length, 1);
  });
});
