import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockDriver, type TaskDriver } from '../../drivers/index.ts';
import { silentLogger, systemClock } from '../../lib/index.ts';
import type { DriverName, Job, Task, TaskEvent } from '../../model/index.ts';
import { mockAlloc, mockGroup, mockJob, mockTask } from '../../testing/index.ts';
import { AllocRunner } from './alloc-runner.ts';
import { LocalState } from './local-state.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-lifecycle-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function job(type: Job['type'], tasks: (Partial<Task> & { name: string; command: string })[]): Job {
  return mockJob({
    type,
    groups: [
      mockGroup({
        tasks: tasks.map(({ command, ...t }) => mockTask({ driver: 'docker', config: { command }, killTimeoutMs: 50, ...t })),
        restart: { attempts: 0, intervalMs: 60_000, delayMs: 10, mode: 'fail' },
      }),
    ],
  });
}

async function start(j: Job): Promise<AllocRunner> {
  const driver = new MockDriver();
  const localState = new LocalState(fs.mkdtempSync(path.join(tmp, 'data-')));
  await localState.open();
  const runner = new AllocRunner(mockAlloc({ jobId: j.id }), j, {
    nodeName: 'n1',
    nodeAddress: '127.0.0.1',
    drivers: new Map<DriverName, TaskDriver>([['docker', driver]]),
    defaultDriver: 'docker',
    localState,
    clock: systemClock,
    logger: silentLogger(),
    onChange: () => {},
  });
  runner.start();
  return runner;
}

async function until(what: string, cond: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const startedAt = (events: TaskEvent[]): number => events.find((e) => e.type === 'Started')?.time ?? Infinity;

describe('lifecycle hooks', () => {
  it('runs a prestart task to completion before the main task, keeps a sidecar beside it, and runs poststop after', async () => {
    const runner = await start(
      job('service', [
        { name: 'migrate', command: 'exit:0:80', lifecycle: { hook: 'prestart', sidecar: false } },
        { name: 'proxy', command: 'run', lifecycle: { hook: 'prestart', sidecar: true } },
        { name: 'web', command: 'run' },
        { name: 'cleanup', command: 'exit:0:10', lifecycle: { hook: 'poststop', sidecar: false } },
      ]),
    );
    await until('running', () => runner.clientStatus() === 'running');
    const s = runner.taskStates();
    assert.deepEqual([s.migrate.state, s.migrate.failed, s.proxy.state, s.web.state, s.cleanup.state], ['dead', false, 'running', 'running', 'pending']);
    assert.equal(s.migrate.restarts, 0, 'a prestart task that exited 0 is not restarted in a service job');
    assert.ok(startedAt(s.web.events) >= s.migrate.finishedAt!, 'web started after migrate finished');
    await runner.stop();
    const end = runner.taskStates();
    assert.deepEqual([end.proxy.state, end.web.state, end.cleanup.state, end.cleanup.failed], ['dead', 'dead', 'dead', false]);
    assert.ok(startedAt(end.cleanup.events) >= end.web.finishedAt!, 'poststop ran after the main task stopped');
    assert.equal(runner.clientStatus(), 'complete');
  });

  it('never starts the main tasks when a prestart task fails, and fails the allocation', async () => {
    const runner = await start(
      job('service', [
        { name: 'migrate', command: 'exit:1:10', lifecycle: { hook: 'prestart', sidecar: false } },
        { name: 'web', command: 'run' },
      ]),
    );
    await runner.done;
    const s = runner.taskStates();
    assert.equal(runner.clientStatus(), 'failed');
    assert.equal(s.web.events.some((e) => e.type === 'Started'), false);
  });
});

describe('max_run_duration', () => {
  it('kills a batch task that runs too long and fails it without a restart', async () => {
    const runner = await start(job('batch', [{ name: 'report', command: 'run', maxRunDurationMs: 150 }]));
    const began = Date.now();
    await runner.done;
    const s = runner.taskStates().report;
    assert.ok(Date.now() - began < 2000);
    assert.deepEqual([s.state, s.failed, s.restarts], ['dead', true, 0]);
    assert.match(s.events.map((e) => e.message).join('\n'), /exceeded max_run_duration \(0\.15s\)/);
    assert.equal(runner.clientStatus(), 'failed');
  });
});
