/**
 * What the agent's unit tests share: a temporary directory removed after the file's tests, a
 * poll for a condition, a job of one group from a list of tasks, and an alloc runner on mock
 * drivers with its local state in that directory.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AllocUpdate, ServerPool } from '../api/index.ts';
import { mockDrivers, type TaskDriver } from '../drivers/index.ts';
import { silentLogger, systemClock, type Clock } from '../lib/index.ts';
import type { Allocation, DriverName, Job, RestartPolicy, Task } from '../model/index.ts';
import { mockAlloc, mockGroup, mockJob, mockTask } from '../testing/index.ts';
import { AllocRunner } from './allocs/alloc-runner.ts';
import { LocalState } from './allocs/local-state.ts';

/** A fresh directory under the system's temporary one, removed once the test file's tests end (call it at the top level of the file). */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `berth-${prefix}-`));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Resolves once `cond` holds, polling every 5 ms; fails naming `what` after `ms`. */
export async function until(what: string, cond: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A task of `jobOf`: a mock driver command and anything else of a task. */
export type TaskLine = Partial<Task> & { name: string; command: string };

/**
 * A job of one group running `tasks` (on the docker mock unless a task names its driver), with a
 * short kill timeout and no restarts unless `restart` says otherwise.
 */
export function jobOf(tasks: TaskLine[], options: { type?: Job['type']; restart?: Partial<RestartPolicy> } = {}): Job {
  return mockJob({
    ...(options.type ? { type: options.type } : {}),
    groups: [
      mockGroup({
        tasks: tasks.map(({ command, ...t }) => mockTask({ driver: 'docker', config: { command }, killTimeoutMs: 50, ...t })),
        restart: { attempts: 0, intervalMs: 60_000, delayMs: 10, mode: 'fail', ...options.restart },
      }),
    ],
  });
}

/** What an alloc runner of a test is built with; everything but the job has a default. */
export interface RunnerFixtureOptions {
  job: Job;
  /** Default: a mock allocation of the job. */
  alloc?: Allocation;
  /** Drivers by name. Default: both mocks (docker and process) on one machine. */
  drivers?: TaskDriver[];
  /** The local state the runner saves to. Default: a new one in a temporary directory. */
  localState?: LocalState;
  servers?: ServerPool;
  dnsServers?: string[];
  clock?: Clock;
}

/** An alloc runner (not started) as the agent builds one, with the updates it reported. */
export interface RunnerFixture {
  runner: AllocRunner;
  alloc: Allocation;
  localState: LocalState;
  drivers: TaskDriver[];
  updates: AllocUpdate[];
}

/** Made when the test file loads, so that it goes after all of the file's tests (not the first one's). */
const dataRoot = tempDir('agent-data');

/** Open a local state in a fresh directory. */
export async function openLocalState(): Promise<LocalState> {
  const localState = new LocalState(fs.mkdtempSync(path.join(dataRoot, 'data-')));
  await localState.open();
  return localState;
}

/** Build an alloc runner on mock drivers, as `Agent` does for each allocation. */
export async function allocRunner(options: RunnerFixtureOptions): Promise<RunnerFixture> {
  const drivers = options.drivers ?? mockDrivers();
  const localState = options.localState ?? (await openLocalState());
  const alloc = options.alloc ?? mockAlloc({ jobId: options.job.id });
  const updates: AllocUpdate[] = [];
  const runner = new AllocRunner(alloc, options.job, {
    nodeName: 'n1',
    nodeAddress: '127.0.0.1',
    drivers: new Map<DriverName, TaskDriver>(drivers.map((d) => [d.name, d])),
    defaultDriver: 'docker',
    localState,
    clock: options.clock ?? systemClock,
    logger: silentLogger(),
    onChange: (u) => updates.push(u),
    servers: options.servers,
    dnsServers: options.dnsServers,
  });
  return { runner, alloc, localState, drivers, updates };
}
