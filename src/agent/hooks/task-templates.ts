/**
 * The templates of one task: rendered before it starts (files into its directory, env into its
 * start request), then followed; a change restarts the task, signals it, or does nothing, as its
 * `change_mode` says.
 */
import type { ServerPool } from '../../api/index.ts';
import type { Logger } from '../../lib/index.ts';
import type { TaskTemplate } from '../../model/index.ts';
import { TemplateSet } from './templates.ts';
import type { TaskRunner } from '../tasks/task-runner.ts';

/** Renders and follows a task's templates for its runner. */
export class TaskTemplates {
  readonly #set: TemplateSet;
  #stopped = false;

  constructor(
    templates: TaskTemplate[],
    private readonly runner: TaskRunner,
    /** The env object of the task's start request: rendered env vars are merged into it. */
    private readonly env: Record<string, string>,
    taskDir: string,
    servers: ServerPool,
    private readonly logger: Logger,
    /** The allocation's workload token, for `{{var ...}}` (read when used: it may come after the first render). */
    workloadToken?: () => string | undefined,
  ) {
    this.#set = new TemplateSet(servers, templates, taskDir, (spec) => this.#changed(spec), workloadToken);
  }

  /** Render everything once (retrying while the server cannot answer), before the task starts. */
  async render(): Promise<void> {
    for (;;) {
      try {
        await this.#set.render(this.env);
        return;
      } catch (err) {
        if (this.#stopped) return;
        this.logger.warn({ err }, 'Cannot render templates yet; retrying in 2s');
        await new Promise((r) => setTimeout(r, 2000));
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
    if (mode === 'signal') void this.runner.signal(spec.changeSignal ?? 'SIGHUP', reason);
    else void this.runner.restart(reason);
  }
}
