import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { WebSocket, WebSocketServer } from 'ws';
import { BerthError, type Node } from '../../model/index.ts';
import { MAX_EXEC_MESSAGE_BYTES } from '../../api/index.ts';
import type { ServerContext } from '../context.ts';
import { resolveAlloc } from './routes-allocs.ts';
import { agentHeaders, authorize, identify, limiterOf } from './acl-guard.ts';
import { onAllocJob, onNode } from './route-acl.ts';
import { httpStatusOf } from '../../api/index.ts';
import { refuseUpgrade, writeUpgradeRefusal } from './browser-guard.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });
const TaskBody = Type.Object({ task: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) }, { additionalProperties: false });
const SignalBody = Type.Object({ signal: Type.String({ pattern: '^SIG[A-Z0-9]+$', maxLength: 32 }), task: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) }, { additionalProperties: false });
const EXEC_PATH = /^\/v1\/allocations\/([^/]+)\/exec$/;

/**
 * What only the agent that runs a task can answer, proxied to that agent's own endpoint (as logs
 * are): `GET /v1/allocations/:id/stats`, `GET /v1/nodes/:id/stats`, and the exec WebSocket
 * `GET /v1/allocations/:id/exec?task=&command=<JSON array>&tty=true`.
 */
export function clientRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/allocations/:id/stats', { schema: { params: IdParams }, config: onAllocJob(ctx.view, 'read') }, async (request) => {
      const alloc = resolveAlloc(ctx.view, (request.params as { id: string }).id);
      const node = agentOf(ctx, alloc.nodeId, `Cannot show usage of allocation ${alloc.id}`);
      return agentJson(ctx, node, `/v1/client/allocations/${alloc.id}/stats`, `Cannot show usage of allocation ${alloc.id}`);
    });

    app.get('/v1/nodes/:id/stats', { schema: { params: IdParams }, config: onNode(ctx.view, 'read') }, async (request) => {
      const { id } = request.params as { id: string };
      const node = ctx.view.node(id) ?? ctx.view.nodes().find((n) => n.name === id);
      if (!node) throw new BerthError('not_found', `Cannot find node "${id}": no such node (see \`berth node status\`)`);
      return agentJson(ctx, agentOf(ctx, node.id, `Cannot show usage of node ${node.name}`), '/v1/client/stats', `Cannot show usage of node ${node.name}`);
    });

    // In place, on the agent: the tasks keep their allocation (`alloc stop` replaces it instead).
    app.post('/v1/allocations/:id/restart', { schema: { params: IdParams, body: Type.Optional(TaskBody) }, config: onAllocJob(ctx.view, 'alloc-lifecycle') }, async (request) => {
      const alloc = resolveAlloc(ctx.view, (request.params as { id: string }).id);
      const what = `Cannot restart allocation ${alloc.id}`;
      return agentPost(ctx, agentOf(ctx, alloc.nodeId, what), `/v1/client/allocations/${alloc.id}/restart`, request.body ?? {}, what);
    });

    app.post('/v1/allocations/:id/signal', { schema: { params: IdParams, body: SignalBody }, config: onAllocJob(ctx.view, 'alloc-lifecycle') }, async (request) => {
      const alloc = resolveAlloc(ctx.view, (request.params as { id: string }).id);
      const what = `Cannot signal allocation ${alloc.id}`;
      return agentPost(ctx, agentOf(ctx, alloc.nodeId, what), `/v1/client/allocations/${alloc.id}/signal`, request.body, what);
    });

    // A browser that offers subprotocols (the web UI: `berth` and its token) needs one picked.
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_EXEC_MESSAGE_BYTES, handleProtocols: (offered) => (offered.has('berth') ? 'berth' : false) });
    app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://server');
      const m = EXEC_PATH.exec(url.pathname);
      if (!m || refuseUpgrade(app, req, socket)) return;
      const refusal = execRefusal(ctx, req, m[1]);
      if (refusal) {
        writeUpgradeRefusal(socket, httpStatusOf[refusal.code], refusal.toJSON());
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => proxyExec(ctx, ws, m[1], url.searchParams));
    });
    app.addHook('onClose', async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    });
  };
}

/** The node of an allocation with an agent endpoint to ask, or a BerthError that says why not. */
function agentOf(ctx: ServerContext, nodeId: string, what: string): Node {
  const node = ctx.view.node(nodeId);
  if (!node?.httpAddr) throw new BerthError('unavailable', `${what}: its node ${nodeId} has no reachable agent`);
  return node;
}

