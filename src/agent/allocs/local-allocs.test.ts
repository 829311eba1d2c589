import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AllocUpdate, BerthClient } from '../../api/index.ts';
import { mockDrivers, type MockDriver, type TaskDriver } from '../../drivers/index.ts';
import { silentLogger, systemClock } from '../../lib/index.ts';
import type { Allocation, DriverName, Job } from '../../model/index.ts';
import { mockAlloc } from '../../testing/index.ts';
import { jobOf, openLocalState, until } from '../agent-fixture.test-helper.ts';
import { AllocRunner } from './alloc-runner.ts';
import { LocalAllocs } from './local-allocs.ts';
import type { LocalState } from './local-state.ts';
import { StatusReporter } from './reporter.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** LocalAllocs on mock drivers, with a client that serves `job` and the updates the server got. */
async function fixture(job: Job): Promise<{ allocs: LocalAllocs; sent: AllocUpdate[]; drivers: MockDriver[]; localState: LocalState }> {
  const sent: AllocUpdate[] = [];
  const drivers = mockDrivers();
  const localState = await openLocalState();
  const reporter = new StatusReporter({ send: async (u) => sent.push(...u), logger: silentLogger() });
  const client = { getJobVersion: async () => job, jobAllocations: async () => ({ value: [] }) } as unknown as BerthClient;
  const newRunner = (alloc: Allocation, j: Job): AllocRunner =>
    new AllocRunner(alloc, j, {
      nodeName: 'n1',
      nodeAddress: '127.0.0.1',
      drivers: new Map<DriverName, TaskDriver>(drivers.map((d) => [d.name, d])),
      defaultDriver: 'docker',
      localState,
      clock: systemClock,
      logger: silentLogger(),
      onChange: (u) => reporter.push(u),
    });
  const allocs = new LocalAllocs({ client, reporter, logger: silentLogger(), signal: new AbortController().signal, newRunner });
  return { allocs, sent, drivers, localState };
}

const running = { state: 'running' as const, failed: false, restarts: 0, startedAt: 1, events: [] };

describe('LocalAllocs', () => {
  it('reports complete a stopped allocation the server still thinks running when nothing of it runs here', async () => {
    const job = jobOf([{ name: 'main', command: 'run' }]);
    const { allocs, sent } = await fixture(job);
    // The agent was killed after the task stopped and its record was removed, before it reported.
    const alloc = mockAlloc({ jobId: job.id, desiredStatus: 'stop', clientStatus: 'running', taskStates: { main: running } });
    allocs.reconcile([alloc]);
    await until('the report', () => sent.length > 0);
    assert.equal(sent[0]!.id, alloc.id);
    assert.equal(sent[0]!.clientStatus, 'complete');
    assert.equal(sent[0]!.taskStates.main?.state, 'dead');
    assert.equal(sent[0]!.taskStates.main?.failed, false);
    // Said once: the next answers that still show it running (before the server took the report) add nothing.
    allocs.reconcile([alloc]);
    await tick();
    assert.equal(sent.length, 1);
  });

  it('reports complete an allocation replaced before this node started it', async () => {
    const job = jobOf([{ name: 'main', command: 'run' }]);
    const { allocs, sent, drivers } = await fixture(job);
    allocs.reconcile([mockAlloc({ jobId: job.id, desiredStatus: 'stop', clientStatus: 'pending' })]);
    await until('the report', () => sent.length > 0);
    assert.equal(sent[0]!.clientStatus, 'complete');
    assert.match(sent[0]!.clientDescription ?? '', /before this node started it/);
    assert.equal(drivers[0]!.machine.tasks().length, 0, 'nothing was started');
  });

  it('leaves alone an allocation it retired itself when an older answer still shows it running', async () => {
    const job = jobOf([{ name: 'main', command: 'exit:3' }]);
    const { allocs, sent } = await fixture(job);
    const alloc = mockAlloc({ jobId: job.id, clientStatus: 'pending' });
    allocs.reconcile([alloc]);
    await until('the task to fail', () => sent.some((u) => u.clientStatus === 'failed'));
    allocs.reconcile([{ ...alloc, desiredStatus: 'stop' }]);
    await until('the runner to be retired', () => allocs.runners.size === 0);
    const reports = sent.length;
    allocs.reconcile([{ ...alloc, desiredStatus: 'stop', clientStatus: 'running' }]);
    await tick();
    assert.equal(sent.length, reports, 'its failure is not overwritten by a complete');
  });

  it('starts no task of a recovered allocation that was being stopped, and retires it', async () => {
    const job = jobOf([{ name: 'main', command: 'run' }]);
    const { allocs, sent, drivers, localState } = await fixture(job);
    const alloc = mockAlloc({ jobId: job.id, desiredStatus: 'stop', clientStatus: 'running', taskStates: { main: running } });
    await localState.save({ alloc, job, handles: {}, taskStates: { main: running } });
    allocs.restore({ allocs: [{ record: { alloc, job, handles: {}, taskStates: { main: running } }, handles: {} }], orphans: new Map() });
    await until('the runner to be retired', () => allocs.runners.size === 0);
    assert.equal(drivers[0]!.machine.tasks().length, 0, 'nothing was started again');
    assert.equal(sent.at(-1)?.clientStatus, 'complete');
    assert.equal((await localState.load(() => undefined)).length, 0, 'its record is gone');
  });
});
