import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { driverContract, type ContractBehaviour, type ContractTask } from '../contract.test-suite.ts';
import type { LogChunk, TaskDriver, TaskHandle, TaskStartRequest } from '../driver.ts';
import { MockDriver } from './mock-driver.ts';
import { MockMachine } from './mock-machine.ts';

function request(command: string, args: string[] = [], overrides: Partial<TaskStartRequest> = {}): TaskStartRequest {
  return {
    allocId: randomUUID(),
    taskName: 'web',
    nodeName: 'node-test',
    config: { command, args },
    env: {},
    args,
    resources: { cpu: 0.1, memoryMiB: 64 },
    ports: [],
    taskDir: '/nonexistent',
    ...overrides,
  };
}

/** The contract's behaviours in the mock's little language. */
function mockProgram(b: ContractBehaviour): { command: string; args: string[] } {
  switch (b.kind) {
    case 'run':
      return { command: 'run', args: [] };
    case 'exit':
      return { command: `exit:${b.code}:${b.afterMs}`, args: [] };
    case 'ignore-term':
      return { command: 'ignore-term', args: [] };
    case 'print': {
      const args = [...b.stdout.map((l) => `out:${l}`), ...b.stderr.map((l) => `err:${l}`)];
      if (b.afterMs > 0) args.push(`sleep:${b.afterMs}`);
      return { command: 'exit:0', args: [...args, ...b.later.map((l) => `out:${l}`)] };
    }
    case 'print-env':
      return { command: 'exit:0', args: [`env:${b.name}`] };
    case 'tick':
      return { command: 'run', args: [`tick:${b.everyMs}`] };
    case 'trap':
      return { command: 'run', args: [`trap:${b.signal}:${b.line}`] };
    case 'missing-command':
      return { command: b.command, args: [] };
  }
}

// One machine for every fixture, so the fresh driver of the recover test finds the tasks.
const machine = new MockMachine();
driverContract('mock', async () => ({
  driver: new MockDriver({ machine }),
  request: (task: ContractTask, overrides = {}) => {
    const { command, args } = mockProgram(task.behaviour);
    return request(command, args, overrides);
  },
  cleanup: async () => {},
}));

async function text(driver: TaskDriver, handle: TaskHandle): Promise<string> {
  const chunks: LogChunk[] = [];
  for await (const chunk of driver.logs(handle)) chunks.push(chunk);
  return chunks.map((c) => `${c.stream}:${c.data.toString()}`).join('');
}

describe('mock driver', () => {
  it('prints its args in order and exits with the code after the delay', async () => {
    const driver = new MockDriver();
    const began = Date.now();
    const handle = await driver.start(request('exit:3:50', ['out:one', 'err:two', 'env:GREETING'], { env: { GREETING: 'hi' } }));
    assert.equal(await text(driver, handle), 'stdout:one\nstderr:two\nstdout:GREETING=hi\n');
    assert.deepEqual(await driver.wait(handle), { exitCode: 3, oomKilled: false });
    assert.ok(Date.now() - began >= 45);
  });

  it('fails start on fail-start and on an unknown command', async () => {
    const driver = new MockDriver();
    await assert.rejects(driver.start(request('fail-start:disk full')), { message: 'Cannot start task "web": disk full' });
    await assert.rejects(driver.start(request('fail-start')), { message: 'Cannot start task "web": mock start failure' });
    await assert.rejects(driver.start(request('frobnicate')), { message: 'Cannot start task "web": command "frobnicate" not found' });
    await assert.rejects(driver.start(request('exit:x')), /needs an exit code 0-255/);
  });

  it('reports oom as 137 with oomKilled set', async () => {
    const driver = new MockDriver();
    const handle = await driver.start(request('oom:10'));
    assert.deepEqual(await driver.wait(handle), { exitCode: 137, signal: 'SIGKILL', oomKilled: true });
  });

  it('lets a test end a task from outside and lists tasks by node', async () => {
    const driver = new MockDriver({ startDelayMs: 5 });
    const a = await driver.start(request('run', [], { nodeName: 'a' }));
    const b = await driver.start(request('run', [], { nodeName: 'b' }));
    assert.deepEqual((await driver.list('a')).map((h) => h.id), [a.id]);
    driver.machine.exit(a.id, 2);
    assert.equal((await driver.wait(a)).exitCode, 2);
    assert.equal(driver.machine.task(b.id)?.exit, undefined);
    await driver.destroy(b);
  });

  it('loses every task when its machine crashes', async () => {
    const driver = new MockDriver();
    const handle = await driver.start(request('run'));
    const waited = driver.wait(handle);
    driver.machine.crash();
    assert.equal((await waited).exitCode, -1);
    assert.equal(await driver.recover(handle), false);
    assert.deepEqual(await driver.list('node-test'), []);
  });
});