async function agentJson(ctx: ServerContext, node: Node, path: string, what: string): Promise<unknown> {
  let res: Response;
  try {
    res = await ctx.peers.agents.fetch(`${node.httpAddr}${path}`, { headers: agentHeaders(ctx, node.id), signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new BerthError('unavailable', `${what}: agent on node ${node.name} at ${node.httpAddr} did not answer (${(err as Error).message})`);
  }
  if (!res.ok) throw new BerthError(res.status === 404 ? 'not_found' : 'unavailable', `${what}: agent answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return res.json();
}

/** POST to the agent; its refusal (a task not running, a signal it does not know) comes back in its words. */
async function agentPost(ctx: ServerContext, node: Node, path: string, body: unknown, what: string): Promise<unknown> {
  let res: Response;
  try {
    // A restart waits for the task to stop: up to its kill_timeout.
    res = await ctx.peers.agents.fetch(`${node.httpAddr}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...agentHeaders(ctx, node.id) }, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000) });
  } catch (err) {
    throw new BerthError('unavailable', `${what}: agent on node ${node.name} at ${node.httpAddr} did not answer (${(err as Error).message})`);
  }
  const text = await res.text();
  if (res.ok) return JSON.parse(text);
  let refusal: { error?: { message?: string; details?: { path: string; message: string }[] } } = {};
  try {
    refusal = JSON.parse(text) as typeof refusal;
  } catch {
    // Not the agent's error shape: an older agent without the route, say.
  }
  const code = res.status === 404 ? 'not_found' : res.status === 400 ? 'invalid_input' : 'unavailable';
  throw new BerthError(code, refusal.error?.message ?? `${what}: agent answered ${res.status}: ${text.slice(0, 300)}`, refusal.error?.details ?? []);
}

/** Relays an exec session between the caller's WebSocket and the agent's, message for message. */
function proxyExec(ctx: ServerContext, client: WebSocket, allocRef: string, q: URLSearchParams): void {
  // A frame over the limit (or any protocol error) closes the socket with its code; without a
  // listener the error would be thrown and end the server.
  client.on('error', () => client.terminate());
  let target: string;
  let headers: Record<string, string>;
  try {
    const alloc = resolveAlloc(ctx.view, allocRef);
    const node = agentOf(ctx, alloc.nodeId, `Cannot exec in allocation ${alloc.id}`);
    target = `${node.httpAddr.replace(/^http/, 'ws')}/v1/client/allocations/${alloc.id}/exec?${q}`;
    headers = agentHeaders(ctx, node.id);
  } catch (err) {
    client.send(JSON.stringify({ error: (err as Error).message }));
    client.close();
    return;
  }
  // ws hands these to tls.connect, whose checkServerIdentity returns an Error (ws types it as boolean).
  const agent = new WebSocket(target, { ...(ctx.peers.agents.wsOptions() as WebSocket.ClientOptions), headers });
  const pending: string[] = [];
  client.on('message', (data) => {
    if (agent.readyState === WebSocket.OPEN) agent.send(String(data));
    else pending.push(String(data));
  });
  agent.on('open', () => {
    for (const m of pending.splice(0)) agent.send(m);
  });
  agent.on('message', (data) => client.readyState === WebSocket.OPEN && client.send(String(data)));
  agent.on('error', (err) => {
    if (client.readyState === WebSocket.OPEN) client.send(JSON.stringify({ error: `Cannot exec: the agent at ${target.split('/v1/')[0]} did not answer (${err.message})` }));
    client.close();
  });
  agent.on('close', () => client.close());
  client.on('close', () => agent.close());
}

/**
 * The exec WebSocket is no fastify route (it is an upgrade), so its ACL check is here: a token with
 * `alloc-exec` on the allocation's job. Returns the refusal, or undefined to go on.
 */
function execRefusal(ctx: ServerContext, req: IncomingMessage, allocRef: string): BerthError | undefined {
  try {
    const identity = identify(ctx, limiterOf(ctx), { headers: req.headers, url: req.url ?? '/', address: req.socket.remoteAddress ?? '' });
    let jobId = '';
    try {
      jobId = resolveAlloc(ctx.view, allocRef).jobId;
    } catch {
      // Checked as the job "": only a token allowed everywhere learns that it does not exist.
    }
    authorize(identity, 'jobs', jobId, 'alloc-exec');
    return undefined;
  } catch (err) {
    return err instanceof BerthError ? err : new BerthError('internal', (err as Error).message);
  }
}
