import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Allocation, ErrorDetail, Evaluation, Job } from '../../model/index.ts';
import type { JobListItem, JobRegisterResponse, JobStopResponse } from '../../api/index.ts';
import { SqliteBackend } from '../../state/index.ts';
import { eventually, jobYaml, nodeBody, startServer, type TestServer } from '../test-server.test-helper.ts';
import { isLongPoll } from './app.ts';

interface ErrorBody {
  error: { code: string; message: string; details: ErrorDetail[] };
}

/** The same job as `jobYaml()`, written as JSON. */
function jobJson(count = 1): object {
  return {
    id: 'web',
    type: 'service',
    groups: [
      {
        name: 'web',
        count,
        tasks: [{ name: 'server', driver: 'process', config: { command: '/bin/sleep', args: ['3600'] }, resources: { cpu: '100m', memory: '64Mi' } }],
      },
    ],
  };
}

/** Register a node and a job of `count`, and wait until all of it is placed on the node. */
async function placed(s: TestServer, count: number): Promise<Allocation[]> {
  await s.registerNode();
  await s.ok('POST', '/v1/jobs', jobYaml({ count }), 'application/yaml');
  return eventually(`${count} allocations on node-a`, async () => {
    const allocs = await s.nodeAllocs('node-a');
    return allocs.length === count ? allocs : undefined;
  });
}

