import { randomUUID } from 'node:crypto';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DriverInfo, DriverName } from '../../model/index.ts';
import type { ExitResult, LogChunk, LogOptions, TaskDriver, TaskHandle, TaskStartRequest } from '../driver.ts';
import { MockMachine } from './mock-machine.ts';
import { hostSignal, unknownSignal } from '../signals.ts';

/** Options of `MockDriver`. */
export interface MockDriverOptions {
  /** The pretend host. Share one between driver instances to simulate an agent restart. Default: a new one. */
  machine?: MockMachine;
  /** How long every `start` takes. Default 0. */
  startDelayMs?: number;
  /**
   * The driver this mock stands in for, which it names itself and its handles after, so that an
   * agent routes its tasks, recovery and logs to it as to the real one. Default docker.
   */
  name?: DriverName;
}

/**
 * An in-memory driver for fast unit tests of the agent. What a task does is written in its
 * `config.command`, what it prints in its `args`:
 *
 * command (what the task does, after its args have run):
 * - `run`: runs until stopped; a stop ends it at once with 143 (SIGTERM).
 * - `exit:<code>[:<ms>]`: exits with `code` after `ms` (default 0); a stop first ends it with 143.
 * - `ignore-term`: ignores the stop's SIGTERM; ends with 137 (SIGKILL) when the stop times out.
 * - `oom[:<ms>]`: killed for memory after `ms` (default 0): 137, `oomKilled: true`.
 * - `fail-start[:<message>]`: `start` throws `Cannot start task "<task>": <message>`.
 * - anything else: `start` throws `Cannot start task "<task>": command "<command>" not found`.
 *
 * args (run in order when the task starts; everything before the first `sleep` is printed
 * before `start` resolves):
 * - `out:<text>` / `err:<text>`: prints a line to stdout / stderr.
 * - `env:<NAME>`: prints `NAME=<value>` from the task's env to stdout.
 * - `sleep:<ms>`: waits before the next arg.
 * - `tick:<ms>`: prints `tick 1`, `tick 2`, ... to stdout every `ms` until the task ends.
 * - `trap:<SIGNAL>:<text>`: a `signal` of SIGNAL prints `text` to stdout; an untrapped signal
 *   ends the task with 128 + its number.
 *
 * Example: `{ command: 'exit:3:50', args: ['out:starting', 'err:warning'] }`.
 * Timers are real; a task's own timers do not keep the process alive, waiting on it does.
 */
export class MockDriver implements TaskDriver {
  readonly name: DriverName;
  /** The pretend host this driver runs tasks on. */
  readonly machine: MockMachine;
  readonly #startDelayMs: number;

  constructor(options: MockDriverOptions = {}) {
    this.machine = options.machine ?? new MockMachine();
    this.#startDelayMs = options.startDelayMs ?? 0;
    this.name = options.name ?? 'docker';
  }

  /** Always detected and healthy, version "mock". */
  async fingerprint(): Promise<DriverInfo> {
    return { detected: true, healthy: true, version: 'mock' };
  }

  /** Starts the task as its command says; see the class comment. */
  async start(request: TaskStartRequest): Promise<TaskHandle> {
    const behaviour = parseCommand(request);
    if (this.#startDelayMs > 0) await sleep(this.#startDelayMs);
    const handle: TaskHandle = {
      driver: this.name,
      allocId: request.allocId,
      taskName: request.taskName,
      id: `mock-${randomUUID()}`,
      startedAt: Date.now(),
      state: { nodeName: request.nodeName },
    };
    this.machine.add(handle, request);
    const entry = this.machine.entry(handle.id);
    if (entry) entry.ignoresTerm = behaviour.kind === 'ignore-term';
    this.#runArgs(handle.id, request, 0, () => this.#behave(handle.id, behaviour));
    return handle;
  }

  /** True while the task is on the machine, running or ended (until destroyed or a crash). */
  async recover(handle: TaskHandle): Promise<boolean> {
    return this.machine.task(handle.id) !== undefined;
  }

  /** Resolves when the task ends; at once for an ended task, as unknown (-1) for a missing one. */
  async wait(handle: TaskHandle): Promise<ExitResult> {
    const entry = this.machine.entry(handle.id);
    if (!entry) return { exitCode: -1, oomKilled: false, error: `Cannot tell how task "${handle.taskName}" ended: it is not on the machine` };
    if (entry.exit) return entry.exit;
    const release = this.machine.hold();
    try {
      return await entry.exited;
    } finally {
      release();
    }
  }

  /** 143 at once, or 137 after `timeoutMs` for a task that ignores SIGTERM. */
  async stop(handle: TaskHandle, timeoutMs: number): Promise<void> {
    const entry = this.machine.entry(handle.id);
    if (!entry || entry.exit) return;
    if (!entry.ignoresTerm) {
      this.machine.finish(handle.id, { exitCode: 143, signal: 'SIGTERM', oomKilled: false });
      return;
    }
    const timer = new AbortController();
    await Promise.race([entry.exited, sleep(timeoutMs, undefined, { signal: timer.signal }).catch(() => {})]);
    timer.abort();
    this.machine.finish(handle.id, { exitCode: 137, signal: 'SIGKILL', oomKilled: false });
  }

  /** A trapped signal prints its line; any other ends the task as the signal's default action would. */
  async signal(handle: TaskHandle, signal: string): Promise<void> {
    const which = hostSignal(signal);
    if (!which) throw unknownSignal(handle.taskName, signal);
    const entry = this.machine.entry(handle.id);
    if (!entry || entry.exit) throw new Error(`Cannot signal task "${handle.taskName}": it is not running`);
    const line = entry.traps.get(which);
    if (line !== undefined) this.machine.print(handle.id, 'stdout', line);
    else this.machine.finish(handle.id, { exitCode: 128 + (constants.signals[which] ?? 0), signal: which, oomKilled: false });
  }

  /** Kills the task if it runs and takes it off the machine. */
  async destroy(handle: TaskHandle): Promise<void> {
    this.machine.finish(handle.id, { exitCode: 137, signal: 'SIGKILL', oomKilled: false });
    this.machine.remove(handle.id);
  }

  /** What the task printed; `tail` counts lines of the chosen streams together. */
  async *logs(handle: TaskHandle, options: LogOptions = {}): AsyncIterable<LogChunk> {
    const entry = this.machine.entry(handle.id);
    if (!entry) throw new Error(`Cannot read the logs of task "${handle.taskName}": it is not on the machine`);
    const which = options.stream ?? 'both';
    const wanted = (chunk: LogChunk): boolean => which === 'both' || chunk.stream === which;
    const signal = options.signal;
    let sent = entry.output.length;
    const first = entry.output.filter(wanted);
    yield* options.tail === undefined ? first : first.slice(Math.max(0, first.length - options.tail));
    if (!options.follow) return;
    const release = this.machine.hold();
    let onAbort = (): void => {};
    const aborted = new Promise<void>((resolve) => (onAbort = resolve));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal?.aborted) {
        for (; sent < entry.output.length; sent++) {
          const chunk = entry.output[sent];
          if (wanted(chunk)) yield chunk;
        }
        if (entry.exit) return;
        await Promise.race([entry.changed, aborted]);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      release();
    }
  }

