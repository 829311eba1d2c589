import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { requireDocker, type DockerTestEngine } from '../../testing/index.ts';
import type { TaskHandle, TaskStartRequest } from '../driver.ts';
import { DockerDriver } from './docker-driver.ts';
import { connectDocker } from './docker-host.ts';

function shell(image: string, sh: string, config: Partial<TaskStartRequest['config']> = {}, overrides: Partial<TaskStartRequest> = {}): TaskStartRequest {
  const args = ['-c', sh];
  return {
    allocId: randomUUID(),
    taskName: 'opt',
    nodeName: 'node-opts',
    config: { image, command: '/bin/sh', args, ...config },
    env: {},
    args,
    resources: { cpu: 0.1, memoryMiB: 32 },
    ports: [],
    taskDir: '/tmp',
    ...overrides,
  };
}

/** Runs a task to its end and returns its exit code and output. */
async function run(driver: DockerDriver, req: TaskStartRequest, handles: TaskHandle[]): Promise<{ code: number; out: string }> {
  const handle = await driver.start(req);
  handles.push(handle);
  const { exitCode } = await driver.wait(handle);
  let out = '';
  for await (const c of driver.logs(handle)) out += c.data.toString();
  return { code: exitCode, out };
}

async function withDocker(t: TestContext, body: (driver: DockerDriver, engine: DockerTestEngine, handles: TaskHandle[]) => Promise<void>): Promise<void> {
  const engine = requireDocker(t);
  if (!engine) return;
  const driver = new DockerDriver({ host: engine.host });
  const handles: TaskHandle[] = [];
  try {
    await body(driver, engine, handles);
  } finally {
    for (const h of handles) await driver.destroy(h);
  }
}

describe('docker driver options', { timeout: 120_000 }, () => {
  it('sets entrypoint, user, hostname, extra hosts, DNS servers and working dir as the task sees them', async (t) => {
    await withDocker(t, async (driver, { image }, handles) => {
      const req = shell(image, 'id -u; id -g; hostname; grep db.internal /etc/hosts; grep nameserver /etc/resolv.conf; pwd', {
        user: '1234:4321',
        hostname: 'web-7',
        extraHosts: ['db.internal:10.1.2.3'],
        dnsServers: ['10.9.9.9'],
        workdir: '/tmp',
      });
      const { code, out } = await run(driver, req, handles);
      assert.equal(code, 0, out);
      const lines = out.trim().split('\n');
      assert.deepEqual(lines.slice(0, 3), ['1234', '4321', 'web-7']);
      assert.match(lines[3], /^10\.1\.2\.3\s+db\.internal$/);
      assert.equal(lines[4], 'nameserver 10.9.9.9');
      assert.equal(lines[5], '/tmp');
      const entry = await run(driver, { ...shell(image, ''), config: { image, entrypoint: ['/bin/echo', 'via-entrypoint'] }, args: ['x'] }, handles);
      assert.equal(entry.out, 'via-entrypoint x\n');
    });
  });

  it('mounts a host path read-only and a named volume that outlives the container', async (t) => {
    await withDocker(t, async (driver, { image, host }, handles) => {
      const dir = await mkdtemp(path.join(tmpdir(), 'berth-bind-'));
      const volume = `berth-test-vol-${process.pid}`;
      try {
        await writeFile(path.join(dir, 'in.txt'), 'from the host\n');
        const first = await run(driver, shell(image, 'cat /host/in.txt; echo kept > /vol/v.txt; touch /host/x 2>/dev/null || echo read-only', { volumes: [`${dir}:/host:ro`, `${volume}:/vol`] }), handles);
        assert.equal(first.out, 'from the host\nread-only\n');
        const second = await run(driver, shell(image, 'cat /vol/v.txt', { volumes: [`${volume}:/vol`] }), handles);
        assert.equal(second.out, 'kept\n');
      } finally {
        for (const h of handles.splice(0)) await driver.destroy(h);
        await connectDocker(host).getVolume(volume).remove().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  it('limits memory to memory_max, adds labels, capabilities and devices, sets the stop signal, and rotates logs by size', async (t) => {
    await withDocker(t, async (driver, { image, host }, handles) => {
      const req = shell(image, 'sleep 30', {
        labels: { team: 'web' },
        capAdd: ['NET_ADMIN'],
        capDrop: ['NET_RAW'],
        devices: ['/dev/null:/dev/berth-null'],
        stopSignal: 'SIGINT',
      }, { resources: { cpu: 0.1, memoryMiB: 16, memoryMaxMiB: 48 }, logs: { maxFiles: 2, maxFileSizeMiB: 1 } });
      const handle = await driver.start(req);
      handles.push(handle);
      const info = await connectDocker(host).getContainer(handle.id).inspect();
      assert.equal(info.HostConfig.Memory, 48 * 1024 * 1024);
      assert.equal(info.HostConfig.MemoryReservation, 16 * 1024 * 1024);
      assert.equal(info.Config.Labels.team, 'web');
      assert.equal(info.Config.Labels['berth.alloc'], req.allocId);
      assert.deepEqual(info.HostConfig.CapAdd, ['NET_ADMIN']);
      assert.deepEqual(info.HostConfig.CapDrop, ['NET_RAW']);
      assert.equal(info.HostConfig.Devices?.[0]?.PathInContainer, '/dev/berth-null');
      assert.equal((info.Config as { StopSignal?: string }).StopSignal, 'SIGINT');
      assert.deepEqual(info.HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '1024k', 'max-file': '2' } });
      await driver.stop(handle, 1000);
    });
  });

  it('runs in the host network when network_mode is host', async (t) => {
    await withDocker(t, async (driver, { image }, handles) => {
      const { out } = await run(driver, shell(image, 'ls /sys/class/net', { networkMode: 'host' }), handles);
      const { out: bridged } = await run(driver, shell(image, 'ls /sys/class/net'), handles);
      assert.notEqual(out, bridged, 'the host network has other interfaces than a bridged container');
      assert.match(bridged, /^eth0\nlo\n$/);
    });
  });

  it('uses the local image with pull policy always when no registry answers', async (t) => {
    await withDocker(t, async (driver, { image }, handles) => {
      const { code, out } = await run(driver, shell(image, 'echo ok', { pull: 'always' }), handles);
      assert.deepEqual([code, out], [0, 'ok\n']);
    });
  });
});
