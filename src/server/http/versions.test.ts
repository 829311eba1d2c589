import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from '../../model/index.ts';
import type { JobPlanResponse, JobRegisterResponse, JobVersionsResponse } from '../../api/index.ts';
import { jobYaml, startServer } from '../test-server.test-helper.ts';

const YAML = 'application/yaml';

describe('HTTP API: job versions, revert, plan and --check-index', () => {
  it('lists versions newest first with the diff of each from the one before', async (t) => {
    const s = await startServer(t);
    await s.ok('POST', '/v1/jobs', jobYaml({ count: 1 }), YAML);
    await s.ok('POST', '/v1/jobs', jobYaml({ count: 3 }), YAML);
    await s.ok('POST', '/v1/jobs', jobYaml({ count: 3, memory: '128Mi' }), YAML);

    const res = await s.ok<JobVersionsResponse>('GET', '/v1/jobs/web/versions?diffs=true');
    assert.deepEqual(res.versions.map((v) => v.version), [2, 1, 0]);
    assert.deepEqual(res.diffs.map((d) => [d.from, d.to]), [[1, 2], [0, 1]]);
    assert.deepEqual(res.diffs[1].diff.groups[0].fields, [{ kind: 'changed', path: 'count', old: 1, new: 3 }]);
    assert.deepEqual(res.diffs[0].diff.groups[0].destructive, ['tasks.server.resources.memoryMiB']);
  });

  it('keeps the last 20 versions', async (t) => {
    const s = await startServer(t);
    for (let i = 1; i <= 23; i++) await s.ok('POST', '/v1/jobs', jobYaml({ count: i }), YAML);
    const versions = await s.ok<Job[]>('GET', '/v1/jobs/web/versions');
    assert.equal(versions.length, 20);
    assert.deepEqual([versions[0].version, versions[19].version], [22, 3]);
    assert.equal((await s.request('GET', '/v1/jobs/web/versions/2')).status, 404);
  });

  it('reverts to an older version as a new version', async (t) => {
    const s = await startServer(t);
    await s.ok('POST', '/v1/jobs', jobYaml({ count: 1 }), YAML);
    await s.ok('POST', '/v1/jobs', jobYaml({ count: 5 }), YAML);
    const res = await s.ok<JobRegisterResponse>('POST', '/v1/jobs/web/revert', { version: 0 });
    assert.deepEqual([res.version, res.changed], [2, true]);
    assert.equal((await s.ok<Job>('GET', '/v1/jobs/web')).groups[0].count, 1);
    assert.equal((await s.request('POST', '/v1/jobs/web/revert', { version: 9 })).status, 404);
  });

  it('refuses a stale --check-index with 409 naming the current index, and changes nothing', async (t) => {
    const s = await startServer(t);
    const first = await s.ok<JobRegisterResponse>('POST', '/v1/jobs?checkIndex=0', jobYaml({ count: 1 }), YAML);
    const plan = await s.ok<JobPlanResponse>('POST', '/v1/jobs/web/plan', jobYaml({ count: 2 }), YAML);
    assert.ok(plan.modifyIndex! >= first.index);
    await s.ok('POST', '/v1/jobs', jobYaml({ count: 3 }), YAML);

    const stale = await s.request<{ error: { code: string; message: string } }>('POST', `/v1/jobs?checkIndex=${plan.modifyIndex}`, jobYaml({ count: 2 }), YAML);
    assert.equal(stale.status, 409);
    assert.match(stale.body.error.message, /current modify index \d+/);
    const job = await s.ok<Job>('GET', '/v1/jobs/web');
    assert.deepEqual([job.version, job.groups[0].count], [1, 3]);

    const fresh = await s.ok<JobPlanResponse>('POST', '/v1/jobs/web/plan', jobYaml({ count: 2 }), YAML);
    await s.ok('POST', `/v1/jobs?checkIndex=${fresh.modifyIndex}`, jobYaml({ count: 2 }), YAML);
    assert.equal((await s.ok<Job>('GET', '/v1/jobs/web')).groups[0].count, 2);
  });

  it('plans with a structured diff and the modify index', async (t) => {
    const s = await startServer(t);
    await s.ok('POST', '/v1/jobs', jobYaml({ count: 1 }), YAML);
    const plan = await s.ok<JobPlanResponse>('POST', '/v1/jobs/web/plan', jobYaml({ count: 1, cpu: '200m' }), YAML);
    assert.equal(plan.diff?.kind, 'changed');
    assert.deepEqual(plan.diff?.groups[0].destructive, ['tasks.server.resources.cpu']);
  });
});
