import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { BerthError } from '../../../model/index.ts';
import { consulCatalogService, consulNode, consulService } from '../../../discovery/catalog/index.ts';
import type { ServerContext } from '../../context.ts';
import { ConsulQuerySchema, consulBlocking, filtered, type ConsulQuery } from './conventions.ts';
import { mayRead } from '../acl-guard.ts';
import { onNamed, perObject, PUBLIC } from '../route-acl.ts';

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }) });

/** Consul's `/v1/catalog/*`: services, their instances, nodes and datacenters. */
export function consulCatalogRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    const { catalog } = ctx.discovery;

    app.get('/v1/catalog/datacenters', { config: PUBLIC }, async () => catalog.datacenters());

    app.get('/v1/catalog/services', { schema: { querystring: ConsulQuerySchema }, config: perObject('services') }, async (request, reply) => {
      await consulBlocking(ctx, request, reply, () => catalog.servicesIndex());
      return Object.fromEntries(Object.entries(catalog.services()).filter(([name]) => mayRead(request, 'services', name)));
    });

    app.get('/v1/catalog/service/:name', { schema: { params: NameParams, querystring: ConsulQuerySchema }, config: onNamed('services', 'read') }, async (request, reply) => {
      const { name } = request.params as { name: string };
      const q = request.query as ConsulQuery;
      await consulBlocking(ctx, request, reply, () => catalog.serviceIndex(name));
      const entries = catalog.instances(name, { tags: q.tag, datacenter: q.dc || undefined }).map((i) => consulCatalogService(i, catalog.nodeOf(i), catalog.modifyIndex(i)));
      return filtered(entries, q.filter);
    });

    app.get('/v1/catalog/nodes', { schema: { querystring: ConsulQuerySchema }, config: perObject('nodes') }, async (request, reply) => {
      const q = request.query as ConsulQuery;
      await consulBlocking(ctx, request, reply, () => ctx.view.tableIndex('nodes'));
      return filtered(catalog.nodes().filter((n) => mayRead(request, 'nodes', n.name)).map(consulNode), q.filter);
    });

    app.get('/v1/catalog/node/:name', { schema: { params: NameParams, querystring: ConsulQuerySchema }, config: onNamed('nodes', 'read') }, async (request, reply) => {
      const { name } = request.params as { name: string };
      await consulBlocking(ctx, request, reply, () => catalog.nodesIndex());
      const node = catalog.node(name);
      // Consul answers an unknown node with 200 and null.
      if (!node) return null;
      const services: Record<string, unknown> = {};
      for (const inst of catalog.instancesOnNode(name)) if (mayRead(request, 'services', inst.name)) services[inst.id] = consulService(inst, catalog.modifyIndex(inst));
      return { Node: consulNode(node), Services: services };
    });

    app.get('/v1/catalog/service', { config: PUBLIC }, async () => {
      throw new BerthError('invalid_input', 'Cannot list a service: missing service name (GET /v1/catalog/service/:name)');
    });
  };
}
