import type { ServiceSpec, UpstreamSpec } from './service.ts';
import type { UpdateStrategy } from './deployment.ts';

/** The kinds of job berth runs. */
export type JobType = 'service' | 'batch' | 'system';

/** Which driver runs a task. Absent in a spec: the node's default driver. */
export type DriverName = 'docker' | 'process';

/** A port a task asks for. `static` pins the host port; otherwise one is picked. */
export interface PortSpec {
  /** Label used in env vars (`BERTH_PORT_<label>`) and interpolation. */
  label: string;
  /** A fixed host port; absent for a dynamic one. */
  static?: number;
  /** The port inside the container (docker only); defaults to the host port. */
  to?: number;
}

/** Resources a task needs on its node. */
export interface Resources {
  /** CPU in cores (0.5 = half a core). */
  cpu: number;
  /** Memory in MiB. */
  memoryMiB: number;
  /** A hard memory limit above `memoryMiB` that the task may burst to (placement reserves `memoryMiB`). */
  memoryMaxMiB?: number;
  /** Disk in MiB; absent: none asked. */
  diskMiB?: number;
}

/** What the agent does when a task exits (Nomad's restart block). */
export interface RestartPolicy {
  /** Restarts allowed within `intervalMs`. */
  attempts: number;
  intervalMs: number;
  /** Wait before each restart. */
  delayMs: number;
  /** When attempts are used up: `fail` the task, or `delay` until the interval has passed. */
  mode: 'fail' | 'delay';
}

/** Driver-specific settings. Docker reads `image`; both read `command` and `args`. */
export interface TaskConfig {
  image?: string;
  command?: string;
  args?: string[];
  /** Working directory (process driver) or container workdir (docker). */
  workdir?: string;
  /** Docker: replaces the image's entrypoint. */
  entrypoint?: string[];
  /** User to run as: `name`, `uid` or `uid:gid` (process driver: only when the agent runs as root). */
  user?: string;
  /** Signal that asks the task to stop (default SIGTERM); SIGKILL follows after the kill timeout. */
  stopSignal?: string;
  /** Docker: when to pull the image. Default `missing`. */
  pull?: ImagePullPolicy;
  /** Docker: the container's host name. */
  hostname?: string;
  /** Docker: extra /etc/hosts lines, `name:ip`. */
  extraHosts?: string[];
  /** Docker: DNS servers of the container (berth's DNS once discovery serves it). */
  dnsServers?: string[];
  /** Docker: DNS search domains of the container (the agent's `service.berth` with service addresses). */
  dnsSearch?: string[];
  /** Docker: `bridge` (default) or `host`; any other value is a Docker network's name. */
  networkMode?: string;
  /** Docker: `/host/path:/ctr/path[:ro]` binds a host path; `name:/ctr/path[:ro]` mounts a named volume. */
  volumes?: string[];
  /** Docker: tmpfs mounts, `/container/path[:options]` (`/run:size=64m,mode=1777`). */
  tmpfs?: string[];
  /** Docker: labels added to the container, beside berth's own. */
  labels?: Record<string, string>;
  /** Docker: opt-in privileged mode. */
  privileged?: boolean;
  /** Docker: capabilities to add and drop. */
  capAdd?: string[];
  capDrop?: string[];
  /** Docker: host devices, `/dev/x[:/dev/y[:rwm]]`. */
  devices?: string[];
  /** Docker: run an init process as PID 1 that reaps zombies and forwards signals (Compose's `init`). */
  init?: boolean;
}

/** When the docker driver pulls: `always`, only when the image is `missing` locally, or `never`. */
export type ImagePullPolicy = 'always' | 'missing' | 'never';

/** How much output a task keeps: files of at most `maxFileSizeMiB`, the oldest dropped past `maxFiles`. */
export interface LogPolicy {
  maxFiles: number;
  maxFileSizeMiB: number;
}

/**
 * When a task runs within its allocation (Nomad's lifecycle block): `prestart` tasks run before
 * the main tasks (to completion, or on beside them when `sidecar`); `poststop` tasks run after the
 * main tasks have stopped.
 */
export interface TaskLifecycle {
  hook: 'prestart' | 'poststop';
  sidecar: boolean;
}

/** A task's template (consul-template's role), rendered with Handlebars by the agent. */
export interface TaskTemplate {
  /** The template text: `{{key "cfg/x"}}`, `{{#each (service "web")}}{{Address}}:{{Port}}{{/each}}`, `tree`, `keyOrDefault`. */
  data: string;
  /** The file to write, relative to the task directory. */
  destination?: string;
  /** Read the output as KEY=VALUE lines into the task's environment. */
  env?: boolean;
  /** What a change does: restart the task (default), send it `changeSignal`, or nothing. */
  changeMode?: 'restart' | 'signal' | 'noop';
  changeSignal?: string;
  /** Act on a change after a random delay up to this, so instances do not all restart at once. */
  splayMs?: number;
}

