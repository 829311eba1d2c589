import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogChunk, LogOptions, TaskDriver, TaskHandle, TaskStartRequest } from './driver.ts';

/** What a contract task does, for drivers that have no shell to run `ContractTask.sh` (the mock). */
export type ContractBehaviour =
  /** Runs until stopped; exits on SIGTERM. */
  | { kind: 'run' }
  /** Exits with `code` after `afterMs`. */
  | { kind: 'exit'; code: number; afterMs: number }
  /** Runs until killed: SIGTERM is ignored. */
  | { kind: 'ignore-term' }
  /** Prints the lines, waits `afterMs`, prints `later` lines to stdout, exits 0. */
  | { kind: 'print'; stdout: string[]; stderr: string[]; afterMs: number; later: string[] }
  /** Prints `NAME=value` of one environment variable, exits 0. */
  | { kind: 'print-env'; name: string }
  /** Prints `tick 1`, `tick 2`, ... every `everyMs` until stopped. */
  | { kind: 'tick'; everyMs: number }
  /** Runs until stopped; prints `line` each time it gets `signal` (e.g. SIGHUP). */
  | { kind: 'trap'; signal: string; line: string }
  /** Asks to run a program that does not exist. */
  | { kind: 'missing-command'; command: string };

/** A task of the contract: its behaviour, and the same as a POSIX shell script (empty for a missing command). */
export interface ContractTask {
  behaviour: ContractBehaviour;
  sh: string;
}

/** What a driver's test file gives the contract. */
export interface DriverFixture {
  driver: TaskDriver;
  /** A request that runs `task` (drivers with a shell: `/bin/sh -c task.sh`), with a fresh alloc id. */
  request(task: ContractTask, overrides?: Partial<TaskStartRequest>): TaskStartRequest;
  /** Releases what the fixture made (not the tasks: the contract stops and destroys those). */
  cleanup(): Promise<void>;
}

/**
 * Registers the tests every TaskDriver must pass. `makeDriver` is called once per test (and a
 * second time where a test needs a fresh driver instance, as after an agent restart); it returns
 * null when the driver cannot run here, which skips the tests.
 */
