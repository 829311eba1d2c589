/**
 * Dependent batch jobs on a real `berth dev` with the process driver: A -> B -> C runs in order,
 * and a failed parent holds its dependents, which the event stream shows as JobHeld.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually, startDev } from '../harness/berth.ts';
import type { JobRun } from '../../src/model/index.ts';
import { firstEvent } from '../harness/observe.ts';

/** A batch job whose task appends its name and time to `log`, then exits with `code`. */
function step(id: string, log: string, after: string[], code = 0): Record<string, unknown> {
  const script = `echo "${id} $(date +%s%N)" >> ${log}; sleep 0.3; exit ${code}`;
  return {
    id,
    type: 'batch',
    ...(after.length > 0 ? { after } : {}),
    groups: [
      {
        name: 'g',
        restart: { attempts: 0, mode: 'fail' },
        reschedule: { attempts: 0 },
        tasks: [{ name: 't', driver: 'process', config: { command: '/bin/sh', args: ['-c', script] }, resources: { cpu: 0.1, memory: '32MiB' } }],
      },
    ],
  };
}

test('A -> B -> C runs in order, and C is held when B fails', async (t) => {
  const dev = await startDev({ driver: 'process' });
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-chain-'));
  t.after(async () => {
    await dev.cleanup();
    await rm(dir, { recursive: true, force: true });
  });
  const post = async (body: unknown): Promise<void> => {
    const res = await fetch(`${dev.addr}/v1/jobs`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 200, await res.text());
  };
  const runs = async (id: string): Promise<JobRun[]> => ((await (await fetch(`${dev.addr}/v1/jobs/${id}/runs`)).json()) as { runs: JobRun[] }).runs;

  const log = path.join(dir, 'ok.log');
  await post(step('chain-c', log, ['chain-b']));
  await post(step('chain-b', log, ['chain-a']));
  await post(step('chain-a', log, []));
  await eventually('C to complete', async () => (await runs('chain-c')).find((r) => r.outcome === 'complete'), 30_000);
  const order = (await readFile(log, 'utf8')).trim().split('\n').map((l) => l.split(' ')[0]);
  assert.deepEqual(order, ['chain-a', 'chain-b', 'chain-c']);

  const bad = path.join(dir, 'bad.log');
  // The event stream, opened before: the hold must show there too, keyed by the held job.
  const stream = new AbortController();
  t.after(() => stream.abort());
  const events = await fetch(`${dev.addr}/v1/event/stream?topic=Job`, { signal: stream.signal });
  assert.equal(events.status, 200);
  const heldEvent = firstEvent(events, (e) => e.Type === 'JobHeld');
  await post(step('fail-c', bad, ['fail-b']));
  await post(step('fail-b', bad, ['fail-a'], 1));
  await post(step('fail-a', bad, []));
  const held = await eventually('C to be held', async () => (await runs('fail-c')).find((r) => r.outcome === 'skipped'), 30_000);
  assert.match(held.reason ?? '', /held: parent fail-b failed/);
  const failedB = (await runs('fail-b'))[0];
  assert.equal(failedB.outcome, 'failed');
  const ev = await heldEvent;
  assert.deepEqual(
    { Topic: ev.Topic, Key: ev.Key, Payload: ev.Payload },
    { Topic: 'Job', Key: 'fail-c', Payload: { Held: { JobID: 'fail-c', Parent: 'fail-b', FailedRun: failedB.childId, FailedAt: failedB.end, Reason: held.reason } } },
  );
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual((await readFile(bad, 'utf8')).trim().split('\n').map((l) => l.split(' ')[0]), ['fail-a', 'fail-b'], 'C never ran');
  const graph = (await (await fetch(`${dev.addr}/v1/jobs/graph`)).json()) as { nodes: { id: string; last?: string }[] };
  assert.equal(graph.nodes.find((n) => n.id === 'fail-b')?.last, 'failed');
});

test('retries: a failing periodic run is placed again by the batch reschedule policy, then recorded failed', async (t) => {
  const dev = await startDev({ driver: 'process' });
  t.after(() => dev.cleanup());
  const spec = {
    id: 'flaky',
    type: 'batch',
    periodic: { cron: '0 0 1 1 *', retries: 2, retry_delay: '200ms' },
    groups: [
      {
        name: 'g',
        restart: { attempts: 0, mode: 'fail' },
        tasks: [{ name: 't', driver: 'process', config: { command: '/bin/sh', args: ['-c', 'exit 3'] }, resources: { cpu: 0.1, memory: '32MiB' } }],
      },
    ],
  };
  const res = await fetch(`${dev.addr}/v1/jobs`, { method: 'POST', body: JSON.stringify(spec), headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 200);
  assert.equal((await fetch(`${dev.addr}/v1/jobs/flaky/periodic/force`, { method: 'POST' })).status, 200);
  const run = await eventually(
    'the run to fail after its retries',
    async () => {
      const { runs } = (await (await fetch(`${dev.addr}/v1/jobs/flaky/runs`)).json()) as { runs: JobRun[] };
      return runs.find((r) => r.outcome === 'failed' && r.allocIds.length === 3);
    },
    30_000,
  );
  assert.ok(run.end! >= run.start!, 'start and end recorded');
});
