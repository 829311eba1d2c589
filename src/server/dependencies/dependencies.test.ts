import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Allocation, Evaluation } from '../../model/index.ts';
import type { JobGraph, JobPlanResponse, JobRegisterResponse, MarkSuccessResponse } from '../../api/index.ts';
import { eventually, startServer, type TestServer } from '../test-server.test-helper.ts';

/** A job of one process task as JSON; `after` as the spec writes it. */
function job(id: string, type: string, after?: unknown): Record<string, unknown> {
  return {
    id,
    type,
    ...(after === undefined ? {} : { after }),
    groups: [
      {
        name: 'g',
        reschedule: { attempts: 0 },
        tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' }, resources: { cpu: '100m', memory: '32Mi' } }],
      },
    ],
  };
}

async function live(ts: TestServer, jobId: string): Promise<Allocation[]> {
  return (await ts.ok<Allocation[]>('GET', `/v1/jobs/${encodeURIComponent(jobId)}/allocations`)).filter((a) => a.desiredStatus === 'run');
}

/** Report a job's allocations as an agent would: the task running (or finished) since now. */
async function report(ts: TestServer, jobId: string, clientStatus: 'running' | 'complete' | 'failed'): Promise<void> {
  const allocs = await eventually(`allocations of ${jobId}`, async () => {
    const a = await live(ts, jobId);
    return a.length > 0 ? a : undefined;
  });
  const now = Date.now();
  const state = clientStatus === 'running' ? 'running' : 'dead';
  const t = { state, failed: clientStatus === 'failed', restarts: 0, startedAt: now, ...(state === 'dead' ? { finishedAt: now + 1 } : {}), events: [] };
  const res = await ts.request('PUT', `/v1/nodes/node-a/allocations`, { allocs: allocs.map((a) => ({ id: a.id, clientStatus, taskStates: { t } })) });
  assert.equal(res.status, 200, res.text);
}

async function cluster(t: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const ts = await startServer(t);
  await ts.registerNode();
  t.after(ts.keepAlive('node-a'));
  return ts;
}

test('a service waiting for a job that does not exist is registered with a warning, held, and placed once the job runs', async (t) => {
  const ts = await cluster(t);
  const reg = await ts.ok<JobRegisterResponse>('POST', '/v1/jobs', job('api', 'service', [{ job: 'db', condition: 'started' }]));
  assert.deepEqual(reg.warnings, [{ path: 'after[0].job', message: 'job "db" does not exist yet; "api" waits until it is registered and meets the condition' }]);
  const held = await eventually('api to be held', async () => {
    const s = await ts.summary('api');
    return s.held?.length ? s : undefined;
  });
  assert.deepEqual(held.dependencies, [{ job: 'db', condition: 'started', restart: false, met: false, reason: 'no job "db" yet (it is held until the job exists and is started)' }]);
  assert.match(held.latestEval?.statusDescription ?? '', /held: waiting for job "db" to be started/);
  assert.equal((await live(ts, 'api')).length, 0);

  await ts.ok('POST', '/v1/jobs', job('db', 'service'));
  await eventually('db to be placed', async () => ((await live(ts, 'db')).length > 0 ? true : undefined));
  const stillHeld = await ts.summary('api');
  assert.deepEqual(stillHeld.held?.map((w) => w.reason), ['0 of 1 allocations running']);
  assert.equal((await live(ts, 'api')).length, 0, 'not placed while db only is pending');
  await report(ts, 'db', 'running');
  await eventually('api to be placed once db runs', async () => ((await live(ts, 'api')).length === 1 ? true : undefined));
  const after = await ts.summary('api');
  assert.equal(after.held, undefined);
  assert.deepEqual(after.dependencies?.map((d) => d.met), [true]);
});

test('healthy waits for the tasks to run, not just the allocation to be placed', async (t) => {
  const ts = await cluster(t);
  await ts.ok('POST', '/v1/jobs', job('db', 'service'));
  await ts.ok('POST', '/v1/jobs', job('api', 'service', [{ job: 'db', condition: 'healthy' }]));
  const allocs = await eventually('db placed', async () => {
    const a = await live(ts, 'db');
    return a.length > 0 ? a : undefined;
  });
  // Running, but its task not yet: not healthy.
  await ts.request('PUT', '/v1/nodes/node-a/allocations', { allocs: [{ id: allocs[0].id, clientStatus: 'running', taskStates: {} }] });
  const held = await eventually('api held for health', async () => {
    const s = await ts.summary('api');
    return s.held?.[0]?.reason.includes('task t not running') ? s : undefined;
  });
  assert.match(held.held![0].reason, /^0 of 1 allocations healthy \(db\.g\[0\]: task t not running\)$/);
  await report(ts, 'db', 'running');
  await eventually('api placed once db is healthy', async () => ((await live(ts, 'api')).length === 1 ? true : undefined));
});

