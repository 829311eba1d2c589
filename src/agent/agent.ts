import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { BerthClient, type NodeRegisterRequest } from '../api/index.ts';
import { isBerthError, isClientTerminal, type Allocation, type DriverName, type Job } from '../model/index.ts';
import { DockerDriver, ProcessDriver, type TaskDriver, type TaskHandle } from '../drivers/index.ts';
import { systemClock, type Clock } from '../lib/index.ts';
import { backoffDelay } from '../lib/index.ts';
import { newId } from '../lib/index.ts';
import type { Logger } from '../lib/index.ts';
import { AllocRunner } from './allocs/alloc-runner.ts';
import { fingerprint } from './node/fingerprint.ts';
import { buildAgentApp } from './http/endpoint.ts';
import { LocalState, type AllocRecord } from './allocs/local-state.ts';
import { StatusReporter } from './allocs/reporter.ts';
import { isReplaced, labelledTasks } from './allocs/recovery.ts';

/** Agent settings. */
export interface AgentOptions {
  /** The server's URL. */
  serverUrl: string;
  /** Every server the agent may talk to (`serverUrl` first when both are given); it fails over between them. */
  servers?: string[];
  /** Where the agent keeps its node id, allocation records and task files. */
  dataDir: string;
  logger: Logger;
  /** Default: the host name. Must be unique in the cluster. */
  nodeName?: string;
  /** Default dc1. */
  datacenter?: string;
  /** Address other hosts reach this node's task ports at. Default 127.0.0.1. */
  address?: string;
  /** Where the agent's own endpoint (logs) listens. Default 127.0.0.1, port 0 (any free). */
  httpHost?: string;
  httpPort?: number;
  /** Driver for tasks that name none: docker when an engine answers, else process ('auto', the default). */
  defaultDriver?: DriverName | 'auto';
  /** Docker engine address (DOCKER_HOST form). Default env DOCKER_HOST or the local socket. */
  dockerHost?: string;
  /** The drivers to load; default docker and process. Tests inject the mock. */
  drivers?: TaskDriver[];
  /** DNS servers given to docker tasks that name none: berth's DNS on the bridge. Default: Docker's. */
  dnsServers?: string[];
  /** Host ports for dynamic ports. Default 20000-32000. */
  portRange?: { min: number; max: number };
  /** The node's class, for `${node.class}` constraints. Default none. */
  nodeClass?: string;
  /** Operator-set metadata, for `${meta.<name>}` constraints. Default none. */
  meta?: Record<string, string>;
  clock?: Clock;
}

/**
 * A host: fingerprint, register, heartbeat, watch the allocations placed here and run them.
 * On stop it leaves its tasks running; the next start reattaches to them from local state.
 */
export class Agent {
  readonly #o: AgentOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  /** Every server known; a call goes on to the next one when a server does not answer. */
  readonly #client: BerthClient;
  readonly #localState: LocalState;
  readonly #runners = new Map<string, AllocRunner>();
  readonly #drivers = new Map<DriverName, TaskDriver>();
  readonly #jobs = new Map<string, Promise<Job>>();
  readonly #stop = new AbortController();
  readonly #loops: Promise<void>[] = [];
  #reporter!: StatusReporter;
  #http: FastifyInstance | undefined;
  #registration!: NodeRegisterRequest;
  #ttlMs = 10_000;
  readonly #retiring = new Set<string>();
  /** Allocations whose job is being fetched before they start, with the latest the server said of them. */
  readonly #starting = new Map<string, Allocation>();
  /** Labelled tasks found at start whose allocation had no local record, by allocation id. */
  readonly #orphans = new Map<string, TaskHandle[]>();
  /** Lost allocations being checked for a replacement. */
  readonly #settling = new Set<string>();
  /** Allocations whose runner is being handed the job version they were updated to in place. */
  readonly #taking = new Set<string>();
  nodeId = '';

  private constructor(options: AgentOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger.child({ component: 'agent' });
    const urls = [...new Set([options.serverUrl, ...(options.servers ?? [])].filter(Boolean))];
    this.#client = new BerthClient({ address: urls });
    this.#localState = new LocalState(options.dataDir);
  }

  /** Start the agent: recover local tasks, register, and begin the loops. Resolves once registered. */
  static async start(options: AgentOptions): Promise<Agent> {
    const agent = new Agent(options);
    await agent.#start();
    return agent;
  }

  get nodeName(): string {
    return this.#registration.name;
  }

  /** The default driver this node resolved to. */
  get defaultDriver(): DriverName {
    return this.#registration.defaultDriver;
  }

