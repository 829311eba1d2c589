import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TaskDriver } from '../drivers/index.ts';
import type { DriverName } from '../model/index.ts';
import { timeCalls } from '../lib/index.ts';
import type { AllocRunner } from './allocs/alloc-runner.ts';
import { allocUsage } from './http/resource-stats.ts';

/**
 * Allocations given series of their own, at most: the labels are the node's allocations, which
 * its resources bound anyway; past this the rest only count in `berth_agent_allocs`.
 */
const MAX_ALLOC_SERIES = 500;

/** What the log forwarder counts. */
interface ForwarderCounts {
  /** The target, its password masked. */
  name: string;
  forwarded: number;
  dropped: number;
  queued: number;
}

/** The driver calls that are one operation (a task's wait and log stream last as long as it does). */
const TIMED = new Set<string | symbol>(['fingerprint', 'start', 'recover', 'stop', 'signal', 'destroy', 'list', 'stats']);

/**
 * The agent's Prometheus metrics, served at its endpoint's `/v1/metrics`: each allocation's CPU
 * and memory, each task's state and restarts, each check's status (gauges filled at scrape time
 * from the runners, so an allocation gone is a series gone), and how long driver operations take.
 * Labels name jobs, groups, allocations, tasks and checks, never a request; the job is `job_id`,
 * since Prometheus gives `job` to the scrape target.
 */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly driverSeconds = new Histogram({
    name: 'berth_agent_driver_operation_seconds',
    help: 'Driver operations (start, stop, destroy, recover, stats, ...) by driver',
    labelNames: ['driver', 'op'],
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
    registers: [this.registry],
  });
  readonly #allocs = this.#gauge('berth_agent_allocs', 'Allocations this agent runs, by client status', ['status']);
  readonly #cpu = this.#gauge('berth_agent_alloc_cpu_percent', 'CPU an allocation uses now, in percent of one core', ['job_id', 'group', 'alloc_id']);
  readonly #memory = this.#gauge('berth_agent_alloc_memory_bytes', 'Memory an allocation uses now', ['job_id', 'group', 'alloc_id']);
  readonly #restarts = this.#gauge('berth_agent_task_restarts', 'Restarts of a task so far', ['job_id', 'group', 'alloc_id', 'task']);
  readonly #state = this.#gauge('berth_agent_task_state', '1 for the state a task is in (pending, running, dead)', ['job_id', 'group', 'alloc_id', 'task', 'state']);
  readonly #checks = this.#gauge('berth_agent_check_status', '1 for the status a service check holds (passing, warning, critical)', ['job_id', 'alloc_id', 'check', 'status']);

  #forwarders: readonly ForwarderCounts[] = [];

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'berth_agent_' });
    const forwarders = (): readonly ForwarderCounts[] => this.#forwarders;
    // One series per --log-forward target (the few the operator names, passwords masked), never per task or line.
    const read = (what: 'forwarded' | 'dropped') =>
      function (this: Counter<'target'>): void {
        this.reset();
        for (const f of forwarders()) this.inc({ target: f.name }, f[what]);
      };
    new Counter({ name: 'berth_agent_log_lines_forwarded_total', help: 'Task output lines sent to a --log-forward target', labelNames: ['target'], registers: [this.registry], collect: read('forwarded') });
    new Counter({ name: 'berth_agent_log_lines_dropped_total', help: "Task output lines dropped because a --log-forward target fell behind (its buffer was full)", labelNames: ['target'], registers: [this.registry], collect: read('dropped') });
    new Gauge({
      name: 'berth_agent_log_lines_queued',
      help: 'Task output lines waiting to be sent to a --log-forward target',
      labelNames: ['target'],
      registers: [this.registry],
      collect(this: Gauge<'target'>) {
        this.reset();
        for (const f of forwarders()) this.set({ target: f.name }, f.queued);
      },
    });
  }

  /** Report the forwarders' counts (lines sent, dropped, waiting; one series each) at each scrape. */
  follow(forwarders: readonly ForwarderCounts[]): void {
    this.#forwarders = forwarders;
  }

  #gauge<L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  /** The metrics text, the gauges read afresh from the runners. */
  async scrape(runners: Iterable<AllocRunner>, drivers: Map<DriverName, TaskDriver>): Promise<string> {
    for (const g of [this.#allocs, this.#cpu, this.#memory, this.#restarts, this.#state, this.#checks]) g.reset();
    const all = [...runners];
    for (const r of all) this.#allocs.inc({ status: r.clientStatus() });
    await Promise.all(all.slice(0, MAX_ALLOC_SERIES).map((r) => this.#observe(r, drivers)));
    return this.registry.metrics();
  }

  async #observe(runner: AllocRunner, drivers: Map<DriverName, TaskDriver>): Promise<void> {
    const a = runner.alloc;
    const alloc = { job_id: a.jobId, group: a.group, alloc_id: a.id };
    const usage = await allocUsage(runner, drivers);
    this.#cpu.set(alloc, usage.cpuPercent);
    this.#memory.set(alloc, usage.memoryBytes);
    for (const [task, s] of Object.entries(runner.taskStates())) {
      this.#restarts.set({ ...alloc, task }, s.restarts);
      this.#state.set({ ...alloc, task, state: s.state }, 1);
    }
    for (const c of runner.checkStatuses()) this.#checks.set({ job_id: a.jobId, alloc_id: a.id, check: c.id, status: c.status }, 1);
  }
}

/** `driver` with its operations timed into `histogram`; everything else passes through. */
export function timedDriver(driver: TaskDriver, histogram: Histogram<'driver' | 'op'>): TaskDriver {
  return timeCalls(driver, TIMED, (op) => histogram.startTimer({ driver: driver.name, op }));
}
