import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { BerthError } from '../../model/index.ts';
import { BlockingQuerySchema } from '../../api/index.ts';
import { diffJobs, parseJobSpec, validateJob } from '../../jobspec/index.ts';
import type { ServerContext } from '../context.ts';
import { blockingQuery } from './blocking.ts';
import { planJob } from '../jobs/index.ts';
import { checkIngress, specChanged, type JobSpec } from '../jobs/index.ts';
import { authorize, mayRead } from './acl-guard.ts';
import { dependencyWaits, withDependencies } from '../dependencies/index.ts';
import { onJob, onJobOrItsAgents, perObject } from './route-acl.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });
/** `?checkIndex=N`: register only if the job is still at modify index N (0: only if it does not exist). */
const CheckIndexQuery = Type.Object({ checkIndex: Type.Optional(Type.Integer({ minimum: 0 })) });

/** A job spec from a request body (YAML text or a JSON value), or a 400 with every problem. */
function specOf(body: unknown): JobSpec {
  const parsed =
    typeof body === 'string'
      ? parseJobSpec(body, { source: 'request body' })
      : body === undefined || body === null
        ? { ok: false as const, errors: [{ path: '', message: 'a job spec (JSON or YAML) is required' }] }
        : validateJob(body);
  if (!parsed.ok) {
    const first = parsed.errors[0];
    throw new BerthError('invalid_input', `Invalid job spec: ${first.path ? `${first.path}: ` : ''}${first.message}`, parsed.errors);
  }
  return parsed.job;
}

/** `/v1/jobs`: register, plan (dry run), read, stop. */
// eslint-disable-next-line max-lines-per-function -- a route table: one short handler per route
export function jobRoutes(ctx: ServerContext): FastifyPluginAsync {
  // eslint-disable-next-line max-lines-per-function -- a route table: one short handler per route
  return async (app) => {
    app.post('/v1/jobs', { schema: { querystring: CheckIndexQuery }, config: perObject('jobs', 'write') }, async (request, reply) => {
      const { checkIndex } = request.query as { checkIndex?: number };
      const spec = specOf(request.body);
      authorize(request.identity, 'jobs', spec.id, 'write');
      const result = await ctx.jobs.register(spec, { checkIndex });
      reply.header('x-berth-index', String(result.index));
      return result;
    });

    app.get('/v1/jobs', { schema: { querystring: BlockingQuerySchema }, config: perObject('jobs') }, async (request, reply) => {
      await blockingQuery(ctx.view, request, reply, () => Math.max(ctx.view.tableIndex('jobs'), ctx.view.tableIndex('allocs')));
      return ctx.jobs.list().filter((j) => mayRead(request, 'jobs', j.id));
    });

    app.post('/v1/jobs/:id/plan', { schema: { params: IdParams }, config: onJob('write') }, async (request) => {
      const { id } = request.params as { id: string };
      const spec = specOf(request.body);
      if (spec.id !== id) {
        throw new BerthError('invalid_input', `Cannot plan job "${id}": the spec is for job "${spec.id}"; post it to /v1/jobs/${spec.id}/plan`, [
          { path: 'id', message: `must be "${id}"` },
        ]);
      }
      checkIngress(ctx.view, spec);
      const current = ctx.view.job(id);
      const plan = planJob(ctx.view, spec, { now: ctx.clock.now(), changed: specChanged(current, spec), waits: (job) => dependencyWaits(ctx.view, job) });
      return { ...plan, diff: diffJobs(current?.stop ? undefined : current, spec), modifyIndex: current ? ctx.view.modRevision('jobs', id) : 0 };
    });

    app.get('/v1/jobs/:id', { schema: { params: IdParams }, config: onJob('read') }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const job = ctx.jobs.get(id);
      reply.header('x-berth-index', String(ctx.view.modRevision('jobs', id)));
      return job;
    });

    app.get('/v1/jobs/:id/summary', { schema: { params: IdParams, querystring: BlockingQuerySchema }, config: onJob('read') }, async (request, reply) => {
      const { id } = request.params as { id: string };
      ctx.jobs.get(id);
      await blockingQuery(ctx.view, request, reply, () =>
        Math.max(ctx.view.modRevision('jobs', id), ctx.view.jobAllocsIndex(id), ctx.view.tableIndex('evals')),
      );
      return withDependencies(ctx.view, ctx.jobs.summary(id));
    });

    app.get('/v1/jobs/:id/allocations', { schema: { params: IdParams, querystring: BlockingQuerySchema }, config: onJobOrItsAgents() }, async (request, reply) => {
      const { id } = request.params as { id: string };
      // A purged job's allocations stay readable until they are collected, so a stop can be followed.
      if (ctx.view.allocsByJob(id).length === 0) ctx.jobs.get(id);
      await blockingQuery(ctx.view, request, reply, () => ctx.view.jobAllocsIndex(id));
      return ctx.view.allocsByJob(id);
    });

    app.get('/v1/jobs/:id/evaluations', { schema: { params: IdParams }, config: onJob('read') }, async (request) => {
      const { id } = request.params as { id: string };
      ctx.jobs.get(id);
      return ctx.jobs.evaluations(id);
    });

    app.get(
      '/v1/jobs/:id/versions',
      { schema: { params: IdParams, querystring: Type.Object({ diffs: Type.Optional(Type.Boolean()) }) }, config: onJob('read') },
      async (request) => {
        const { id } = request.params as { id: string };
        const { diffs } = request.query as { diffs?: boolean };
        ctx.jobs.get(id);
        const versions = ctx.view.jobVersions(id);
        if (!diffs) return versions;
        // Newest first, as Nomad: each diff is from the version before it (the oldest kept has none).
        return { versions, diffs: versions.slice(0, -1).map((v, i) => ({ from: versions[i + 1].version, to: v.version, diff: diffJobs(versions[i + 1], v) })) };
      },
    );

    app.post(
      '/v1/jobs/:id/revert',
      { schema: { params: IdParams, body: Type.Object({ version: Type.Integer({ minimum: 0 }), checkIndex: Type.Optional(Type.Integer({ minimum: 0 })) }) }, config: onJob('write') },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const { version, checkIndex } = request.body as { version: number; checkIndex?: number };
        const result = await ctx.jobs.revert(id, version, { checkIndex });
        reply.header('x-berth-index', String(result.index));
        return result;
      },
    );

    app.get(
      '/v1/jobs/:id/versions/:version',
      { schema: { params: Type.Object({ id: Type.String({ minLength: 1 }), version: Type.Integer({ minimum: 0 }) }) }, config: onJobOrItsAgents() },
      async (request) => {
        const { id, version } = request.params as { id: string; version: number };
        const job = ctx.view.jobVersion(id, version);
        if (!job) throw new BerthError('not_found', `Cannot find version ${version} of job "${id}": no such version (see \`berth job history ${id}\`)`);
        return job;
      },
    );

    app.delete(
      '/v1/jobs/:id',
      { schema: { params: IdParams, querystring: Type.Object({ purge: Type.Optional(Type.Boolean()) }) }, config: onJob('write') },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const { purge } = request.query as { purge?: boolean };
        const result = await ctx.jobs.stop(id, purge ?? false);
        reply.header('x-berth-index', String(result.index));
        return result;
      },
    );
  };
}
