import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import type { DriverName } from '../../model/index.ts';
import type { ExecSession, TaskDriver } from '../../drivers/index.ts';
import type { AllocRunner } from '../allocs/alloc-runner.ts';
import { nodeSecretMatches, NOT_A_SERVER } from './node-secret.ts';
import { MAX_EXEC_MESSAGE_BYTES } from '../../api/index.ts';
import type { RequestPolicy } from '../../lib/index.ts';
import { refuseAgentUpgrade } from './request-guard.ts';

/**
 * The exec protocol, one JSON object per WebSocket text message (data in base64, as Nomad's):
 * client to agent `{stdin}`, `{stdinClose: true}`, `{resize: {cols, rows}}`;
 * agent to client `{stdout}`, `{stderr}`, then `{exit: code}` or `{error: message}`, then close.
 */
export interface ExecClientMessage {
  stdin?: string;
  stdinClose?: boolean;
  resize?: { cols: number; rows: number };
}

const EXEC_PATH = /^\/v1\/client\/allocations\/([^/]+)\/exec$/;

/**
 * `GET /v1/client/allocations/:id/exec?task=&command=<JSON array>&tty=true` upgraded to a
 * WebSocket: runs the command in the task through its driver and relays the streams.
 */
export function registerExec(app: FastifyInstance, deps: { runners: Map<string, AllocRunner>; drivers: Map<DriverName, TaskDriver>; policy: RequestPolicy; nodeSecret?: string }): void {
  const { runners, drivers, policy } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_EXEC_MESSAGE_BYTES });
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://agent');
    const m = EXEC_PATH.exec(url.pathname);
    if (!m) return void socket.destroy();
    if (refuseAgentUpgrade(req, socket, policy)) return;
    if (!nodeSecretMatches(deps.nodeSecret, req.headers)) {
      const body = JSON.stringify(NOT_A_SERVER);
      return void socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    }
    wss.handleUpgrade(req, socket, head, (ws) => void runExec(ws, m[1], url.searchParams, runners, drivers));
  });
  app.addHook('onClose', async () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  });
}

async function runExec(ws: WebSocket, allocId: string, q: URLSearchParams, runners: Map<string, AllocRunner>, drivers: Map<DriverName, TaskDriver>): Promise<void> {
  // A frame over the limit (or any protocol error) closes the socket; unheard, it would end the agent.
  ws.on('error', () => ws.terminate());
  const fail = (message: string): void => {
    ws.send(JSON.stringify({ error: message }));
    ws.close();
  };
  const runner = runners.get(allocId);
  if (!runner) return fail(`Cannot exec in allocation ${allocId}: this agent does not run it`);
  const names = runner.taskNames();
  const task = q.get('task') ?? (names.length === 1 ? names[0] : undefined);
  if (!task) return fail(`Cannot exec in allocation ${allocId}: it has ${names.length} tasks; name one of: ${names.join(', ')}`);
  const handle = task ? runner.handle(task) : undefined;
  if (!task || !handle || runner.taskStates()[task]?.state !== 'running') return fail(`Cannot exec in task "${task}" of allocation ${allocId}: it is not running`);
  const driver = drivers.get(handle.driver);
  if (!driver?.exec) return fail(`Cannot exec in task "${task}": driver ${handle.driver} cannot run commands in its tasks`);
  let command: unknown;
  try {
    command = JSON.parse(q.get('command') ?? '');
  } catch {
    command = undefined;
  }
  if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === 'string')) return fail('Cannot exec: command must be a non-empty JSON array of strings');
  const tty = q.get('tty') === 'true';
  // Input that arrives before the session is ready is kept, not lost.
  const early: ExecClientMessage[] = [];
  let session: ExecSession | undefined;
  const apply = (msg: ExecClientMessage, s: ExecSession): void => {
    if (msg.stdin) s.stdin.write(Buffer.from(msg.stdin, 'base64'));
    // A terminal has no end of input (Ctrl-D is a byte it reads); closing it would hang up the command.
    if (msg.stdinClose && !tty) s.stdin.end();
    if (msg.resize) void s.resize(msg.resize.cols, msg.resize.rows);
  };
  ws.on('message', (data) => {
    let msg: ExecClientMessage;
    try {
      msg = JSON.parse(String(data)) as ExecClientMessage;
    } catch {
      return;
    }
    if (session) apply(msg, session);
    else early.push(msg);
  });
  ws.on('close', () => session?.kill());
  try {
    session = await driver.exec(handle, { command: command as string[], tty });
  } catch (err) {
    return fail((err as Error).message);
  }
  for (const msg of early.splice(0)) apply(msg, session);
  for await (const chunk of session.output) {
    if (ws.readyState !== ws.OPEN) break;
    ws.send(JSON.stringify({ [chunk.stream]: chunk.data.toString('base64') }));
  }
  const code = await session.exit;
  if (ws.readyState === ws.OPEN) {
    ws.send(JSON.stringify({ exit: code }));
    ws.close();
  }
}
