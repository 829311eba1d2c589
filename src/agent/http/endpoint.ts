import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import type { Logger } from '../../lib/index.ts';
import type { AllocRunner } from '../allocs/alloc-runner.ts';
import type { LogOptions, TaskDriver, TaskHandle } from '../../drivers/index.ts';
import type { DriverName } from '../../model/index.ts';
import { allocUsage, nodeUsage } from './resource-stats.ts';
import { registerExec } from './exec.ts';
import { registerTaskControl } from './task-control.ts';
import { nodeSecretMatches, NOT_A_SERVER } from './node-secret.ts';
import { addAgentRequestGuard, agentRequestPolicy } from './request-guard.ts';
import type { AgentMetrics } from '../metrics.ts';

/** What the agent's endpoint is built with. */
export interface AgentAppOptions {
  logger: Logger;
  /** The node's id, once registered (for the node's usage). Default ''. */
  nodeId?: () => string;
  /** The address the endpoint listens at: the Host names it answers to (0.0.0.0: any interface). Default 127.0.0.1. */
  bindHost?: string;
  /** Callers must show it (`X-Berth-Node-Secret`); only the servers know it. Undefined: no check (tests). */
  nodeSecret?: string;
  /** Serve HTTPS with these options (the agent's --tls-cert). Default plain HTTP. */
  https?: ServerTlsOptions;
  /** Serve them at `/v1/metrics`, to anyone who may reach the endpoint (as Nomad's clients do). Default: no metrics route. */
  metrics?: AgentMetrics;
}
import type { ServerTlsOptions } from '../../tls/index.ts';

/**
 * The agent's own small HTTP endpoint: what only the host that runs a task can answer (its logs,
 * its usage, a command run inside it). The server proxies the `/v1/allocations/:id/logs|stats|exec`
 * and `/v1/nodes/:id/stats` routes here.
 */
export async function buildAgentApp(runners: Map<string, AllocRunner>, drivers: Map<DriverName, TaskDriver>, options: AgentAppOptions): Promise<FastifyInstance> {
  const { logger, nodeId = () => '' } = options;
  const policy = agentRequestPolicy(options.bindHost ?? '127.0.0.1');
  // With `https` (the agent's --tls-cert), fastify makes an https.Server; the routes are the same.
  const https = options.https;
  const app = Fastify({
    ...(https ? { https } : {}),
    loggerInstance: logger.child({ component: 'agent-http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  });
  addAgentRequestGuard(app, policy);
  const fail = (code: number, message: string): { error: { code: string; message: string; details: [] } } => ({
    error: { code: code === 404 ? 'not_found' : 'invalid_input', message, details: [] },
  });
  // Only the servers may call: they show this node's secret (acl-guard.ts on the server). The
  // metrics are the exception: Prometheus scrapes them, and they hold names and figures, no output.
  app.addHook('onRequest', async (request, reply) => {
    if (options.metrics && request.method === 'GET' && request.url.split('?')[0] === '/v1/metrics') return;
    if (!nodeSecretMatches(options.nodeSecret, request.headers)) return reply.status(403).send(NOT_A_SERVER);
  });
  if (options.metrics) registerMetrics(app, options.metrics, { runners, drivers });
  app.get('/v1/client/allocations/:id/logs', async (request, reply) => {
    const { id } = request.params as { id: string };
    const q = request.query as { task?: string; follow?: string; type?: string; tail?: string; since?: string };
    const runner = runners.get(id);
    if (!runner) return reply.status(404).send(fail(404, `Cannot show logs of allocation ${id}: this agent does not run it`));
    const task = q.task ?? runner.taskNames()[0];
    const handle = task ? runner.handle(task) : undefined;
    if (!task || !handle) return reply.status(404).send(fail(404, `Cannot show logs of task "${task}" in allocation ${id}: it has no running or finished instance here`));
    const driver = drivers.get(handle.driver);
    if (!driver) return reply.status(404).send(fail(404, `Cannot show logs: driver ${handle.driver} is not loaded`));
    const abort = new AbortController();
    reply.raw.on('close', () => abort.abort());
    const stream = q.type === 'stdout' || q.type === 'stderr' ? q.type : 'both';
    const tail = q.tail !== undefined && /^\d+$/.test(q.tail) ? Number(q.tail) : undefined;
    const follow = q.follow === 'true';
    const since = q.since !== undefined && /^\d+$/.test(q.since) ? Number(q.since) : undefined;
    const instances = (): AllocRunner | undefined => (runners.get(id) === runner ? runner : undefined);
    const bytes = logBytes({ handle, task, drivers, runner: instances }, { follow, stream, tail, since, signal: abort.signal });
    reply.header('content-type', 'text/plain; charset=utf-8');
    return reply.send(Readable.from(bytes));
  });
  app.get('/v1/client/allocations/:id/stats', async (request, reply) => {
    const { id } = request.params as { id: string };
    const runner = runners.get(id);
    if (!runner) return reply.status(404).send(fail(404, `Cannot show usage of allocation ${id}: this agent does not run it`));
    return allocUsage(runner, drivers);
  });
  app.get('/v1/client/stats', async () => nodeUsage(nodeId(), runners.values(), drivers));
  registerExec(app, { runners, drivers, policy, nodeSecret: options.nodeSecret });
  registerTaskControl(app, runners);
  return app;
}

/** `GET /v1/metrics`: Prometheus text, read from the runners at each scrape. */
function registerMetrics(app: FastifyInstance, metrics: AgentMetrics, from: { runners: Map<string, AllocRunner>; drivers: Map<DriverName, TaskDriver> }): void {
  app.get('/v1/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.scrape(from.runners.values(), from.drivers);
  });
}

/**
 * The next instance of a task after the one with `afterId`: its handle once it starts, or
 * undefined when the task is over for good (dead), its allocation is gone, or `signal` aborts.
 * Polled: a restart waits seconds (the restart policy's delay), so a tenth of a second is close.
 */
async function nextInstance(runnerNow: () => AllocRunner | undefined, task: string, afterId: string, signal: AbortSignal): Promise<TaskHandle | undefined> {
  while (!signal.aborted) {
    const runner = runnerNow();
    if (!runner) return undefined;
    const h = runner.handle(task);
    if (h && h.id !== afterId) return h;
    if (runner.taskStates()[task]?.state === 'dead') return undefined;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

/**
 * A task's output as bytes. Followed, the stream goes on into the task's next instance when it
 * restarts in place, from that instance's start; it ends when the task is over for good, its
 * allocation is gone, or the caller hangs up.
 */
async function* logBytes(from: { handle: TaskHandle; task: string; drivers: Map<DriverName, TaskDriver>; runner: () => AllocRunner | undefined }, first: LogOptions): AsyncGenerator<Buffer> {
  const signal = first.signal!;
  let current: TaskHandle | undefined = from.handle;
  let options = first;
  while (current) {
    const driver = from.drivers.get(current.driver);
    if (!driver) return;
    try {
      for await (const c of driver.logs(current, options)) yield c.data;
    } catch (err) {
      if (!signal.aborted) yield Buffer.from(`\n[berth: log stream ended: ${(err as Error).message}]\n`);
      return;
    }
    if (!first.follow || signal.aborted) return;
    current = await nextInstance(from.runner, from.task, current.id, signal);
    options = { follow: true, stream: first.stream, signal, instance: true };
  }
}
