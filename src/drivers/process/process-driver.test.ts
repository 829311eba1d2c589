import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { driverContract, type ContractTask } from '../contract.test-suite.ts';
import type { TaskHandle, TaskStartRequest } from '../driver.ts';
import { ProcessDriver } from './process-driver.ts';
import { detectMemoryCgroup } from './cgroup.ts';
import { driverOptionsContract } from '../options-contract.test-suite.ts';

function request(root: string, overrides: Partial<TaskStartRequest> = {}): TaskStartRequest {
  const allocId = overrides.allocId ?? randomUUID();
  return {
    allocId,
    taskName: 'web',
    nodeName: 'node-test',
    config: { command: '/bin/sh' },
    env: {},
    args: [],
    resources: { cpu: 0.1, memoryMiB: 64 },
    ports: [],
    taskDir: join(root, allocId),
    ...overrides,
  };
}

function shell(root: string, sh: string, overrides: Partial<TaskStartRequest> = {}): TaskStartRequest {
  return request(root, { config: { command: '/bin/sh', args: ['-c', sh] }, args: ['-c', sh], ...overrides });
}

driverContract('process', async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-process-'));
  return {
    driver: new ProcessDriver(),
    request: (task: ContractTask, overrides = {}) =>
      task.behaviour.kind === 'missing-command'
        ? request(root, { config: { command: task.behaviour.command }, ...overrides })
        : shell(root, task.sh, overrides),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

driverOptionsContract('process', async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-process-opts-'));
  // A task run as another user must reach its task dir, as it can under an agent's data dir.
  await chmod(root, 0o755);
  return {
    driver: new ProcessDriver({ rotateEveryMs: 100 }),
    shell: (sh, config = {}, overrides = {}) => ({ ...shell(root, sh, overrides), config: { command: '/bin/sh', args: ['-c', sh], ...config } }),
    memoryLimits: detectMemoryCgroup() !== undefined,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

/** Pids of the processes in process group `pgid`. */
async function groupMembers(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return members;
}

describe('process driver', { timeout: 30_000 }, () => {
  let root = '';
  const driver = new ProcessDriver();
  const handles: TaskHandle[] = [];
  const start = async (req: TaskStartRequest): Promise<TaskHandle> => {
    const handle = await driver.start(req);
    handles.push(handle);
    return handle;
  };
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-process-'));
  });
  after(async () => {
    for (const handle of handles) await driver.destroy(handle).catch(() => {});
    await rm(root, { recursive: true, force: true });
  });

  it('keeps a task running after the agent that started it exits, and still learns its exit code', async () => {
    const req = shell(root, 'sleep 1; exit 7');
    // A separate agent process starts the task, prints its handle and exits at once.
    const script = `
      import { ProcessDriver } from ${JSON.stringify(new URL('./process-driver.ts', import.meta.url).href)};
      const handle = await new ProcessDriver().start(${JSON.stringify(req)});
      process.stdout.write(JSON.stringify(handle));
      process.exit(0);`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    const handle = JSON.parse(stdout) as TaskHandle;
    handles.push(handle);
    assert.equal(await driver.recover(handle), true);
    const result = await driver.wait(handle);
    assert.equal(result.exitCode, 7);
    assert.equal(await driver.recover(handle), true, 'its exit status stays knowable until destroy');
  });

  it('does not take a process that reused the pid for the task', async () => {
    const handle = await start(shell(root, 'sleep 30'));
    const reused = { ...handle, state: { ...handle.state, startTime: Number(handle.state.startTime) + 1 } };
    assert.equal(await driver.recover(reused), false);
    await driver.stop(reused, 100);
    assert.equal(await driver.recover(handle), true, 'stop on the stale handle left the real process alone');
  });

  it('reads one instance alone with `instance`, though a restart appends to the same files', async () => {
    const first = shell(root, 'echo first');
    const h1 = await start(first);
    await driver.wait(h1);
    const h2 = await start({ ...shell(root, 'echo second'), allocId: first.allocId, taskDir: first.taskDir });
    await driver.wait(h2);
    const read = async (options: { instance?: boolean }): Promise<string> => {
      let out = '';
      for await (const c of driver.logs(h2, options)) out += c.data.toString();
      return out;
    };
    assert.equal(await read({}), 'first\nsecond\n', 'the task output, every run');
    assert.equal(await read({ instance: true }), 'second\n', 'this run alone');
  });

  it('reads the output written since a time, to the log check (here every 50 ms)', async () => {
    const sampled = new ProcessDriver({ rotateEveryMs: 50 });
    const h = await sampled.start(shell(root, 'echo early; echo early-err >&2; sleep 0.6; echo late; echo late-err >&2; sleep 5'));
    const t0 = Date.now();
    await sleep(300);
    const between = Date.now();
    await sleep(700);
    const read = async (since: number): Promise<string> => {
      let out = '';
      for await (const c of sampled.logs(h, { since })) out += c.data.toString();
      return out;
    };
    assert.equal(await read(between), 'late\nlate-err\n');
    assert.equal(await read(t0 - 60_000), 'early\nlate\nearly-err\nlate-err\n', 'a time before the task: all of it');
    await sampled.destroy(h);
  });

  it('runs the task in its workdir and writes its output to files in the task dir', async () => {
    const workdir = await mkdtemp(join(root, 'work-'));
    const req = shell(root, 'pwd; echo problem >&2', { config: { command: '/bin/sh', workdir } });
    const handle = await start(req);
    assert.equal((await driver.wait(handle)).exitCode, 0);
    assert.equal(await readFile(join(req.taskDir, 'web.stdout'), 'utf8'), `${workdir}\n`);
    assert.equal(await readFile(join(req.taskDir, 'web.stderr'), 'utf8'), 'problem\n');
  });

  it('finds the command in the PATH of the task environment', async () => {
    const bin = await mkdtemp(join(root, 'bin-'));
    await writeFile(join(bin, 'berth-hello'), '#!/bin/sh\necho hello from path\n');
    await chmod(join(bin, 'berth-hello'), 0o755);
    const handle = await start(request(root, { config: { command: 'berth-hello' }, env: { PATH: `${bin}:/usr/bin:/bin` } }));
    assert.equal((await driver.wait(handle)).exitCode, 0);
    let out = '';
    for await (const chunk of driver.logs(handle)) out += chunk.data.toString();
    assert.equal(out, 'hello from path\n');
  });

  it('stop ends the whole process group of the task', async () => {
    const handle = await start(shell(root, 'sleep 100 & sleep 100 & wait'));
    await sleep(200);
    const pgid = Number(handle.id);
    assert.ok((await groupMembers(pgid)).length >= 3, 'the wrapper, the shell and two sleeps');
    await driver.stop(handle, 2000);
    // The wrapper has exited; its siblings got the same signal and are gone a moment later.
    for (let i = 0; i < 40 && (await groupMembers(pgid)).length > 0; i++) await sleep(50);
    assert.deepEqual(await groupMembers(pgid), []);
  });

  it('fails start clearly for a missing working directory or a command that is not executable', async () => {
    const missing = join(root, 'no-such-dir');
    await assert.rejects(start(shell(root, 'true', { config: { command: '/bin/sh', workdir: missing } })), {
      message: `Cannot start task "web": working directory "${missing}" does not exist`,
    });
    const file = join(root, 'not-executable.sh');
    await writeFile(file, 'echo hi\n');
    await assert.rejects(start(request(root, { config: { command: file } })), {
      message: `Cannot start task "web": command "${file}" is not executable`,
    });
    await assert.rejects(start(request(root, { config: {} })), {
      message: 'Cannot start task "web": the process driver needs config.command',
    });
  });

  it('is always detected, and lists running tasks by their allocation and task name', async () => {
    const info = await driver.fingerprint();
    assert.equal(info.detected, true);
    assert.equal(info.healthy, true);
    const allocId = randomUUID();
    const handle = await start(shell(root, 'sleep 30', { allocId, env: { BERTH_ALLOC_ID: allocId, BERTH_TASK_NAME: 'web' } }));
    const found = (await driver.list('node-test')).find((h) => h.allocId === allocId);
    assert.ok(found, 'the task is listed');
    assert.deepEqual([found.id, found.taskName, found.state.startTime, found.state.exitFile], [handle.id, 'web', handle.state.startTime, handle.state.exitFile]);
    assert.equal(await driver.recover(found), true);
    await driver.stop(found, 1000);
    assert.equal((await driver.list('node-test')).some((h) => h.allocId === allocId), false, 'a stopped task is not listed');
  });
});
