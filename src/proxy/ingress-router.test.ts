import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer } from 'ws';
import type { Endpoint } from './endpoint.ts';
import { IngressRouter, type IngressRouterOptions } from './ingress-router.ts';

const HOST = '127.0.0.1';
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A backend answering JSON: its name, the path and the headers it got; `/slow` answers after 300 ms, `/never` never. */
async function backend(name: string): Promise<Endpoint & { connections: number; server: http.Server }> {
  const state = { connections: 0 };
  const server = http.createServer((req, res) => {
    const answer = (): void => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('connection', 'keep-alive, x-hop');
      res.setHeader('x-hop', 'should not pass');
      res.end(JSON.stringify({ name, path: req.url, headers: req.headers }));
    };
    if (req.url === '/never') return;
    if (req.url === '/slow') setTimeout(answer, 300);
    else answer();
  });
  server.on('connection', () => state.connections++);
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    ws.send(JSON.stringify({ name, xff: req.headers['x-forwarded-for'] }));
    ws.on('message', (m) => ws.send(`echo ${m}`));
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  cleanups.push(() => (server.closeAllConnections(), wss.close(), server.close()));
  const port = (server.address() as net.AddressInfo).port;
  return Object.assign(state, { id: name, host: HOST, port, server });
}

async function closedPort(): Promise<number> {
  const s = net.createServer().listen(0, HOST);
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function ingress(options: Partial<IngressRouterOptions> = {}): Promise<{ router: IngressRouter; port: number }> {
  const router = new IngressRouter({ host: HOST, ...options });
  const { port } = await router.listen();
  cleanups.push(() => router.close());
  return { router, port };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: () => { name: string; path: string; headers: Record<string, string> };
}

function get(port: number, path: string, options: { host?: string; agent?: http.Agent; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: HOST, port, path, agent: options.agent ?? false, headers: { host: options.host ?? 'app.test', ...options.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body) }));
    });
    req.on('error', reject);
  });
}

test('an ingress needs an address to bind', () => {
  assert.throws(() => new IngressRouter({ host: '' }), /no host given/);
});

test('requests are routed by Host and the longest path prefix', async () => {
  const { router, port } = await ingress();
  router.setRoutes([
    { service: 'web', host: 'app.test' },
    { service: 'api', host: 'app.test', pathPrefix: '/api' },
    { service: 'other', host: 'other.test' },
  ]);
  router.setEndpoints('web', [await backend('web')]);
  router.setEndpoints('api', [await backend('api')]);
  router.setEndpoints('other', [await backend('other')]);
  assert.equal((await get(port, '/')).json().name, 'web');
  assert.equal((await get(port, '/api/users?id=1')).json().name, 'api');
  assert.equal((await get(port, '/api/users?id=1')).json().path, '/api/users?id=1', 'the path goes through unchanged');
  assert.equal((await get(port, '/apis')).json().name, 'web');
  assert.equal((await get(port, '/api', { host: 'other.test:8080' })).json().name, 'other');
  const none = await get(port, '/', { host: 'nobody.test' });
  assert.equal(none.status, 404);
  assert.match(none.body, /no route for host "nobody.test"/);
});

