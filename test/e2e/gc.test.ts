/**
 * Garbage collection against a real `berth dev` (process driver, SQLite): jobs run and are
 * purged, `berth system gc` collects what they left, and the state file holds fewer rows, while
 * the job still running is untouched.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/lib/index.ts';
import type { Allocation, Evaluation } from '../../src/model/index.ts';
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
  const run = (args: string[]) => berth(args, { addr: dev.addr, env: { NO_COLOR: '1' } });
  const get = async <T>(url: string): Promise<T> => (await (await fetch(`${dev.addr}${url}`)).json()) as T;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-gc-'));
    dev = await startDev({ driver: 'process' });
  });
  after(async () => {
    // Stop what still runs, so that no sleep outlives the test.
    if (dev) await run(['job', 'stop', 'keep']).catch(() => undefined);
    await dev?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('collects what purged jobs left; the state file shrinks; the running job is unchanged', async () => {
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
      return allocs.filter((a) => a.jobId !== 'keep').every((a) => a.clientStatus === 'complete' || a.clientStatus === 'failed');
    });
    const status = await run(['job', 'status', 'keep', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const leftovers = (await get<Allocation[]>('/v1/allocations')).filter((a) => a.jobId !== 'keep');
    const leftoverEvals = (await get<Evaluation[]>('/v1/evaluations')).filter((e) => e.jobId !== 'keep');
    assert.equal(leftovers.length, 12, '3 purged jobs x 2 versions x 2 allocations');
    assert.ok(leftoverEvals.length >= 9);
    const before = stateRows(dev.dataDir);

    const gc = await run(['system', 'gc']);
    assert.equal(gc.code, 0, gc.stderr);
    assert.match(gc.stdout, /^Collected .*12 allocations/);

    const after = stateRows(dev.dataDir);
    assert.equal(before.total - after.total >= leftovers.length + leftoverEvals.length, true, `rows before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`);
    assert.deepEqual((await get<Allocation[]>('/v1/allocations')).filter((a) => a.jobId !== 'keep'), []);
    assert.deepEqual((await get<Evaluation[]>('/v1/evaluations')).filter((e) => e.jobId !== 'keep'), []);

    // The running job: its current allocations are all there and what `job status` prints of it is the same.
    const keep = (await get<Allocation[]>('/v1/jobs/keep/allocations')).filter((a) => a.desiredStatus === 'run');
    assert.deepEqual(keep.map((a) => [a.jobVersion, a.clientStatus]), [[1, 'running'], [1, 'running']]);
    const statusAfter = await run(['job', 'status', 'keep', '--json']);
    const strip = (text: string): unknown => {
      const s = JSON.parse(text) as { allocations?: Allocation[] };
      // The old version's stopped allocations are collected (their threshold is ignored by `system gc`); the rest is unchanged.
      return { ...s, allocations: s.allocations?.filter((a) => a.jobVersion === 1) };
    };
    assert.deepEqual(strip(statusAfter.stdout), strip(status.stdout));

    // Nothing left to collect: a second run says so.
    const again = await run(['system', 'gc']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, 'Nothing to collect.\n');
  });
});
