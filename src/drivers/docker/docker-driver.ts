import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import type { DriverInfo, TaskNetwork, TaskUsage } from '../../model/index.ts';
import { containerUsage } from './docker-stats.ts';
import { dockerExec } from './docker-exec.ts';
import type { DriverLogger, ExecRequest, ExecSession, ExitResult, LogChunk, LogOptions, TaskDriver, TaskHandle, TaskStartRequest } from '../driver.ts';
import { containerCreateOptions, LABEL_ALLOC, LABEL_NODE, LABEL_TASK, TASK_DIR_MOUNTS } from './container-spec.ts';
import { countLines, lastLines } from '../lines.ts';
import { hostSignal, unknownSignal } from '../signals.ts';
import { demuxDockerLogs } from './docker-logs.ts';
import { connectDocker, defaultDockerHost, dockerMessage, dockerStatus, readProgress, type DockerTlsFiles } from './docker-host.ts';

/** Options of `DockerDriver`. */
export interface DockerDriverOptions {
  /** The engine, in `DOCKER_HOST` form (`unix:///path`, `tcp://host:port`). Default: `DOCKER_HOST`, else `unix:///var/run/docker.sock`. */
  host?: string;
  /** TLS to a tcp engine: CA, client certificate and key files. Default `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` as the Docker CLI reads them, else none. */
  tls?: DockerTlsFiles;
  /** How long `fingerprint` waits for the engine. Default 2000 ms. */
  fingerprintTimeoutMs?: number;
  /** Where pulls and retries are reported. Default: nowhere. */
  logger?: DriverLogger;
}

/** How `wait` rides out a broken connection to the engine (a dockerd restart): 0.5 s, 1 s, ... 8 s. */
const WAIT_RETRIES = 5;

/** What `wait` gets back from the Engine API. */
interface WaitResponse {
  StatusCode: number;
  Error?: { Message?: string } | null;
}

/**
 * Runs tasks as Docker containers through the Engine API. A container is named and labelled
 * after its node, allocation and task, so several agents can share one dockerd and an agent
 * finds its containers again after a restart.
 */
export class DockerDriver implements TaskDriver {
  readonly name = 'docker' as const;
  readonly #host: string;
  readonly #tls: DockerTlsFiles | undefined;
  readonly #docker: Docker;
  readonly #fingerprintTimeoutMs: number;
  readonly #logger: DriverLogger | undefined;

  constructor(options: DockerDriverOptions = {}) {
    this.#host = options.host ?? defaultDockerHost();
    this.#tls = options.tls;
    this.#docker = connectDocker(this.#host, { tls: options.tls });
    this.#fingerprintTimeoutMs = options.fingerprintTimeoutMs ?? 2000;
    this.#logger = options.logger;
  }