export interface Task {
  name: string;
  /** Absent: the node's default driver decides. */
  driver?: DriverName;
  config: TaskConfig;
  env: Record<string, string>;
  resources: Resources;
  /** Time between the stop signal and a forced kill. */
  killTimeoutMs: number;
  /** Absent: a main task. */
  lifecycle?: TaskLifecycle;
  /** Batch tasks: killed and failed once they have run this long. */
  maxRunDurationMs?: number;
  /** Log rotation; absent: the agent's default (10 files of 10 MiB). */
  logs?: LogPolicy;
  /** Services registered while the task runs; absent when none. */
  services?: ServiceSpec[];
  /** Files or env rendered from KV keys and services, re-rendered on change; absent when none. */
  templates?: TaskTemplate[];
  /** Services this task reaches through its agent's listeners; absent when none. */
  upstreams?: UpstreamSpec[];
}

export interface Group {
  name: string;
  count: number;
  tasks: Task[];
  ports: PortSpec[];
  restart: RestartPolicy;
  /** Placement rules for this group, added to the job's. */
  constraints?: Constraint[];
  affinities?: Affinity[];
  spreads?: Spread[];
  /** Where a failed allocation is placed again, and when (server side; restarts are the agent's). */
  reschedule?: ReschedulePolicy;
  /** What happens to allocations whose node stops answering. */
  disconnect?: DisconnectPolicy;
  /** How a drain moves this group's allocations: at most `maxParallel` at a time (default 1). */
  migrate?: { maxParallel: number };
  /** Services registered while the allocation runs; absent when none. */
  services?: ServiceSpec[];
  /** Services every task of the group reaches through its agent's listeners; absent when none. */
  upstreams?: UpstreamSpec[];
  /** How a new version replaces the allocations (the job's `update` merged with the group's); absent: all at once. */
  update?: UpdateStrategy;
}

/** A job as stored: the user's spec after defaults, plus the fields berth owns. */
export interface Job {
  id: string;
  type: JobType;
  priority: number;
  datacenters: string[];
  groups: Group[];
  meta: Record<string, string>;
  /** Increments on every change to the spec. */
  version: number;
  /** True once `job stop` has been asked. A stopped job keeps its history until purged. */
  stop: boolean;
  /** State index of the write that produced this version. */
  submitTime: number;
  /** Set on a stored version once a deployment of it succeeded: auto-revert goes back to it. */
  stable?: boolean;
  /** Placement rules for every group. */
  constraints?: Constraint[];
  affinities?: Affinity[];
  spreads?: Spread[];
  /** Batch jobs: an allocation running longer than this is stopped and not replaced. */
  maxRunDurationMs?: number;
  /** Batch jobs: launched on a schedule as child jobs `<id>/periodic-<unix s>`; never placed itself. */
  periodic?: PeriodicConfig;
  /** Batch jobs: launched by `job dispatch` as child jobs; never placed itself. */
  parameterized?: ParameterizedConfig;
  /** Batch jobs: launched once every parent job has succeeded since this job's last run. */
  after?: string[];
  /**
   * Jobs this one waits for before it is placed (`after:` with conditions, any job type): while one
   * is not met and the job runs nothing, the scheduler holds its placements and says why.
   */
  dependsOn?: Dependency[];
  /** Child jobs: the periodic, parameterized or dependent job that launched it. */
  parentId?: string;
  /** Dispatched children: the payload, base64, written to `<task dir>/local/payload` (absent: none). */
  payload?: string;
}

/** What a dependency must reach before its dependent is placed. */
export type DependencyCondition = 'started' | 'healthy' | 'completed';

/** The conditions, in the order the docs list them. */
export const DEPENDENCY_CONDITIONS: readonly DependencyCondition[] = ['started', 'healthy', 'completed'];

/** One entry of a job's `after:` list in its long form. */
export interface Dependency {
  /** The job waited for; it may not exist yet (the dependent is held until it does). */
  job: string;
  /**
   * `started`: its allocations run; `healthy`: they run and pass their checks (its deployment is
   * healthy); `completed`: a batch job succeeded (or its failed run was marked successful).
   */
  condition: DependencyCondition;
  /** Restart this job's allocations when the dependency's are restarted or replaced. */
  restart: boolean;
}

/** Who marked a failed run successful, and when (`job mark-success`). */
export interface MarkedSuccess {
  /** The token's name or accessor, or `anonymous` without ACLs. */
  by: string;
  at: number;
}

