import type { ServerPool } from '../../api/index.ts';
import type { Clock, Logger } from '../../lib/index.ts';
import type { AllocHook } from '../allocs/alloc-hook.ts';
import { TaskTemplates } from './task-templates.ts';
import { WORKLOAD_TOKEN_ENV } from './workload-identity.ts';

/** What the templates hook is given. */
export interface TemplatesHookDeps {
  /** The servers templates read KV and services from; without them no template renders. */
  servers?: ServerPool;
  clock: Clock;
  logger: Logger;
}

/**
 * The hook that renders each task's templates before it runs (files into its directory, env into
 * its start request) and follows them until the allocation stops (task-templates.ts).
 */
export function templatesHook(deps: TemplatesHookDeps): AllocHook {
  const byTask = new Map<string, TaskTemplates>();
  let stopped = false;
  return {
    name: 'templates',
    async prerun(t) {
      const servers = deps.servers;
      // Stopped before this task's turn came: it will not start, so nothing is followed for it.
      if (!t.task.templates?.length || !servers || stopped) return;
      let templates = byTask.get(t.task.name);
      if (!templates) {
        templates = new TaskTemplates({
          templates: t.task.templates, runner: t.runner, env: t.request.env, taskDir: t.taskDir, servers, clock: deps.clock, logger: deps.logger,
          workloadToken: () => t.request.env[WORKLOAD_TOKEN_ENV],
        });
        byTask.set(t.task.name, templates);
      }
      await templates.render();
    },
    stop() {
      stopped = true;
      for (const templates of byTask.values()) templates.stop();
    },
  };
}
