import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { connectDocker, dockerMessage, dockerStatus, readProgress } from '../../src/drivers/index.ts';
import { TEST_IMAGE } from '../../src/testing/index.ts';
import { busyboxRootfsTar } from './busybox-rootfs.ts';

// Which engine a test uses is read from the environment in src/testing/, so that the Docker
// tests under src/ need not import this harness; the e2e tests keep importing it from here.
export { TEST_IMAGE, dockerTestEngine, requireDocker, withDockerEngine, type DockerTestEngine } from '../../src/testing/index.ts';

/** A Docker engine for a test run. */
export interface DockerEnv {
  /** Its address in `DOCKER_HOST` form, e.g. `unix:///tmp/berth-dockerd-x/docker.sock`. */
  host: string;
  /** The test image, present in the engine. */
  image: string;
  /** Removes the containers and stops the engine it started; does nothing to an engine it was given. */
  stop(): Promise<void>;
}

/** Options of `startDockerd`. */
export interface StartDockerdOptions {
  /** Name of the test image to make. Default `berth-test/busybox:latest`. */
  image?: string;
  /** The dockerd binary. Default `dockerd` on PATH, with /usr/sbin and /sbin added. */
  dockerdPath?: string;
  /** A static busybox to build the image from. Default `/bin/busybox`. */
  busyboxPath?: string;
  /** How long the engine may take to answer `/_ping`. Default 30 000 ms. */
  readyTimeoutMs?: number;
  /**
   * Start it inside this network namespace (a host of a cross-host test), with its own docker0
   * there; `BERTH_TEST_DOCKER_HOST` is then ignored. Entered with nsenter, not `ip netns exec`,
   * which would remount /sys and hide the cgroup hierarchies dockerd needs.
   */
  netns?: string;
  /** The docker0 address and subnet (`--bip`, e.g. `172.30.1.1/24`). Default Docker's. */
  bip?: string;
}

/**
 * Gives a test run a Docker engine with the test image in it. When `BERTH_TEST_DOCKER_HOST` is
 * set, that engine is used as it is (never started or stopped here). Otherwise a private dockerd
 * starts under a temp dir with its own socket, data root, exec root and pidfile. Only one such
 * dockerd can run per machine, since each creates the `docker0` bridge.
 */
