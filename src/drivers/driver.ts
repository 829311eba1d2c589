import type { DriverInfo, DriverName, LogPolicy, TaskConfig, TaskNetwork, TaskUsage } from '../model/index.ts';

/** Everything a driver needs to start one task of one allocation. */
export interface TaskStartRequest {
  allocId: string;
  taskName: string;
  /** Name of the node, used to keep names and labels unique when agents share a dockerd. */
  nodeName: string;
  config: TaskConfig;
  /** Final environment, `${...}` already interpolated. */
  env: Record<string, string>;
  /** Resolved args, `${...}` already interpolated. */
  args: string[];
  resources: { cpu: number; memoryMiB: number; memoryMaxMiB?: number };
  /** Host port -> container port. Processes listen on the host port directly. */
  ports: { hostPort: number; containerPort: number }[];
  /** Directory the agent gives this task (logs, scratch). */
  taskDir: string;
  /** Log rotation; default 10 files of 10 MiB. */
  logs?: LogPolicy;
}

/**
 * What a driver returns from `start` and needs to find the task again, also after the agent
 * restarted. The agent persists it as JSON, so it holds only plain data.
 */
export interface TaskHandle {
  /** The driver that made it, which the agent routes by (a mock says the name it stands in for). */
  driver: DriverName;
  allocId: string;
  taskName: string;
  /** Container id, or process id as a string. */
  id: string;
  startedAt: number;
  /** Driver-private data (e.g. log file paths, process start time). */
  state: Record<string, string | number>;
  /** The task's own address, when the driver gives it one (docker: the container's IP). */
  network?: TaskNetwork;
}

export interface ExitResult {
  /** The task's exit status; 128+n when signal n ended it; -1 when it cannot be known (see `error`). */
  exitCode: number;
  /** Signal that ended the task, when one did. */
  signal?: string;
  /** True when the task was killed for using too much memory. */
  oomKilled: boolean;
  /** Set when the driver could not tell how the task ended. */
  error?: string;
}

export interface LogOptions {
  /** Keep the stream open and deliver new output. Default false. */
  follow?: boolean;
  /** Start with the last N lines. Default: everything. */
  tail?: number;
  /** stdout, stderr or both (default). */
  stream?: 'stdout' | 'stderr' | 'both';
  /** Stops a followed stream. */
  signal?: AbortSignal;
  /**
   * Only this instance's output, from its start: not that of earlier runs of the task that share
   * its log files (the process driver's). Drivers that keep each instance's output apart (a
   * container each) read the same either way. Default false.
   */
  instance?: boolean;
  /**
   * Only output written at or after this time (ms since the epoch). Docker has each line's time;
   * the process driver knows its files' sizes once a second, so up to a second more may come.
   */
  since?: number;
}

/**
 * The logger drivers take: the subset of pino's interface they use, so the agent's pino logger fits.
 */
export interface DriverLogger {
  debug(objOrMsg: object | string, msg?: string): void;
  info(objOrMsg: object | string, msg?: string): void;
  warn(objOrMsg: object | string, msg?: string): void;
  error(objOrMsg: object | string, msg?: string): void;
}

/** A chunk of task output. */
export interface LogChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/**
 * A way to run tasks: Docker containers, plain processes, or the mock used by unit tests.
 * Every implementation passes the one contract suite in `contract.test-suite.ts`.
 */
export interface TaskDriver {
  /** What the agent registers it as; a mock takes the name of the driver it stands in for. */
  readonly name: DriverName;
  /** Whether this driver can run tasks on this host, and its version. */
  fingerprint(): Promise<DriverInfo>;
  /** Start the task; resolves once it is running (or throws with the reason it could not). */
  start(request: TaskStartRequest): Promise<TaskHandle>;
  /** Find a task again after an agent restart; false when it is gone. */
  recover(handle: TaskHandle): Promise<boolean>;
  /** Resolves when the task exits, however it exits. */
  wait(handle: TaskHandle): Promise<ExitResult>;
  /** Ask the task to stop (SIGTERM), then force it after `timeoutMs`. Idempotent. */
  stop(handle: TaskHandle, timeoutMs: number): Promise<void>;
  /**
   * Send `signal` (a name such as `SIGHUP`) to the running task, which keeps running unless the
   * signal ends it (a template's `change_mode: signal`). Rejects when the task is not running or
   * the signal is not one of this host's.
   */
  signal(handle: TaskHandle, signal: string): Promise<void>;
  /** Remove what the task left behind (the container). Idempotent. */
  destroy(handle: TaskHandle): Promise<void>;
  /** The task's output. */
  logs(handle: TaskHandle, options?: LogOptions): AsyncIterable<LogChunk>;
  /** Handles of the tasks this driver runs for `nodeName` (containers by label), for clean-up. */
  list(nodeName: string): Promise<TaskHandle[]>;
  /** What the running task uses now (CPU, memory); the mock has none. */
  stats?(handle: TaskHandle): Promise<TaskUsage>;
  /** Run a command inside the task (its container; its cwd and env for a process). */
  exec?(handle: TaskHandle, request: ExecRequest): Promise<ExecSession>;
}

/** A command to run inside a task. */
export interface ExecRequest {
  command: string[];
  /** A terminal: stdout and stderr come as one stream, and the size can change. */
  tty: boolean;
  /** Extra environment on top of the task's. */
  env?: Record<string, string>;
}

/** A running exec: write to `stdin`, read `output`, wait for `exit`. */
export interface ExecSession {
  stdin: NodeJS.WritableStream;
  /** stdout and stderr chunks (with a TTY everything is stdout). */
  output: AsyncIterable<LogChunk>;
  /** The exit code. */
  exit: Promise<number>;
  /** Change the terminal size (TTY only). */
  resize(cols: number, rows: number): Promise<void>;
  /** End it (kills the command). */
  kill(): void;
}
