import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mockAlloc, mockJob, mockTask } from '../../testing/index.ts';
import { taskStartRequest, type StartRequestInput } from './start-request.ts';

const job = mockJob({ id: 'shop' });
const alloc = mockAlloc({ id: 'a-1234', jobId: 'shop', group: 'web', index: 2, name: 'shop.web[2]', ports: [{ label: 'http', value: 23456, to: 8080 }] });
const task = mockTask({
  name: 'server',
  env: { GREETING: 'hello from ${BERTH_ALLOC_NAME}' },
  config: { image: 'web:1', args: ['--listen', '0.0.0.0:${BERTH_PORT_http}', '--greet', '${GREETING}'] },
  resources: { cpu: 0.5, memoryMiB: 256 },
});
const input = (over: Partial<StartRequestInput> = {}): StartRequestInput => ({ job, alloc, task, nodeName: 'n1', nodeAddress: '10.0.0.7', driverName: 'docker', taskDir: '/data/allocs/a-1234/server', ...over });

describe('taskStartRequest', () => {
  it('names the task, its node and its directory, and passes its config and resources on', () => {
    const r = taskStartRequest(input());
    assert.equal(r.allocId, 'a-1234');
    assert.equal(r.taskName, 'server');
    assert.equal(r.nodeName, 'n1');
    assert.equal(r.taskDir, '/data/allocs/a-1234/server');
    assert.deepEqual(r.config, task.config);
    assert.deepEqual(r.resources, { cpu: 0.5, memoryMiB: 256 });
    assert.equal(r.logs, undefined);
  });

  it('interpolates the args from the task env, which the user env joins', () => {
    const r = taskStartRequest(input());
    assert.deepEqual(r.args, ['--listen', '0.0.0.0:8080', '--greet', 'hello from shop.web[2]']);
    assert.equal(r.env.GREETING, 'hello from shop.web[2]');
    assert.equal(r.env.BERTH_TASK_DIR, '/local', 'a docker task sees its directory where it is mounted');
  });

  it('maps a docker task host port to the label container port, and a process to the host port itself', () => {
    assert.deepEqual(taskStartRequest(input()).ports, [{ hostPort: 23456, containerPort: 8080 }]);
    const proc = taskStartRequest(input({ driverName: 'process' }));
    assert.deepEqual(proc.ports, [{ hostPort: 23456, containerPort: 23456 }]);
    assert.deepEqual(proc.args, ['--listen', '0.0.0.0:23456', '--greet', 'hello from shop.web[2]']);
    assert.equal(proc.env.BERTH_TASK_DIR, '/data/allocs/a-1234/server/local');
  });

  it('carries the task log policy when it sets one', () => {
    const logs = { maxFiles: 3, maxFileSizeMiB: 5 };
    assert.deepEqual(taskStartRequest(input({ task: { ...task, logs } })).logs, logs);
  });

  it('is pure: the same input gives the same request, and the input is left as it was', () => {
    const before = JSON.stringify(input());
    assert.deepEqual(taskStartRequest(input()), taskStartRequest(input()));
    assert.equal(JSON.stringify(input()), before);
  });
});
