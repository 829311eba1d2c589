/**
 * What the Consul-compatible routes share: the query string, Consul's response headers, bodies
 * sent with any content type, and `?filter=`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, preValidationAsyncHookHandler } from 'fastify';
import { BerthError } from '../../../model/index.ts';
import { Type, type TSchema } from '@sinclair/typebox';
import { compileFilter } from '../../../discovery/catalog/index.ts';
import type { ServerContext } from '../../context.ts';
import { blockingQuery } from '../blocking.ts';
import { fieldNamesOf, foldFieldNames } from './field-names.ts';

/** Consul's read parameters berth honours; others (`stale`, `consistent`, `ns`, `near`) are accepted and ignored. */
export const ConsulQuerySchema = Type.Object({
  index: Type.Optional(Type.Integer({ minimum: 0 })),
  wait: Type.Optional(Type.String({ pattern: '^[0-9]+(ms|s|m)?$' })),
  tag: Type.Optional(Type.Array(Type.String())),
  passing: Type.Optional(Type.String()),
  filter: Type.Optional(Type.String({ maxLength: 4096 })),
  dc: Type.Optional(Type.String()),
});

/** The parsed query of a Consul read. */
export interface ConsulQuery {
  index?: number;
  wait?: string;
  tag?: string[];
  passing?: string;
  filter?: string;
  dc?: string;
}

/** `?passing`, `?passing=true`, `?passing=1` are on; `?passing=false` and `=0` are off, as in Consul. */
export function flag(value: string | undefined): boolean {
  return value !== undefined && value !== 'false' && value !== '0';
}

/** Wait as a blocking query, then set Consul's headers along with berth's. */
// eslint-disable-next-line berth/exported-max-params -- (request, reply) is Fastify's pair for one exchange, read as one
export async function consulBlocking(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, indexOf: () => number): Promise<void> {
  await blockingQuery(ctx.view, request, reply, indexOf);
  reply.header('x-consul-index', String(Math.max(1, indexOf())));
  reply.header('x-consul-knownleader', 'true');
  reply.header('x-consul-lastcontact', '0');
}

/**
 * Consul clients often send JSON bodies with no or a text content type, and field names in any
 * case: inside the calling plugin, read every body as JSON whatever its type, an empty one as
 * `{}`, and match its keys to the route's fields as Go does (field-names.ts). A route's fields
 * come from its TypeBox body schema, or from `config.consulFields` when it parses the body itself.
 * Call it before declaring the routes.
 */
export function acceptAnyJson(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const names = route.config?.consulFields ?? (route.schema?.body ? fieldNamesOf(route.schema.body as TSchema) : null);
    if (!names) return;
    const fold: preValidationAsyncHookHandler = async (request) => {
      request.body = foldFieldNames(request.body, names);
    };
    // After the plugin's own preValidation below, which turns a missing body into {}.
    route.preValidation = [...(route.preValidation ? [route.preValidation].flat() : []), fold] as typeof route.preValidation;
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body).trim();
    if (text === '') return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new BerthError('invalid_input', 'Cannot read the request body: it is not valid JSON'), undefined);
    }
  });
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined || request.body === null) request.body = {};
  });
}

/** Apply `?filter=` to a rendered list. */
export function filtered<T>(items: T[], filter: string | undefined): T[] {
  if (!filter) return items;
  const keep = compileFilter(filter);
  return items.filter(keep);
}

/**
 * `?dc=` naming a datacenter berth does not know gets Consul's answer: 500 with the text
 * `No path to datacenter` (consul-template and linkerd read that text), not the local one's data.
 * An empty `dc` is the local datacenter. The agent's own routes and the datacenter list ignore
 * `dc`, as Consul's do.
 */
export function refuseUnknownDatacenter(app: FastifyInstance, datacenters: () => string[]): void {
  app.addHook('onRequest', async (request, reply) => {
    const dc = (request.query as { dc?: unknown }).dc;
    if (typeof dc !== 'string' || dc === '' || request.url.startsWith('/v1/agent/') || request.url.startsWith('/v1/catalog/datacenters')) return;
    if (datacenters().includes(dc)) return;
    return reply.code(500).type('text/plain; charset=utf-8').send('No path to datacenter');
  });
}
