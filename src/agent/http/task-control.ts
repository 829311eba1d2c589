/**
 * What operators do to the tasks of a running allocation, in place, on the host that runs them:
 * `POST /v1/client/allocations/:id/restart {task?}` restarts them (outside the restart policy: they
 * did not fail), `POST /v1/client/allocations/:id/signal {signal, task?}` signals them. The server
 * proxies `berth alloc restart|signal` here. Without a task, every running task is acted on.
 */
import os from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { AllocRunner } from '../allocs/alloc-runner.ts';
import type { TaskRunner } from '../tasks/task-runner.ts';

type Refusal = { status: number; error: { code: string; message: string; details: { path: string; message: string }[] } };

function refuse(status: number, message: string, path = ''): Refusal {
  return { status, error: { code: status === 404 ? 'not_found' : 'invalid_input', message, details: path ? [{ path, message }] : [] } };
}

/** The running tasks to act on, or why there are none. */
function targets(runner: AllocRunner, id: string, task: string | undefined, verb: string): [string, TaskRunner][] | Refusal {
  const names = task === undefined ? runner.taskNames() : [task];
  if (task !== undefined && !runner.runnerOf(task)) return refuse(404, `Cannot ${verb} task "${task}" of allocation ${id}: it has no such task (tasks: ${runner.taskNames().join(', ') || 'none'})`, 'task');
  const running = names.flatMap((n): [string, TaskRunner][] => {
    const t = runner.runnerOf(n);
    return t?.state.state === 'running' ? [[n, t]] : [];
  });
  if (running.length === 0) return refuse(400, `Cannot ${verb} ${task === undefined ? 'the tasks' : `task "${task}"`} of allocation ${id}: ${task === undefined ? 'none is' : 'it is not'} running`, task === undefined ? '' : 'task');
  return running;
}

/** Adds the restart and signal routes to the agent's endpoint. */
export function registerTaskControl(app: FastifyInstance, runners: Map<string, AllocRunner>): void {
  const act = async (id: string, body: { task?: string; signal?: string }, verb: 'restart' | 'signal'): Promise<Refusal | { allocId: string; tasks: string[] }> => {
    const runner = runners.get(id);
    if (!runner) return refuse(404, `Cannot ${verb} allocation ${id}: this agent does not run it`);
    if (verb === 'signal' && !(body.signal !== undefined && body.signal in os.constants.signals)) {
      return refuse(400, `Cannot signal allocation ${id}: "${body.signal ?? ''}" is not a signal of this host (e.g. SIGHUP, SIGUSR1, SIGTERM)`, 'signal');
    }
    const tasks = targets(runner, id, body.task, verb);
    if (!Array.isArray(tasks)) return tasks;
    if (verb === 'restart') await Promise.all(tasks.map(([, t]) => t.restart('restarted by an operator (berth alloc restart)')));
    else await Promise.all(tasks.map(([, t]) => t.signal(body.signal!, 'sent by an operator (berth alloc signal)')));
    return { allocId: id, tasks: tasks.map(([n]) => n) };
  };
  for (const verb of ['restart', 'signal'] as const) {
    app.post(`/v1/client/allocations/:id/${verb}`, async (request, reply) => {
      const { id } = request.params as { id: string };
      const result = await act(id, (request.body ?? {}) as { task?: string; signal?: string }, verb);
      if ('status' in result) return reply.status(result.status).send({ error: result.error });
      return result;
    });
  }
}
