import type { BerthClient } from '../../api/index.ts';
import type { TaskHandle } from '../../drivers/index.ts';
import { systemClock, type Clock, type Logger } from '../../lib/index.ts';
import { isClientTerminal, type Allocation, type Job } from '../../model/index.ts';
import type { AllocRunner } from './alloc-runner.ts';
import { Exclusive } from './exclusive.ts';
import { JobVersions } from './job-versions.ts';
import { isReplaced, type Recovered } from './recovery.ts';
import type { StatusReporter } from './reporter.ts';

/** What the node's allocations are given. */
export interface LocalAllocsOptions {
  client: BerthClient;
  reporter: StatusReporter;
  logger: Logger;
  /** Aborted when the agent stops: nothing new starts after it. */
  signal: AbortSignal;
  /** A runner for an allocation, not started. */
  newRunner: (alloc: Allocation, job: Job) => AllocRunner;
  /** For the end time of tasks settled without a runner. Default: the wall clock. */
  clock?: Clock;
}

/**
 * The allocations this node runs, one runner each, reconciled against every answer of the watch:
 * start what the server placed here, hand updates to the runners, stop what it stopped or forgot.
 */
export class LocalAllocs {
  readonly #o: LocalAllocsOptions;
  readonly #runners = new Map<string, AllocRunner>();
  readonly #jobs: JobVersions;
  /** Allocations whose job is being fetched before they start, with the latest the server said of them. */
  readonly #starting = new Map<string, Allocation>();
  /** Labelled tasks found at start whose allocation had no local record, by allocation id. */
  #orphans = new Map<string, TaskHandle[]>();
  readonly #retiring = new Exclusive();
  /** Lost allocations being checked for a replacement. */
  readonly #settling = new Exclusive();
  /** Allocations whose runner is being handed the job version they were updated to in place. */
  readonly #taking = new Exclusive();
  /**
   * Allocations this agent ran and retired since it started: their last report is the runner's,
   * so an older answer of the watch that still shows them live is not taken for one to settle.
   */
  readonly #retired = new Set<string>();

  constructor(options: LocalAllocsOptions) {
    this.#o = options;
    this.#jobs = new JobVersions(options.client);
  }

  /** The runners, by allocation id. */
  get runners(): Map<string, AllocRunner> {
    return this.#runners;
  }

  /** Run again what was recovered from local state; orphans wait for the server to name their allocation. */
  restore(recovered: Recovered): void {
    for (const { record, handles } of recovered.allocs) {
      const runner = this.#o.newRunner(record.alloc, record.job);
      this.#runners.set(record.alloc.id, runner);
      runner.start({ handles, taskStates: record.taskStates });
      this.#o.logger.info({ allocId: record.alloc.id, reattached: Object.keys(handles).length }, 'recovered allocation');
      // It was being stopped when the agent went: finish that, and start none of its tasks again.
      if (record.alloc.desiredStatus === 'stop') void this.#retire(runner);
    }
    this.#orphans = recovered.orphans;
  }