export async function startDockerd(options: StartDockerdOptions = {}): Promise<DockerEnv> {
  const image = options.image ?? TEST_IMAGE;
  const given = options.netns ? undefined : process.env.BERTH_TEST_DOCKER_HOST;
  if (given) {
    await ensureTestImage(given, image, options.busyboxPath);
    return { host: given, image, stop: async () => {} };
  }

  const dir = await mkdtemp(join(tmpdir(), 'berth-dockerd-'));
  const host = `unix://${join(dir, 'docker.sock')}`;
  const logPath = join(dir, 'dockerd.log');
  let child: ChildProcess;
  try {
    child = await spawnDockerd(options.dockerdPath ?? 'dockerd', { dir, host, logPath, netns: options.netns, bip: options.bip });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  // If the test process dies without calling stop(), dockerd still shuts down cleanly.
  const onExit = (): void => {
    signal(child, 'SIGTERM');
  };
  process.on('exit', onExit);

  const stop = async (): Promise<void> => {
    process.off('exit', onExit);
    await stopDockerd(child, host);
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  };
  try {
    await waitForEngine(child, host, logPath, options.readyTimeoutMs ?? 30_000);
    await ensureTestImage(host, image, options.busyboxPath);
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  return { host, image, stop };
}

/** Imports the test image into the engine at `host` unless it is there already. */
export async function ensureTestImage(host: string, image = TEST_IMAGE, busyboxPath?: string): Promise<void> {
  const docker = connectDocker(host);
  try {
    await docker.getImage(image).inspect();
    return;
  } catch (error) {
    if (dockerStatus(error) !== 404) throw new Error(`Cannot check for the test image "${image}" at ${host}: ${dockerMessage(error)}`);
  }
  const { repo, tag } = splitImage(image);
  try {
    const progress = await docker.importImage(Readable.from([busyboxRootfsTar(busyboxPath)]), {
      repo,
      tag,
      changes: ['CMD ["/bin/sh"]'],
    });
    await readProgress(progress);
  } catch (error) {
    throw new Error(`Cannot import the test image "${image}" at ${host}: ${dockerMessage(error)}`);
  }
}

/** Run a command in a running container; what it wrote to stdout and stderr, demultiplexed. */
export async function execIn(container: Docker.Container, cmd: string[]): Promise<string> {
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  stream.on('data', (d: Buffer) => chunks.push(d));
  await new Promise((resolve) => stream.on('end', resolve));
  // Each frame: 8 bytes of header (stream, 0, 0, 0, length as uint32 BE), then the payload.
  const all = Buffer.concat(chunks);
  const out: string[] = [];
  for (let i = 0; i + 8 <= all.length; i += 8 + all.readUInt32BE(i + 4)) out.push(all.subarray(i + 8, i + 8 + all.readUInt32BE(i + 4)).toString());
  return out.join('');
}

async function spawnDockerd(binary: string, at: { dir: string; host: string; logPath: string; netns?: string; bip?: string }): Promise<ChildProcess> {
  const { dir, host, logPath } = at;
  const logFd = openSync(logPath, 'a');
  const [command, ...prefix] = at.netns ? ['nsenter', `--net=/run/netns/${at.netns}`, binary] : [binary];
  try {
    const child = spawn(
      command,
      [
        ...prefix,
        ...(at.bip ? ['--bip', at.bip] : []),
        '--host', host,
        '--data-root', join(dir, 'root'),
        '--exec-root', join(dir, 'exec'),
        '--pidfile', join(dir, 'docker.pid'),
        // No iptables: published ports go through docker-proxy, which is enough for tests.
        '--iptables=false',
        '--ip6tables=false',
      ],
      {
        // Its own process group, so a Ctrl-C meant for the test runner reaches it through stop().
        detached: true,
        stdio: ['ignore', logFd, logFd],
        env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin:/usr/bin:/bin` },
      },
    );
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) => reject(new Error(`Cannot start dockerd "${binary}": ${error.message}`)));
    });
    child.unref();
    return child;
  } finally {
    closeSync(logFd);
  }
}

async function waitForEngine(child: ChildProcess, host: string, logPath: string, timeoutMs: number): Promise<void> {
  const docker = connectDocker(host, { timeoutMs: 1000 });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited(child)) {
      throw new Error(`Cannot start dockerd: it exited with ${child.exitCode ?? child.signalCode}; the end of its log:\n${logTail(logPath)}`);
    }
    try {
      await docker.ping();
      return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      throw new Error(`Cannot start dockerd: ${host} did not answer /_ping within ${timeoutMs} ms; the end of its log:\n${logTail(logPath)}`);
    }
    await sleep(100);
  }
}

async function stopDockerd(child: ChildProcess, host: string): Promise<void> {
  if (exited(child)) return;
  // Containers first: a dockerd stopped with running containers leaves shims and mounts behind.
  const docker = connectDocker(host, { timeoutMs: 30_000 });
  try {
    const containers = await docker.listContainers({ all: true });
    await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => {})));
  } catch {
    // The engine is already gone or broken; stopping it is all that is left.
  }
  const exit = new Promise<void>((resolve) => {
    if (exited(child)) resolve();
    else child.once('exit', () => resolve());
  });
  signal(child, 'SIGTERM');
  const timedOut = await Promise.race([exit.then(() => false), sleep(20_000).then(() => true)]);
  if (timedOut) {
    // The whole group, so containerd goes with it.
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await exit;
  }
}

/**
 * Detach what dockerd left mounted under its temp dirs (the `exec/netns/default` nsfs mount, a
 * stopped container's overlay): removing a tree with a live mount in it fails or stalls.
 */
async function unmountUnder(dir: string): Promise<void> {
  let mounts: string;
  try {
    mounts = await readFile('/proc/self/mounts', 'utf8');
  } catch {
    return;
  }
  const targets = mounts
    .split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((target): target is string => target !== undefined && target.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const target of targets) {
    await new Promise<void>((resolve) => execFile('umount', ['-l', target], () => resolve()));
  }
}

function signal(child: ChildProcess, name: NodeJS.Signals): void {
  if (!exited(child)) child.kill(name);
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function logTail(logPath: string, lines = 20): string {
  try {
    return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function splitImage(image: string): { repo: string; tag: string } {
  const colon = image.lastIndexOf(':');
  if (colon > image.lastIndexOf('/')) return { repo: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { repo: image, tag: 'latest' };
}
