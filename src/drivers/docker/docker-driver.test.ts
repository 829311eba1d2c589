import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { get } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { dockerTestEngine, freePort, requireDocker, type DockerTestEngine } from '../../testing/index.ts';
import { driverContract, type ContractTask } from '../contract.test-suite.ts';
import { driverOptionsContract } from '../options-contract.test-suite.ts';
import type { TaskHandle, TaskStartRequest } from '../driver.ts';
import { DockerDriver } from './docker-driver.ts';
import { connectDocker } from './docker-host.ts';

function request(image: string, overrides: Partial<TaskStartRequest> = {}): TaskStartRequest {
  return {
    allocId: randomUUID(),
    taskName: 'web',
    nodeName: 'node-test',
    config: { image },
    env: {},
    args: [],
    resources: { cpu: 0.1, memoryMiB: 64 },
    ports: [],
    taskDir: '/tmp',
    ...overrides,
  };
}

function shell(image: string, sh: string, overrides: Partial<TaskStartRequest> = {}): TaskStartRequest {
  const args = ['-c', sh];
  return request(image, { config: { image, command: '/bin/sh', args }, args, ...overrides });
}

driverContract('docker', async () => {
  const engine = dockerTestEngine();
  if (!engine) return null;
  return {
    driver: new DockerDriver({ host: engine.host }),
    request: (task: ContractTask, overrides = {}) =>
      task.behaviour.kind === 'missing-command'
        ? request(engine.image, { config: { image: engine.image, command: task.behaviour.command }, ...overrides })
        : shell(engine.image, task.sh, overrides),
    cleanup: async () => {},
  };
});

driverOptionsContract('docker', async () => {
  const engine = dockerTestEngine();
  if (!engine) return null;
  return {
    driver: new DockerDriver({ host: engine.host }),
    shell: (sh, config = {}, overrides = {}) => ({ ...shell(engine.image, sh, overrides), config: { image: engine.image, command: '/bin/sh', args: ['-c', sh], ...config } }),
    memoryLimits: true,
    cleanup: async () => {},
  };
});

/** Runs `body` with a driver on the test engine; removes every container it started afterwards. */
async function withDocker(
  t: TestContext,
  body: (driver: DockerDriver, engine: DockerTestEngine, track: (h: TaskHandle) => TaskHandle) => Promise<void>,
): Promise<void> {
  const engine = requireDocker(t);
  if (!engine) return;
  const driver = new DockerDriver({ host: engine.host });
  const handles: TaskHandle[] = [];
  try {
    await body(driver, engine, (handle) => {
      handles.push(handle);
      return handle;
    });
  } finally {
    await Promise.all(handles.map((h) => driver.destroy(h).catch(() => {})));
  }
}

/**
 * The body of a GET, or '' when it fails. node:http rather than fetch: while httpd is not up yet,
 * docker-proxy accepts and drops connections, which has left fetch pending with nothing keeping
 * the event loop alive.
 */
function httpGet(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: 1000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(res.statusCode === 200 ? body : ''));
      res.on('error', () => resolve(''));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(''));
  });
}

