import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AllocUpdate } from '../../api/index.ts';
import { mockDrivers, type TaskDriver } from '../../drivers/index.ts';
import { silentLogger, systemClock } from '../../lib/index.ts';
import type { DriverName, Job } from '../../model/index.ts';
import { mockAlloc, mockGroup, mockJob, mockTask } from '../../testing/index.ts';
import { AllocRunner } from './alloc-runner.ts';
import { LocalState } from './local-state.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-alloc-runner-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function jobWith(tasks: { name: string; command: string; driver?: DriverName }[]): Job {
  return mockJob({
    groups: [
      mockGroup({
        tasks: tasks.map((t) => mockTask({ name: t.name, driver: t.driver ?? 'docker', config: { command: t.command }, killTimeoutMs: 50 })),
        restart: { attempts: 0, intervalMs: 60_000, delayMs: 10, mode: 'fail' },
      }),
    ],
  });
}

async function setup(job: Job, drivers: DriverName[] = ['docker', 'process'], dnsServers?: string[]) {
  const mocks = mockDrivers();
  const localState = new LocalState(fs.mkdtempSync(path.join(tmp, 'data-')));
  await localState.open();
  const updates: AllocUpdate[] = [];
  const alloc = mockAlloc({ jobId: job.id });
  const runner = new AllocRunner(alloc, job, {
    nodeName: 'n1',
    nodeAddress: '127.0.0.1',
    drivers: new Map<DriverName, TaskDriver>(mocks.filter((d) => drivers.includes(d.name)).map((d) => [d.name, d])),
    defaultDriver: 'docker',
    localState,
    clock: systemClock,
    logger: silentLogger(),
    onChange: (u) => updates.push(u),
    dnsServers,
  });
  // Both mocks run on one machine: tests look at it through either.
  return { runner, driver: mocks[0], updates, localState, alloc };
}

async function until(what: string, cond: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('AllocRunner', () => {
  it('reports running once every task runs, and complete once they were stopped', async () => {
    const { runner, updates } = await setup(jobWith([{ name: 'a', command: 'run' }, { name: 'b', command: 'run' }]));
    runner.start();
    await until('running', () => runner.clientStatus() === 'running');
    await runner.stop();
    assert.equal(runner.clientStatus(), 'complete');
    assert.equal(updates.at(-1)?.clientStatus, 'complete');
    assert.deepEqual(Object.values(updates.at(-1)!.taskStates).map((t) => t.events.at(-1)?.type), ['Killed', 'Killed']);
  });

  it('stops the other tasks when one fails for good, and reports the allocation failed', async () => {
    const { runner, driver } = await setup(jobWith([{ name: 'main', command: 'run' }, { name: 'sidecar', command: 'exit:1:20' }]));
    runner.start();
    await runner.done;
    assert.equal(runner.clientStatus(), 'failed');
    const main = runner.taskStates().main;
    assert.equal(main.state, 'dead');
    assert.equal(main.failed, false);
    assert.match(main.events.at(-1)?.message ?? '', /sibling task "sidecar" failed/);
    assert.ok(driver.machine.tasks().every((t) => t.exit !== undefined), 'nothing left running');
  });

  it('starts no task and reports failed when one task needs a driver the node lacks', async () => {
    const { runner, driver, updates } = await setup(jobWith([{ name: 'a', command: 'run' }, { name: 'b', command: 'run', driver: 'process' }]), ['docker']);
    runner.start();
    assert.equal(runner.clientStatus(), 'failed');
    assert.equal(updates.at(-1)?.clientDescription, 'task "b" needs driver process, which this node does not have');
    assert.equal(driver.machine.tasks().length, 0);
  });

  it('records how its tasks ended, so a restarted agent does not run them again', async () => {
    const job = jobWith([{ name: 'once', command: 'exit:0' }]);
    job.type = 'batch';
    const { runner, localState, driver } = await setup(job);
    runner.start();
    await runner.done;
    await new Promise((r) => setTimeout(r, 20));
    const [record] = await localState.load(() => {});
    assert.equal(record.taskStates.once.state, 'dead');
    assert.ok(record.handles.once, 'the ended task is kept for its logs');
    const again = new AllocRunner(record.alloc, record.job, {
      nodeName: 'n1',
      nodeAddress: '127.0.0.1',
      drivers: new Map<DriverName, TaskDriver>([['docker', driver]]),
      defaultDriver: 'docker',
      localState,
      clock: systemClock,
      logger: silentLogger(),
      onChange: () => {},
    });
    again.start({ handles: record.handles, taskStates: record.taskStates });
    await again.done;
    assert.equal(again.clientStatus(), 'complete');
    assert.equal(driver.machine.tasks().length, 1, 'not started a second time');
    await again.destroy();
    assert.equal(driver.machine.tasks().length, 0, 'destroy removes the kept instance');
    assert.deepEqual(await localState.load(() => {}), []);
  });

  it('runs its hooks before a task starts: docker tasks get the DNS servers, every task its payload file', async (t) => {
    const job = jobWith([{ name: 'c', command: 'run' }, { name: 'p', command: 'run', driver: 'process' }]);
    job.payload = Buffer.from('hello').toString('base64');
    const { runner, driver, localState, alloc } = await setup(job, ['docker', 'process'], ['172.17.0.1']);
    t.after(() => runner.destroy());
    runner.start();
    await until('running', () => runner.clientStatus() === 'running');
    const request = (task: string) => driver.machine.tasks().find((t) => t.request.taskName === task)!.request;
    assert.deepEqual(request('c').config.dnsServers, ['172.17.0.1']);
    assert.equal(request('p').config.dnsServers, undefined, 'a process resolves as its host does');
    for (const task of ['c', 'p']) assert.equal(fs.readFileSync(path.join(localState.taskDir(alloc.id, task), 'local', 'payload'), 'utf8'), 'hello');
  });
});
