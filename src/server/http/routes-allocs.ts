import type { FastifyPluginAsync } from 'fastify';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Type } from '@sinclair/typebox';
import { BerthError, findByIdPrefix, isTerminal, type Allocation } from '../../model/index.ts';
import { BlockingQuerySchema } from '../../api/index.ts';
import type { StateView } from '../../state/index.ts';
import type { ServerContext } from '../context.ts';
import { blockingQuery } from './blocking.ts';
import { agentHeaders, mayRead } from './acl-guard.ts';
import { onAllocJob, onEvalJob, perObject } from './route-acl.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });
const LogsQuery = Type.Object({
  task: Type.Optional(Type.String({ maxLength: 256 })),
  follow: Type.Optional(Type.Boolean()),
  type: Type.Optional(Type.Union([Type.Literal('stdout'), Type.Literal('stderr')])),
  tail: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Only output written at or after this time, in ms since the epoch. */
  since: Type.Optional(Type.Integer({ minimum: 0, maximum: 8_640_000_000_000_000 })),
});

/** `/v1/allocations` and `/v1/evaluations`. Logs are proxied to the agent that runs the task. */
export function allocRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/allocations', { schema: { querystring: BlockingQuerySchema }, config: perObject('jobs') }, async (request, reply) => {
      await blockingQuery(ctx.view, request, reply, () => ctx.view.tableIndex('allocs'));
      return ctx.view.allocs().filter((a) => mayRead(request, 'jobs', a.jobId));
    });

    app.get('/v1/allocations/:id', { schema: { params: IdParams, querystring: BlockingQuerySchema }, config: onAllocJob(ctx.view, 'read') }, async (request, reply) => {
      const alloc = resolveAlloc(ctx.view, (request.params as { id: string }).id);
      await blockingQuery(ctx.view, request, reply, () => ctx.view.modRevision('allocs', alloc.id));
      return ctx.view.alloc(alloc.id) ?? alloc;
    });

    // Nomad's `alloc stop`: the allocation stops and the scheduler places a replacement.
    app.post('/v1/allocations/:id/stop', { schema: { params: IdParams }, config: onAllocJob(ctx.view, 'alloc-lifecycle') }, async (request, reply) => {
      const alloc = resolveAlloc(ctx.view, (request.params as { id: string }).id);
      if (isTerminal(alloc)) throw new BerthError('invalid_input', `Cannot stop allocation ${alloc.id}: it is stopped already (desired ${alloc.desiredStatus}, status ${alloc.clientStatus})`);
      const result = await ctx.jobs.restartAllocs(alloc.jobId, [alloc.id]);
      reply.header('x-berth-index', String(result.index));
      return { allocId: alloc.id, evalId: result.evalId, index: result.index };
    });

    app.get('/v1/allocations/:id/logs', { schema: { params: IdParams, querystring: LogsQuery }, config: onAllocJob(ctx.view, 'alloc-logs') }, async (request, reply) => {
      const alloc = resolveAlloc(ctx.view, (request.params as { id: string }).id);
      const query = request.query as { task?: string; follow?: boolean; type?: string; tail?: number; since?: number };
      const tasks = Object.keys(alloc.taskStates);
      const task = query.task ?? (tasks.length === 1 ? tasks[0] : undefined);
      if (!task) {
        throw new BerthError('invalid_input', `Cannot show logs of allocation ${alloc.id}: it has ${tasks.length} tasks; name one of: ${tasks.join(', ') || '(none started yet)'}`, [
          { path: 'task', message: 'required when the allocation has more than one task' },
        ]);
      }
      if (!alloc.taskStates[task]) throw new BerthError('not_found', `Cannot show logs of task "${task}" in allocation ${alloc.id}: no such task has started`);
      const node = ctx.view.node(alloc.nodeId);
      if (!node?.httpAddr) throw new BerthError('unavailable', `Cannot show logs of allocation ${alloc.id}: its node ${alloc.nodeId} has no reachable agent`);
      const q = new URLSearchParams({ task });
      if (query.follow) q.set('follow', 'true');
      if (query.type) q.set('type', query.type);
      if (query.tail !== undefined) q.set('tail', String(query.tail));
      if (query.since !== undefined) q.set('since', String(query.since));
      const abort = new AbortController();
      reply.raw.on('close', () => abort.abort());
      let upstream: Response;
      try {
        upstream = await ctx.peers.agents.fetch(`${node.httpAddr}/v1/client/allocations/${alloc.id}/logs?${q}`, { signal: abort.signal, headers: agentHeaders(ctx, node.id) });
      } catch (err) {
        throw new BerthError('unavailable', `Cannot show logs of allocation ${alloc.id}: agent on node ${node.name} at ${node.httpAddr} did not answer (${(err as Error).message})`);
      }
      if (!upstream.ok) {
        const text = await upstream.text();
        throw new BerthError(upstream.status === 404 ? 'not_found' : 'unavailable', `Cannot show logs of allocation ${alloc.id}: agent answered ${upstream.status}: ${text.slice(0, 300)}`);
      }
      reply.header('content-type', 'text/plain; charset=utf-8');
      return reply.send(upstream.body ? Readable.fromWeb(upstream.body as WebReadableStream) : '');
    });

    app.get('/v1/evaluations', { config: perObject('jobs') }, async (request) => ctx.view.evals().filter((e) => mayRead(request, 'jobs', e.jobId)));

    app.get('/v1/evaluations/:id', { schema: { params: IdParams }, config: onEvalJob(ctx.view, 'read') }, async (request) => {
      const { id } = request.params as { id: string };
      const evaluation = findByIdPrefix(ctx.view.evals(), id, { what: 'evaluation', label: (e) => `${e.id} (job ${e.jobId}, ${e.triggeredBy})`, listCommand: 'berth eval list' });
      return evaluation;
    });
  };
}

/** An allocation by id or by a unique prefix of at least 4 characters, as the CLI shows short ids. */
export function resolveAlloc(view: StateView, id: string): Allocation {
  return view.alloc(id) ?? findByIdPrefix(view.allocs(), id, { what: 'allocation', label: (a) => `${a.id} (${a.name}, ${a.clientStatus})`, listCommand: 'berth job status JOB' });
}