describe('docker driver', { timeout: 60_000 }, () => {
  it('serves busybox httpd on the published host port', async (t) => {
    await withDocker(t, async (driver, { image }, track) => {
      const hostPort = await freePort();
      const sh = 'mkdir -p /tmp/www && echo hello-berth > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www';
      track(await driver.start(shell(image, sh, { ports: [{ hostPort, containerPort: 8080 }] })));
      let body = '';
      for (let i = 0; i < 50 && body === ''; i++) {
        body = await httpGet(`http://127.0.0.1:${hostPort}/`);
        if (body === '') await sleep(100);
      }
      assert.equal(body, 'hello-berth\n');
    });
  });

  it('sets the name, labels, memory and cpu limits on the container', async (t) => {
    await withDocker(t, async (driver, engine, track) => {
      const req = shell(engine.image, 'sleep 30', { nodeName: 'node/a b', resources: { cpu: 0.5, memoryMiB: 48 } });
      const handle = track(await driver.start(req));
      const info = await connectDocker(engine.host).getContainer(handle.id).inspect();
      assert.equal(info.Name, `/berth-node_a_b-web-${req.allocId}`);
      assert.deepEqual(info.Config.Labels, { 'berth.alloc': req.allocId, 'berth.task': 'web', 'berth.node': 'node/a b' });
      assert.equal(info.HostConfig.Memory, 48 * 1024 * 1024);
      assert.equal(info.HostConfig.NanoCpus, 0.5e9);
      assert.deepEqual(info.Config.Entrypoint ?? [], []);
      assert.deepEqual(info.Config.Cmd, ['/bin/sh', '-c', 'sleep 30']);
    });
  });

  it('gives two nodes sharing one dockerd distinct containers, and lists each node its own', async (t) => {
    await withDocker(t, async (driver, { image }, track) => {
      const allocId = randomUUID();
      const a = track(await driver.start(shell(image, 'sleep 30', { allocId, nodeName: `a-${allocId}` })));
      const b = track(await driver.start(shell(image, 'sleep 30', { allocId, nodeName: `b-${allocId}` })));
      assert.notEqual(a.id, b.id);
      const listed = await driver.list(`a-${allocId}`);
      assert.deepEqual(listed.map((h) => [h.id, h.allocId, h.taskName, h.driver]), [[a.id, allocId, 'web', 'docker']]);
      assert.equal(await driver.recover(listed[0]), true);
    });
  });

  it('replaces the leftover container of an earlier run of the same task', async (t) => {
    await withDocker(t, async (driver, { image }, track) => {
      const req = shell(image, 'sleep 30');
      const first = track(await driver.start(req));
      const second = track(await driver.start(req));
      assert.notEqual(first.id, second.id);
      assert.equal(await driver.recover(first), false);
      assert.equal(await driver.recover(second), true);
    });
  });

  it('reads the output written since a time', async (t) => {
    await withDocker(t, async (driver, { image }, track) => {
      const handle = track(await driver.start(shell(image, 'echo early; sleep 1.5; echo late')));
      await new Promise((r) => setTimeout(r, 700));
      const between = Date.now();
      assert.equal((await driver.wait(handle)).exitCode, 0);
      let out = '';
      for await (const chunk of driver.logs(handle, { since: between })) out += chunk.data.toString();
      assert.equal(out, 'late\n');
    });
  });

  it('runs the image CMD without a command, and args replace it', async (t) => {
    await withDocker(t, async (driver, { image }, track) => {
      const handle = track(await driver.start(request(image, { args: ['echo', 'from args'] })));
      assert.equal((await driver.wait(handle)).exitCode, 0);
      let out = '';
      for await (const chunk of driver.logs(handle)) out += chunk.data.toString();
      assert.equal(out, 'from args\n');
    });
  });

  it('reports oomKilled for a task killed for using too much memory', async (t) => {
    await withDocker(t, async (driver, { image }, track) => {
      const req = shell(image, 'head -c 200000000 /dev/zero | tail > /dev/null', { resources: { cpu: 0.5, memoryMiB: 16 } });
      const result = await driver.wait(track(await driver.start(req)));
      assert.equal(result.oomKilled, true);
      assert.equal(result.exitCode, 137);
    });
  });

  it('fails start with a clear error when the image is missing and cannot be pulled', async (t) => {
    await withDocker(t, async (driver) => {
      const image = `berth-test/no-such-image-${Date.now()}:latest`;
      const req = request(image, { config: { image, command: 'true' } });
      await assert.rejects(driver.start(req), (error: Error) => {
        assert.equal(error.message, `Cannot start task "web": image "${image}" is not on this host and no registry answered: load it with docker load or docker import`);
        return true;
      });
      const never = request(image, { config: { image, command: 'true', pull: 'never' } });
      await assert.rejects(driver.start(never), /is not on this host and its pull policy is never: load it with docker load or docker import$/);
    });
  });

  it('answers wait for a container that is already gone', async (t) => {
    await withDocker(t, async (driver, { image }) => {
      const handle = await driver.start(shell(image, 'exit 0'));
      await driver.destroy(handle);
      const result = await driver.wait(handle);
      assert.equal(result.exitCode, -1);
      assert.match(result.error ?? '', /no longer exists/);
    });
  });

  it('fingerprints the engine, and an absent engine as undetected within the timeout', async (t) => {
    await withDocker(t, async (driver) => {
      const info = await driver.fingerprint();
      assert.equal(info.detected, true);
      assert.match(info.version ?? '', /^\d+\.\d+/);
      const began = Date.now();
      const absent = await new DockerDriver({ host: 'unix:///tmp/berth-no-such-docker.sock' }).fingerprint();
      assert.equal(absent.detected, false);
      assert.match(absent.detail ?? '', /^Cannot reach Docker at unix:\/\/\/tmp\/berth-no-such-docker.sock: /);
      assert.ok(Date.now() - began < 2500);
    });
  });
});
