import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { TaskConfig } from '../model/index.ts';
import type { TaskDriver, TaskHandle, TaskStartRequest } from './driver.ts';

/** What a driver that runs shell scripts gives the options contract. */
export interface ShellFixture {
  driver: TaskDriver;
  /** A request that runs `/bin/sh -c sh` with `config` merged into the task's config. */
  shell(sh: string, config?: Partial<TaskConfig>, overrides?: Partial<TaskStartRequest>): TaskStartRequest;
  /** Whether this host lets the driver enforce memory limits (cgroups, root). */
  memoryLimits: boolean;
  cleanup(): Promise<void>;
}

/**
 * The task options both real drivers (docker, process) must honour the same way: working dir,
 * user, stop signal, memory limit, log rotation by size. The mock has no shell and is not held to it.
 */
export function driverOptionsContract(name: string, make: () => Promise<ShellFixture | null>): void {
  describe(`${name} driver options contract`, { timeout: 60_000 }, () => {
    it('runs the task in its working dir as the user it names', async (t) => {
      await withShell(t, make, async (f, run) => {
        const { code, out } = await run(f.shell('pwd; id -u; id -g', { workdir: '/tmp', user: '1234:2345' }));
        assert.equal(code, 0, out);
        assert.equal(out, '/tmp\n1234\n2345\n');
      });
    });

    it('stops the task with its stop signal', async (t) => {
      await withShell(t, make, async (f, _run, track) => {
        const sh = `trap 'echo got INT; exit 0' INT; trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done`;
        const handle = track(await f.driver.start(f.shell(sh, { stopSignal: 'SIGINT' })));
        await until(async () => (await text(f.driver, handle)).includes('ready'));
        await f.driver.stop(handle, 5000);
        const result = await f.driver.wait(handle);
        assert.equal(result.exitCode, 0);
        assert.match(await text(f.driver, handle), /got INT/);
      });
    });

    it('kills a task that goes over its memory limit and says it ran out of memory', async (t) => {
      await withShell(t, make, async (f, run) => {
        if (!f.memoryLimits) return t.skip('this host does not let the driver limit memory');
        const { code, oomKilled } = await run(f.shell('head -c 300000000 /dev/zero | tail > /dev/null'), {}, { resources: { cpu: 0.1, memoryMiB: 16, memoryMaxMiB: 24 } });
        assert.equal(code, 137);
        assert.equal(oomKilled, true);
      });
    });

    it('rotates the log by size, keeping the newest output', async (t) => {
      await withShell(t, make, async (f, run) => {
        // About 640 KB in 40 bursts, against files of 64 KiB.
        const sh = 'for i in $(seq 1 40); do seq 1 2000 | sed "s/^/$i-/"; sleep 0.05; done';
        const { code, out } = await run(f.shell(sh), {}, { logs: { maxFiles: 2, maxFileSizeMiB: 1 / 16 } });
        assert.equal(code, 0);
        assert.ok(out.length < 4 * 64 * 1024, `the log holds ${out.length} bytes`);
        assert.ok(out.endsWith('40-1999\n40-2000\n'), `the newest lines are kept: ...${out.slice(-40)}`);
      });
    });
  });
}

type Run = (request: TaskStartRequest, config?: Partial<TaskConfig>, overrides?: Partial<TaskStartRequest>) => Promise<{ code: number; out: string; oomKilled: boolean }>;

async function withShell(
  t: TestContext,
  make: () => Promise<ShellFixture | null>,
  body: (f: ShellFixture, run: Run, track: (h: TaskHandle) => TaskHandle) => Promise<void>,
): Promise<void> {
  const f = await make();
  if (!f) return void t.skip('the driver is not available here');
  const handles: TaskHandle[] = [];
  const track = (h: TaskHandle): TaskHandle => (handles.push(h), h);
  const run: Run = async (request, _config, overrides = {}) => {
    const handle = track(await f.driver.start({ ...request, ...overrides }));
    const result = await f.driver.wait(handle);
    return { code: result.exitCode, out: await text(f.driver, handle), oomKilled: result.oomKilled };
  };
  try {
    await body(f, run, track);
  } finally {
    for (const h of handles) {
      await f.driver.stop(h, 0).catch(() => {});
      await f.driver.destroy(h).catch(() => {});
    }
    await f.cleanup();
  }
}

async function text(driver: TaskDriver, handle: TaskHandle): Promise<string> {
  let out = '';
  for await (const c of driver.logs(handle, { stream: 'stdout' })) out += c.data.toString();
  return out;
}

async function until(probe: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
