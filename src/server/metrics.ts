import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The server's Prometheus metrics, in one registry per server so tests can run several. */
export class ServerMetrics {
  readonly registry = new Registry();
  /** Ordinary requests only: a long poll's minutes of waiting are not latency (see `httpLongPolls`). */
  readonly httpRequests = new Histogram({
    name: 'berth_http_request_duration_seconds',
    help: 'HTTP API request durations, blocking queries and streams excluded',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  /** Blocking queries (`?index=`), the event stream and followed logs: how long they stayed open. */
  readonly httpLongPolls = new Histogram({
    name: 'berth_http_long_poll_duration_seconds',
    help: 'How long blocking queries (?index=), the event stream and followed logs stayed open',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.1, 1, 5, 30, 60, 300, 600],
    registers: [this.registry],
  });
  readonly evalsProcessed = new Counter({
    name: 'berth_evals_processed_total',
    help: 'Evaluations processed by the workers, by outcome',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly scheduleSeconds = new Histogram({
    name: 'berth_schedule_duration_seconds',
    help: 'Time a worker spent on one evaluation',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  readonly plansApplied = new Counter({ name: 'berth_plans_applied_total', help: 'Plans committed by the plan applier', registers: [this.registry] });
  readonly allocsPlaced = new Counter({ name: 'berth_allocs_placed_total', help: 'Allocations placed', registers: [this.registry] });
  readonly allocsRejected = new Counter({
    name: 'berth_allocs_rejected_total',
    help: 'Allocations the plan applier rejected because they no longer fit',
    registers: [this.registry],
  });
  readonly brokerReady = new Gauge({ name: 'berth_broker_ready_evals', help: 'Evaluations waiting for a worker', registers: [this.registry] });
  readonly nodes = new Gauge({ name: 'berth_nodes', help: 'Nodes by status', labelNames: ['status'], registers: [this.registry] });
  readonly allocs = new Gauge({ name: 'berth_allocs', help: 'Allocations by client status', labelNames: ['status'], registers: [this.registry] });
  readonly jobs = new Gauge({ name: 'berth_jobs', help: 'Registered jobs', registers: [this.registry] });
  readonly stateIndex = new Gauge({ name: 'berth_state_index', help: 'The revision of the state the server has applied', registers: [this.registry] });
  readonly leader = new Gauge({ name: 'berth_leader', help: '1 on the server that holds the leader lease, else 0', registers: [this.registry] });
  readonly brokerInFlight = new Gauge({ name: 'berth_broker_in_flight_evals', help: 'Evaluations out at a worker', registers: [this.registry] });
  readonly brokerDelayed = new Gauge({ name: 'berth_broker_delayed_evals', help: 'Evaluations waiting for their time (reschedule delays)', registers: [this.registry] });
  readonly brokerOldest = new Gauge({ name: 'berth_broker_oldest_ready_eval_age_seconds', help: 'How long the oldest evaluation waiting for a worker has existed; 0 when none waits', registers: [this.registry] });
  readonly blockedEvals = new Gauge({ name: 'berth_blocked_evals', help: 'Evaluations blocked until capacity frees up', registers: [this.registry] });
  readonly planQueue = new Gauge({ name: 'berth_plan_queue_depth', help: 'Plans submitted to the plan applier and not yet applied', registers: [this.registry] });
  readonly heartbeatsMissed = new Counter({ name: 'berth_heartbeats_missed_total', help: 'Nodes marked down because their heartbeat did not come in time', registers: [this.registry] });
  readonly deployments = new Gauge({ name: 'berth_deployments', help: 'Deployments by status', labelNames: ['status'], registers: [this.registry] });
  readonly stateRows = new Gauge({ name: 'berth_state_rows', help: 'Rows of the state by table', labelNames: ['table'], registers: [this.registry] });
  readonly stateFileBytes = new Gauge({ name: 'berth_state_file_bytes', help: 'Size of the SQLite state file and its write-ahead log (not on etcd)', registers: [this.registry] });
  /** Every call to the state backend, by operation (range, txn, ...): etcd's round trips, SQLite's writes. */
  readonly backendSeconds = new Histogram({
    name: 'berth_backend_request_duration_seconds',
    help: 'State backend calls by operation',
    labelNames: ['op'],
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });

  readonly #refreshers: (() => void | Promise<void>)[] = [];

  /** Run `fn` before every scrape: gauges read from the parts that hold the figures. */
  onScrape(fn: () => void | Promise<void>): void {
    this.#refreshers.push(fn);
  }

  /** Bring the scrape-time gauges up to date, then answer the scrape. */
  async scrape(): Promise<string> {
    for (const fn of this.#refreshers) await fn();
    return this.registry.metrics();
  }

  constructor() {
    // prom-client's names already start with process_ or nodejs_: `berth_process_cpu_seconds_total`.
    collectDefaultMetrics({ register: this.registry, prefix: 'berth_' });
  }
}
