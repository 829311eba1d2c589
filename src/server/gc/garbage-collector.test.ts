import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Allocation, Job } from '../../model/index.ts';
import type { GcResponse } from '../../api/index.ts';
import { FakeClock } from '../../testing/index.ts';
import { eventually, jobYaml, nodeBody, startServer, type TestServer } from '../test-server.test-helper.ts';
import type { GcOptions } from './index.ts';
import { latestEval } from '../evals/index.ts';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

/** A service (or batch) job of `count` process tasks; `memory` changes make a new version that replaces its allocations. */
const jobSpec = (id: string, options: Parameters<typeof jobYaml>[0] = {}): string => jobYaml({ ...options, id });

/**
 * A server on a fake clock whose nodes never time out on their own (heartbeats are real-time and
 * the test moves the clock by minutes), with short thresholds, and node-a registered.
 */
async function setup(t: TestContext, gc: GcOptions = {}): Promise<{ s: TestServer; clock: FakeClock }> {
  const clock = new FakeClock();
  const s = await startServer(t, {
    clock,
    heartbeat: { minHeartbeatTtlMs: 30 * DAY },
    gc: { intervalMs: 5 * MIN, evalThresholdMs: MIN, batchEvalThresholdMs: 10 * MIN, deploymentThresholdMs: MIN, jobThresholdMs: 10 * MIN, nodeThresholdMs: 60 * MIN, versionsKept: 2, ...gc },
  });
  await s.registerNode();
  return { s, clock };
}

/** Register a version of a job and play the agent: start what is placed, finish what is stopped (except `leave`). */
async function deploy(s: TestServer, spec: string, jobId: string, leave: Set<string> = new Set()): Promise<Allocation[]> {
  const { evalId } = await s.ok<{ evalId: string }>('POST', '/v1/jobs', spec, 'application/yaml');
  await eventually(`evaluation ${evalId}`, async () => ((await s.ok<{ status: string }>('GET', `/v1/evaluations/${evalId}`)).status === 'complete' ? true : undefined));
  return settle(s, jobId, leave);
}

/** Report what the agent would: placed allocations running, stopped ones complete (except those in `leave`). */
async function settle(s: TestServer, jobId: string, leave: Set<string> = new Set()): Promise<Allocation[]> {
  const allocs = await s.ok<Allocation[]>('GET', `/v1/jobs/${jobId}/allocations`);
  const start = allocs.filter((a) => a.desiredStatus === 'run' && a.clientStatus === 'pending');
  const stop = allocs.filter((a) => a.desiredStatus === 'stop' && (a.clientStatus === 'pending' || a.clientStatus === 'running') && !leave.has(a.id));
  if (start.length > 0) await s.report('node-a', start, 'running');
  if (stop.length > 0) await s.report('node-a', stop, 'complete');
  return s.ok<Allocation[]>('GET', `/v1/jobs/${jobId}/allocations`);
}

/** What `job status` shows of a job: the job, its summary, its allocations, its latest deployment. */
async function jobStatus(s: TestServer, jobId: string): Promise<unknown> {
  return {
    job: await s.ok('GET', `/v1/jobs/${jobId}`),
    summary: await s.ok('GET', `/v1/jobs/${jobId}/summary`),
    allocs: await s.ok('GET', `/v1/jobs/${jobId}/allocations`),
    deployment: (await s.request('GET', `/v1/jobs/${jobId}/deployment`)).text,
  };
}

function rows(s: TestServer): { allocs: number; evals: number; deployments: number; jobs: number; versions: number; nodes: number; secrets: number } {
  const v = s.server.ctx.view;
  return {
    allocs: v.allocs().length,
    evals: v.evals().length,
    deployments: v.deployments().length,
    jobs: v.jobs().length,
    versions: v.jobIdsWithVersions().reduce((n, id) => n + v.jobVersions(id).length, 0),
    nodes: v.nodes().length,
    secrets: v.nodes().filter((n) => v.nodeSecret(n.id)).length,
  };
}