  /** Detected when the engine answers `/version` within the timeout; its version is the engine's. */
  async fingerprint(): Promise<DriverInfo> {
    const docker = connectDocker(this.#host, { timeoutMs: this.#fingerprintTimeoutMs, tls: this.#tls });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.#fingerprintTimeoutMs} ms`)), this.#fingerprintTimeoutMs);
    });
    try {
      const version = await Promise.race([docker.version(), timeout]);
      const bridgeAddress = await bridgeGateway(docker);
      const engineId = await Promise.race([docker.info() as Promise<{ ID?: string }>, timeout]).then((i) => i.ID || undefined, () => undefined);
      return { detected: true, healthy: true, version: version.Version, ...(bridgeAddress ? { bridgeAddress } : {}), ...(engineId ? { engineId } : {}) };
    } catch (error) {
      return { detected: false, healthy: false, detail: `Cannot reach Docker at ${this.#host}: ${dockerMessage(error)}` };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Creates and starts the container. The image is used as it is found locally and pulled only
   * when missing. A container left under the same name (an earlier run of this task) is replaced.
   */
  async start(request: TaskStartRequest): Promise<TaskHandle> {
    const image = request.config.image;
    if (!image) throw new Error(`Cannot start task "${request.taskName}": the docker driver needs config.image`);
    const options = containerCreateOptions(request, image);
    // Docker refuses a bind mount whose source is missing.
    await Promise.all(TASK_DIR_MOUNTS.map((m) => mkdir(path.join(request.taskDir, m.dir), { recursive: true })));
    const container = await this.#create(request, options);
    try {
      await container.start();
    } catch (error) {
      await container.remove({ force: true }).catch(() => {});
      throw new Error(`Cannot start task "${request.taskName}": ${describeStartFailure(error, request, image)}`);
    }
    const network = await containerNetwork(container);
    return {
      driver: 'docker',
      allocId: request.allocId,
      taskName: request.taskName,
      id: container.id,
      startedAt: Date.now(),
      state: { name: options.name ?? '', image },
      ...(network ? { network } : {}),
    };
  }

  /** True while the container exists, running or not; `wait` then tells how it ended. */
  async recover(handle: TaskHandle): Promise<boolean> {
    try {
      await this.#docker.getContainer(handle.id).inspect();
      return true;
    } catch (error) {
      if (dockerStatus(error) === 404) return false;
      throw new Error(`Cannot recover task "${handle.taskName}" (container ${handle.id}): ${dockerMessage(error)}`);
    }
  }

  /** The container's exit status and whether the kernel killed it for memory. */
  async wait(handle: TaskHandle): Promise<ExitResult> {
    const container = this.#docker.getContainer(handle.id);
    for (let attempt = 0; ; attempt++) {
      let response: WaitResponse;
      try {
        response = (await container.wait()) as WaitResponse;
      } catch (error) {
        if (dockerStatus(error) === 404) return gone(handle);
        if (attempt >= WAIT_RETRIES) {
          return { exitCode: -1, oomKilled: false, error: `Cannot wait for container ${handle.id}: ${dockerMessage(error)}` };
        }
        this.#logger?.warn({ container: handle.id, error: dockerMessage(error) }, 'waiting for a container failed; retrying');
        await sleep(500 * 2 ** attempt);
        continue;
      }
      return this.#exitResult(container, response);
    }
  }

  /** `docker stop`: SIGTERM (or the image's stop signal), SIGKILL after the timeout, in whole seconds. */
  async stop(handle: TaskHandle, timeoutMs: number): Promise<void> {
    try {
      await this.#docker.getContainer(handle.id).stop({ t: Math.max(0, Math.ceil(timeoutMs / 1000)) });
    } catch (error) {
      const status = dockerStatus(error);
      // 304: already stopped; 404: already removed.
      if (status === 304 || status === 404) return;
      throw new Error(`Cannot stop task "${handle.taskName}" (container ${handle.id}): ${dockerMessage(error)}`);
    }
  }

  /** `docker kill --signal`: the signal to the container's main process, which keeps running if it handles it. */
  async signal(handle: TaskHandle, signal: string): Promise<void> {
    const which = hostSignal(signal);
    if (!which) throw unknownSignal(handle.taskName, signal);
    try {
      await this.#docker.getContainer(handle.id).kill({ signal: which });
    } catch (error) {
      const status = dockerStatus(error);
      // 409: the container is not running; 404: it is gone.
      const detail = status === 409 || status === 404 ? `container ${handle.id} is not running` : `container ${handle.id}: ${dockerMessage(error)}`;
      throw new Error(`Cannot signal task "${handle.taskName}" with ${which}: ${detail}`);
    }
  }

  /** Removes the container (killing it if it still runs) and its anonymous volumes. */
  async destroy(handle: TaskHandle): Promise<void> {
    try {
      await this.#docker.getContainer(handle.id).remove({ force: true, v: true });
    } catch (error) {
      const status = dockerStatus(error);
      // 404: already gone; 409: a removal is already under way.
      if (status === 404 || status === 409) return;
      throw new Error(`Cannot destroy task "${handle.taskName}" (container ${handle.id}): ${dockerMessage(error)}`);
    }
  }

  /**
   * The container's log. A followed stream ends when the container stops or the signal aborts.
   * `tail` counts lines of the one log Docker keeps for both streams; for a single stream read
   * without follow it counts that stream's lines, as the other drivers do.
   */
  async *logs(handle: TaskHandle, options: LogOptions = {}): AsyncIterable<LogChunk> {
    const which = options.stream ?? 'both';
    const signal = options.signal;
    if (signal?.aborted) return;
    const container = this.#docker.getContainer(handle.id);
    const common = {
      stdout: which !== 'stderr',
      stderr: which !== 'stdout',
      timestamps: false,
      abortSignal: signal,
      ...(options.tail === undefined ? {} : { tail: options.tail }),
      // The Engine takes seconds, with a fraction for finer times.
      ...(options.since === undefined ? {} : { since: options.since / 1000 }),
    };
    try {
      if (!options.follow && options.tail !== undefined && which !== 'both' && options.since === undefined) {
        yield* await tailOfStream(container, which, options.tail, signal);
        return;
      }
      const source: AsyncIterable<Buffer | string> | Iterable<Buffer> = options.follow
        ? ((await container.logs({ ...common, follow: true })) as AsyncIterable<Buffer | string>)
        : [await container.logs({ ...common, follow: false })];
      yield* demuxDockerLogs(source);
    } catch (error) {
      if (signal?.aborted) return;
      throw new Error(`Cannot read the logs of task "${handle.taskName}" (container ${handle.id}): ${dockerMessage(error)}`);
    }
  }

  /** CPU and memory of the running container, as `docker stats` shows them. */
  async stats(handle: TaskHandle): Promise<TaskUsage> {
    try {
      return await containerUsage(this.#docker.getContainer(handle.id));
    } catch (error) {
      throw new Error(`Cannot read the usage of task "${handle.taskName}" (container ${handle.id}): ${dockerMessage(error)}`);
    }
  }

  /** `docker exec` of a command in the task's container. */
  async exec(handle: TaskHandle, request: ExecRequest): Promise<ExecSession> {
    try {
      return await dockerExec(this.#docker.getContainer(handle.id), request);
    } catch (error) {
      throw new Error(`Cannot run ${JSON.stringify(request.command.join(' '))} in task "${handle.taskName}" (container ${handle.id}): ${dockerMessage(error)}`);
    }
  }

  /** Every container labelled with `nodeName`, running or not. */
  async list(nodeName: string): Promise<TaskHandle[]> {
    let containers: Docker.ContainerInfo[];
    try {
      containers = await this.#docker.listContainers({ all: true, filters: { label: [`${LABEL_NODE}=${nodeName}`] } });
    } catch (error) {
      throw new Error(`Cannot list the containers of node "${nodeName}": ${dockerMessage(error)}`);
    }
    return containers.map((c) => ({
      driver: 'docker',
      allocId: c.Labels[LABEL_ALLOC] ?? '',
      taskName: c.Labels[LABEL_TASK] ?? '',
      id: c.Id,
      startedAt: c.Created * 1000,
      state: { name: (c.Names[0] ?? '').replace(/^\//, ''), image: c.Image, status: c.State },
    }));
  }

  /**
   * Creates the container, pulling the image as the task's pull policy says (`missing` by
   * default) and replacing a leftover of the same name.
   */
  async #create(request: TaskStartRequest, options: Docker.ContainerCreateOptions): Promise<Docker.Container> {
    const policy = request.config.pull ?? 'missing';
    let pulled = false;
    let replaced = false;
    if (policy === 'always') {
      pulled = true;
      await this.#pull(request, options.Image ?? '').catch((error: unknown) => {
        // A registry that does not answer should not stop a task whose image is here already.
        this.#logger?.warn({ image: options.Image, error: (error as Error).message }, 'pull policy is always, but the pull failed; using the local image');
      });
    }
    for (;;) {
      try {
        return await this.#docker.createContainer(options);
      } catch (error) {
        const status = dockerStatus(error);
        if (status === 404 && /no such image/i.test(dockerMessage(error))) {
          const image = options.Image ?? '';
          if (policy === 'never') throw new Error(`Cannot start task "${request.taskName}": image "${image}" is not on this host and its pull policy is never: load it with docker load or docker import`);
          if (pulled) throw new Error(`Cannot start task "${request.taskName}": ${missingImage(image)}`);
          await this.#pull(request, image);
          pulled = true;
          continue;
        }
        if (status === 409 && !replaced && options.name) {
          // A container from an earlier run of this task (a restart, or an agent that died mid-start).
          this.#logger?.info({ container: options.name }, 'replacing a leftover container of the same name');
          await this.#docker.getContainer(options.name).remove({ force: true }).catch(() => {});
          replaced = true;
          continue;
        }
        throw new Error(`Cannot start task "${request.taskName}": creating its container failed: ${dockerMessage(error)}`);
      }
    }
  }

  async #pull(request: TaskStartRequest, image: string): Promise<void> {
    this.#logger?.info({ image }, 'pulling image');
    try {
      await readProgress(await this.#docker.pull(image));
    } catch (error) {
      this.#logger?.warn({ image, error: dockerMessage(error) }, 'pulling the image failed');
      throw new Error(`Cannot start task "${request.taskName}": ${missingImage(image)}`);
    }
  }

  async #exitResult(container: Docker.Container, response: WaitResponse): Promise<ExitResult> {
    const result: ExitResult = { exitCode: response.StatusCode, oomKilled: false };
    if (response.Error?.Message) result.error = response.Error.Message;
    try {
      let info = await container.inspect();
      // The engine learns of an OOM kill from its own event, which can come just after the exit:
      // a SIGKILL exit (137) not yet marked is looked at again for a moment.
      for (let i = 0; i < 5 && response.StatusCode === 137 && !info.State.OOMKilled; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        info = await container.inspect();
      }
      result.oomKilled = info.State.OOMKilled;
      if (!result.error && info.State.Error) result.error = info.State.Error;
    } catch {
      // Removed between wait and inspect: the exit code is all there is.
    }
    return result;
  }
}

/**
 * The last `lines` lines of one stream. Docker's `tail` counts lines of both streams before it
 * filters by stream, so the window widens until it holds enough lines of this one or the whole log.
 */
async function tailOfStream(container: Docker.Container, which: 'stdout' | 'stderr', lines: number, signal?: AbortSignal): Promise<LogChunk[]> {
  if (lines <= 0) return [];
  for (let window = Math.max(lines * 2, 64); ; window *= 4) {
    const raw = await container.logs({ stdout: true, stderr: true, follow: false, tail: window, timestamps: false, abortSignal: signal });
    let total = 0;
    const wanted: Buffer[] = [];
    for await (const chunk of demuxDockerLogs([raw])) {
      total += countLines(chunk.data);
      if (chunk.stream === which) wanted.push(chunk.data);
    }
    const text = Buffer.concat(wanted);
    if (countLines(text) >= lines || total < window) {
      const data = lastLines(text, lines);
      return data.length > 0 ? [{ stream: which, data }] : [];
    }
  }
}

/** The one message for an image that is neither here nor pullable (the registry's own reason goes to the log). */
function missingImage(image: string): string {
  return `image "${image}" is not on this host and no registry answered: load it with docker load or docker import`;
}

function gone(handle: TaskHandle): ExitResult {
  return { exitCode: -1, oomKilled: false, error: `Cannot tell how task "${handle.taskName}" ended: container ${handle.id} no longer exists` };
}

/** The reason a created container did not start, in the task's terms where it can be told. */
function describeStartFailure(error: unknown, request: TaskStartRequest, image: string): string {
  const message = dockerMessage(error);
  const program = request.config.command ?? request.args[0];
  if (program && /executable file not found|no such file or directory/i.test(message)) {
    return `command "${program}" not found in image "${image}" (${message})`;
  }
  return message;
}

/**
 * The container's IP on its network, as Nomad's docker driver reads it: the first network with an
 * address, advertised under `address_mode: auto` unless it is the default bridge. Undefined in
 * host network mode (no address of its own), or when the engine does not say.
 */
async function containerNetwork(container: Docker.Container): Promise<TaskNetwork | undefined> {
  try {
    const info = await container.inspect();
    for (const [name, net] of Object.entries(info.NetworkSettings?.Networks ?? {})) {
      if (net?.IPAddress) return { ip: net.IPAddress, autoAdvertise: name !== 'bridge' && name !== 'nat' };
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** The gateway of the engine's default bridge: the host's address there, which containers reach. Undefined when there is none. */
async function bridgeGateway(docker: Docker): Promise<string | undefined> {
  try {
    const info = (await docker.getNetwork('bridge').inspect()) as { IPAM?: { Config?: { Gateway?: string }[] } };
    return info.IPAM?.Config?.find((c) => c.Gateway && !c.Gateway.includes(':'))?.Gateway;
  } catch {
    return undefined;
  }
}
