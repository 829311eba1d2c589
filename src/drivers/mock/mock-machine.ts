import type { ExitResult, LogChunk, TaskHandle, TaskStartRequest } from '../driver.ts';

/** One task on a mock machine. Tests may read it; the driver changes it. */
export interface MockTask {
  readonly handle: TaskHandle;
  readonly request: TaskStartRequest;
  /** Output so far, one chunk per printed line. */
  readonly output: LogChunk[];
  /** Set once the task has ended. */
  exit: ExitResult | undefined;
  /** Whether a stop's SIGTERM is ignored (the task then dies at the stop timeout). */
  ignoresTerm: boolean;
}

interface Entry extends MockTask {
  /** Signals the task handles (by `trap:` args), each with the line it prints. */
  traps: Map<string, string>;
  timers: Set<NodeJS.Timeout>;
  exited: Promise<ExitResult>;
  resolveExit(result: ExitResult): void;
  /** Resolves at the next change (output or exit), then is replaced. */
  changed: Promise<void>;
  notify(): void;
}

/**
 * The pretend host that mock tasks run on. It outlives driver instances: a fresh `MockDriver`
 * on the same machine recovers its tasks, as an agent does after a restart. Tests use it to make
 * things happen to tasks from outside (`exit`, `crash`) and to look at them (`tasks`).
 */
export class MockMachine {
  readonly #tasks = new Map<string, Entry>();
  #holders = 0;
  #keepAlive: NodeJS.Timeout | undefined;

  /** The tasks on this machine, running or ended, until destroyed. */
  tasks(): MockTask[] {
    return [...this.#tasks.values()];
  }

  /** The task with this handle id, if it is on the machine. */
  task(id: string): MockTask | undefined {
    return this.#tasks.get(id);
  }

  /** Ends a running task from outside, as a crash or the kernel would. */
  exit(id: string, exitCode: number, options: { oomKilled?: boolean; signal?: string } = {}): void {
    this.finish(id, { exitCode, oomKilled: options.oomKilled ?? false, ...(options.signal ? { signal: options.signal } : {}) });
  }

  /** Everything vanishes, as on a reboot: waits resolve as unknown, recover answers false. */
  crash(): void {
    for (const id of [...this.#tasks.keys()]) {
      this.finish(id, { exitCode: -1, oomKilled: false, error: 'Cannot tell how the task ended: its machine crashed' });
      this.remove(id);
    }
  }

  /** @internal Adds a started task. */
  add(handle: TaskHandle, request: TaskStartRequest): void {
    let resolveExit!: (result: ExitResult) => void;
    const exited = new Promise<ExitResult>((resolve) => (resolveExit = resolve));
    const entry: Entry = {
      handle,
      request,
      output: [],
      exit: undefined,
      ignoresTerm: false,
      traps: new Map(),
      timers: new Set(),
      exited,
      resolveExit,
      changed: Promise.resolve(),
      notify: () => {},
    };
    renewChanged(entry);
    this.#tasks.set(handle.id, entry);
  }

  /** @internal */
  entry(id: string): Entry | undefined {
    return this.#tasks.get(id);
  }

  /** @internal Appends a line of output, unless the task has ended. */
  print(id: string, stream: LogChunk['stream'], line: string): void {
    const entry = this.#tasks.get(id);
    if (!entry || entry.exit) return;
    entry.output.push({ stream, data: Buffer.from(`${line}\n`) });
    entry.notify();
  }

  /**
   * @internal Runs `fn` after `ms` on behalf of the task, unless it has ended by then. The timer
   * does not keep the process alive, like a real task does not keep the agent alive.
   */
  later(id: string, ms: number, fn: () => void): void {
    this.#timer(id, { ms, fn, repeat: false });
  }

  /** @internal Runs `fn` every `ms` on behalf of the task until it ends; see `later`. */
  every(id: string, ms: number, fn: () => void): void {
    this.#timer(id, { ms, fn, repeat: true });
  }

  #timer(id: string, { ms, fn, repeat }: { ms: number; fn: () => void; repeat: boolean }): void {
    const entry = this.#tasks.get(id);
    if (!entry || entry.exit) return;
    const timer = (repeat ? setInterval : setTimeout)(() => {
      if (!repeat) entry.timers.delete(timer);
      if (!entry.exit) fn();
    }, ms);
    timer.unref();
    entry.timers.add(timer);
  }

  /** @internal Ends the task with `result`, once. */
  finish(id: string, result: ExitResult): void {
    const entry = this.#tasks.get(id);
    if (!entry || entry.exit) return;
    for (const timer of entry.timers) clearTimeout(timer);
    entry.timers.clear();
    entry.exit = result;
    entry.resolveExit(result);
    entry.notify();
  }

  /** @internal */
  remove(id: string): void {
    this.#tasks.delete(id);
  }

  /**
   * @internal Keeps the process alive while someone waits on a task (wait, followed logs), since
   * the tasks' own timers do not. Returns the release.
   */
  hold(): () => void {
    if (this.#holders++ === 0) this.#keepAlive = setInterval(() => {}, 1 << 30);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holders === 0) clearInterval(this.#keepAlive);
    };
  }
}

function renewChanged(entry: Entry): void {
  entry.changed = new Promise<void>((resolve) => {
    entry.notify = () => {
      renewChanged(entry);
      resolve();
    };
  });
}