const gcNow = (s: TestServer): Promise<GcResponse> => s.ok<GcResponse>('PUT', '/v1/system/gc');

describe('garbage collection', () => {
  it('collects terminal allocations past the threshold, keeps them before it, and never a running job current allocations', async (t) => {
    const { s, clock } = await setup(t);
    await deploy(s, jobSpec('web', { count: 2 }), 'web');
    // Evaluations of the two deploys apart in time, so that the latest is the second's.
    clock.advance(1);
    const after = await deploy(s, jobSpec('web', { count: 2, memory: '65Mi' }), 'web');
    const old = after.filter((a) => a.jobVersion === 0);
    assert.deepEqual(old.map((a) => a.clientStatus), ['complete', 'complete']);
    const evals = s.server.ctx.view.evalsByJob('web').length;
    const status = await jobStatus(s, 'web');

    clock.advance(MIN - 1);
    await s.server.ctx.gc.collect(false);
    assert.equal(s.server.ctx.view.allocsByJob('web').length, 4, 'terminal allocations younger than the threshold stay');

    clock.advance(1);
    const result = await s.server.ctx.gc.collect(false);
    assert.equal(result.allocs, 2);
    const left = s.server.ctx.view.allocsByJob('web');
    assert.deepEqual(left.map((a) => [a.jobVersion, a.clientStatus]), [[1, 'running'], [1, 'running']]);
    // Of a long-lived job's evaluations, only those that placed its live allocations and its latest stay.
    const kept = [...new Set([...left.map((a) => a.evalId), latestEval(s.server.ctx.view.evalsByJob('web'))!.id])].sort();
    assert.ok(evals > kept.length, `${evals} evaluations, ${kept.length} kept`);
    assert.deepEqual(s.server.ctx.view.evalsByJob('web').map((e) => e.id).sort(), kept);

    // Forced, thresholds ignored: what `job status` shows of the running job is the same.
    await gcNow(s);
    const { allocs: _a, ...now } = (await jobStatus(s, 'web')) as Record<string, unknown>;
    const { allocs: _b, ...before } = status as Record<string, unknown>;
    assert.deepEqual(now, before);
    assert.deepEqual(
      (await s.ok<Allocation[]>('GET', '/v1/jobs/web/allocations')).map((a) => a.id),
      after.filter((a) => a.jobVersion === 1).map((a) => a.id),
    );
  });

  it('keeps a finished batch job current allocations, collects its evaluations past the batch threshold', async (t) => {
    const { s, clock } = await setup(t);
    const [alloc] = await deploy(s, jobSpec('once', { type: 'batch' }), 'once');
    await s.report('node-a', [alloc], 'complete');
    clock.advance(MIN);
    await s.server.ctx.gc.collect(false);
    const evalsBefore = s.server.ctx.view.evalsByJob('once');
    assert.ok(evalsBefore.length > 1, 'a batch job evaluations stay for the batch threshold');
    clock.advance(10 * MIN);
    await s.server.ctx.gc.collect(false);
    // All but the latest, which `job status` shows.
    assert.deepEqual(s.server.ctx.view.evalsByJob('once').map((e) => e.id), [latestEval(evalsBefore)!.id]);
    await gcNow(s);
    assert.deepEqual(s.server.ctx.view.allocsByJob('once').map((a) => [a.id, a.clientStatus]), [[alloc.id, 'complete']]);
  });

  it('collects what a purged job left around an allocation its node has not reported stopped yet', async (t) => {
    const { s } = await setup(t);
    await deploy(s, jobSpec('churn', { count: 3 }), 'churn');
    await deploy(s, jobSpec('churn', { count: 3, memory: '65Mi' }), 'churn');
    await s.ok('DELETE', '/v1/jobs/churn?purge=true');
    // The agent has not reported one of them stopped (it is still stopping).
    const stuck = await eventually('the allocations to be stopped', async () => {
      const allocs = await s.ok<Allocation[]>('GET', '/v1/jobs/churn/allocations');
      return allocs.every((a) => a.desiredStatus === 'stop') ? allocs.find((a) => a.clientStatus === 'running') : undefined;
    });
    await settle(s, 'churn', new Set([stuck.id]));
    await gcNow(s);
    const view = s.server.ctx.view;
    assert.deepEqual(view.allocsByJob('churn').map((a) => a.id), [stuck.id], 'only the allocation still stopping stays');
    assert.deepEqual(view.evalsByJob('churn').map((e) => e.id), [stuck.evalId], 'and the evaluation that placed it; the others go');
    await s.report('node-a', [stuck], 'complete');
    await gcNow(s);
    assert.deepEqual([view.allocsByJob('churn').length, view.evalsByJob('churn').length, view.deploymentsByJob('churn').length], [0, 0, 0]);
  });

  it('collects what a purged job left and a stopped job past their thresholds, through the leader loop', async (t) => {
    const { s, clock } = await setup(t);
    await deploy(s, jobSpec('gone', { count: 2, update: true }), 'gone');
    await deploy(s, jobSpec('stopped', { update: true }), 'stopped');
    await s.ok('DELETE', '/v1/jobs/gone?purge=true');
    await s.ok('DELETE', '/v1/jobs/stopped');
    await eventually('both jobs allocations to stop', async () => {
      const all = [...(await settle(s, 'gone')), ...(await settle(s, 'stopped'))];
      return all.every((a) => a.clientStatus === 'complete') ? true : undefined;
    });
    // Leftovers no job owns any more: a version and a run of a job that was never there.
    const ghost: Job = { ...s.server.ctx.view.job('stopped')!, id: 'ghost', version: 0 };
    assert.ok((await s.server.ctx.store.commit([{ table: 'jobVersions', id: 'ghost/0', value: ghost }, { table: 'runs', id: 'ghost/000000000000001', value: { jobId: 'ghost', scheduled: 1, trigger: 'force' } }])).ok);
    const view = s.server.ctx.view;
    const gone = (): number => view.allocsByJob('gone').length + view.evalsByJob('gone').length + view.deploymentsByJob('gone').length;
    assert.ok(gone() > 0);

    clock.advance(MIN - 1);
    await s.server.ctx.gc.collect(false);
    assert.ok(gone() > 0, 'terminal leftovers younger than the threshold stay');
    assert.equal(view.jobVersions('ghost').length, 0, 'versions of a job that does not exist go at once');
    assert.equal(view.runsByJob('ghost').length, 0, 'runs of a job that does not exist go at once');

    // The leader loop's own pass (every 5 fake minutes) collects the rest; each poll moves the clock a minute.
    const tick = async <T>(what: string, done: () => T | undefined): Promise<T> =>
      eventually(what, async () => {
        const value = done();
        if (value === undefined) clock.advance(MIN);
        return value;
      });
    await tick('the purged job leftovers to go', () => (gone() === 0 ? true : undefined));
    const stoppedAt = view.job('stopped')!.submitTime;
    assert.ok(clock.now() < stoppedAt + 10 * MIN, 'the leftovers went in the first pass past their threshold');
    assert.equal((await s.request('GET', '/v1/jobs/stopped')).status, 200, 'a stopped job stays for the job threshold');

    const goneAt = await tick('the stopped job to go', () => (view.job('stopped') === undefined ? clock.now() : undefined));
    assert.ok(goneAt >= stoppedAt + 10 * MIN);
    assert.deepEqual([view.jobVersions('stopped').length, view.allocsByJob('stopped').length, view.evalsByJob('stopped').length, view.deploymentsByJob('stopped').length], [0, 0, 0, 0]);
    assert.equal((await s.request('GET', '/v1/jobs/stopped')).status, 404);
  });

  it('keeps the current version, the newest kept ones and those a live allocation uses; collects finished deployments but the latest', async (t) => {
    const { s, clock } = await setup(t);
    await deploy(s, jobSpec('v', { update: true }), 'v');
    // Version 1's allocation is stopped but its task never reports finishing: it still runs.
    const [v1] = (await deploy(s, jobSpec('v', { memory: '65Mi', update: true }), 'v')).filter((a) => a.jobVersion === 1);
    for (let i = 2; i <= 5; i++) await deploy(s, jobSpec('v', { memory: `${64 + i}Mi`, update: true }), 'v', new Set([v1.id]));
    const view = s.server.ctx.view;
    // Registration kept the same versions; versions 0 and 2 stored again stand for those a server
    // started with a larger --job-versions-kept left behind.
    assert.deepEqual(view.jobVersions('v').map((j) => j.version), [5, 4, 3, 1]);
    const job = view.job('v')!;
    assert.ok((await s.server.ctx.store.commit([0, 2].map((version) => ({ table: 'jobVersions' as const, id: `v/${version}`, value: { ...job, version } })))).ok);
    assert.equal(view.jobVersions('v').length, 6);
    assert.equal(view.deploymentsByJob('v').length, 6);

    clock.advance(MIN - 1);
    await s.server.ctx.gc.collect(false);
    assert.equal(view.deploymentsByJob('v').length, 6, 'deployments younger than the threshold stay');
    // Versions have no age: past the count they go (but those in use).
    assert.deepEqual(view.jobVersions('v').map((j) => j.version), [5, 4, 3, 1]);

    clock.advance(1);
    await s.server.ctx.gc.collect(false);
    assert.deepEqual(view.deploymentsByJob('v').map((d) => d.jobVersion), [5]);
    assert.equal((await s.ok<{ jobVersion: number }>('GET', '/v1/jobs/v/deployment')).jobVersion, 5);
    assert.equal((await s.ok<Job>('GET', '/v1/jobs/v/versions/1')).version, 1);
  });

  it('collects nodes down past the threshold with their secrets', async (t) => {
    const { s, clock } = await setup(t, { nodeThresholdMs: 10 * DAY });
    // As an agent registers: with its node secret.
    const res = await s.server.app.inject({ method: 'PUT', url: '/v1/nodes/register', payload: nodeBody({ id: 'node-b' }), headers: { 'x-berth-node-secret': 'b-secret' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual([rows(s).nodes, rows(s).secrets], [2, 1]);
    // Past the TTL, its 10% jitter and the grace.
    clock.advance(34 * DAY);
    await eventually('both nodes down', async () => (s.server.ctx.view.nodes().every((n) => n.status === 'down') ? true : undefined));
    // Each node went down when its own (jittered) TTL ran out.
    const since = s.server.ctx.view.nodes().map((n) => n.downSince!);
    assert.ok(Math.min(...since) + 10 * DAY > clock.now());
    clock.advanceTo(Math.min(...since) + 10 * DAY - 1);
    await s.server.ctx.gc.collect(false);
    assert.deepEqual([rows(s).nodes, rows(s).secrets], [2, 1]);
    clock.advanceTo(Math.max(...since) + 10 * DAY);
    const result = await s.server.ctx.gc.collect(false);
    assert.deepEqual([result.nodes, result.nodeSecrets, rows(s).nodes, rows(s).secrets], [2, 1, 0, 0]);
    assert.equal(s.server.ctx.view.nodeSecret('node-b'), undefined);
  });

  it('deletes in bounded batches: more rows than one batch take several txns', async (t) => {
    const { s } = await setup(t, { batchSize: 100 });
    await deploy(s, jobSpec('tmpl'), 'tmpl');
    const tmpl = s.server.ctx.view.job('tmpl')!;
    const writes = Array.from({ length: 250 }, (_, i) => ({ table: 'jobVersions' as const, id: `ghost/${i}`, value: { ...tmpl, id: 'ghost', version: i } }));
    assert.ok((await s.server.ctx.store.commit(writes)).ok);
    const index = s.server.ctx.view.index;
    const result = await gcNow(s);
    assert.equal(result.jobVersions, 250);
    assert.equal(s.server.ctx.view.jobVersions('ghost').length, 0);
    assert.equal(s.server.ctx.view.index - index, 3, '250 rows in batches of 100: three txns');
  });
});
