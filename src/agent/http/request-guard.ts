/**
 * The agent's endpoint (logs, exec, usage) is for berth servers only, which send no `Origin`: a
 * request from a web page (any `Origin`) or one whose `Host` is not a name the agent listens at
 * (DNS rebinding) is refused with 403, the exec WebSocket upgrade included.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { checkRequest, isAnyAddress, type RequestPolicy, type RequestVerdict } from '../../lib/index.ts';

/** The rule for an agent endpoint bound to `bindHost`: loopback names, that address (any interface for 0.0.0.0), no web origin. */
export function agentRequestPolicy(bindHost: string): RequestPolicy {
  const anyInterface = isAnyAddress(bindHost);
  return { hosts: [bindHost], anyInterface, origins: [], sameOrigin: false };
}

/** The refusal of a request, in berth's error shape, or undefined when it may go on. */
export function agentRefusal(req: Pick<IncomingMessage, 'headers' | 'method' | 'url'>, policy: RequestPolicy): { error: { code: 'forbidden'; message: string; details: { path: string; message: string }[] } } | undefined {
  const verdict = checkRequest(req.headers, policy, 'http');
  if (verdict.ok) return undefined;
  return { error: { code: 'forbidden', message: messageOf(`${req.method ?? 'GET'} ${(req.url ?? '/').split('?')[0]}`, verdict), details: [{ path: verdict.header, message: verdict.reason }] } };
}

/** Refuse an exec upgrade that fails the rule: a 403 on the socket, closed. True when refused. */
export function refuseAgentUpgrade(req: IncomingMessage, socket: Duplex, policy: RequestPolicy): boolean {
  const body = agentRefusal(req, policy);
  if (!body) return false;
  const text = JSON.stringify(body);
  socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
  return true;
}

/** Judge every request of the agent app before its route runs. */
export function addAgentRequestGuard(app: FastifyInstance, policy: RequestPolicy): void {
  app.addHook('onRequest', async (request, reply) => {
    const body = agentRefusal(request.raw, policy);
    if (body) return reply.status(403).send(body);
  });
}

function messageOf(what: string, verdict: Exclude<RequestVerdict, { ok: true }>): string {
  if (verdict.header === 'origin') return `Cannot ${what}: Origin "${verdict.value}" is refused: the agent's endpoint serves berth servers, never web pages; use the server's API (berth alloc logs|exec)`;
  return `Cannot ${what}: Host "${verdict.value}" is refused: ${verdict.reason}; the agent answers to loopback names and the address of its --http-addr`;
}
