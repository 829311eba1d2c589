import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { MockDriver, type TaskHandle } from '../../drivers/index.ts';
import { silentLogger, systemClock, type Clock } from '../../lib/index.ts';
import { FakeClock } from '../../testing/index.ts';
import type { RestartPolicy, TaskConfig } from '../../model/index.ts';
import { tempDir, until } from '../agent-fixture.test-helper.ts';
import { TaskRunner } from './task-runner.ts';

const tmp = tempDir('task-runner');

interface Setup {
  config: TaskConfig;
  restart?: Partial<RestartPolicy>;
  batch?: boolean;
  driver?: MockDriver;
  /** Restart delays and max_run_duration run on it. Default: the wall clock. */
  clock?: Clock;
}

function setup(s: Setup): { runner: TaskRunner; driver: MockDriver; handles: (TaskHandle | undefined)[] } {
  const driver = s.driver ?? new MockDriver();
  const handles: (TaskHandle | undefined)[] = [];
  const runner = new TaskRunner({
    driver,
    request: {
      allocId: 'alloc-1',
      taskName: 'web',
      nodeName: 'n1',
      config: s.config,
      env: {},
      args: s.config.args ?? [],
      resources: { cpu: 0.1, memoryMiB: 64 },
      ports: [],
      taskDir: path.join(tmp, String(Math.random()).slice(2)),
    },
    restart: { attempts: 2, intervalMs: 60_000, delayMs: 10, mode: 'fail', ...s.restart },
    batch: s.batch ?? false,
    killTimeoutMs: 50,
    clock: s.clock ?? systemClock,
    logger: silentLogger(),
    onChange: () => {},
    onHandle: async (h) => void handles.push(h),
  });
  return { runner, driver, handles };
}

const types = (runner: TaskRunner): string[] => runner.state.events.map((e) => e.type);