  /** Compare one answer of the watch with what runs, and act on the difference. */
  reconcile(allocs: Allocation[]): void {
    const seen = new Set<string>();
    for (const alloc of allocs) {
      seen.add(alloc.id);
      const runner = this.#runners.get(alloc.id);
      if (this.#starting.has(alloc.id)) {
        // Its job is still being fetched: #start starts the latest version of it.
        this.#starting.set(alloc.id, alloc);
        continue;
      }
      if (runner) {
        this.#follow(runner, alloc);
        continue;
      }
      if (isClientTerminal(alloc)) continue;
      // Wanted, or stopped with a container of it left running here (an orphan): #start adopts
      // the orphan's tasks and retires them.
      if (alloc.desiredStatus === 'run' || this.#orphans.has(alloc.id)) void this.#start(alloc);
      else if (!this.#retired.has(alloc.id)) this.#settleStopped(alloc);
    }
    // Gone from the server (garbage-collected): nothing should run.
    for (const [id, runner] of this.#runners) if (!seen.has(id)) void this.#retire(runner);
    for (const id of this.#starting.keys()) if (!seen.has(id)) this.#starting.delete(id);
    for (const id of this.#retired) if (!seen.has(id)) this.#retired.delete(id);
  }

  /**
   * An allocation the server stopped that the server still thinks pending or running, while
   * nothing of it runs here: no runner, no record, no container. Either the agent was killed
   * after its tasks stopped but before it said so, or it was replaced before this node started
   * it. Its tasks are not running, and they stopped because the server asked: it is complete.
   */
  #settleStopped(alloc: Allocation): void {
    const now = (this.#o.clock ?? systemClock).now();
    const taskStates = Object.fromEntries(
      Object.entries(alloc.taskStates).map(([name, s]) => [name, s.state === 'dead' ? s : { ...s, state: 'dead' as const, failed: false, finishedAt: now }]),
    );
    const clientDescription = alloc.clientStatus === 'pending' ? 'stopped before this node started it' : 'stopped; the agent was restarted before it reported so';
    this.#o.logger.info({ allocId: alloc.id, was: alloc.clientStatus }, 'reporting a stopped allocation that does not run here as complete');
    this.#retired.add(alloc.id);
    this.#o.reporter.push({ id: alloc.id, clientStatus: 'complete', clientDescription, taskStates });
  }

  /** What the server now says of an allocation that runs here. */
  #follow(runner: AllocRunner, alloc: Allocation): void {
    // Marked lost while this node was cut off: see whether it was replaced meanwhile.
    if (alloc.clientStatus === 'lost' && alloc.desiredStatus === 'run') {
      void this.#settleLost(runner, alloc);
      return;
    }
    runner.update(alloc);
    if (alloc.desiredStatus === 'stop') void this.#retire(runner);
    else if (alloc.jobVersion !== runner.job.version) void this.#takeVersion(runner);
  }

  /**
   * An allocation the server marked lost while this node was away. When the server has placed a
   * replacement (same name, wanted, not ended), this copy is stale and is stopped, so that exactly
   * `count` run. Otherwise it carries on, and reporting it again tells the server it is not lost.
   */
  async #settleLost(runner: AllocRunner, alloc: Allocation): Promise<void> {
    if (this.#retiring.has(alloc.id)) return;
    await this.#settling.run(alloc.id, async () => {
      try {
        const { value: siblings } = await this.#o.client.jobAllocations(alloc.jobId);
        if (isReplaced(alloc, siblings)) {
          this.#o.logger.warn({ allocId: alloc.id, name: alloc.name }, 'the server replaced this allocation while the node was away: stopping it');
          runner.update({ ...alloc, desiredStatus: 'stop', desiredDescription: 'replaced while the node was away' });
          await this.#retire(runner);
        } else {
          runner.update(alloc);
          this.#o.reporter.push({ id: alloc.id, clientStatus: runner.clientStatus(), taskStates: runner.taskStates() });
        }
      } catch (err) {
        // The next answer of the watch loop tries again.
        this.#o.logger.warn({ allocId: alloc.id, err: (err as Error).message }, 'cannot tell whether a lost allocation was replaced');
      }
    });
  }

  async #start(alloc: Allocation): Promise<void> {
    this.#starting.set(alloc.id, alloc);
    try {
      const job = await this.#jobs.get(alloc.jobId, alloc.jobVersion);
      // The latest the server said of it meanwhile; none when it is gone or the agent stopped.
      const latest = this.#starting.get(alloc.id);
      if (!latest || this.#o.signal.aborted) return;
      const runner = this.#o.newRunner(latest, job);
      this.#runners.set(alloc.id, runner);
      // Containers started for it before a crash that lost its record: adopt, do not start again.
      const adopted = Object.fromEntries((this.#orphans.get(alloc.id) ?? []).map((h) => [h.taskName, h]));
      this.#orphans.delete(alloc.id);
      runner.start({ handles: adopted, taskStates: {} });
      if (latest.desiredStatus === 'stop') void this.#retire(runner);
      // Updated in place while its job was fetched.
      else if (latest.jobVersion !== job.version) void this.#takeVersion(runner);
    } catch (err) {
      this.#o.logger.error({ err, allocId: alloc.id }, 'cannot start allocation');
      this.#o.reporter.push({ id: alloc.id, clientStatus: 'failed', clientDescription: `cannot start: ${(err as Error).message}`, taskStates: {} });
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
    await this.#taking.run(id, async () => {
      try {
        while (this.#runners.get(id) === runner && runner.alloc.desiredStatus === 'run' && runner.alloc.jobVersion !== runner.job.version) {
          const { jobId, jobVersion } = runner.alloc;
          const job = await this.#jobs.get(jobId, jobVersion);
          // Moved on meanwhile: fetch that version. A runner that stops or detaches takes none.
          if (runner.alloc.jobVersion === jobVersion && !runner.takeJob(job)) break;
        }
      } catch (err) {
        this.#o.logger.warn({ allocId: id, err: (err as Error).message }, 'cannot read the job version an allocation was updated to');
      }
    });
  }

  /** Stop an allocation's tasks, remove them, and forget it once the server knows. */
  async #retire(runner: AllocRunner): Promise<void> {
    const id = runner.alloc.id;
    await this.#retiring.run(id, async () => {
      try {
        await runner.destroy();
        await this.#o.reporter.flush();
      } finally {
        this.#retired.add(id);
        this.#runners.delete(id);
      }
    });
  }
}