export function driverContract(name: string, makeDriver: () => Promise<DriverFixture | null>): void {
  describe(`${name} driver contract`, { timeout: 60_000 }, () => {
    it('starts a long-running task that keeps running until stopped', async (t) => {
      await withFixture(t, makeDriver, async ({ driver, start }) => {
        const handle = await start(task({ kind: 'run' }));
        assert.equal(typeof handle.id, 'string');
        assert.ok(handle.id.length > 0);
        const waited = driver.wait(handle);
        assert.equal(await Promise.race([waited.then(() => 'exited'), sleep(700).then(() => 'running')]), 'running');
        assert.equal(await driver.recover(handle), true);
        await driver.stop(handle, 5000);
        await waited;
      });
    });

    it('wait resolves with the exit code of a task that exits with 3', async (t) => {
      await withFixture(t, makeDriver, async ({ driver, start }) => {
        const handle = await start(task({ kind: 'exit', code: 3, afterMs: 200 }));
        const result = await driver.wait(handle);
        assert.equal(result.exitCode, 3);
        assert.equal(result.oomKilled, false);
        assert.equal((await driver.wait(handle)).exitCode, 3, 'a second wait gives the same answer');
      });
    });

    it('stop ends a task that heeds SIGTERM well within the timeout', async (t) => {
      await withFixture(t, makeDriver, async ({ driver, start }) => {
        const handle = await start(task({ kind: 'run' }));
        await sleep(300); // let the task install its signal trap
        const began = Date.now();
        await driver.stop(handle, 10_000);
        assert.ok(Date.now() - began < 5000, `stop took ${Date.now() - began} ms`);
        const result = await driver.wait(handle);
        assert.notEqual(result.exitCode, 0);
      });
    });

    it('stop kills a task that ignores SIGTERM once the timeout has passed', async (t) => {
      await withFixture(t, makeDriver, async ({ driver, start }) => {
        const handle = await start(task({ kind: 'ignore-term' }));
        await sleep(300); // let the task install its signal trap
        const began = Date.now();
        await driver.stop(handle, 1000);
        const took = Date.now() - began;
        assert.ok(took >= 900, `stop returned after ${took} ms, before the timeout`);
        assert.ok(took < 8000, `stop took ${took} ms`);
        assert.equal((await driver.wait(handle)).exitCode, 137);
      });
    });

    it('stop and destroy are idempotent, and a destroyed task is not recovered', async (t) => {
      await withFixture(t, makeDriver, async ({ driver, start }) => {
        const handle = await start(task({ kind: 'run' }));
        await sleep(300); // let the task install its signal trap
        await driver.stop(handle, 5000);
        await driver.stop(handle, 5000);
        await driver.destroy(handle);
        await driver.destroy(handle);
        await driver.stop(handle, 5000);
        assert.equal(await driver.recover(handle), false);
      });
    });

    it('recover answers false for a task that never existed', async (t) => {
      await withFixture(t, makeDriver, async ({ driver, start }) => {
        const handle = await start(task({ kind: 'exit', code: 0, afterMs: 0 }));
        await driver.wait(handle);
        assert.equal(await driver.recover({ ...handle, id: '4194303' }), false);
      });
    });

    it('the task sees the environment it was given', async (t) => {
      await withFixture(t, makeDriver, async ({ driver, start, fixture }) => {
        const request = fixture.request(task({ kind: 'print-env', name: 'BERTH_CONTRACT_VAR' }), {
          env: { BERTH_CONTRACT_VAR: 'hello contract' },
        });
        const handle = await start(request);
        assert.equal((await driver.wait(handle)).exitCode, 0);
        const { stdout } = await collect(driver, handle);
        assert.match(stdout, /BERTH_CONTRACT_VAR=hello contract/);
      });
    });

    it('logs returns stdout and stderr apart, by stream and by tail', async (t) => {
      await withFixture(t, makeDriver, async ({ driver, start }) => {
        const handle = await start(task({ kind: 'print', stdout: ['line 1', 'line 2', 'line 3'], stderr: ['oops'], afterMs: 0, later: [] }));
        assert.equal((await driver.wait(handle)).exitCode, 0);
        const both = await collect(driver, handle);
        assert.equal(both.stdout, 'line 1\nline 2\nline 3\n');
        assert.equal(both.stderr, 'oops\n');
        assert.deepEqual(await collect(driver, handle, { stream: 'stdout' }), { stdout: 'line 1\nline 2\nline 3\n', stderr: '' });
        assert.deepEqual(await collect(driver, handle, { stream: 'stderr' }), { stdout: '', stderr: 'oops\n' });
        assert.deepEqual(await collect(driver, handle, { stream: 'stdout', tail: 1 }), { stdout: 'line 3\n', stderr: '' });
      });
    });

    it('followed logs deliver new lines and end when the signal aborts', async (t) => {
      await withFixture(t, makeDriver, async ({ driver, start }) => {
        const handle = await start(task({ kind: 'tick', everyMs: 100 }));
        const controller = new AbortController();
        const { stdout } = await collect(driver, handle, { follow: true, signal: controller.signal }, (text) => {
          if (text.includes('tick 3\n')) controller.abort();
        });
        assert.match(stdout, /tick 1\ntick 2\ntick 3\n/);
        await driver.stop(handle, 5000);
      });
    });

    it('followed logs end by themselves when the task exits', async (t) => {
      await withFixture(t, makeDriver, async ({ driver, start }) => {
        const handle = await start(task({ kind: 'print', stdout: ['first'], stderr: [], afterMs: 500, later: ['second'] }));
        const { stdout } = await collect(driver, handle, { follow: true });
        assert.equal(stdout, 'first\nsecond\n');
      });
    });

    it('a fresh driver recovers a running task and wait still gives its exit code', async (t) => {
      await withFixture(t, makeDriver, async ({ start }) => {
        const handle = await start(task({ kind: 'exit', code: 5, afterMs: 1500 }));
        const restarted = await makeDriver();
        assert.ok(restarted, 'the second fixture is available like the first');
        try {
          // The agent keeps handles as JSON.
          const persisted = JSON.parse(JSON.stringify(handle)) as TaskHandle;
          assert.equal(await restarted.driver.recover(persisted), true);
          assert.equal((await restarted.driver.wait(persisted)).exitCode, 5);
        } finally {
          await restarted.cleanup();
        }
      });
    });

    it('signal reaches a running task, which handles it and keeps running', async (t) => {
      await withFixture(t, makeDriver, async ({ driver, start }) => {
        const handle = await start(task({ kind: 'trap', signal: 'SIGHUP', line: 'got-hup' }));
        const waited = driver.wait(handle);
        await sleep(500); // let the task install its signal trap
        const controller = new AbortController();
        const reading = collect(driver, handle, { follow: true, signal: controller.signal }, (text) => {
          if (text.includes('got-hup\ngot-hup\n')) controller.abort();
        });
        await driver.signal(handle, 'SIGHUP');
        await sleep(300);
        await driver.signal(handle, 'HUP');
        assert.equal((await reading).stdout, 'got-hup\ngot-hup\n');
        assert.equal(await Promise.race([waited.then(() => 'exited'), sleep(500).then(() => 'running')]), 'running');
        await driver.stop(handle, 5000);
        await waited;
      });
    });

    it('signal rejects with a clear error for an unknown signal and for a task that has exited', async (t) => {
      await withFixture(t, makeDriver, async ({ driver, start }) => {
        const running = await start(task({ kind: 'run' }));
        await assert.rejects(driver.signal(running, 'SIGNOPE'), /^Error: Cannot signal task ".+": "SIGNOPE" is not a signal of this host/);
        const ended = await start(task({ kind: 'exit', code: 0, afterMs: 0 }));
        await driver.wait(ended);
        await assert.rejects(driver.signal(ended, 'SIGHUP'), /^Error: Cannot signal task ".+".*not running/);
        await driver.stop(running, 5000);
      });
    });

    it('start fails with a clear error for a command that does not exist', async (t) => {
      await withFixture(t, makeDriver, async ({ fixture, start }) => {
        const request = fixture.request(task({ kind: 'missing-command', command: 'berth-no-such-command' }));
        await assert.rejects(start(request), (error: Error) => {
          assert.match(error.message, new RegExp(`^Cannot start task "${request.taskName}": .*berth-no-such-command`));
          return true;
        });
      });
    });
  });
}