test('a cycle through after is refused at submit with its path, and nothing is written', async (t) => {
  const ts = await cluster(t);
  await ts.ok('POST', '/v1/jobs', job('a', 'service', [{ job: 'b', condition: 'healthy' }]));
  await ts.ok('POST', '/v1/jobs', job('b', 'service', [{ job: 'c' }]));
  const res = await ts.request<{ error: { message: string; details: { path: string; message: string }[] } }>('POST', '/v1/jobs', job('c', 'service', ['a']));
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /Cannot register job "c": its after list makes a cycle c -> b -> a -> c; remove one of these dependencies/);
  assert.deepEqual(res.body.error.details, [{ path: 'after[0]', message: 'cycle c -> b -> a -> c' }]);
  assert.equal((await ts.request('GET', '/v1/jobs/c')).status, 404);
});

test('a job held behind a failed batch job goes on once the run is marked successful, recorded with who and when', async (t) => {
  const ts = await cluster(t);
  await ts.ok('POST', '/v1/jobs', job('migrate', 'batch'));
  await ts.ok('POST', '/v1/jobs', job('web', 'service', [{ job: 'migrate', condition: 'completed' }]));
  await report(ts, 'migrate', 'failed');
  const held = await eventually('web held by the failure', async () => {
    const s = await ts.summary('web');
    return s.held?.[0]?.reason.includes('failed') ? s : undefined;
  });
  assert.match(held.held![0].reason, /job "migrate" failed \(run migrate at .*\); run it again, or mark the run successful with `berth job mark-success migrate`/);

  const refused = await ts.request<{ error: { message: string } }>('POST', '/v1/jobs/web/mark-success', {});
  assert.equal(refused.status, 400);
  assert.match(refused.body.error.message, /Cannot mark a run of job "web" successful: it is a service job/);

  const marked = await ts.ok<MarkSuccessResponse>('POST', '/v1/jobs/migrate/mark-success', {});
  assert.equal(marked.run, 'migrate');
  assert.equal(marked.allocIds.length, 1);
  assert.equal(marked.marked.by, 'anonymous (ACLs off)');
  const alloc = await ts.ok<Allocation>('GET', `/v1/allocations/${marked.allocIds[0]}`);
  assert.deepEqual(alloc.markedSuccess, marked.marked);
  assert.match(alloc.taskStates.t.events.at(-1)?.message ?? '', /failed run marked successful by anonymous/);
  await eventually('web placed after mark-success', async () => ((await live(ts, 'web')).length === 1 ? true : undefined));
  // Marked once: a second mark finds nothing failed.
  const again = await ts.request<{ error: { message: string } }>('POST', '/v1/jobs/migrate/mark-success', {});
  assert.equal(again.status, 400);
  assert.match(again.body.error.message, /it has not failed/);
});

test('the graph has each dependency with its condition, and held jobs with what they wait for', async (t) => {
  const ts = await cluster(t);
  await ts.ok('POST', '/v1/jobs', job('db', 'service'));
  await ts.ok('POST', '/v1/jobs', job('api', 'service', [{ job: 'db', condition: 'healthy', restart: true }]));
  await ts.ok('POST', '/v1/jobs', job('etl', 'batch', ['api']));
  const graph = await eventually('api held in the graph', async () => {
    const g = await ts.ok<JobGraph>('GET', '/v1/jobs/graph');
    return g.nodes.find((n) => n.id === 'api')?.held ? g : undefined;
  });
  assert.deepEqual(graph.edges, [
    { from: 'db', to: 'api', condition: 'healthy', restart: true },
    { from: 'api', to: 'etl' },
  ]);
  const api = graph.nodes.find((n) => n.id === 'api')!;
  assert.equal(api.type, 'service');
  assert.equal(api.status, 'pending');
  assert.equal(api.held?.[0].job, 'db');
  const dot = await ts.request('GET', '/v1/jobs/graph?format=dot');
  assert.match(dot.text, /"db" -> "api" \[label=healthy\];/);
  assert.match(dot.text, /"api" \[shape=ellipse, color=orange\];/);
});