/** A batch job's schedule (Nomad's periodic block, plus Chronos' ISO8601 repeating intervals). */
export interface PeriodicConfig {
  /** A cron expression of 5 or 6 fields (seconds first); exactly one of `cron` and `schedule`. */
  cron?: string;
  /** ISO8601 repeating interval `R[n]/START/PERIOD`; an empty START means the registration time. */
  schedule?: string;
  /** IANA time zone the schedule reads in. Default UTC. */
  timeZone: string;
  /** While a run is live: start another (`allow`), skip (`forbid`, default) or stop it first (`replace`). */
  concurrency: 'allow' | 'forbid' | 'replace';
  /** How late a launch missed (server down) may still start; later ones are recorded as skipped. */
  epsilonMs: number;
  enabled: boolean;
  /** Shorthand for the groups' batch reschedule policy: failed runs are placed again this often. */
  retries?: number;
  retryDelayMs?: number;
  /** For an empty START: when the job was first registered (ms), so the schedule stays put. */
  anchorMs?: number;
}

/** Input a parameterized job takes at dispatch. */
export interface ParameterizedConfig {
  payload: 'optional' | 'required' | 'forbidden';
  metaRequired: string[];
  metaOptional: string[];
}

/** One launch of a periodic, dispatched or dependent job, keyed by job and scheduled time. */
export interface JobRun {
  jobId: string;
  /** The scheduled time (ms); for forced, dispatched and dependent runs, the launch time. */
  scheduled: number;
  /** `<jobId>/periodic-<unix s>` (or `dispatch-`, `after-`); absent when skipped. */
  childId?: string;
  trigger: 'periodic' | 'force' | 'dispatch' | 'after';
  /** When the child job was created. */
  launched?: number;
  start?: number;
  end?: number;
  outcome: 'pending' | 'running' | 'complete' | 'failed' | 'skipped';
  /** Why a run was skipped, or what held it. */
  reason?: string;
  /** Dispatch: the caller's idempotency token; a dispatch with the same token returns this run while its child exists. */
  idempotencyToken?: string;
  /** A dependent run held because a parent failed: that parent and its failed run. */
  heldBy?: HeldBy;
  /** A failed run an operator marked successful, so its dependents go on. */
  markedSuccess?: MarkedSuccess;
  allocIds: string[];
}

/** The failed parent run that holds a dependent job (`after`). */
export interface HeldBy {
  /** The parent job. */
  parent: string;
  /** The failed run: the parent's child job when the parent is periodic, dispatched or dependent, else the parent itself. */
  run: string;
  /** When the failed run ended (ms). */
  failedAt: number;
}

/** The operators a constraint or affinity may use (Nomad's). */
export type ConstraintOperator =
  | '='
  | '!='
  | '>'
  | '>='
  | '<'
  | '<='
  | 'regexp'
  | 'set_contains'
  | 'set_contains_any'
  | 'version'
  | 'semver'
  | 'is_set'
  | 'is_not_set'
  | 'distinct_hosts'
  | 'distinct_property';

/**
 * A hard placement rule. `attribute` names a node property: `${node.datacenter}`, `${node.class}`,
 * `${node.unique.name}`, `${node.unique.id}`, `${attr.<name>}`, `${meta.<name>}`.
 */
export interface Constraint {
  attribute: string;
  operator: ConstraintOperator;
  /** The right-hand side; for `distinct_property` the allowed count per value (default 1). */
  value?: string;
}

/** A soft placement preference: nodes that match score higher (or lower, for a negative weight). */
export interface Affinity {
  attribute: string;
  operator: ConstraintOperator;
  value?: string;
  /** -100..100. */
  weight: number;
}

/** Spread a group's allocations over the values of a node attribute. */
export interface Spread {
  attribute: string;
  /** 0..100: how much the spread counts against bin-packing. */
  weight: number;
  /** Wanted share per value; values not listed share what is left evenly. Empty: even over all values. */
  targets: { value: string; percent: number }[];
}

/** When and how often the server places a failed allocation again (Nomad's reschedule block). */
export interface ReschedulePolicy {
  /** Reschedules allowed within `intervalMs` (ignored when unlimited). */
  attempts: number;
  intervalMs: number;
  /** Wait before the first reschedule. */
  delayMs: number;
  delayFunction: 'constant' | 'exponential' | 'fibonacci';
  /** Cap of the growing delay. */
  maxDelayMs: number;
  unlimited: boolean;
}

/** What happens to allocations on a node that stopped heartbeating (Nomad's disconnect block). */
export interface DisconnectPolicy {
  /** How long after the node went down its allocations are given up as lost; absent: at once. */
  lostAfterMs?: number;
  /** Place a replacement while the node is out (default true). */
  replace: boolean;
  /** Which one stays when the node comes back and both run. */
  reconcile: 'keep_original' | 'keep_replacement' | 'best_score' | 'longest_running';
}

/** The summary status shown by `job status`. */
export type JobStatus = 'pending' | 'running' | 'dead';
