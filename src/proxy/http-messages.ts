import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Headers that describe one connection and are not forwarded (RFC 9110 section 7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Header names (lower-case) a message's Connection header declares hop-by-hop, besides the fixed ones. */
function connectionTokens(connection: string | string[] | undefined): Set<string> {
  const value = Array.isArray(connection) ? connection.join(',') : (connection ?? '');
  return new Set(value.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}

/** What the ingress tells the backend about the original request. */
export interface ForwardedFacts {
  /** The client's address, as the ingress saw it. */
  clientAddress: string;
  /** `http` or `https`: how the client reached the ingress. */
  proto: string;
}

/** The X-Forwarded-* values for a request: For appended (the last entry is the ingress's own client), Proto and Host set. */
function forwarded(headers: IncomingHttpHeaders, facts: ForwardedFacts): Record<string, string> {
  const prior = headers['x-forwarded-for'];
  return {
    'x-forwarded-for': prior ? `${prior}, ${facts.clientAddress}` : facts.clientAddress,
    'x-forwarded-proto': facts.proto,
    'x-forwarded-host': headers.host ?? '',
  };
}

/** The headers sent to the backend: the client's, less hop-by-hop ones, plus X-Forwarded-*. */
export function requestHeaders(req: IncomingMessage, facts: ForwardedFacts): OutgoingHttpHeaders {
  const drop = connectionTokens(req.headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || drop.has(name)) continue;
    out[name] = value;
  }
  return Object.assign(out, forwarded(req.headers, facts));
}

/** The backend's response headers for the client, as a flat [name, value, ...] list, less hop-by-hop ones. */
export function responseHeaders(res: IncomingMessage): string[] {
  const drop = connectionTokens(res.headers.connection);
  const raw = res.rawHeaders;
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(name) || drop.has(name)) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/**
 * The request head of an upgrade (WebSocket) as bytes for the backend: the client's own headers
 * in their order, including Connection and Upgrade, with X-Forwarded-* added.
 */
export function upgradeHead(req: IncomingMessage, facts: ForwardedFacts): string {
  const extra = forwarded(req.headers, facts);
  const lines = [`${req.method} ${req.url} HTTP/1.1`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i].toLowerCase() in extra) continue;
    lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  }
  for (const [name, value] of Object.entries(extra)) lines.push(`${name}: ${value}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Why the ingress answered itself instead of a backend. */
export type IngressFailure = 'no_route' | 'no_healthy_instance' | 'bad_gateway' | 'gateway_timeout';

const STATUS: Record<IngressFailure, [number, string]> = {
  no_route: [404, 'Not Found'],
  no_healthy_instance: [503, 'Service Unavailable'],
  bad_gateway: [502, 'Bad Gateway'],
  gateway_timeout: [504, 'Gateway Timeout'],
};

/** The status, headers and body of the ingress's own answer: JSON when the client accepts JSON, text otherwise. */
function failureResponse(accept: string | undefined, failure: IngressFailure, message: string, service?: string): { status: number; reason: string; type: string; body: string } {
  const [status, reason] = STATUS[failure];
  if (accept?.includes('application/json')) {
    const body = JSON.stringify({ error: { code: failure, message, ...(service ? { service } : {}) } });
    return { status, reason, type: 'application/json', body };
  }
  return { status, reason, type: 'text/plain; charset=utf-8', body: `${status} ${reason}: ${message}\n` };
}

/** What went wrong, for the ingress's own answer: the kind, what to say, the service it concerns. */
export interface FailureNotice {
  failure: IngressFailure;
  message: string;
  service?: string;
}

/** Answer a request with the ingress's own error. */
export function sendFailure(req: IncomingMessage, res: ServerResponse, notice: FailureNotice): void {
  const { failure, message, service } = notice;
  const f = failureResponse(req.headers.accept, failure, message, service);
  res.writeHead(f.status, { 'content-type': f.type, 'content-length': Buffer.byteLength(f.body), 'x-berth-ingress': failure });
  res.end(f.body);
}

/** Answer an upgrade request on its raw socket with the ingress's own error, and close it. */
export function sendRawFailure(req: IncomingMessage, socket: Socket, notice: FailureNotice): void {
  const { failure, message, service } = notice;
  const f = failureResponse(req.headers.accept, failure, message, service);
  socket.end(`HTTP/1.1 ${f.status} ${f.reason}\r\ncontent-type: ${f.type}\r\ncontent-length: ${Buffer.byteLength(f.body)}\r\nx-berth-ingress: ${failure}\r\nconnection: close\r\n\r\n${f.body}`);
}