describe('HTTP API: jobs', () => {
  it('registers a job posted as YAML and answers with its version and evaluation', async (t) => {
    const s = await startServer(t);
    const res = await s.request<JobRegisterResponse>('POST', '/v1/jobs', jobYaml({ count: 2 }), 'application/yaml');

    assert.equal(res.status, 200);
    assert.deepEqual([res.body.jobId, res.body.version, res.body.changed], ['web', 0, true]);
    assert.equal(res.headers['x-berth-index'], String(res.body.index));
    const job = await s.ok<Job>('GET', '/v1/jobs/web');
    assert.deepEqual([job.version, job.groups[0].count, job.groups[0].tasks[0].resources], [0, 2, { cpu: 0.1, memoryMiB: 64 }]);
    const evaluation = await s.ok<Evaluation>('GET', `/v1/evaluations/${res.body.evalId}`);
    assert.deepEqual([evaluation.jobId, evaluation.triggeredBy], ['web', 'job-register']);
  });

  it('registers a job posted as JSON', async (t) => {
    const s = await startServer(t);
    const res = await s.ok<JobRegisterResponse>('POST', '/v1/jobs', jobJson(3));

    assert.deepEqual([res.jobId, res.version], ['web', 0]);
    assert.match(res.evalId, /\S/);
    assert.equal((await s.ok<Job>('GET', '/v1/jobs/web')).groups[0].count, 3);
  });

  it('keeps the version when the same spec is registered again, in either format, and bumps it on a change', async (t) => {
    const s = await startServer(t);
    await s.ok('POST', '/v1/jobs', jobYaml(), 'application/yaml');

    const same = await s.ok<JobRegisterResponse>('POST', '/v1/jobs', jobJson(1));
    const changed = await s.ok<JobRegisterResponse>('POST', '/v1/jobs', jobYaml({ count: 4 }), 'application/yaml');

    assert.deepEqual([same.version, same.changed], [0, false]);
    assert.deepEqual([changed.version, changed.changed], [1, true]);
    const versions = await s.ok<Job[]>('GET', '/v1/jobs/web/versions');
    assert.deepEqual(versions.map((v) => [v.version, v.groups[0].count]), [[1, 4], [0, 1]]);
  });

  it('refuses an invalid spec with 400 and the path of every problem, and stores nothing', async (t) => {
    const s = await startServer(t);
    await s.ok('POST', '/v1/jobs', jobYaml({ id: 'keep' }), 'application/yaml');
    const jobsBefore = await s.request('GET', '/v1/jobs');
    const bad = jobYaml({ id: 'Bad Id!', memory: '256M', cpu: 'lots' }).replace('count: 1', 'count: -2');

    const res = await s.request<ErrorBody>('POST', '/v1/jobs', bad, 'application/yaml');

    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_input');
    const paths = res.body.error.details.map((d) => d.path);
    for (const p of ['id', 'groups[0].count', 'groups[0].tasks[0].resources.memory', 'groups[0].tasks[0].resources.cpu']) {
      assert.ok(paths.includes(p), `expected a problem at ${p}, got ${paths.join(', ')}`);
    }
    assert.ok(res.body.error.details.every((d) => d.message.length > 0));
    const jobsAfter = await s.request('GET', '/v1/jobs');
    assert.deepEqual(jobsAfter.body, jobsBefore.body);
    assert.equal(jobsAfter.headers['x-berth-index'], jobsBefore.headers['x-berth-index']);
  });

  it('answers malformed JSON and YAML with 400 invalid_input, never 500', async (t) => {
    const s = await startServer(t);
    const cases: [string, string][] = [
      ['{"id": "web", "groups": [', 'application/json'],
      ['', 'application/json'],
      ['id: web\ngroups: [unclosed', 'application/yaml'],
      ['<job/>', 'application/xml'],
      ['[1, 2]', 'application/json'],
    ];
    for (const [body, type] of cases) {
      const res = await s.request<ErrorBody>('POST', '/v1/jobs', body, type);
      // A type that is no document is 415 (browser-guard.ts), still invalid_input.
      assert.equal(res.status, type === 'application/xml' ? 415 : 400, `${type} ${JSON.stringify(body)} answered ${res.status}: ${res.text}`);
      assert.equal(res.body.error.code, 'invalid_input');
      assert.match(res.body.error.message, /\S/);
    }
    assert.deepEqual((await s.request('GET', '/v1/jobs')).body, []);
  });

  it('answers an unknown route and a malformed URL in the error shape', async (t) => {
    const s = await startServer(t);

    const unknown = await s.request<ErrorBody>('GET', '/v1/nope');
    const badUrl = await s.request<ErrorBody>('GET', '/v1/jobs/%ZZ');
    const longParam = await s.request<ErrorBody>('GET', `/v1/jobs/${'a'.repeat(300)}`);

    assert.equal(unknown.status, 404);
    assert.deepEqual([unknown.body.error.code, unknown.body.error.details], ['not_found', []]);
    assert.match(unknown.body.error.message, /\/v1\/nope/);
    for (const res of [badUrl, longParam]) {
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error.code, 'invalid_input');
    }
  });

  it('answers 404 naming the job for a job that does not exist', async (t) => {
    const s = await startServer(t);
    for (const url of ['/v1/jobs/ghost', '/v1/jobs/ghost/summary', '/v1/jobs/ghost/allocations', '/v1/jobs/ghost/versions/0']) {
      const res = await s.request<ErrorBody>('GET', url);
      assert.equal(res.status, 404, url);
      assert.equal(res.body.error.code, 'not_found');
      assert.match(res.body.error.message, /"ghost"/);
    }
    assert.equal((await s.request('DELETE', '/v1/jobs/ghost')).status, 404);
  });

  it('stops a job on DELETE, keeping it readable, and forgets it with ?purge=true', async (t) => {
    const s = await startServer(t);
    await s.ok('POST', '/v1/jobs', jobYaml(), 'application/yaml');

    const stopped = await s.ok<JobStopResponse>('DELETE', '/v1/jobs/web');
    const job = await s.ok<Job>('GET', '/v1/jobs/web');
    assert.deepEqual([stopped.purged, job.stop, job.version], [false, true, 1]);
    assert.equal((await s.ok<JobListItem[]>('GET', '/v1/jobs'))[0].status, 'dead');

    const purged = await s.ok<JobStopResponse>('DELETE', '/v1/jobs/web?purge=true');
    assert.equal(purged.purged, true);
    assert.equal((await s.request('GET', '/v1/jobs/web')).status, 404);
    assert.deepEqual(await s.ok('GET', '/v1/jobs'), []);
  });

  it('stops the finished allocations of a purged job, so that their node removes what they left', async (t) => {
    const s = await startServer(t);
    const [done] = await placed(s, 1);
    await s.report('node-a', [done], 'complete');
    await s.ok('DELETE', '/v1/jobs/web?purge=true');
    const after = await eventually('the finished allocation stopped', async () => (await s.nodeAllocs('node-a')).find((a) => a.id === done.id && a.desiredStatus === 'stop'));
    assert.equal(after.clientStatus, 'complete');
  });

  it('keeps registered jobs across a server restart on the SQLite backend', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-api-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'state.db');
    const first = await startServer(t, { backend: await SqliteBackend.open(file) });
    await first.ok('POST', '/v1/jobs', jobYaml({ count: 2 }), 'application/yaml');
    await first.stop();

    const second = await startServer(t, { backend: await SqliteBackend.open(file) });
    const again = await second.ok<JobRegisterResponse>('POST', '/v1/jobs', jobYaml({ count: 2 }), 'application/yaml');
    assert.deepEqual([again.version, again.changed], [0, false]);
    assert.equal((await second.ok<Job>('GET', '/v1/jobs/web')).groups[0].count, 2);
  });
});

