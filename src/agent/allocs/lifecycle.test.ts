import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MockDriver } from '../../drivers/index.ts';
import type { Job, TaskEvent } from '../../model/index.ts';
import { allocRunner, jobOf, until, type TaskLine } from '../agent-fixture.test-helper.ts';
import type { AllocRunner } from './alloc-runner.ts';

function job(type: Job['type'], tasks: TaskLine[]): Job {
  return jobOf(tasks, { type });
}

async function start(j: Job): Promise<AllocRunner> {
  const { runner } = await allocRunner({ job: j, drivers: [new MockDriver()] });
  runner.start();
  return runner;
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
