/** The kinds of job berth runs. */
export type JobType = 'service' | 'batch';

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
}

export interface Group {
  name: string;
  count: number;
  tasks: Task[];
  ports: PortSpec[];
  restart: RestartPolicy;
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
}

/** The summary status shown by `job status`. */
export type JobStatus = 'pending' | 'running' | 'dead';
