import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JobPlanResponse } from '../../api/index.ts';
import type { Evaluation } from '../../model/index.ts';
import { eventually, jobYaml, nodeBody, startServer } from '../test-server.test-helper.ts';

describe('POST /v1/jobs/:id/plan', () => {
  it('says where a new job would go and commits nothing', async (t) => {
    const s = await startServer(t, { heartbeat: { minHeartbeatTtlMs: 60_000 } });
    await s.registerNode(nodeBody({ id: 'node-a' }));
    const plan = await s.ok<JobPlanResponse>('POST', '/v1/jobs/web/plan', jobYaml({ count: 2 }), 'application/yaml');
    assert.deepEqual([plan.version, plan.changed, plan.groups.web.place], [0, true, 2]);
    assert.deepEqual(plan.placements.map((p) => p.nodeName), ['node-a', 'node-a']);
    assert.equal(plan.placements[0].topScores[0].nodeId, 'node-a');
    assert.deepEqual(plan.failures, []);
    assert.equal((await s.request('GET', '/v1/jobs/web')).status, 404);
    assert.deepEqual(await s.nodeAllocs('node-a'), []);
  });

  it('explains why a group cannot be placed: nodes filtered by reason, the exhausted dimension', async (t) => {
    const s = await startServer(t, { heartbeat: { minHeartbeatTtlMs: 60_000 } });
    await s.registerNode(nodeBody({ id: 'small', resources: { cpu: 2, memoryMiB: 512 } }));
    await s.registerNode(nodeBody({ id: 'win', attributes: { os: 'windows' } }));
    const spec = {
      id: 'web',
      constraints: [{ attribute: '${attr.os}', operator: '=', value: 'linux' }],
      groups: [{ name: 'web', count: 1, tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' }, resources: { cpu: '100m', memory: '1Gi' } }] }],
    };
    const plan = await s.ok<JobPlanResponse>('POST', '/v1/jobs/web/plan', spec);
    assert.equal(plan.placements.length, 0);
    const [failure] = plan.failures;
    assert.deepEqual([failure.missing, failure.nodesEvaluated], [1, 2]);
    assert.deepEqual(failure.filtered, { 'constraint ${attr.os} = linux': 1, 'memory exhausted': 1 });
    assert.deepEqual(failure.exhausted, { memory: 1 });
    assert.match(plan.explanation[0], /cannot place 1 of group "web": constraint \$\{attr\.os\} = linux on 1 of 2 nodes, memory exhausted on 1 of 2 nodes/);

    // The same metrics stay on the evaluation of a real registration.
    const registered = await s.ok<{ evalId: string }>('POST', '/v1/jobs', spec);
    const evaluation = await eventually('the evaluation', async () => {
      const e = await s.ok<Evaluation>('GET', `/v1/evaluations/${registered.evalId}`);
      return e.status === 'complete' ? e : undefined;
    });
    assert.deepEqual(evaluation.failures[0].exhausted, { memory: 1 });
    assert.ok(evaluation.blockedEval !== undefined);
  });

  it('shows an update as in-place or destructive, and refuses a spec for another job', async (t) => {
    const s = await startServer(t, { heartbeat: { minHeartbeatTtlMs: 60_000 } });
    await s.registerNode(nodeBody({ id: 'node-a' }));
    await s.ok('POST', '/v1/jobs', jobYaml({ count: 2 }), 'application/yaml');
    await eventually('2 allocations', async () => ((await s.nodeAllocs('node-a')).length === 2 ? true : undefined));
    const same = await s.ok<JobPlanResponse>('POST', '/v1/jobs/web/plan', jobYaml({ count: 2 }), 'application/yaml');
    assert.deepEqual([same.changed, same.groups.web], [false, { place: 0, stop: 0, inplace: 0, destructive: 0, migrate: 0, lost: 0, reschedule: 0 }]);
    const bigger = await s.ok<JobPlanResponse>('POST', '/v1/jobs/web/plan', jobYaml({ count: 3 }), 'application/yaml');
    assert.deepEqual([bigger.groups.web.inplace, bigger.groups.web.place], [2, 1]);
    const changed = await s.ok<JobPlanResponse>('POST', '/v1/jobs/web/plan', jobYaml({ count: 2, memory: '128Mi' }), 'application/yaml');
    assert.deepEqual([changed.groups.web.destructive, changed.groups.web.stop, changed.groups.web.place], [2, 2, 2]);
    assert.equal((await s.request('POST', '/v1/jobs/other/plan', jobYaml(), 'application/yaml')).status, 400);
  });
});
