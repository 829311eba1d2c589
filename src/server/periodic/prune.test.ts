import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Allocation, Evaluation, JobRun } from '../../model/index.ts';
import type { JobListItem } from '../../api/index.ts';
import { MemoryBackend, runRowId, SqliteBackend, StateStore, StateView } from '../../state/index.ts';
import { silentLogger } from '../../lib/index.ts';
import { Agent } from '../../agent/index.ts';
import { Server } from '../server.ts';
import { TestServer } from '../test-server.test-helper.ts';
import { pruneUnits } from './prune.ts';

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a job keeps its newest runs; older ones go with their child jobs, allocations and task files', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-prune-'));
  const server = await Server.start({ backend: await SqliteBackend.open(path.join(dir, 'state.db')), logger: silentLogger(), port: 0, periodic: { maxSleepMs: 50, runsKept: 3 } });
  const ts = new TestServer(server);
  const agentDir = path.join(dir, 'agent');
  const agent = await Agent.start({ serverUrl: server.url, dataDir: agentDir, logger: silentLogger(), nodeName: 'n1', defaultDriver: 'process' });
  t.after(async () => {
    await agent.stop({ stopTasks: true });
    await ts.stop();
    await rm(dir, { recursive: true, force: true });
  });
  await ts.ok('POST', '/v1/jobs', {
    id: 'thumb',
    type: 'batch',
    parameterized: {},
    groups: [{ name: 'g', tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' }, resources: { cpu: 0.01, memory: '8MiB' } }] }],
  });
  const runs = async (): Promise<JobRun[]> => (await ts.ok<{ runs: JobRun[] }>('GET', '/v1/jobs/thumb/runs')).runs;
  const dispatched: JobRun[] = [];
  const allocsOf: Record<string, string[]> = {};
  for (let i = 0; i < 5; i++) {
    const run = await ts.ok<JobRun>('POST', '/v1/jobs/thumb/dispatch', {});
    dispatched.push(run);
    const done = await until(`run ${i} to complete`, async () => (await runs()).find((r) => r.childId === run.childId && r.outcome === 'complete'));
    allocsOf[run.childId!] = done.allocIds;
  }
  const kept = await until('the history to shrink to 3', async () => {
    const now = await runs();
    return now.length === 3 && now;
  });
  assert.deepEqual(
    kept.map((r) => r.childId),
    dispatched.slice(2).map((r) => r.childId).reverse(),
    'the newest three stay, newest first',
  );
  const jobs = (await ts.ok<JobListItem[]>('GET', '/v1/jobs')).map((j) => j.id);
  const allocs = (await ts.ok<Allocation[]>('GET', '/v1/allocations')).map((a) => a.id);
  const evalJobs = (await ts.ok<Evaluation[]>('GET', '/v1/evaluations')).map((e) => e.jobId);
  for (const gone of dispatched.slice(0, 2)) {
    assert.ok(!jobs.includes(gone.childId!), `child ${gone.childId} deleted`);
    for (const a of allocsOf[gone.childId!]) assert.ok(!allocs.includes(a), `allocation ${a} deleted`);
    assert.ok(!evalJobs.includes(gone.childId!), `evaluations of ${gone.childId} deleted`);
  }
  assert.ok(evalJobs.includes(dispatched[4].childId!), 'a kept child keeps its evaluations');
  for (const stays of dispatched.slice(2)) assert.ok(jobs.includes(stays.childId!));
  // The agent lets go of what the server forgot: the pruned allocations' task files go too.
  await until('the agent to remove the pruned task directories', async () => {
    const left = await readdir(path.join(agentDir, 'tasks')).catch(() => [] as string[]);
    return dispatched.slice(0, 2).every((r) => allocsOf[r.childId!].every((a) => !left.includes(a)));
  });
});

test('pruning keeps the newest periodic and dependent runs, the cursors, however old', async () => {
  const backend = new MemoryBackend();
  const view = await StateView.open(backend);
  const store = new StateStore(backend, view);
  const run = (scheduled: number, trigger: JobRun['trigger']): JobRun => ({ jobId: 'nightly', scheduled, trigger, outcome: 'skipped', allocIds: [] });
  // Oldest first: two periodic runs, one dependent, then forced runs that push them out of the last 3.
  const runs = [run(1, 'periodic'), run(2, 'periodic'), run(3, 'after'), run(4, 'force'), run(5, 'force'), run(6, 'force'), run(7, 'force')];
  assert.ok((await store.commit(runs.map((r) => ({ table: 'runs', id: runRowId(r.jobId, r.scheduled), value: r })))).ok);
  const deleted = pruneUnits(view, 'nightly', 3).map((unit) => unit.map((w) => w.id));
  assert.deepEqual(deleted, [[runRowId('nightly', 1)], [runRowId('nightly', 4)]], 'the last periodic (2) and dependent (3) runs stay');
  await backend.close();
});
