/**
 * The templates of one task: rendered before it starts (files into its directory, env into its
 * start request), then followed; a change restarts the task, signals it, or does nothing, as its
 * `change_mode` says.
 */
import type { ServerPool } from '../../api/index.ts';
import type { Clock, Logger } from '../../lib/index.ts';
import type { TaskTemplate } from '../../model/index.ts';
import { TemplateSet } from './templates.ts';
import type { TaskRunner } from '../tasks/task-runner.ts';

/** What a task's templates are given. */
export interface TaskTemplatesOptions {
  templates: TaskTemplate[];
  runner: TaskRunner;
  /** The env object of the task's start request: rendered env vars are merged into it. */
  env: Record<string, string>;
  taskDir: string;
  servers: ServerPool;
  clock: Clock;
  logger: Logger;
  /** The allocation's workload token, for `{{var ...}}` (read when used: it may come after the first render). */
  workloadToken?: () => string | undefined;
}

/** Renders and follows a task's templates for its runner. */
export class TaskTemplates {
  readonly #set: TemplateSet;
  readonly #o: TaskTemplatesOptions;
  #stopped = false;

  constructor(options: TaskTemplatesOptions) {
    this.#o = options;
    const { servers, templates: specs, taskDir, clock, workloadToken } = options;
    this.#set = new TemplateSet({ servers, specs, taskDir, clock, workloadToken, onChange: (spec) => this.#changed(spec) });
  }

  /** Render everything once (retrying while the server cannot answer), before the task starts. */
  async render(): Promise<void> {
    for (;;) {
      try {
        await this.#set.render(this.#o.env);
        return;
      } catch (err) {
        if (this.#stopped) return;
        this.#o.logger.warn({ err }, 'Cannot render templates yet; retrying in 2s');
        await this.#o.clock.sleep(2000);
      }
    }
  }

  /** Stop following. */
  stop(): void {
    this.#stopped = true;
    this.#set.stop();
  }

  #changed(spec: TaskTemplate): void {
    const mode = spec.changeMode ?? 'restart';
    if (mode === 'noop' || this.#stopped) return;
    const reason = `template ${spec.destination ?? '(env)'} changed`;
    // The jobspec requires change_signal with change_mode signal; SIGHUP covers older specs.
    if (mode === 'signal') void this.#o.runner.signal(spec.changeSignal ?? 'SIGHUP', reason);
    else void this.#o.runner.restart(reason);
  }
}
