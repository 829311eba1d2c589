import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskStartRequest } from '../driver.ts';
import { containerCreateOptions, containerName } from './container-spec.ts';
import { parseDockerHost } from './docker-host.ts';
import { demuxDockerLogs } from './docker-logs.ts';

const base: TaskStartRequest = {
  allocId: 'a1',
  taskName: 'web',
  nodeName: 'n1',
  config: { image: 'img' },
  env: { A: '1', B: 'x=y' },
  args: [],
  resources: { cpu: 0, memoryMiB: 0 },
  ports: [],
  taskDir: '/tmp',
};

describe('container spec', () => {
  it('names containers by node, task and alloc in the characters Docker accepts', () => {
    assert.equal(containerName('node 1', 'web/api', 'abc'), 'berth-node_1-web_api-abc');
  });

  it('runs a command without the image entrypoint, and args alone replace the image CMD', () => {
    const withCommand = containerCreateOptions({ ...base, config: { image: 'img', command: 'srv' }, args: ['-p', '1'] }, 'img');
    assert.deepEqual(withCommand.Entrypoint, []);
    assert.deepEqual(withCommand.Cmd, ['srv', '-p', '1']);
    const argsOnly = containerCreateOptions({ ...base, args: ['--flag'] }, 'img');
    assert.equal(argsOnly.Entrypoint, undefined);
    assert.deepEqual(argsOnly.Cmd, ['--flag']);
    const neither = containerCreateOptions(base, 'img');
    assert.equal(neither.Cmd, undefined);
  });

  it('publishes every port on all host addresses and turns resources into limits', () => {
    const options = containerCreateOptions(
      {
        ...base,
        resources: { cpu: 1.5, memoryMiB: 256 },
        ports: [
          { hostPort: 20001, containerPort: 80 },
          { hostPort: 20002, containerPort: 80 },
          { hostPort: 20003, containerPort: 9090 },
        ],
      },
      'img',
    );
    assert.deepEqual(options.ExposedPorts, { '80/tcp': {}, '9090/tcp': {} });
    assert.deepEqual(options.HostConfig?.PortBindings, {
      '80/tcp': [
        { HostIp: '0.0.0.0', HostPort: '20001' },
        { HostIp: '0.0.0.0', HostPort: '20002' },
      ],
      '9090/tcp': [{ HostIp: '0.0.0.0', HostPort: '20003' }],
    });
    assert.equal(options.HostConfig?.Memory, 256 * 1024 * 1024);
    assert.equal(options.HostConfig?.NanoCpus, 1_500_000_000);
    assert.deepEqual(options.Env, ['A=1', 'B=x=y']);
    assert.deepEqual(options.Labels, { 'berth.alloc': 'a1', 'berth.task': 'web', 'berth.node': 'n1' });
  });
});

describe('docker host', () => {
  it('parses unix, bare path and tcp addresses', () => {
    assert.deepEqual(parseDockerHost('unix:///run/d.sock'), { socketPath: '/run/d.sock' });
    assert.deepEqual(parseDockerHost('/run/d.sock'), { socketPath: '/run/d.sock' });
    assert.deepEqual(parseDockerHost('tcp://10.0.0.1:2375'), { host: '10.0.0.1', port: 2375, protocol: 'http' });
    assert.deepEqual(parseDockerHost('tcp://h:2376'), { host: 'h', port: 2376, protocol: 'https' });
    assert.throws(() => parseDockerHost('ssh://h'), /^Error: Cannot use Docker host "ssh:\/\/h": unsupported scheme "ssh:"/);
  });
});

describe('docker log demux', () => {
  const frame = (type: number, text: string): Buffer => {
    const data = Buffer.from(text);
    const header = Buffer.alloc(8);
    header[0] = type;
    header.writeUInt32BE(data.length, 4);
    return Buffer.concat([header, data]);
  };

  it('splits frames that arrive packed together or cut in pieces', async () => {
    const all = Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, 'out 2\n')]);
    const pieces = [all.subarray(0, 3), all.subarray(3, 17), all.subarray(17)];
    const chunks = [];
    for await (const chunk of demuxDockerLogs(pieces)) chunks.push(`${chunk.stream}:${chunk.data.toString()}`);
    assert.deepEqual(chunks, ['stdout:out 1\n', 'stderr:err 1\n', 'stdout:out 2\n']);
  });

  it('turns the driver options into the Engine API fields, berth labels winning', () => {
    const o = containerCreateOptions(
      {
        ...base,
        config: { image: 'img', privileged: true, init: true, networkMode: 'host', hostname: 'h', labels: { 'berth.alloc': 'forged', team: 'web' }, volumes: ['/a:/b:ro', 'v:/c'] },
        ports: [{ hostPort: 8080, containerPort: 80 }],
      },
      'img',
    );
    assert.equal(o.HostConfig?.Privileged, true);
    assert.equal(o.HostConfig?.Init, true);
    assert.equal(o.HostConfig?.NetworkMode, 'host');
    assert.deepEqual(o.HostConfig?.PortBindings, {}, 'nothing to publish in the host network');
    assert.equal(o.Hostname, undefined, 'the host network keeps the host name');
    assert.deepEqual(o.Labels, { team: 'web', 'berth.alloc': 'a1', 'berth.task': 'web', 'berth.node': 'n1' });
    assert.deepEqual(o.HostConfig?.Mounts, [
      { Type: 'bind', Source: '/tmp/local', Target: '/local', ReadOnly: false },
      { Type: 'bind', Source: '/tmp/secrets', Target: '/secrets', ReadOnly: false },
      { Type: 'bind', Source: '/a', Target: '/b', ReadOnly: true },
      { Type: 'volume', Source: 'v', Target: '/c', ReadOnly: false },
    ]);
    assert.deepEqual(o.HostConfig?.LogConfig, { Type: 'json-file', Config: { 'max-size': '10240k', 'max-file': '10' } });
  });

  it('mounts the task directory at /local and /secrets read-write, unless a volume takes the target', () => {
    const plain = containerCreateOptions({ ...base, taskDir: '/data/tasks/a1/web' }, 'img');
    assert.deepEqual(plain.HostConfig?.Mounts, [
      { Type: 'bind', Source: '/data/tasks/a1/web/local', Target: '/local', ReadOnly: false },
      { Type: 'bind', Source: '/data/tasks/a1/web/secrets', Target: '/secrets', ReadOnly: false },
    ]);
    const files = containerCreateOptions({ ...base, taskDir: '/data/tasks/a1/web', config: { image: 'img', volumes: ['secrets/pw:/run/secrets/pw:ro'], tmpfs: ['/run/cache:size=64m,mode=1777', '/tmp'] } }, 'img');
    assert.deepEqual(files.HostConfig?.Mounts?.[2], { Type: 'bind', Source: '/data/tasks/a1/web/secrets/pw', Target: '/run/secrets/pw', ReadOnly: true }, 'a relative source is a path in the task directory');
    assert.deepEqual(files.HostConfig?.Tmpfs, { '/run/cache': 'size=64m,mode=1777', '/tmp': '' });
    const taken = containerCreateOptions({ ...base, config: { image: 'img', volumes: ['cfg:/local:ro'] } }, 'img');
    assert.deepEqual(taken.HostConfig?.Mounts, [
      { Type: 'bind', Source: '/tmp/secrets', Target: '/secrets', ReadOnly: false },
      { Type: 'volume', Source: 'cfg', Target: '/local', ReadOnly: true },
    ]);
  });
});
