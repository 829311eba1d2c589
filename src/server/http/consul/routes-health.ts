import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { BerthError, type ServiceInstance } from '../../../model/index.ts';
import { consulCheck, consulNode, consulService, serfHealth, type Catalog } from '../../../discovery/catalog/index.ts';
import type { ServerContext } from '../../context.ts';
import { ConsulQuerySchema, consulBlocking, filtered, flag, type ConsulQuery } from './conventions.ts';
import { mayRead } from '../acl-guard.ts';
import { onNamed, perObject } from '../route-acl.ts';

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }) });
const STATES = ['any', 'passing', 'warning', 'critical'];

/** Consul's `/v1/health/*`: instances with their checks, filtered by health. */
export function consulHealthRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    const { catalog } = ctx.discovery;

    app.get('/v1/health/service/:name', { schema: { params: NameParams, querystring: ConsulQuerySchema }, config: onNamed('services', 'read') }, async (request, reply) => {
      const { name } = request.params as { name: string };
      const q = request.query as ConsulQuery;
      await consulBlocking(ctx, request, reply, () => catalog.serviceIndex(name));
      const entries = catalog.instances(name, { tags: q.tag, passing: flag(q.passing), datacenter: q.dc || undefined }).map((i) => healthEntry(catalog, i));
      return filtered(entries, q.filter);
    });

    app.get('/v1/health/checks/:name', { schema: { params: NameParams, querystring: ConsulQuerySchema }, config: onNamed('services', 'read') }, async (request, reply) => {
      const { name } = request.params as { name: string };
      const q = request.query as ConsulQuery;
      await consulBlocking(ctx, request, reply, () => catalog.serviceIndex(name));
      return filtered(
        catalog.instances(name).flatMap((i) => i.checks.map((c) => consulCheck(i, c, catalog.modifyIndex(i)))),
        q.filter,
      );
    });

    app.get('/v1/health/state/:name', { schema: { params: NameParams, querystring: ConsulQuerySchema }, config: perObject('services') }, async (request, reply) => {
      const { name: state } = request.params as { name: string };
      if (!STATES.includes(state)) throw new BerthError('invalid_input', `Cannot list checks in state "${state}": use any, passing, warning or critical`);
      const q = request.query as ConsulQuery;
      await consulBlocking(ctx, request, reply, () => catalog.nodesIndex());
      const checks = [
        ...catalog
          .nodes()
          .filter((n) => mayRead(request, 'nodes', n.name))
          .map(serfHealth),
        ...ctx.view
          .serviceInstances()
          .filter((i) => mayRead(request, 'services', i.name))
          .flatMap((i) => i.checks.map((c) => consulCheck(i, c, catalog.modifyIndex(i)))),
      ];
      return filtered(state === 'any' ? checks : checks.filter((c) => c.Status === state), q.filter);
    });

    app.get('/v1/health/node/:name', { schema: { params: NameParams, querystring: ConsulQuerySchema }, config: onNamed('nodes', 'read') }, async (request, reply) => {
      const { name } = request.params as { name: string };
      const q = request.query as ConsulQuery;
      await consulBlocking(ctx, request, reply, () => catalog.nodesIndex());
      const node = catalog.node(name);
      if (!node) return [];
      const checks = [serfHealth(node), ...catalog.instancesOnNode(name).filter((i) => mayRead(request, 'services', i.name)).flatMap((i) => i.checks.map((c) => consulCheck(i, c, catalog.modifyIndex(i))))];
      return filtered(checks, q.filter);
    });
  };
}

/** One entry of `/v1/health/service/:name`: node, service, and the node's and service's checks. */
function healthEntry(catalog: Catalog, inst: ServiceInstance): Record<string, unknown> {
  const node = catalog.nodeOf(inst);
  const index = catalog.modifyIndex(inst);
  return {
    Node: consulNode(node),
    Service: consulService(inst, index),
    Checks: [serfHealth(node), ...inst.checks.map((c) => consulCheck(inst, c, index))],
  };
}