/** The contract's task for a behaviour, with its shell script. */
function task(behaviour: ContractBehaviour): ContractTask {
  return { behaviour, sh: script(behaviour) };
}

/** Why the scripts trap TERM: a shell running as PID 1 in a container ignores untrapped signals. */
function script(b: ContractBehaviour): string {
  const lines = (list: string[], to = ''): string => list.map((line) => `echo ${quote(line)}${to}`).join('; ');
  switch (b.kind) {
    case 'run':
      return `trap 'exit 143' TERM; while :; do sleep 1 & wait $!; done`;
    case 'exit':
      return b.afterMs > 0 ? `sleep ${b.afterMs / 1000}; exit ${b.code}` : `exit ${b.code}`;
    case 'ignore-term':
      return `trap '' TERM; while :; do sleep 1; done`;
    case 'print': {
      const parts = [lines(b.stdout), lines(b.stderr, ' >&2')];
      if (b.afterMs > 0) parts.push(`sleep ${b.afterMs / 1000}`);
      parts.push(lines(b.later), 'exit 0');
      return parts.filter(Boolean).join('; ');
    }
    case 'print-env':
      return `printf '%s=%s\\n' ${b.name} "$${b.name}"`;
    case 'tick':
      return `trap 'exit 143' TERM; i=0; while :; do i=$((i+1)); echo "tick $i"; sleep ${b.everyMs / 1000} & wait $!; done`;
    case 'trap':
      return `trap ${quote(`echo ${b.line}`)} ${b.signal.replace(/^SIG/, '')}; trap 'exit 143' TERM; while :; do sleep 1 & wait $!; done`;
    case 'missing-command':
      return '';
  }
}

function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

interface Scope {
  fixture: DriverFixture;
  driver: TaskDriver;
  /** Starts a task and remembers it, so it is stopped and destroyed after the test. */
  start(request: TaskStartRequest | ContractTask): Promise<TaskHandle>;
}

async function withFixture(
  t: TestContext,
  makeDriver: () => Promise<DriverFixture | null>,
  body: (scope: Scope) => Promise<void>,
): Promise<void> {
  const fixture = await makeDriver();
  if (!fixture) {
    t.skip('the driver is not available here');
    return;
  }
  const handles: TaskHandle[] = [];
  const start = async (what: TaskStartRequest | ContractTask): Promise<TaskHandle> => {
    const request = 'behaviour' in what ? fixture.request(what) : what;
    const handle = await fixture.driver.start(request);
    handles.push(handle);
    return handle;
  };
  try {
    await body({ fixture, driver: fixture.driver, start });
  } finally {
    for (const handle of handles) {
      await fixture.driver.stop(handle, 0).catch(() => {});
      await fixture.driver.destroy(handle).catch(() => {});
    }
    await fixture.cleanup();
  }
}

/** Reads a task's logs into text per stream; `onText` sees the stdout text so far after each chunk. */
async function collect(
  driver: TaskDriver,
  handle: TaskHandle,
  options: LogOptions = {},
  onText?: (stdout: string) => void,
): Promise<{ stdout: string; stderr: string }> {
  const chunks: LogChunk[] = [];
  const reading = (async () => {
    let stdout = '';
    for await (const chunk of driver.logs(handle, options)) {
      chunks.push(chunk);
      if (chunk.stream === 'stdout') stdout += chunk.data.toString();
      onText?.(stdout);
    }
  })();
  const timer = new AbortController();
  const limit = sleep(15_000, undefined, { signal: timer.signal }).then(() => {
    throw new Error('Cannot read the logs: the stream did not end within 15 s');
  });
  try {
    await Promise.race([reading, limit]);
  } finally {
    timer.abort();
  }
  const text = (stream: LogChunk['stream']): string =>
    Buffer.concat(chunks.filter((c) => c.stream === stream).map((c) => c.data)).toString();
  return { stdout: text('stdout'), stderr: text('stderr') };
}
