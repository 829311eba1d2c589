import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Type } from '@sinclair/typebox';
import { BerthError, type CheckStatus } from '../../../model/index.ts';
import { consulCheck, consulService, instanceFromConsul } from '../../../discovery/catalog/index.ts';
import type { ServerContext } from '../../context.ts';
import { acceptAnyJson, filtered, flag } from './conventions.ts';
import { authorize, mayRead } from '../acl-guard.ts';
import { perObject, PUBLIC, rule, serviceOfCheck, serviceOfInstance } from '../route-acl.ts';
import { SERVICE_REGISTRATION } from './field-names.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 512 }) });
const StatusBody = Type.Object({ Status: Type.Optional(Type.String()), Output: Type.Optional(Type.String({ maxLength: 65536 })) });
const NoteQuery = Type.Object({ note: Type.Optional(Type.String({ maxLength: 65536 })) });
const VERSION = '1.17.0';

/**
 * Consul's `/v1/agent/*` and `/v1/status/*`. berth keeps one catalog for the cluster, so the
 * server stands for the agent: services registered here live on the server's own node, and
 * check updates reach any instance, wherever it runs.
 */
// eslint-disable-next-line max-lines-per-function -- a route table: one short handler per route
export function consulAgentRoutes(ctx: ServerContext): FastifyPluginAsync {
  // eslint-disable-next-line max-lines-per-function -- a route table: one short handler per route
  return async (app) => {
    const { catalog, registry } = ctx.discovery;
    const local = registry.node;
    // `curl --data @svc.json` and several client libraries send the definition as a form or text.
    acceptAnyJson(app);

    // The service of an instance or of a check, which policies name.
    const serviceOf = (id: string): string => serviceOfInstance(ctx.view, id);

    // Consul answers these writes with 200 and an empty body (not `null`), as `empty` sends.
    app.put('/v1/agent/service/register', { config: { ...perObject('services', 'write'), consulFields: SERVICE_REGISTRATION } }, async (request, reply) => {
      const q = request.query as { 'replace-existing-checks'?: string };
      const instance = instanceFromConsul(request.body, local, ctx.clock.now());
      authorize(request.identity, 'services', instance.name, 'write');
      await registry.register(instance, flag(q['replace-existing-checks']));
      return empty(reply);
    });

    app.put('/v1/agent/service/deregister/:id', { schema: { params: IdParams }, config: rule('services', 'write', (r) => serviceOf((r.params as { id: string }).id)) }, async (request, reply) => {
      await registry.deregister((request.params as { id: string }).id);
      return empty(reply);
    });

    const checkRule = rule('services', 'write', (r) => serviceOfCheck(ctx.view, (r.params as { id: string }).id));
    for (const [verb, status] of [['pass', 'passing'], ['warn', 'warning'], ['fail', 'critical']] as const) {
      app.put(`/v1/agent/check/${verb}/:id`, { schema: { params: IdParams, querystring: NoteQuery }, config: checkRule }, async (request, reply) => {
        await registry.updateCheck((request.params as { id: string }).id, status, (request.query as { note?: string }).note ?? '');
        return empty(reply);
      });
    }

    app.put('/v1/agent/check/update/:id', { schema: { params: IdParams, body: StatusBody }, config: checkRule }, async (request, reply) => {
      const body = (request.body ?? {}) as { Status?: string; Output?: string };
      const status = body.Status ?? 'passing';
      if (!['passing', 'warning', 'critical'].includes(status)) {
        throw new BerthError('invalid_input', `Cannot update check: Status must be passing, warning or critical, got "${status}"`, [{ path: 'Status', message: 'invalid status' }]);
      }
      await registry.updateCheck((request.params as { id: string }).id, status as CheckStatus, body.Output ?? '');
      return empty(reply);
    });

    app.get('/v1/agent/services', { config: perObject('services') }, async (request) => {
      const out: Record<string, unknown> = {};
      const all = ctx.view
        .serviceInstances()
        .filter((inst) => mayRead(request, 'services', inst.name))
        .map((inst) => consulService(inst, catalog.modifyIndex(inst)));
      for (const svc of filtered(all, (request.query as { filter?: string }).filter)) out[svc.ID as string] = svc;
      return out;
    });

    app.get('/v1/agent/service/:id', { schema: { params: IdParams }, config: rule('services', 'read', (r) => serviceOf((r.params as { id: string }).id)) }, async (request) => {
      const inst = ctx.view.serviceInstance((request.params as { id: string }).id);
      if (!inst) throw new BerthError('not_found', `Cannot find service "${(request.params as { id: string }).id}": no such service instance`);
      return consulService(inst, catalog.modifyIndex(inst));
    });

    app.get('/v1/agent/checks', { config: perObject('services') }, async (request) => {
      const out: Record<string, unknown> = {};
      for (const inst of ctx.view.serviceInstances()) if (mayRead(request, 'services', inst.name)) for (const c of inst.checks) out[c.id] = consulCheck(inst, c, catalog.modifyIndex(inst));
      return out;
    });

    app.get('/v1/agent/self', { config: rule('agent', 'read') }, async () => ({
      Config: { Datacenter: local.datacenter, NodeName: local.name, NodeID: local.id, Server: true, Revision: 'berth', Version: VERSION, PrimaryDatacenter: local.datacenter },
      Member: { Name: local.name, Addr: local.address, Port: 8301, Tags: { dc: local.datacenter, role: 'consul', build: VERSION }, Status: 1 },
      Meta: {},
      Coord: null,
    }));

    app.get('/v1/agent/members', { config: perObject('nodes') }, async (request) =>
      catalog
        .nodes()
        .filter((n) => mayRead(request, 'nodes', n.name))
        .map((n) => ({ Name: n.name, Addr: n.address, Port: 8301, Tags: { dc: n.datacenter }, Status: n.alive ? 1 : 4 })));

    // Consul answers with raft addresses; berth's servers are known by their API's host:port.
    // A JSON string, as Consul sends it (fastify would send a bare string as text).
    app.get('/v1/status/leader', { config: PUBLIC }, async (_request, reply) => {
      const leader = ctx.cluster.leader;
      return reply.type('application/json').send(JSON.stringify(leader ? hostPort(leader.url) : ''));
    });
    app.get('/v1/status/peers', { config: PUBLIC }, async () => ctx.cluster.members().map((m) => hostPort(m.url)));
  };
}

/** `host:port` of a URL, as Consul's status routes write addresses. */
function hostPort(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** 200 with no body, as Consul answers an agent write. */
function empty(reply: FastifyReply): FastifyReply {
  return reply.code(200).send();
}