describe('HTTP API: nodes', () => {
  it('refuses a registration with a bad body with 400 and a path for each problem, and stores no node', async (t) => {
    const s = await startServer(t);
    const { id: _id, ...withoutId } = nodeBody();
    const bad = { ...withoutId, resources: { cpu: 0, memoryMiB: 'lots' }, portRange: { min: 0, max: 20_000 }, defaultDriver: 'podman', extra: true };

    const res = await s.request<ErrorBody>('PUT', '/v1/nodes/register', bad);

    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_input');
    const paths = res.body.error.details.map((d) => d.path);
    for (const p of ['id', 'resources.cpu', 'resources.memoryMiB', 'portRange.min', 'defaultDriver', 'extra']) {
      assert.ok(paths.includes(p), `expected a problem at ${p}, got ${paths.join(', ')}`);
    }
    assert.deepEqual(await s.ok('GET', '/v1/nodes'), []);
  });

  it('refuses a node whose port range is empty, naming the field', async (t) => {
    const s = await startServer(t);
    const res = await s.request<ErrorBody>('PUT', '/v1/nodes/register', nodeBody({ portRange: { min: 30_000, max: 20_000 } }));
    assert.equal(res.status, 400);
    assert.deepEqual(res.body.error.details.map((d) => d.path), ['portRange']);
    assert.deepEqual(await s.ok('GET', '/v1/nodes'), []);
  });
});