  async #start(): Promise<void> {
    const o = this.#o;
    await fs.mkdir(o.dataDir, { recursive: true });
    await this.#localState.open();
    this.nodeId = await this.#loadNodeId();
    const drivers = o.drivers ?? [new DockerDriver({ host: o.dockerHost }), new ProcessDriver()];
    for (const d of drivers) this.#drivers.set(d.name, d);
    const facts = await fingerprint(drivers);
    const defaultDriver = this.#resolveDefaultDriver(facts.drivers);
    this.#http = await buildAgentApp(this.#runners, this.#drivers, this.#log, () => this.nodeId);
    const httpUrl = await this.#http.listen({ host: o.httpHost ?? '127.0.0.1', port: o.httpPort ?? 0 });
    this.#registration = {
      id: this.nodeId,
      name: o.nodeName ?? os.hostname(),
      datacenter: o.datacenter ?? 'dc1',
      address: o.address ?? '127.0.0.1',
      httpAddr: httpUrl.replace('[::1]', '127.0.0.1'),
      attributes: facts.attributes,
      drivers: facts.drivers,
      defaultDriver,
      resources: facts.resources,
      portRange: o.portRange ?? { min: 20000, max: 32000 },
      ...(o.nodeClass ? { nodeClass: o.nodeClass } : {}),
      ...(o.meta && Object.keys(o.meta).length ? { meta: o.meta } : {}),
    };
    this.#reporter = new StatusReporter((updates) => this.#api((c) => c.updateAllocations(this.nodeId, updates)), this.#log);
    await this.#recover();
    await this.#register();
    this.#loops.push(this.#heartbeatLoop(), this.#watchLoop());
    this.#log.info({ nodeId: this.nodeId, name: this.#registration.name, defaultDriver, http: this.#registration.httpAddr }, 'agent started');
  }

  /** Stop the agent's loops. Tasks keep running unless `stopTasks`. */
  async stop(options: { stopTasks?: boolean } = {}): Promise<void> {
    this.#stop.abort();
    const runners = [...this.#runners.values()];
    if (options.stopTasks) await Promise.all(runners.map((r) => r.destroy()));
    // Otherwise the runners only let go of their tasks, which run on for the next agent. A start
    // in progress (an image pull) is not waited for past the budget.
    else await this.#within(Promise.all(runners.map((r) => r.detach())), 2000);
    await this.#within(this.#reporter.flush(), 2000);
    this.#reporter.close();
    await Promise.all(runners.map((r) => r.save()));
    this.#localState.close();
    await this.#http?.close();
    await Promise.allSettled(this.#loops);
  }

  /** Wait for `work`, but no longer than `ms`. */
  async #within(work: Promise<unknown>, ms: number): Promise<void> {
    const timer = new AbortController();
    await Promise.race([work, this.#clock.sleep(ms, timer.signal).catch(() => undefined)]);
    timer.abort();
  }

  /** The allocation runners, by allocation id (for tests and the agent endpoint). */
  get runners(): ReadonlyMap<string, AllocRunner> {
    return this.#runners;
  }

  #resolveDefaultDriver(infos: NodeRegisterRequest['drivers']): DriverName {
    const wanted = this.#o.defaultDriver ?? 'auto';
    if (wanted !== 'auto') return wanted;
    return infos.docker?.detected && infos.docker.healthy ? 'docker' : 'process';
  }

  async #loadNodeId(): Promise<string> {
    const file = path.join(this.#o.dataDir, 'node-id');
    try {
      const id = (await fs.readFile(file, 'utf8')).trim();
      if (id) return id;
    } catch {
      // First start: make one below.
    }
    const id = newId();
    await fs.writeFile(file, id);
    return id;
  }

  /**
   * Reattach to the tasks recorded before the last stop or crash. A task with a saved handle is
   * found by it (container id; pid and start time). A container this node labelled for a task
   * whose handle was never saved (the agent died between start and save) is adopted rather than
   * started twice; labelled containers of allocations with no record wait in `#orphans` for the
   * server to name their allocation again.
   */
  async #recover(): Promise<void> {
    const records = await this.#localState.load((what, err) => this.#log.warn({ what, err: err.message }, 'skipping unreadable allocation record'));
    const labelled = await labelledTasks(new Set(this.#drivers.values()), this.#registration.name, this.#log);
    for (const record of records) {
      const handles: AllocRecord['handles'] = {};
      for (const [task, handle] of Object.entries(record.handles)) {
        const driver = this.#drivers.get(handle.driver);
        if (driver && (await driver.recover(handle).catch(() => false))) handles[task] = handle;
      }
      for (const h of labelled.get(record.alloc.id) ?? []) {
        if (!handles[h.taskName] && record.taskStates[h.taskName]?.state !== 'dead') handles[h.taskName] = h;
      }
      labelled.delete(record.alloc.id);
      const runner = this.#newRunner(record.alloc, record.job);
      this.#runners.set(record.alloc.id, runner);
      // A task whose handle is gone is started again by its runner, as after a crash.
      runner.start({ handles, taskStates: record.taskStates });
      this.#log.info({ allocId: record.alloc.id, reattached: Object.keys(handles).length }, 'recovered allocation');
    }
    for (const [allocId, handles] of labelled) this.#orphans.set(allocId, handles);
  }

  async #register(): Promise<void> {
    for (let attempt = 0; !this.#stop.signal.aborted; attempt++) {
      try {
        const res = await this.#api((c) => c.registerNode(this.#registration));
        this.#ttlMs = res.heartbeatTtlMs;
        return;
      } catch (err) {
        const delay = backoffDelay(attempt, { baseMs: 250, maxMs: 5000 });
        this.#log.warn({ err: (err as Error).message, retryInMs: delay }, 'cannot register with the server');
        await this.#clock.sleep(delay, this.#stop.signal).catch(() => undefined);
      }
    }
  }

  async #heartbeatLoop(): Promise<void> {
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      // Half the TTL leaves room for one lost heartbeat; jitter keeps agents from beating in step.
      const wait = failures > 0 ? backoffDelay(failures, { baseMs: 500, maxMs: this.#ttlMs / 3 }) : this.#ttlMs / 2 - Math.random() * (this.#ttlMs / 10);
      try {
        await this.#clock.sleep(wait, this.#stop.signal);
      } catch {
        return;
      }
      try {
        this.#ttlMs = (await this.#api((c) => c.heartbeat(this.nodeId))).heartbeatTtlMs;
        failures = 0;
      } catch (err) {
        failures++;
        if (isBerthError(err, 'not_found')) await this.#register();
        else this.#log.warn({ err: (err as Error).message }, 'heartbeat failed');
      }
    }
  }

  /** Blocking query on this node's allocations; every answer is reconciled against the runners. */
  async #watchLoop(): Promise<void> {
    let index = 0;
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      try {
        const res = await this.#api((c) => c.nodeAllocations(this.nodeId, { index, waitMs: 30_000, signal: this.#stop.signal }));
        // An index that went backwards means the state was reset: start over.
        index = res.index < index ? 0 : res.index;
        failures = 0;
        this.#reconcile(res.value);
      } catch (err) {
        if (this.#stop.signal.aborted) return;
        if (isBerthError(err, 'not_found')) await this.#register();
        const delay = backoffDelay(failures++, { baseMs: 250, maxMs: 5000 });
        this.#log.warn({ err: (err as Error).message, retryInMs: delay }, 'cannot read allocations from the server');
        await this.#clock.sleep(delay, this.#stop.signal).catch(() => undefined);
      }
    }
  }

  #reconcile(allocs: Allocation[]): void {
    const seen = new Set<string>();
    for (const alloc of allocs) {
      seen.add(alloc.id);
      const runner = this.#runners.get(alloc.id);
      if (this.#starting.has(alloc.id)) {
        // Its job is still being fetched: #startAlloc starts the latest version of it.
        this.#starting.set(alloc.id, alloc);
        continue;
      }
      if (runner) {
        // Marked lost while this node was cut off: see whether it was replaced meanwhile.
        if (alloc.clientStatus === 'lost' && alloc.desiredStatus === 'run') {
          void this.#settleLost(runner, alloc);
          continue;
        }
        runner.update(alloc);
        if (alloc.desiredStatus === 'stop') void this.#retire(runner);
        else if (alloc.jobVersion !== runner.job.version) void this.#takeVersion(runner);
        continue;
      }
      if (alloc.desiredStatus !== 'run' || isClientTerminal(alloc)) continue;
      void this.#startAlloc(alloc);
    }
    // Gone from the server (garbage-collected): nothing should run.
    for (const [id, runner] of this.#runners) if (!seen.has(id)) void this.#retire(runner);
    for (const id of this.#starting.keys()) if (!seen.has(id)) this.#starting.delete(id);
  }

  /**
   * An allocation the server marked lost while this node was away. When the server has placed a
   * replacement (same name, wanted, not ended), this copy is stale and is stopped, so that exactly
   * `count` run. Otherwise it carries on, and reporting it again tells the server it is not lost.
   */
  async #settleLost(runner: AllocRunner, alloc: Allocation): Promise<void> {
    if (this.#settling.has(alloc.id) || this.#retiring.has(alloc.id)) return;
    this.#settling.add(alloc.id);
    try {
      const { value: siblings } = await this.#api((c) => c.jobAllocations(alloc.jobId));
      if (isReplaced(alloc, siblings)) {
        this.#log.warn({ allocId: alloc.id, name: alloc.name }, 'the server replaced this allocation while the node was away: stopping it');
        runner.update({ ...alloc, desiredStatus: 'stop', desiredDescription: 'replaced while the node was away' });
        await this.#retire(runner);
      } else {
        runner.update(alloc);
        this.#reporter.push({ id: alloc.id, clientStatus: runner.clientStatus(), taskStates: runner.taskStates() });
      }
    } catch (err) {
      // The next answer of the watch loop tries again.
      this.#log.warn({ allocId: alloc.id, err: (err as Error).message }, 'cannot tell whether a lost allocation was replaced');
    } finally {
      this.#settling.delete(alloc.id);
    }
  }

  async #startAlloc(alloc: Allocation): Promise<void> {
    this.#starting.set(alloc.id, alloc);
    try {
      const job = await this.#jobVersion(alloc.jobId, alloc.jobVersion);
      // The latest the server said of it meanwhile; none when it is gone or the agent stopped.
      const latest = this.#starting.get(alloc.id);
      if (!latest || this.#stop.signal.aborted) return;
      const runner = this.#newRunner(latest, job);
      this.#runners.set(alloc.id, runner);
      // Containers started for it before a crash that lost its record: adopt, do not start again.
      const adopted = Object.fromEntries((this.#orphans.get(alloc.id) ?? []).map((h) => [h.taskName, h]));
      this.#orphans.delete(alloc.id);
      runner.start({ handles: adopted, taskStates: {} });
      if (latest.desiredStatus === 'stop') void this.#retire(runner);
      // Updated in place while its job was fetched.
      else if (latest.jobVersion !== job.version) void this.#takeVersion(runner);
    } catch (err) {
      this.#log.error({ err, allocId: alloc.id }, 'cannot start allocation');
      this.#reporter.push({ id: alloc.id, clientStatus: 'failed', clientDescription: `cannot start: ${(err as Error).message}`, taskStates: {} });
    } finally {
      this.#starting.delete(alloc.id);
    }
  }

  /**
   * The server updated an allocation in place (same tasks, a new job version): hand its runner
   * that version, so that its checks follow the new services. Fetches again while the version
   * moves on under it; a failure is retried at the watch loop's next answer.
   */
  async #takeVersion(runner: AllocRunner): Promise<void> {
    const id = runner.alloc.id;
    if (this.#taking.has(id)) return;
    this.#taking.add(id);
    try {
      while (this.#runners.get(id) === runner && runner.alloc.desiredStatus === 'run' && runner.alloc.jobVersion !== runner.job.version) {
        const { jobId, jobVersion } = runner.alloc;
        const job = await this.#jobVersion(jobId, jobVersion);
        // Moved on meanwhile: fetch that version. A runner that stops or detaches takes none.
        if (runner.alloc.jobVersion === jobVersion && !runner.takeJob(job)) break;
      }
    } catch (err) {
      this.#log.warn({ allocId: id, err: (err as Error).message }, 'cannot read the job version an allocation was updated to');
    } finally {
      this.#taking.delete(id);
    }
  }

  /** Stop an allocation's tasks, remove them, and forget it once the server knows. */
  async #retire(runner: AllocRunner): Promise<void> {
    const id = runner.alloc.id;
    if (this.#retiring.has(id)) return;
    this.#retiring.add(id);
    try {
      await runner.destroy();
      await this.#reporter.flush();
    } finally {
      this.#runners.delete(id);
      this.#retiring.delete(id);
    }
  }

  #newRunner(alloc: Allocation, job: Job): AllocRunner {
    return new AllocRunner(alloc, job, {
      nodeName: this.#registration?.name ?? this.#o.nodeName ?? os.hostname(),
      nodeAddress: this.#registration?.address ?? this.#o.address ?? '127.0.0.1',
      drivers: this.#drivers,
      defaultDriver: this.#registration?.defaultDriver ?? 'process',
      localState: this.#localState,
      clock: this.#clock,
      logger: this.#log.child({ allocId: alloc.id }),
      onChange: (u) => this.#reporter.push(u),
      servers: this.#client.servers,
      dnsServers: this.#o.dnsServers,
    });
  }

  /**
   * Call the servers: the client tries each in turn while one does not answer, and the callers'
   * loops retry with backoff when none does.
   */
  #api<T>(call: (client: BerthClient) => Promise<T>): Promise<T> {
    return call(this.#client);
  }

  /** The job version an allocation runs, fetched once per version. */
  #jobVersion(jobId: string, version: number): Promise<Job> {
    const key = `${jobId}@${version}`;
    let p = this.#jobs.get(key);
    if (!p) {
      p = this.#api((c) => c.getJobVersion(jobId, version));
      this.#jobs.set(key, p);
      p.catch(() => this.#jobs.delete(key));
    }
    return p;
  }
}
