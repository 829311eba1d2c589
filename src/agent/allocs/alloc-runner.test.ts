import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { mockDrivers } from '../../drivers/index.ts';
import type { DriverName, Job } from '../../model/index.ts';
import { allocRunner, jobOf, until, type RunnerFixture } from '../agent-fixture.test-helper.ts';

function jobWith(tasks: { name: string; command: string; driver?: DriverName }[]): Job {
  return jobOf(tasks);
}

/** A runner with the mocks of `drivers` (both share one machine: tests look at it through `driver`). */
async function setup(job: Job, drivers: DriverName[] = ['docker', 'process'], dnsServers?: string[]): Promise<RunnerFixture & { driver: ReturnType<typeof mockDrivers>[number] }> {
  const mocks = mockDrivers();
  const fixture = await allocRunner({ job, drivers: mocks.filter((d) => drivers.includes(d.name)), dnsServers });
  return { ...fixture, driver: mocks[0] };
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
    const { runner: again } = await allocRunner({ job: record.job, alloc: record.alloc, drivers: [driver], localState });
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
