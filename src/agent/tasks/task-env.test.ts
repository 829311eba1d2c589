import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mockAlloc, mockJob, mockTask } from '../../testing/index.ts';
import { interpolate, taskDirs, taskEnv } from './task-env.ts';

const job = mockJob({ id: 'shop' });
const alloc = mockAlloc({ id: 'a-1234', jobId: 'shop', group: 'web', index: 2, name: 'shop.web[2]', ports: [{ label: 'http', value: 23456, to: 8080 }] });
const task = mockTask({ name: 'server', resources: { cpu: 0.5, memoryMiB: 256 } });

describe('taskEnv', () => {
  it('tells the task where it runs through BERTH_* variables', () => {
    const env = taskEnv({ job, alloc, task, nodeAddress: '10.0.0.7', driver: 'docker' });
    assert.deepEqual(
      { ...env },
      {
        BERTH_ALLOC_ID: 'a-1234',
        BERTH_ALLOC_NAME: 'shop.web[2]',
        BERTH_ALLOC_INDEX: '2',
        BERTH_JOB_ID: 'shop',
        BERTH_GROUP_NAME: 'web',
        BERTH_TASK_NAME: 'server',
        BERTH_NODE_ADDRESS: '10.0.0.7',
        BERTH_CPU_LIMIT: '0.5',
        BERTH_MEMORY_LIMIT: '256',
        BERTH_PORT_http: '8080',
        BERTH_HOST_PORT_http: '23456',
      },
    );
  });

  it('gives a docker task the container port to listen on and a process the host port', () => {
    assert.equal(taskEnv({ job, alloc, task, nodeAddress: '10.0.0.7', driver: 'docker' }).BERTH_PORT_http, '8080');
    const env = taskEnv({ job, alloc, task, nodeAddress: '10.0.0.7', driver: 'process' });
    assert.equal(env.BERTH_PORT_http, '23456');
    assert.equal(env.BERTH_HOST_PORT_http, '23456');
  });

  it('interpolates ${VAR} in the task env, and the task env wins over BERTH_*', () => {
    const t = mockTask({ env: { LISTEN: '0.0.0.0:${BERTH_PORT_http}', GREETING: 'hello from ${BERTH_ALLOC_NAME}', BERTH_NODE_ADDRESS: 'override' } });
    const env = taskEnv({ job, alloc, task: t, nodeAddress: '10.0.0.7', driver: 'process' });
    assert.equal(env.LISTEN, '0.0.0.0:23456');
    assert.equal(env.GREETING, 'hello from shop.web[2]');
    assert.equal(env.BERTH_NODE_ADDRESS, 'override');
  });

  it('names the task directory and payload where the task sees them: /local in a container, the host path for a process', () => {
    const dispatched = { ...job, payload: Buffer.from('x').toString('base64') };
    const withDir = mockTask({ env: { CONF: '${BERTH_TASK_DIR}/app.conf' } });
    const docker = taskEnv({ job: dispatched, alloc, task: withDir, nodeAddress: '10.0.0.7', driver: 'docker', dirs: taskDirs('/data/tasks/a-1234/server', 'docker') });
    assert.deepEqual([docker.BERTH_TASK_DIR, docker.BERTH_SECRETS_DIR, docker.BERTH_PAYLOAD_FILE, docker.CONF], ['/local', '/secrets', '/local/payload', '/local/app.conf']);
    const proc = taskEnv({ job: dispatched, alloc, task: withDir, nodeAddress: '10.0.0.7', driver: 'process', dirs: taskDirs('/data/tasks/a-1234/server', 'process') });
    assert.deepEqual(
      [proc.BERTH_TASK_DIR, proc.BERTH_SECRETS_DIR, proc.BERTH_PAYLOAD_FILE],
      ['/data/tasks/a-1234/server/local', '/data/tasks/a-1234/server/secrets', '/data/tasks/a-1234/server/local/payload'],
    );
    assert.equal(taskEnv({ job, alloc, task, nodeAddress: '10.0.0.7', driver: 'docker', dirs: taskDirs('/d', 'docker') }).BERTH_PAYLOAD_FILE, undefined, 'no payload, no variable');
  });

  it('leaves unknown variables as written', () => {
    const env = taskEnv({ job, alloc, task: mockTask({ env: { A: '${NOPE}-${BERTH_JOB_ID}-$HOME-${1X}' } }), nodeAddress: '10.0.0.7', driver: 'docker' });
    assert.equal(env.A, '${NOPE}-shop-$HOME-${1X}');
  });
});

describe('interpolate', () => {
  it('replaces every ${VAR} in args from the env', () => {
    assert.equal(interpolate('--port=${P} --again=${P} --name ${N}', { P: '80', N: 'web' }), '--port=80 --again=80 --name web');
  });

  it('keeps an empty value as empty and unknown names as written', () => {
    assert.equal(interpolate('[${EMPTY}][${MISSING}]', { EMPTY: '' }), '[][${MISSING}]');
  });
});
