import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { JobRun } from '../../model/index.ts';
import { SqliteBackend } from '../../state/index.ts';
import { silentLogger, type Clock } from '../../lib/index.ts';
import { FakeClock } from '../../testing/index.ts';
import { Server } from '../server.ts';
import { TestServer } from '../test-server.test-helper.ts';

const T0 = Date.parse('2026-06-01T12:00:30Z');
/** Every minute, on the minute; a 30 s epsilon. */
const job = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'nightly',
  type: 'batch',
  periodic: { cron: '* * * * *', epsilon: '30s', ...extra },
  groups: [{ name: 'g', tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' } }] }],
});

async function stateDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-periodic-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return path.join(dir, 'state.db');
}

async function start(file: string, clock: Clock): Promise<TestServer> {
  const server = await Server.start({ backend: await SqliteBackend.open(file), logger: silentLogger(), port: 0, clock, periodic: { maxSleepMs: 20 } });
  return new TestServer(server);
}

async function runsOf(ts: TestServer, id: string): Promise<JobRun[]> {
  return (await ts.ok<{ runs: JobRun[] }>('GET', `/v1/jobs/${id}/runs`)).runs;
}

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 150));
}

test('a launch missed by less than epsilon starts once after a restart; no time launches twice', async (t) => {
  const file = await stateDir(t);
  const clock = new FakeClock(T0);
  let ts = await start(file, clock);
  await ts.ok('POST', '/v1/jobs', job());
  await settle();
  assert.deepEqual(await runsOf(ts, 'nightly'), [], 'nothing is due before 12:01');
  await ts.server.stop();
  // Down across 12:01:00, back at 12:01:20: 20 s late, within the 30 s epsilon.
  clock.advanceTo(Date.parse('2026-06-01T12:01:20Z'));
  ts = await start(file, clock);
  await settle();
  const runs = await runsOf(ts, 'nightly');
  assert.equal(runs.length, 1);
  assert.equal(new Date(runs[0].scheduled).toISOString(), '2026-06-01T12:01:00.000Z');
  assert.equal(runs[0].childId, `nightly/periodic-${Date.parse('2026-06-01T12:01:00Z') / 1000}`);
  assert.ok(ts.server.view.job(runs[0].childId!), 'the child job exists');
  // Another restart at the same time launches nothing again.
  await ts.server.stop();
  ts = await start(file, clock);
  await settle();
  assert.equal((await runsOf(ts, 'nightly')).length, 1);
  assert.equal(ts.server.view.jobs().filter((j) => j.parentId === 'nightly').length, 1);
  await ts.server.stop();
});

test('a launch missed by more than epsilon is recorded as skipped, not run', async (t) => {
  const file = await stateDir(t);
  const clock = new FakeClock(T0);
  let ts = await start(file, clock);
  await ts.ok('POST', '/v1/jobs', job());
  await ts.server.stop();
  clock.advanceTo(Date.parse('2026-06-01T12:01:45Z'));
  ts = await start(file, clock);
  await settle();
  const runs = await runsOf(ts, 'nightly');
  assert.equal(runs.length, 1);
  assert.equal(runs[0].outcome, 'skipped');
  assert.match(runs[0].reason ?? '', /missed by 45s, more than epsilon \(30s\)/);
  assert.equal(ts.server.view.jobs().filter((j) => j.parentId === 'nightly').length, 0, 'no child job');
  // The schedule goes on: 12:02 launches.
  clock.advanceTo(Date.parse('2026-06-01T12:02:00Z'));
  await settle();
  const after = await runsOf(ts, 'nightly');
  assert.deepEqual(after.map((r) => r.outcome === 'skipped'), [false, true]);
  await ts.server.stop();
});

test('forbid skips a launch while the last run lives; force launches now; status shows next launches', async (t) => {
  const file = await stateDir(t);
  const clock = new FakeClock(T0);
  const ts = await start(file, clock);
  t.after(() => ts.server.stop());
  await ts.ok('POST', '/v1/jobs', job());
  const forced = await ts.ok<JobRun>('POST', '/v1/jobs/nightly/periodic/force');
  assert.equal(forced.trigger, 'force');
  // No node: the forced run stays pending, so 12:01 is skipped under forbid.
  clock.advanceTo(Date.parse('2026-06-01T12:01:00Z'));
  await settle();
  const body = await ts.ok<{ runs: JobRun[]; next: number[] }>('GET', '/v1/jobs/nightly/runs?next=2');
  assert.equal(body.runs[0].outcome, 'skipped');
  assert.match(body.runs[0].reason ?? '', /concurrency forbid/);
  assert.deepEqual(body.next.map((n) => new Date(n).toISOString()), ['2026-06-01T12:02:00.000Z', '2026-06-01T12:03:00.000Z']);
  // The template itself never gets allocations.
  assert.equal(ts.server.view.allocsByJob('nightly').length, 0);
});

test('a dependency cycle is refused at submit with the cycle spelled out', async (t) => {
  const file = await stateDir(t);
  const ts = await start(file, new FakeClock(T0));
  t.after(() => ts.server.stop());
  const batch = (id: string, after: string[]): Record<string, unknown> => ({
    id,
    type: 'batch',
    after,
    groups: [{ name: 'g', tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' } }] }],
  });
  await ts.ok('POST', '/v1/jobs', batch('b', ['a']));
  await ts.ok('POST', '/v1/jobs', batch('c', ['b']));
  const res = await ts.request<{ error: { message: string } }>('POST', '/v1/jobs', batch('a', ['c']));
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /cycle a -> b -> c -> a/);
  const graph = await ts.ok<{ edges: { from: string; to: string }[] }>('GET', '/v1/jobs/graph');
  assert.deepEqual(graph.edges, [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }]);
  const dot = await ts.request('GET', '/v1/jobs/graph?format=dot');
  assert.match(dot.text, /"a" -> "b";\n {2}"b" -> "c";/);
});

test('replace stops the live run in the txn that launches the next; allow runs them side by side', async (t) => {
  const file = await stateDir(t);
  const clock = new FakeClock(T0);
  const ts = await start(file, clock);
  t.after(() => ts.server.stop());
  await ts.ok('POST', '/v1/jobs', job({ concurrency: 'replace' }));
  await ts.ok('POST', '/v1/jobs', { ...job({ concurrency: 'allow' }), id: 'side' });
  const forced = await ts.ok<JobRun>('POST', '/v1/jobs/nightly/periodic/force');
  await ts.ok('POST', '/v1/jobs/side/periodic/force');
  clock.advanceTo(Date.parse('2026-06-01T12:01:00Z'));
  await settle();
  const runs = await runsOf(ts, 'nightly');
  assert.equal(runs.length, 2);
  assert.equal(runs[0].outcome, 'pending');
  assert.equal(ts.server.view.job(forced.childId!)?.stop, true, 'the forced run was stopped');
  assert.equal(runs[1].outcome, 'failed', 'stopped before it ran');
  const side = await runsOf(ts, 'side');
  assert.deepEqual(side.map((r) => r.outcome), ['pending', 'pending']);
});
