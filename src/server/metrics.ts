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

  constructor() {
    // prom-client's names already start with process_ or nodejs_: `berth_process_cpu_seconds_total`.
    collectDefaultMetrics({ register: this.registry, prefix: 'berth_' });
  }
}