test('backends get X-Forwarded-For, -Proto and -Host, and hop-by-hop headers stay on their hop', async () => {
  const { router, port } = await ingress({ proto: 'https' });
  router.setRoutes([{ service: 'web' }]);
  router.setEndpoints('web', [await backend('web')]);
  const answer = await get(port, '/', { host: 'shop.test:8443', headers: { 'x-forwarded-for': '203.0.113.9', connection: 'x-secret', 'x-secret': 'hop', 'x-kept': 'yes' } });
  const seen = answer.json().headers;
  assert.equal(seen['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
  assert.equal(seen['x-forwarded-proto'], 'https');
  assert.equal(seen['x-forwarded-host'], 'shop.test:8443');
  assert.equal(seen.host, 'shop.test:8443', 'the backend sees the Host the client asked for');
  assert.equal(seen['x-kept'], 'yes');
  assert.equal(seen['x-secret'], undefined, 'a header the client named in Connection is not forwarded');
  assert.equal(answer.headers['x-hop'], undefined, 'nor one the backend named');
});

test('a service with no healthy instance gets a 503 that names it, as text or JSON', async () => {
  const { router, port } = await ingress();
  router.setRoutes([{ service: 'checkout', host: 'app.test' }]);
  const text = await get(port, '/');
  assert.equal(text.status, 503);
  assert.equal(text.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(text.body, '503 Service Unavailable: no healthy instance of service "checkout"\n');
  const json = await get(port, '/', { headers: { accept: 'application/json' } });
  assert.equal(json.status, 503);
  assert.deepEqual(JSON.parse(json.body), { error: { code: 'no_healthy_instance', message: 'no healthy instance of service "checkout"', service: 'checkout' } });
  assert.equal(router.stats().failures.no_healthy_instance, 2);
});

test('a failed connect is retried on another instance; when every one fails the client gets a 502 naming the service', async () => {
  const { router, port } = await ingress({ retries: 1 });
  router.setRoutes([{ service: 'web' }]);
  router.setEndpoints('web', [{ id: 'dead', host: HOST, port: await closedPort() }, await backend('live')]);
  for (let i = 0; i < 4; i++) assert.equal((await get(port, '/')).json().name, 'live');
  assert.ok(router.stats().services[0].failedConnects >= 1);
  router.setEndpoints('web', [{ id: 'dead', host: HOST, port: await closedPort() }]);
  const bad = await get(port, '/');
  assert.equal(bad.status, 502);
  assert.match(bad.body, /service "web"/);
});

test('a backend that does not answer in time gets the client a 504', async () => {
  const { router, port } = await ingress({ requestTimeoutMs: 200 });
  router.setRoutes([{ service: 'web' }]);
  router.setEndpoints('web', [await backend('web')]);
  const started = Date.now();
  const answer = await get(port, '/never');
  assert.equal(answer.status, 504);
  assert.match(answer.body, /service "web" did not answer within 200 ms/);
  assert.ok(Date.now() - started < 2000);
});

test('keep-alive: one client connection carries many requests over one backend connection', async () => {
  const { router, port } = await ingress();
  const web = await backend('web');
  router.setRoutes([{ service: 'web' }]);
  router.setEndpoints('web', [web]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  cleanups.push(() => agent.destroy());
  let clientConnections = 0;
  const origCreate = agent.createConnection.bind(agent);
  agent.createConnection = ((...args: Parameters<typeof origCreate>) => (clientConnections++, origCreate(...args))) as typeof agent.createConnection;
  for (let i = 0; i < 20; i++) assert.equal((await get(port, '/', { agent })).status, 200);
  assert.equal(clientConnections, 1);
  assert.equal(web.connections, 1);
});

test('a WebSocket upgrade passes through, with X-Forwarded-For', async () => {
  const { router, port } = await ingress();
  router.setRoutes([{ service: 'ws', host: 'app.test', pathPrefix: '/live' }]);
  router.setEndpoints('ws', [await backend('ws')]);
  const ws = new WebSocket(`ws://${HOST}:${port}/live`, { headers: { host: 'app.test' } });
  const [hello] = await once(ws, 'message');
  assert.deepEqual(JSON.parse(String(hello)), { name: 'ws', xff: '127.0.0.1' });
  ws.send('ping');
  const [echo] = await once(ws, 'message');
  assert.equal(String(echo), 'echo ping');
  assert.equal(router.stats().upgraded, 1);
  ws.close();
  await once(ws, 'close');
});

test('removing an instance closes its WebSockets, so clients reconnect, and lets its requests in flight finish', { timeout: 10_000 }, async () => {
  const { router, port } = await ingress();
  const a = await backend('a');
  router.setRoutes([{ service: 'ws' }]);
  router.setEndpoints('ws', [a]);
  const ws = new WebSocket(`ws://${HOST}:${port}/`);
  await once(ws, 'message');
  const slow = get(port, '/slow');
  await sleep(50);
  const b = await backend('b');
  router.setEndpoints('ws', [b]);
  await once(ws, 'close');
  const answer = await slow;
  assert.equal(answer.status, 200);
  assert.equal(answer.json().name, 'a');
  assert.equal((await get(port, '/')).json().name, 'b');
});

test('route and endpoint updates under load drop no request', async () => {
  const { router, port } = await ingress();
  const [a, b, c] = [await backend('a'), await backend('b'), await backend('c')];
  router.setRoutes([{ service: 'web' }]);
  router.setEndpoints('web', [a, b]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  cleanups.push(() => agent.destroy());
  let stop = false;
  const statuses: number[] = [];
  const worker = async (): Promise<void> => {
    while (!stop) statuses.push((await get(port, '/', { agent })).status);
  };
  const workers = Array.from({ length: 16 }, worker);
  for (let i = 0; i < 20; i++) {
    router.setRoutes(i % 2 ? [{ service: 'web' }] : [{ service: 'web', pathPrefix: '/' }, { service: 'other', host: 'x.test' }]);
    router.setEndpoints('web', i % 2 ? [a, b] : [b, c]);
    await sleep(15);
  }
  stop = true;
  await Promise.all(workers);
  assert.ok(statuses.length > 50, `${statuses.length} requests`);
  assert.deepEqual(statuses.filter((s) => s !== 200), []);
});

test('a client keep-alive connection idle past the idle timeout is closed by the ingress', async () => {
  const { router, port } = await ingress({ idleTimeoutMs: 150 });
  router.setRoutes([{ service: 'web' }]);
  router.setEndpoints('web', [await backend('web')]);
  const socket = net.connect(port, HOST);
  await once(socket, 'connect');
  socket.write('GET / HTTP/1.1\r\nHost: app.test\r\n\r\n');
  await once(socket, 'data');
  const started = Date.now();
  socket.resume();
  await once(socket, 'close');
  const idle = Date.now() - started;
  assert.ok(idle >= 100 && idle < 2000, `closed after ${idle} ms idle`);
});