  /** The tasks on the machine this driver (by name) started for `nodeName`, as docker lists only its containers. */
  async list(nodeName: string): Promise<TaskHandle[]> {
    return this.machine
      .tasks()
      .filter((task) => task.request.nodeName === nodeName && task.handle.driver === this.name)
      .map((task) => task.handle);
  }

  /** Runs the args from `index` on, then `done`. */
  #runArgs(id: string, request: TaskStartRequest, index: number, done: () => void): void {
    for (let i = index; i < request.args.length; i++) {
      const arg = request.args[i];
      const colon = arg.indexOf(':');
      const verb = colon === -1 ? arg : arg.slice(0, colon);
      const value = colon === -1 ? '' : arg.slice(colon + 1);
      switch (verb) {
        case 'out':
        case 'err':
          this.machine.print(id, verb === 'out' ? 'stdout' : 'stderr', value);
          break;
        case 'env':
          this.machine.print(id, 'stdout', `${value}=${request.env[value] ?? ''}`);
          break;
        case 'tick': {
          let count = 0;
          this.machine.every(id, Number(value), () => this.machine.print(id, 'stdout', `tick ${++count}`));
          break;
        }
        case 'trap': {
          const [name, ...text] = value.split(':');
          const which = hostSignal(name);
          if (which) this.machine.entry(id)?.traps.set(which, text.join(':'));
          break;
        }
        case 'sleep':
          this.machine.later(id, Number(value), () => this.#runArgs(id, request, i + 1, done));
          return;
        default:
          // Unknown args are ignored, as a program would ignore arguments it does not use.
          break;
      }
    }
    done();
  }

  #behave(id: string, behaviour: Behaviour): void {
    switch (behaviour.kind) {
      case 'exit':
        this.machine.later(id, behaviour.afterMs, () => this.machine.finish(id, { exitCode: behaviour.code, oomKilled: false }));
        break;
      case 'oom':
        this.machine.later(id, behaviour.afterMs, () => this.machine.finish(id, { exitCode: 137, signal: 'SIGKILL', oomKilled: true }));
        break;
      case 'run':
      case 'ignore-term':
        break;
    }
  }
}

type Behaviour =
  | { kind: 'run' }
  | { kind: 'ignore-term' }
  | { kind: 'exit'; code: number; afterMs: number }
  | { kind: 'oom'; afterMs: number };

/** The behaviour `config.command` names; throws what `start` should throw. */
function parseCommand(request: TaskStartRequest): Behaviour {
  const command = request.config.command ?? '';
  const [verb, first, second] = command.split(':');
  const fail = (detail: string): Error => new Error(`Cannot start task "${request.taskName}": ${detail}`);
  const ms = (text: string | undefined): number => {
    const value = Number(text ?? 0);
    if (!Number.isFinite(value) || value < 0) throw fail(`mock command "${command}" has a bad delay "${text}"`);
    return value;
  };
  switch (verb) {
    case 'run':
      return { kind: 'run' };
    case 'ignore-term':
      return { kind: 'ignore-term' };
    case 'exit': {
      const code = Number(first);
      if (!Number.isInteger(code) || code < 0 || code > 255) throw fail(`mock command "${command}" needs an exit code 0-255`);
      return { kind: 'exit', code, afterMs: ms(second) };
    }
    case 'oom':
      return { kind: 'oom', afterMs: ms(first) };
    case 'fail-start':
      throw fail(command.slice('fail-start:'.length) || 'mock start failure');
    default:
      throw fail(command === '' ? 'the mock driver needs config.command' : `command "${command}" not found`);
  }
}

/** A mock for each driver an agent loads (docker, process) on one machine: what agent tests inject. */
export function mockDrivers(options: Omit<MockDriverOptions, 'name'> = {}): MockDriver[] {
  const machine = options.machine ?? new MockMachine();
  return (['docker', 'process'] as const).map((name) => new MockDriver({ ...options, machine, name }));
}
