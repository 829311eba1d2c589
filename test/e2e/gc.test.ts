/**
 * Garbage collection against a real `berth dev` (process driver, SQLite): jobs run and are
 * purged, `berth system gc` collects what they left, and the state file holds fewer rows (read
 * between two runs of `berth dev`: the server holds the file exclusively), while the job still
 * running is untouched.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/lib/index.ts';
import type { Allocation, Evaluation } from '../../src/model/index.ts';
import type { GcResponse } from '../../src/api/index.ts';
import { berth, eventually, startDev, type DevProcess } from '../harness/berth.ts';

function spec(id: string, count: number): string {
  return `
id: ${id}
update: {max_parallel: 1, health_check: task_states, min_healthy_time: 0s}
groups:
  - name: main
    count: ${count}
    tasks:
      - name: sleep
        driver: process
        config: {command: /bin/sleep, args: ["3600"]}
        resources: {cpu: 50m, memory: 16Mi}
        kill_timeout: 1s
`;
}

/** Rows of berth's state in the SQLite file, by table prefix, read as another process would. */
function stateRows(dataDir: string): Record<string, number> {
  const db = openDatabase(path.join(dataDir, 'state.db'), { readOnly: true });
  try {
    const rows = db.prepare(`SELECT key FROM kv WHERE key LIKE '/berth/%'`).all() as { key: string }[];
    const out: Record<string, number> = { total: rows.length };
    for (const { key } of rows) {
      const table = key.split('/')[2];
      out[table] = (out[table] ?? 0) + 1;
    }
    return out;
  } finally {
    db.close();
  }
}

describe('berth system gc against berth dev', { timeout: 180_000 }, () => {
  let dev: DevProcess;
  let dir: string;
  let dataDir: string;
  const run = (args: string[]) => berth(args, { addr: dev.addr, env: { NO_COLOR: '1' } });
  const get = async <T>(url: string): Promise<T> => (await (await fetch(`${dev.addr}${url}`)).json()) as T;
  const keepRunning = async (): Promise<Allocation[]> =>
    eventually('keep to run its two allocations', async () => {
      const live = (await get<Allocation[]>('/v1/jobs/keep/allocations')).filter((a) => a.desiredStatus === 'run' && a.clientStatus === 'running');
      return live.length === 2 ? live : undefined;
    });

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-gc-'));
    dataDir = path.join(dir, 'data');
    dev = await startDev({ driver: 'process', dataDir });
  });
  after(async () => {
    // Stop what still runs, so that no sleep outlives the test.
    if (dev?.child.exitCode === null) await run(['job', 'stop', 'keep']).catch(() => undefined);
    await dev?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('collects what purged jobs left; the state file shrinks; the running job is unchanged', async (t) => {
    const ids = ['churn-a', 'churn-b', 'churn-c', 'keep'];
    for (const id of ids) {
      const file = path.join(dir, `${id}.yaml`);
      await writeFile(file, spec(id, 2));
      const r = await run(['job', 'run', file]);
      assert.equal(r.code, 0, r.stderr);
      // A second version: a deployment, replaced allocations, more evaluations.
      await writeFile(file, spec(id, 2).replace('memory: 16Mi', 'memory: 17Mi'));
      const r2 = await run(['job', 'run', file]);
      assert.equal(r2.code, 0, r2.stderr);
    }
    for (const id of ids.slice(0, 3)) {
      const r = await run(['job', 'stop', '--purge', id]);
      assert.equal(r.code, 0, r.stderr);
    }
    // The agent stops their tasks and reports it.
    await eventually('the purged jobs tasks to stop', async () => {
      const allocs = await get<Allocation[]>('/v1/allocations');
      return allocs.every((a) => a.jobId === 'keep' || a.clientStatus === 'complete' || a.clientStatus === 'failed');
    });
    const keep = await keepRunning();
    const leftovers = (await get<Allocation[]>('/v1/allocations')).filter((a) => a.jobId !== 'keep');
    const leftoverEvals = (await get<Evaluation[]>('/v1/evaluations')).filter((e) => e.jobId !== 'keep');
    assert.equal(leftovers.length, 12, '3 purged jobs x 2 versions x 2 allocations');
    assert.ok(leftoverEvals.length >= 9, `${leftoverEvals.length} evaluations of purged jobs`);

    // The server holds the SQLite file exclusively: read it between two runs of berth dev (tasks keep running).
    assert.equal(await dev.stop(), 0);
    const before = stateRows(dataDir);
    dev = await startDev({ driver: 'process', dataDir });
    assert.deepEqual((await keepRunning()).map((a) => a.id), keep.map((a) => a.id));
    // The restarted agent reports its tasks once it has reattached to them; then nothing changes.
    await eventually('the agent to reattach to keep tasks', async () => {
      const live = await keepRunning();
      return live.every((a) => a.taskStates.sleep?.events.some((e) => e.type === 'Reattached'));
    });
    const status = await run(['job', 'status', 'keep', '--json']);
    assert.equal(status.code, 0, status.stderr);

    const gc = await run(['system', 'gc', '--json']);
    assert.equal(gc.code, 0, gc.stderr);
    const result = JSON.parse(gc.stdout) as GcResponse;
    // The purged jobs' 12, and keep's two of its first version (stopped when version 1 replaced them).
    assert.equal(result.allocs, 14);
    assert.ok(result.evals >= leftoverEvals.length);
    assert.deepEqual((await get<Allocation[]>('/v1/allocations')).map((a) => a.id).sort(), keep.map((a) => a.id).sort());
    assert.deepEqual((await get<Evaluation[]>('/v1/evaluations')).filter((e) => e.jobId !== 'keep'), []);

    // What `job status` prints of the running job is the same.
    const statusAfter = await run(['job', 'status', 'keep', '--json']);
    assert.equal(statusAfter.code, 0, statusAfter.stderr);
    assert.deepEqual(JSON.parse(statusAfter.stdout), JSON.parse(status.stdout));

    // Nothing left to collect: a second run says so.
    const again = await run(['system', 'gc']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, 'Nothing to collect.\n');

    assert.equal(await dev.stop(), 0);
    const after = stateRows(dataDir);
    assert.ok(before.total - after.total >= result.allocs + result.evals, `rows before ${JSON.stringify(before)}, after ${JSON.stringify(after)}, collected ${gc.stdout}`);
    assert.equal(after.allocs, 2, `allocation rows left: ${JSON.stringify(after)}`);
    t.diagnostic(`state rows before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`);
    // Started again for the after hook to stop keep's tasks.
    dev = await startDev({ driver: 'process', dataDir });
  });
});
