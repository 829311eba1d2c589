import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { BerthError, isBerthError, type ErrorDetail } from '../../model/index.ts';
import { httpStatusOf, MAX_BODY_BYTES } from '../../api/index.ts';
import type { Logger } from '../../lib/index.ts';
import type { ServerContext } from '../context.ts';
import { jobRoutes } from './routes-jobs.ts';
import { periodicRoutes } from './routes-periodic.ts';
import { deploymentRoutes } from './routes-deployments.ts';
import { nodeRoutes } from './routes-nodes.ts';
import { allocRoutes } from './routes-allocs.ts';
import { metricsRoutes } from './routes-metrics.ts';
import { clientRoutes } from './routes-client.ts';
import { consulRoutes } from './consul/index.ts';
import { eventRoutes } from './routes-events.ts';
import { serverRoutes } from './routes-servers.ts';
import { ingressRoutes } from './routes-ingress.ts';
import { addLeaderForwarding } from './leader-forward.ts';
import { lazySchemaController } from './lazy-compilers.ts';
import { addAclGuard } from './acl-guard.ts';
import { aclRoutes } from './routes-acl.ts';
import { variableRoutes } from './routes-variables.ts';
import { serviceAddressRoutes } from './routes-service-addresses.ts';
import { addBrowserGuard, type BrowserGuardOptions } from './browser-guard.ts';
import { uiRoutes } from './routes-ui.ts';
import type { ServerTlsOptions } from '../../tls/index.ts';

/** How the app serves. */
export interface AppOptions {
  /** Serve HTTPS with these TLS options (tls layer's ServerTls.options). Default plain HTTP. */
  https?: ServerTlsOptions;
  /** More Host names and web origins the browser guard accepts. */
  browser?: BrowserGuardOptions;
}

/** Routes that stay open by design whatever their query: the event stream. */
const STREAM_ROUTES = new Set(['/v1/event/stream']);

/**
 * Whether a request waits by design, so its duration is no latency: a blocking query (`?index=`,
 * berth's and Consul's routes alike; one asking from an index already passed answers at once, but
 * is counted here too, since only its handler knows), the event stream, followed logs. (Exec is a WebSocket upgrade
 * that never reaches fastify's hooks.)
 */
export function isLongPoll(route: string, query: unknown): boolean {
  if (STREAM_ROUTES.has(route)) return true;
  const q = (query ?? {}) as { index?: unknown; follow?: unknown };
  // `?index=0` answers at once (blocking.ts), as in Consul: an ordinary read.
  if (Number(q.index) > 0) return true;
  return q.follow === true || q.follow === 'true';
}

/**
 * Build the HTTP app without listening, so tests can call it with `app.inject()`. Routes validate,
 * call one service and render; errors become `{error: {code, message, details}}` here and only here.
 */
export async function buildApp(ctx: ServerContext, logger: Logger, options: AppOptions = {}): Promise<FastifyInstance> {
  // With `https`, fastify makes an https.Server; the app is used the same either way.
  const app = Fastify({
    ...(options.https ? { https: options.https } : {}),
    loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Request lines would drown the log (agents poll); the onResponse hook feeds metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Blocking queries may be open for minutes; shutting down must not wait for them.
    forceCloseConnections: true,
    bodyLimit: MAX_BODY_BYTES,
    ajv: { customOptions: { allErrors: true, coerceTypes: 'array', removeAdditional: false } },
    schemaController: lazySchemaController,
    // A malformed URL (`/v1/jobs/%ZZ`) or an over-long path parameter is refused by the router
    // before any route runs; it must still answer in berth's error shape.
    frameworkErrors: (err, _request, reply) => {
      const berthErr = toBerthError(err);
      void (reply as FastifyReply).status(httpStatusOf[berthErr.code]).send(berthErr.toJSON());
    },
  });

  // Job specs may be posted as YAML; the route parses them with jobspec/ so errors carry paths.
  app.addContentTypeParser(['application/yaml', 'application/x-yaml', 'text/yaml'], { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );

  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the URL: one series per route, not per job or key.
    const route = request.routeOptions.url ?? 'unknown';
    const histogram = isLongPoll(route, request.query) ? ctx.metrics.httpLongPolls : ctx.metrics.httpRequests;
    histogram.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError | BerthError | Error, request, reply) => {
    const berthErr = toBerthError(err);
    if (berthErr.code === 'internal') request.log.error({ err, url: request.url }, 'internal error');
    // A body over the limit keeps its 413 (and an unknown type its 415): the client must not retry it as is.
    const status = (err as FastifyError).statusCode === 413 || (err as FastifyError).statusCode === 415 ? (err as FastifyError).statusCode! : httpStatusOf[berthErr.code];
    void reply.status(status).send(berthErr.toJSON());
  });

  app.setNotFoundHandler((request, reply) => {
    const err = new BerthError('not_found', `Cannot ${request.method} ${request.url.split('?')[0]}: no such route (see the API reference in README.md)`);
    void reply.status(404).send(err.toJSON());
  });

  await addBrowserGuard(app, options.browser ?? {});
  // Then ACLs: nothing else runs for a request its token may not make (forwarding included).
  addAclGuard(app, ctx);
  addLeaderForwarding(app, ctx);

  await app.register(jobRoutes(ctx));
  await app.register(periodicRoutes(ctx));
  await app.register(deploymentRoutes(ctx));
  await app.register(nodeRoutes(ctx));
  await app.register(allocRoutes(ctx));
  await app.register(metricsRoutes(ctx));
  await app.register(clientRoutes(ctx));
  await app.register(serverRoutes(ctx));
  await app.register(ingressRoutes(ctx));
  await app.register(consulRoutes(ctx));
  await app.register(eventRoutes(ctx.backend));
  await app.register(aclRoutes(ctx));
  await app.register(variableRoutes(ctx));
  await app.register(serviceAddressRoutes(ctx));
  await app.register(uiRoutes());
  return app;
}

/** Every error the boundary can see, as a BerthError: fastify's own 4xx included. */
function toBerthError(err: FastifyError | BerthError | Error): BerthError {
  if (isBerthError(err)) return err;
  const fe = err as FastifyError;
  if (fe.validation) {
    const details: ErrorDetail[] = fe.validation.map((v) => {
      const missing = (v.params as { missingProperty?: string }).missingProperty;
      const extra = (v.params as { additionalProperty?: string }).additionalProperty;
      const base = pathOf(v.instancePath, fe.validationContext);
      if (missing) return { path: join(base, missing), message: 'is required' };
      if (extra) return { path: join(base, extra), message: 'unknown field' };
      return { path: base, message: v.message ?? 'is invalid' };
    });
    const first = details[0];
    return new BerthError('invalid_input', `Invalid request ${fe.validationContext ?? 'body'}: ${first.path ? `${first.path}: ` : ''}${first.message}`, details);
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new BerthError('invalid_input', `Invalid request: the body is larger than the limit of ${MAX_BODY_BYTES / 1024 / 1024} MiB (${MAX_BODY_BYTES} bytes); send a smaller one`);
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code = fe.statusCode === 404 ? 'not_found' : 'invalid_input';
    return new BerthError(code, `Invalid request: ${fe.message}`);
  }
  return new BerthError('internal', `Internal error: ${err.message}`);
}

function pathOf(instancePath: string, context?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  const path = parts.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '');
  return context && context !== 'body' ? join(context, path) : path;
}

function join(a: string, b: string): string {
  return a ? `${a}.${b}` : b;
}