test('a held evaluation is woken by the watcher with a job-dependency evaluation', async (t) => {
  const ts = await cluster(t);
  await ts.ok('POST', '/v1/jobs', job('api', 'service', [{ job: 'db', condition: 'started' }]));
  await ts.ok('POST', '/v1/jobs', job('db', 'service'));
  await report(ts, 'db', 'running');
  const evals = await eventually('a job-dependency evaluation', async () => {
    const e = await ts.ok<Evaluation[]>('GET', '/v1/jobs/api/evaluations');
    return e.some((x) => x.triggeredBy === 'job-dependency' && x.status === 'complete') ? e : undefined;
  });
  assert.equal(evals.filter((e) => e.triggeredBy === 'job-dependency').length, 1, 'one wake, not one per pass');
});

test('restart: true replaces the dependent allocations once the dependency restarted after them and is met again', async (t) => {
  const ts = await cluster(t);
  await ts.ok('POST', '/v1/jobs', job('db', 'service'));
  await report(ts, 'db', 'running');
  await ts.ok('POST', '/v1/jobs', job('api', 'service', [{ job: 'db', condition: 'started', restart: true }]));
  await report(ts, 'api', 'running');
  const [first] = await live(ts, 'api');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal((await ts.ok<Allocation>('GET', `/v1/allocations/${first.id}`)).migrate, undefined, 'nothing restarted while db has not restarted');
  // db's task restarts in place: a newer start than api's.
  await report(ts, 'db', 'running');
  await eventually('api restarted: a replacement placed', async () => {
    const a = await live(ts, 'api');
    return a.some((x) => x.id !== first.id && x.previousAllocation === first.id) ? true : undefined;
  });
});

test('mark-success of a chained batch job marks its newest failed run, and its dependents launch', async (t) => {
  const ts = await cluster(t);
  await ts.ok('POST', '/v1/jobs', job('extract', 'batch'));
  await ts.ok('POST', '/v1/jobs', job('load', 'batch', ['extract']));
  await ts.ok('POST', '/v1/jobs', job('report', 'batch', ['load']));
  await report(ts, 'extract', 'complete');
  const child = await eventually('load launched', async () => ts.server.view.jobs().find((j) => j.parentId === 'load'));
  await report(ts, child.id, 'failed');
  await eventually('report held by the failed load', async () => (ts.server.view.runsByJob('report').some((r) => r.heldBy?.parent === 'load') ? true : undefined));
  const before = await ts.ok<JobGraph>('GET', '/v1/jobs/graph');
  assert.equal(before.nodes.find((n) => n.id === 'report')?.held?.[0].job, 'load', 'the graph shows report held by load');
  assert.equal(before.nodes.find((n) => n.id === 'load')?.last, 'failed');
  const marked = await ts.ok<MarkSuccessResponse>('POST', '/v1/jobs/load/mark-success', {});
  assert.equal(marked.run, child.id);
  assert.deepEqual(marked.allocIds, []);
  const run = ts.server.view.runsByJob('load').find((r) => r.childId === child.id)!;
  assert.equal(run.outcome, 'complete');
  assert.deepEqual(run.markedSuccess, marked.marked);
  await eventually('report launched after the mark', async () => (ts.server.view.jobs().some((j) => j.parentId === 'report') ? true : undefined));
  const graph = await ts.ok<JobGraph>('GET', '/v1/jobs/graph');
  assert.equal(graph.nodes.find((n) => n.id === 'load')?.last, 'complete', 'load counts as succeeded');
  assert.equal(graph.nodes.find((n) => n.id === 'report')?.held, undefined, 'report no longer held');
  const missing = await ts.request<{ error: { message: string } }>('POST', '/v1/jobs/load/mark-success', { run: 'load/after-1' });
  assert.equal(missing.status, 404);
  assert.match(missing.body.error.message, /no run "load\/after-1"/);
});

test('job plan shows where a held job would go and that it waits for its dependencies first', async (t) => {
  const ts = await cluster(t);
  const plan = await ts.ok<JobPlanResponse>('POST', '/v1/jobs/api/plan', job('api', 'service', [{ job: 'db', condition: 'healthy' }]));
  assert.equal(plan.placements.length, 1);
  assert.deepEqual(plan.held, [{ job: 'db', condition: 'healthy', reason: 'no job "db" yet (it is held until the job exists and is healthy)' }]);
  const plain = await ts.ok<JobPlanResponse>('POST', '/v1/jobs/db/plan', job('db', 'service'));
  assert.equal(plain.held, undefined);
});
