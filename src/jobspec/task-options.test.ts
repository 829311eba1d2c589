import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ErrorDetail, Task } from '../model/index.ts';
import { validateJob } from './validate.ts';

function spec(task: object, type = 'service'): Record<string, unknown> {
  return { id: 'web', type, groups: [{ name: 'web', tasks: [{ name: 'main', driver: 'docker', ...task }] }] };
}

function firstTask(input: unknown): Task {
  const result = validateJob(input);
  assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.errors));
  return result.job.groups[0].tasks[0];
}

function errors(input: unknown): string[] {
  const result = validateJob(input);
  assert.ok(!result.ok, 'expected problems');
  return result.errors.map((e: ErrorDetail) => `${e.path}: ${e.message}`);
}

describe('task driver options', () => {
  test('reads every docker option into the task config', () => {
    const task = firstTask(
      spec({
        config: {
          image: 'busybox',
          entrypoint: ['/bin/sh', '-c'],
          user: '1000:1000',
          stop_signal: 'SIGINT',
          pull: 'never',
          hostname: 'web-1',
          extra_hosts: ['db:10.0.0.5'],
          dns_servers: ['127.0.0.1'],
          dns_search: ['shop-back.network.berth'],
          network_mode: 'host',
          volumes: ['/srv/data:/data:ro', 'cache:/cache', 'secrets/pw:/run/secrets/pw:ro'],
          tmpfs: ['/run/cache:size=64m,mode=1777', '/tmp'],
          labels: { team: 'web' },
          privileged: true,
          cap_add: ['NET_ADMIN'],
          cap_drop: ['NET_RAW'],
          devices: ['/dev/fuse'],
          init: true,
        },
        resources: { memory: '64Mi', memory_max: '128Mi' },
      }),
    );
    assert.deepEqual(task.config, {
      image: 'busybox',
      entrypoint: ['/bin/sh', '-c'],
      user: '1000:1000',
      stopSignal: 'SIGINT',
      pull: 'never',
      hostname: 'web-1',
      extraHosts: ['db:10.0.0.5'],
      dnsServers: ['127.0.0.1'],
      dnsSearch: ['shop-back.network.berth'],
      networkMode: 'host',
      volumes: ['/srv/data:/data:ro', 'cache:/cache', 'secrets/pw:/run/secrets/pw:ro'],
      tmpfs: ['/run/cache:size=64m,mode=1777', '/tmp'],
      labels: { team: 'web' },
      privileged: true,
      capAdd: ['NET_ADMIN'],
      capDrop: ['NET_RAW'],
      devices: ['/dev/fuse'],
      init: true,
    });
    assert.equal(task.resources.memoryMaxMiB, 128);
  });

  test('reads lifecycle, max_run_duration and logs', () => {
    const task = firstTask(spec({ config: { image: 'b' }, lifecycle: { hook: 'prestart', sidecar: true }, max_run_duration: '30s', logs: { max_files: 3, max_file_size: '1Mi' } }, 'batch'));
    assert.deepEqual(task.lifecycle, { hook: 'prestart', sidecar: true });
    assert.equal(task.maxRunDurationMs, 30_000);
    assert.deepEqual(task.logs, { maxFiles: 3, maxFileSizeMiB: 1 });
  });

  test('names the path of each bad option', () => {
    assert.deepEqual(
      errors(spec({ config: { image: 'b', pull: 'sometimes', volumes: ['data', 'local/../../etc:/etc'], tmpfs: ['run'], privileged: 'yes' }, lifecycle: { hook: 'poststop', sidecar: true }, resources: { memory: '64Mi', memory_max: '32Mi' } })).sort(),
      [
        'groups[0].tasks[0].config.privileged: must be true or false, got "yes"',
        'groups[0].tasks[0].config.pull: must be one of always, missing, never, got "sometimes"',
        'groups[0].tasks[0].config.tmpfs[0]: must be /container/path[:mount options], e.g. /run:size=64m, got "run"',
        'groups[0].tasks[0].config.volumes[0]: must be /host/path:/container/path[:ro], volume-name:/container/path[:ro] or a path in the task directory (secrets/x:/container/path[:ro], no ..), got "data"',
      'groups[0].tasks[0].config.volumes[1]: must be /host/path:/container/path[:ro], volume-name:/container/path[:ro] or a path in the task directory (secrets/x:/container/path[:ro], no ..), got "local/../../etc:/etc"',
        'groups[0].tasks[0].lifecycle.sidecar: only prestart tasks can be sidecars',
        'groups[0].tasks[0].resources.memory_max: must be at least memory (64 MiB)',
      ],
    );
  });
});