describe('TaskRunner', () => {
  it('restarts a task that exits non-zero up to the attempts, then marks it dead and failed', async () => {
    const { runner } = setup({ config: { command: 'exit:3:5' } });
    await runner.run();
    assert.equal(runner.state.state, 'dead');
    assert.equal(runner.state.failed, true);
    assert.equal(runner.state.restarts, 2);
    assert.equal(runner.state.exitCode, 3);
    assert.deepEqual(types(runner), ['Started', 'Terminated', 'Restarting', 'Started', 'Terminated', 'Restarting', 'Started', 'Terminated', 'Not Restarting']);
    assert.match(runner.state.events[1].message, /exit code 3/);
  });

  it('ends a batch task that exits 0 as dead and not failed, without a restart', async () => {
    const { runner } = setup({ config: { command: 'exit:0:5' }, batch: true });
    await runner.run();
    assert.equal(runner.state.state, 'dead');
    assert.equal(runner.state.failed, false);
    assert.equal(runner.state.restarts, 0);
    assert.deepEqual(types(runner), ['Started', 'Terminated', 'Finished']);
  });

  it('keeps the handle of a task that ended for good, so its logs can still be read', async () => {
    const { runner, driver } = setup({ config: { command: 'exit:1', args: ['err:boom'] }, restart: { attempts: 0 } });
    await runner.run();
    assert.equal(runner.state.failed, true);
    const handle = runner.handle;
    assert.ok(handle, 'the last instance is kept');
    const chunks = [];
    for await (const c of driver.logs(handle)) chunks.push(c.data.toString());
    assert.deepEqual(chunks, ['boom\n']);
    await runner.destroy();
    assert.equal(driver.machine.tasks().length, 0, 'destroy removes it');
  });

  it('waits the restart delay, on its clock, before it starts the task again', async () => {
    const clock = new FakeClock();
    const { runner } = setup({ config: { command: 'exit:1' }, restart: { attempts: 1, delayMs: 1_000 }, clock });
    const done = runner.run();
    await until('the restart wait', () => runner.state.events.some((e) => e.type === 'Restarting'));
    clock.advance(999);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(types(runner), ['Started', 'Terminated', 'Restarting'], 'not before the delay');
    clock.advance(1);
    await until('the second start', () => types(runner).filter((t) => t === 'Started').length === 2);
    await done;
    assert.equal(runner.state.restarts, 1);
  });

  it('ends promptly and not failed when stopped while waiting to restart', async () => {
    const clock = new FakeClock();
    const { runner } = setup({ config: { command: 'exit:1' }, restart: { delayMs: 60_000 }, clock });
    const done = runner.run();
    await until('the restart wait', () => runner.state.events.some((e) => e.type === 'Restarting'));
    const started = Date.now();
    const t0 = clock.now();
    clock.advance(59_999);
    await runner.stop();
    await done;
    assert.ok(Date.now() - started < 500, 'did not wait out the 60 s delay');
    assert.equal(clock.now() - t0, 59_999, 'stopped 1 ms before the restart was due');
    assert.equal(types(runner).filter((t) => t === 'Started').length, 1, 'and did not start again');
    assert.equal(runner.state.state, 'dead');
    assert.equal(runner.state.failed, false);
    assert.equal(types(runner).at(-1), 'Finished');
  });

  it('stops a running task through its driver and records it as killed', async () => {
    const { runner, driver } = setup({ config: { command: 'run' } });
    const done = runner.run();
    await until('the task to run', () => runner.state.state === 'running');
    const [task] = driver.machine.tasks();
    await runner.stop();
    await done;
    assert.deepEqual(task.exit, { exitCode: 143, signal: 'SIGTERM', oomKilled: false }, 'the driver sent SIGTERM');
    assert.equal(runner.state.state, 'dead');
    assert.equal(runner.state.failed, false);
    assert.equal(runner.state.restarts, 0);
    assert.equal(types(runner).at(-1), 'Killed');
  });

  it('signals a running task that traps the signal, without restarting it', async () => {
    const { runner, driver } = setup({ config: { command: 'run', args: ['trap:SIGHUP:reloaded'] } });
    const done = runner.run();
    await until('the task to run', () => runner.state.state === 'running');
    const [task] = driver.machine.tasks();
    await runner.signal('SIGHUP', 'template app.conf changed');
    assert.equal(task.output.map((c) => c.data.toString()).join(''), 'reloaded\n');
    assert.equal(task.exit, undefined, 'the task still runs');
    assert.equal(driver.machine.tasks().length, 1, 'no second instance');
    assert.equal(runner.state.restarts, 0);
    assert.deepEqual(runner.state.events.at(-1), { time: runner.state.events.at(-1)!.time, type: 'Signaling', message: 'template app.conf changed: sent SIGHUP' });
    await runner.stop();
    await done;
  });

  it('records a signal the driver cannot deliver as an event and leaves the task running', async () => {
    const { runner, driver } = setup({ config: { command: 'run' } });
    const done = runner.run();
    await until('the task to run', () => runner.state.state === 'running');
    await runner.signal('SIGNOPE', 'template app.conf changed');
    assert.equal(types(runner).at(-1), 'Signaling Failed');
    assert.match(runner.state.events.at(-1)!.message, /"SIGNOPE" is not a signal of this host/);
    assert.equal(driver.machine.tasks()[0].exit, undefined);
    await runner.stop();
    await done;
  });

  it('kills a task that ignores SIGTERM once the kill timeout passes', async () => {
    const { runner, driver } = setup({ config: { command: 'ignore-term' } });
    const done = runner.run();
    await until('the task to run', () => runner.state.state === 'running');
    const [task] = driver.machine.tasks();
    await runner.stop();
    await done;
    assert.equal(task.exit?.exitCode, 137);
    assert.equal(types(runner).at(-1), 'Killed');
  });

  it('stops a task whose start was still in progress when stop was called', async () => {
    const { runner, driver } = setup({ config: { command: 'run' }, driver: new MockDriver({ startDelayMs: 30 }) });
    const done = runner.run();
    await new Promise((r) => setTimeout(r, 5));
    await runner.stop();
    await done;
    assert.equal(runner.state.state, 'dead');
    assert.equal(runner.state.failed, false);
    assert.ok(driver.machine.tasks().every((t) => t.exit !== undefined), 'nothing left running');
  });

  it('counts a start failure against the restart policy', async () => {
    const { runner } = setup({ config: { command: 'fail-start:no such image' }, restart: { attempts: 1 } });
    await runner.run();
    assert.equal(runner.state.state, 'dead');
    assert.equal(runner.state.failed, true);
    assert.equal(runner.state.restarts, 1);
    assert.deepEqual(types(runner), ['Driver Failure', 'Restarting', 'Driver Failure', 'Not Restarting']);
    assert.equal(runner.state.events[0].message, 'Cannot start task "web": no such image');
  });

  it('runs each restart as a new instance and destroys the one before', async () => {
    const { runner, driver, handles } = setup({ config: { command: 'exit:1:5' }, restart: { attempts: 1 } });
    await runner.run();
    const started = handles.filter((h): h is TaskHandle => h !== undefined);
    assert.equal(started.length, 2);
    assert.notEqual(started[0].id, started[1].id);
    assert.equal(driver.machine.task(started[0].id), undefined, 'the first instance was destroyed');
    assert.equal(handles[1], undefined, 'the first handle was forgotten before the restart');
  });

  it('reattaches to a recovered task instead of starting a new one', async () => {
    const driver = new MockDriver();
    const first = setup({ config: { command: 'run' }, driver });
    void first.runner.run();
    await until('the task to run', () => first.runner.state.state === 'running');
    const handle = first.runner.handle!;
    const second = setup({ config: { command: 'run' }, driver });
    const done = second.runner.run(handle);
    assert.equal(second.runner.state.state, 'running');
    assert.equal(driver.machine.tasks().length, 1, 'no second instance');
    driver.machine.exit(handle.id, 0);
    await second.runner.stop();
    await done;
    await first.runner.stop();
    assert.equal(types(second.runner)[0], 'Reattached');
  });

  it('leaves a detached task running and untouched', async () => {
    const { runner, driver } = setup({ config: { command: 'run' } });
    const done = runner.run();
    await until('the task to run', () => runner.state.state === 'running');
    await runner.detach();
    await done;
    const [task] = driver.machine.tasks();
    assert.equal(task.exit, undefined, 'still running');
    assert.equal(runner.state.state, 'running', 'the state the next agent starts from');
    driver.machine.exit(task.handle.id, 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(driver.machine.tasks().length, 1, 'an exit after detaching is not acted upon');
    assert.equal(runner.state.restarts, 0);
  });

  it('does not run again a task that had already ended before the agent restarted', async () => {
    const { runner, driver } = setup({ config: { command: 'exit:0' }, batch: true });
    await runner.run();
    const again = new TaskRunner({
      driver,
      request: { allocId: 'alloc-1', taskName: 'web', nodeName: 'n1', config: { command: 'exit:0' }, env: {}, args: [], resources: { cpu: 0.1, memoryMiB: 64 }, ports: [], taskDir: tmp },
      restart: { attempts: 2, intervalMs: 60_000, delayMs: 10, mode: 'fail' },
      batch: true,
      killTimeoutMs: 50,
      clock: systemClock,
      logger: silentLogger(),
      initialState: runner.state,
      onChange: () => {},
      onHandle: async () => {},
    });
    await again.run();
    assert.equal(driver.machine.tasks().length, 1, 'no new instance was started');
    assert.equal(again.state.state, 'dead');
    assert.equal(again.state.failed, false);
  });
});
