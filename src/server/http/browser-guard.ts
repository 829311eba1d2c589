/**
 * No way in from a web browser: a page the user visits must not drive the API, with or without
 * ACLs. A request is refused (403) when its `Host` is not a name the server answers to (DNS
 * rebinding) or its `Origin` is another site's; a body sent to berth's own routes must be JSON or
 * YAML (415), since a page may send `text/plain`, form or multipart bodies to any site without a
 * CORS preflight. The exec WebSocket upgrade, which skips the hooks, is judged the same way.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import { BerthError } from '../../model/index.ts';
import { checkRequest, isAnyAddress, type RequestPolicy, type RequestVerdict } from '../../lib/index.ts';

/** What the server answers to besides the loopback names; from `berth server|dev` flags. */
export interface BrowserGuardOptions {
  /** The address the API is bound to (`--http-addr`). Default 127.0.0.1; 0.0.0.0 or :: accept any interface address. */
  bindHost?: string;
  /** Host names the server is advertised at (`--advertise-url`, its member address). */
  advertised?: string[];
  /** More host names clients use (`--allowed-host`). */
  allowedHosts?: string[];
  /** Web origins let in besides the server's own (`--allowed-origin`). */
  allowedOrigins?: string[];
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The Host and Origin rule of the browser guard, for handlers that skip the hooks (WebSocket upgrades). */
    requestPolicy: RequestPolicy;
  }
}

/**
 * Consul's routes take bodies of any content type, as Consul does (its Go client sent none for
 * years, and `curl --data` sends a form type). They are all PUT or DELETE, methods a browser
 * sends to another origin only after a preflight, which berth never grants; the Origin check
 * still applies to them.
 */
const ANY_BODY_PREFIXES = ['/v1/kv/', '/v1/agent/', '/v1/catalog/', '/v1/health/', '/v1/session/', '/v1/txn', '/v1/status/'];

/** Media types of a document body: JSON, and YAML for job specs. */
const DOCUMENT_TYPE = /^(application\/(json|[a-z0-9.+-]+\+json|yaml|x-yaml)|text\/(yaml|x-yaml))$/;

/** The rule the server judges requests by. */
export function serverRequestPolicy(options: BrowserGuardOptions = {}): RequestPolicy {
  const bindHost = options.bindHost ?? '127.0.0.1';
  const anyInterface = isAnyAddress(bindHost);
  // The bind address itself too when it is 0.0.0.0: `curl http://0.0.0.0:7460` is no page's name.
  const hosts = [bindHost, ...(options.advertised ?? []), ...(options.allowedHosts ?? [])];
  return { hosts, anyInterface, origins: options.allowedOrigins ?? [], sameOrigin: true };
}

/**
 * Add the guard at the root of the app, before any route, so every request passes it first. Pages
 * of the `--allowed-origin` origins also get CORS answers (@fastify/cors, after the guard), since a
 * browser shows them no response and sends them no JSON request without those.
 */
export async function addBrowserGuard(app: FastifyInstance, options: BrowserGuardOptions = {}): Promise<void> {
  const policy = serverRequestPolicy(options);
  app.decorate('requestPolicy', policy);
  app.addHook('onRequest', async (request, reply) => {
    const verdict = checkRequest(request.headers, policy, request.protocol);
    if (!verdict.ok) return reply.status(403).send(refusal(`${request.method} ${pathOf(request.url)}`, verdict).toJSON());
    const type = bodyTypeRefused(request);
    if (type !== undefined) {
      const err = new BerthError(
        'invalid_input',
        `Cannot ${request.method} ${pathOf(request.url)}: a body of type "${type}" is refused; send it as application/json (or application/yaml for a job spec). ` +
          'A web page may send text, form and multipart bodies to any site without asking, so berth reads documents only as JSON or YAML',
        [{ path: 'content-type', message: `"${type}" is not JSON or YAML` }],
      );
      return reply.status(415).send(err.toJSON());
    }
  });
  if (policy.origins.length > 0) {
    await app.register(cors, {
      origin: [...policy.origins],
      methods: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'],
      exposedHeaders: ['X-Berth-Index', 'X-Consul-Index', 'X-Consul-KnownLeader', 'X-Consul-LastContact'],
      maxAge: 600,
    });
  }
}

/**
 * For an upgrade handler: true when the request was refused, with a 403 written on the socket
 * and the socket closed; false when it may go on. Browsers send `Origin` on every WebSocket.
 */
export function refuseUpgrade(app: FastifyInstance, req: IncomingMessage, socket: Duplex): boolean {
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const verdict = checkRequest(req.headers, app.requestPolicy, scheme);
  if (verdict.ok) return false;
  writeUpgradeRefusal(socket, 403, refusal(`open a WebSocket at ${pathOf(req.url ?? '/')}`, verdict).toJSON());
  return true;
}

/** Answer an upgrade request with a plain HTTP error and close the connection. */
export function writeUpgradeRefusal(socket: Duplex, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

/** The berth error for a refused request, naming the header, its value and the flag that lets it in. */
function refusal(what: string, verdict: Exclude<RequestVerdict, { ok: true }>): BerthError {
  if (verdict.header === 'host') {
    const fix = `if clients reach this server by that name, start it with --allowed-host ${hostOnly(verdict.value)}`;
    return new BerthError('forbidden', `Cannot ${what}: Host "${verdict.value}" is refused: ${verdict.reason}; ${fix}`, [{ path: 'host', message: verdict.reason }]);
  }
  const fix =
    verdict.value === 'null'
      ? 'serve the page from an http(s) origin and start the server with --allowed-origin <that origin>'
      : `if that page is yours, start the server with --allowed-origin ${verdict.value}`;
  return new BerthError('forbidden', `Cannot ${what}: Origin "${verdict.value}" is refused: ${verdict.reason}; ${fix}`, [{ path: 'origin', message: verdict.reason }]);
}

/** The content type of a body berth's own routes must not take, or undefined when it is fine. */
function bodyTypeRefused(request: FastifyRequest): string | undefined {
  const headers = request.headers;
  const hasBody = headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;
  if (!hasBody) return undefined;
  const route = request.routeOptions.url;
  if (route === undefined || ANY_BODY_PREFIXES.some((p) => route.startsWith(p))) return undefined;
  const type = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  return DOCUMENT_TYPE.test(type) ? undefined : type || '(none)';
}

function pathOf(url: string): string {
  return url.split('?')[0];
}

function hostOnly(host: string): string {
  return host.replace(/:\d+$/, '');
}