describe('HTTP API: blocking queries', () => {
  it('answers at once when the client index is behind, with the index in X-Berth-Index', async (t) => {
    const s = await startServer(t);
    await placed(s, 1);
    const current = await s.request('GET', '/v1/jobs/web/allocations');
    const index = Number(current.headers['x-berth-index']);
    assert.ok(index > 0);

    const started = Date.now();
    const res = await s.request<Allocation[]>('GET', `/v1/jobs/web/allocations?index=${index - 1}&wait=5s`);
    assert.ok(Date.now() - started < 1_000);
    assert.equal(res.headers['x-berth-index'], String(index));
    assert.equal(res.body.length, 1);
  });

  it('blocks at the current index until an allocation of the job changes, then answers with the change', async (t) => {
    const s = await startServer(t);
    const [alloc] = await placed(s, 1);
    const index = Number((await s.request('GET', '/v1/jobs/web/allocations')).headers['x-berth-index']);

    let answered = false;
    const blocked = s.request<Allocation[]>('GET', `/v1/jobs/web/allocations?index=${index}&wait=10s`).finally(() => (answered = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(answered, false, 'the query answered before anything changed');
    // A write elsewhere does not wake it: only this job's allocations do.
    await s.ok('POST', '/v1/jobs', jobYaml({ id: 'other', count: 0 }), 'application/yaml');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(answered, false, 'the query answered to a change of another job');

    assert.equal((await s.report('node-a', [alloc], 'running')).status, 200);
    const res = await blocked;
    assert.ok(Number(res.headers['x-berth-index']) > index);
    assert.equal(res.body[0].clientStatus, 'running');
  });

  it('answers with the same index once the wait expires without a change', async (t) => {
    const s = await startServer(t);
    await s.registerNode();
    const index = Number((await s.request('GET', '/v1/nodes')).headers['x-berth-index']);

    const started = Date.now();
    const res = await s.request<unknown[]>('GET', `/v1/nodes?index=${index}&wait=200ms`);
    const waited = Date.now() - started;

    assert.ok(waited >= 190 && waited < 2_000, `waited ${waited} ms`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-berth-index'], String(index));
    assert.equal(res.body.length, 1);
  });

  it('refuses a blocking query with a wait it cannot read', async (t) => {
    const s = await startServer(t);
    const res = await s.request<ErrorBody>('GET', '/v1/jobs?index=1&wait=soon');
    assert.equal(res.status, 400);
    assert.deepEqual(res.body.error.details.map((d) => d.path), ['querystring.wait']);
  });
});

describe('HTTP API: metrics', () => {
  it('serves Prometheus text with berth metrics reflecting the state', async (t) => {
    const s = await startServer(t);
    await placed(s, 2);

    const res = await s.request('GET', '/v1/metrics');

    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.match(res.text, /^# TYPE berth_http_request_duration_seconds histogram$/m);
    assert.match(res.text, /^berth_jobs 1$/m);
    assert.match(res.text, /^berth_nodes\{status="ready"\} 1$/m);
    assert.match(res.text, /^berth_allocs_placed_total 2$/m);
    assert.match(res.text, /^berth_process_cpu_seconds_total /m);
    assert.doesNotMatch(res.text, /berth_process_process_/);
    // The control plane's own state: leadership, the broker, the plan queue, the state's size, the backend's latency.
    assert.match(res.text, /^berth_leader 1$/m);
    assert.match(res.text, /^berth_broker_ready_evals 0$/m);
    assert.match(res.text, /^berth_broker_oldest_ready_eval_age_seconds 0$/m);
    assert.match(res.text, /^berth_blocked_evals 0$/m);
    assert.match(res.text, /^berth_plan_queue_depth 0$/m);
    assert.match(res.text, /^berth_heartbeats_missed_total 0$/m);
    assert.match(res.text, /^berth_state_rows\{table="allocs"\} 2$/m);
    assert.match(res.text, /^berth_backend_request_duration_seconds_count\{op="txn"\} [1-9]\d*$/m);
  });
});

describe('HTTP API: metrics of blocking queries', () => {
  /** The `_count` of `route` in `histogram`, 0 when it has none. */
  function count(text: string, histogram: string, route: string): number {
    const re = new RegExp(`^${histogram}_count\\{method="GET",route="${route.replace(/[/:*]/g, '\\$&')}",status="200"\\} (\\d+)$`, 'm');
    return Number(re.exec(text)?.[1] ?? 0);
  }

  it('tells long polls and streams from ordinary requests by the query and the route pattern', () => {
    assert.equal(isLongPoll('/v1/event/stream', {}), true);
    assert.equal(isLongPoll('/v1/allocations/:id/logs', { follow: true }), true);
    assert.equal(isLongPoll('/v1/allocations/:id/logs', { tail: 5 }), false);
    assert.equal(isLongPoll('/v1/health/service/:service', { index: '12' }), true);
    assert.equal(isLongPoll('/v1/jobs', { index: 0 }), false, 'index 0 answers at once');
    assert.equal(isLongPoll('/v1/jobs', undefined), false);
  });

  it('counts a blocking query that waits in its own histogram, never in request latency', async (t) => {
    const s = await startServer(t);
    await s.ok('GET', '/v1/jobs');
    await s.ok('PUT', '/v1/kv/app/a', 'x', 'text/plain');
    const index = Number((await s.request('GET', '/v1/jobs')).headers['x-berth-index']);
    const kvIndex = Number((await s.request('GET', '/v1/kv/app/a')).headers['x-consul-index']);

    const started = Date.now();
    await Promise.all([s.ok('GET', `/v1/jobs?index=${index}&wait=300ms`), s.ok('GET', `/v1/kv/app/a?index=${kvIndex}&wait=300ms`)]);
    assert.ok(Date.now() - started >= 300, 'the queries waited');

    const text = (await s.request('GET', '/v1/metrics')).text;
    // The two plain reads of /v1/jobs are latency; the one that waited is not.
    assert.equal(count(text, 'berth_http_request_duration_seconds', '/v1/jobs'), 2);
    assert.equal(count(text, 'berth_http_long_poll_duration_seconds', '/v1/jobs'), 1);
    assert.equal(count(text, 'berth_http_request_duration_seconds', '/v1/kv/*'), 1);
    assert.equal(count(text, 'berth_http_long_poll_duration_seconds', '/v1/kv/*'), 1);
    // It was counted for the time it waited (300 ms), above the 0.1 s bucket.
    assert.match(text, /^berth_http_long_poll_duration_seconds_bucket\{le="0.1",method="GET",route="\/v1\/jobs",status="200"\} 0$/m);
    // Route patterns, never URLs: no job id, key or index in a label.
    assert.doesNotMatch(text, /route="[^"]*(app\/a|index=)/);
  });
});

describe('HTTP API: a job from registration to running', () => {
  it('places a job of 3 on a registered node and shows it running once the agent reports', async (t) => {
    const s = await startServer(t);
    const allocs = await placed(s, 3);

    assert.deepEqual(allocs.map((a) => a.index).sort(), [0, 1, 2]);
    assert.ok(allocs.every((a) => a.jobId === 'web' && a.desiredStatus === 'run' && a.clientStatus === 'pending'));
    const before = await s.summary('web');
    assert.deepEqual([before.status, before.groups.web.pending, before.groups.web.running], ['pending', 3, 0]);

    assert.equal((await s.report('node-a', allocs, 'running')).status, 200);

    const summary = await s.summary('web');
    assert.equal(summary.status, 'running');
    assert.deepEqual(summary.groups.web, { desired: 3, pending: 0, running: 3, complete: 0, failed: 0, lost: 0 });
    assert.equal(summary.latestEval?.status, 'complete');
    assert.deepEqual(summary.latestEval?.failures, []);
  });

  it('reports a job that fits nowhere as memory exhausted, and places it when a big enough node registers', async (t) => {
    const s = await startServer(t);
    await s.registerNode();
    await s.ok('POST', '/v1/jobs', jobYaml({ memory: '1Ti' }), 'application/yaml');

    const failed = await eventually('the evaluation to finish', async () => {
      const summary = await s.summary('web');
      return summary.latestEval?.status === 'complete' ? summary : undefined;
    });
    assert.equal(failed.status, 'pending');
    assert.deepEqual(failed.latestEval?.failures, [
      {
        group: 'web',
        missing: 1,
        nodesEvaluated: 1,
        filtered: { 'memory exhausted': 1 },
        exhausted: { memory: 1 },
        topScores: [],
        // 1 TiB asked of a node with 2 GiB.
        shortfall: { memory: { ask: 1024 * 1024, mostFree: 2048, nodeId: 'node-a', nodeName: 'node-a' } },
        // The node ruled out, by name, with its reason.
        nodes: [{ nodeId: 'node-a', nodeName: 'node-a', reason: 'memory exhausted' }],
        nodesOmitted: 0,
      },
    ]);
    assert.match(failed.latestEval?.statusDescription ?? '', /memory exhausted/);
    assert.deepEqual(await s.nodeAllocs('node-a'), []);

    await s.registerNode(nodeBody({ id: 'node-big', resources: { cpu: 8, memoryMiB: 2 * 1024 * 1024 } }));
    const [alloc] = await eventually('the job to be placed on node-big', async () => {
      const allocs = await s.nodeAllocs('node-big');
      return allocs.length === 1 ? allocs : undefined;
    });
    assert.equal(alloc.resources.memoryMiB, 1024 * 1024);
    const summary = await s.summary('web');
    assert.deepEqual([summary.groups.web.pending, summary.latestEval?.failures], [1, []]);
  });
});
