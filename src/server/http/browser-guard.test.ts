import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import type { Allocation } from '../../model/index.ts';
import { MAX_BODY_BYTES, MAX_EXEC_MESSAGE_BYTES } from '../../api/index.ts';
import { eventually, jobYaml, startServer, type TestServer } from '../test-server.test-helper.ts';

interface Reply {
  status: number;
  text: string;
  json: { error?: { code: string; message: string; details: { path: string; message: string }[] } } & Record<string, unknown>;
}

/** A request over a real socket with exactly these headers (fetch would not let a test set Origin or Host). */
function raw(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let json = {} as Reply['json'];
        try {
          json = JSON.parse(text) as Reply['json'];
        } catch {
          // Not JSON.
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

async function jobIds(s: TestServer): Promise<string[]> {
  return (await s.ok<{ id: string }[]>('GET', '/v1/jobs')).map((j) => j.id);
}

describe('browser guard', () => {
  it('refuses a text/plain job POST (a CORS simple request) with 415 and creates no job', async (t) => {
    const s = await startServer(t);
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await raw(`${s.server.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': type }, body: jobYaml() });
      assert.equal(res.status, 415, type);
      assert.equal(res.json.error?.code, 'invalid_input');
      assert.match(res.json.error!.message, /Cannot POST \/v1\/jobs: a body of type ".*" is refused; send it as application\/json/);
    }
    const none = await raw(`${s.server.url}/v1/jobs`, { method: 'POST', body: jobYaml() });
    assert.equal(none.status, 415, 'no content type at all');
    assert.deepEqual(await jobIds(s), []);
    const yaml = await raw(`${s.server.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: jobYaml() });
    assert.equal(yaml.status, 200, yaml.text);
    assert.deepEqual(await jobIds(s), ['web']);
  });

  it('refuses a foreign Origin and the opaque one with 403, naming the origin and --allowed-origin, and changes nothing', async (t) => {
    const s = await startServer(t);
    for (const origin of ['http://evil.example', 'http://127.0.0.1:1', 'null']) {
      const res = await raw(`${s.server.url}/v1/jobs`, { method: 'POST', headers: { origin, 'content-type': 'application/yaml' }, body: jobYaml() });
      assert.equal(res.status, 403, origin);
      assert.equal(res.json.error?.code, 'forbidden');
      assert.match(res.json.error!.message, new RegExp(`Origin "${origin.replace(/[.]/g, '\\.')}" is refused: .*--allowed-origin`));
      assert.deepEqual(res.json.error!.details.map((d) => d.path), ['origin']);
    }
    const read = await raw(`${s.server.url}/v1/jobs`, { headers: { origin: 'http://evil.example' } });
    assert.equal(read.status, 403, 'reads too');
    const preflight = await raw(`${s.server.url}/v1/kv/x`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'PUT' } });
    assert.equal(preflight.status, 403, 'no preflight is granted');
    assert.deepEqual(await jobIds(s), []);
  });

  it("lets in the server's own origin and configured ones", async (t) => {
    const s = await startServer(t, { browser: { allowedOrigins: ['https://ui.example.com'] } });
    const own = await raw(`${s.server.url}/v1/jobs`, { method: 'POST', headers: { origin: s.server.url, 'content-type': 'application/yaml' }, body: jobYaml() });
    assert.equal(own.status, 200, own.text);
    const configured = await raw(`${s.server.url}/v1/jobs`, { headers: { origin: 'https://ui.example.com' } });
    assert.equal(configured.status, 200, configured.text);
  });

  it('answers the CORS preflight of a configured origin, and of no other', async (t) => {
    const s = await startServer(t, { browser: { allowedOrigins: ['https://ui.example.com'] } });
    const ask = (origin: string) =>
      raw(`${s.server.url}/v1/jobs`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    const allowed = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(`${s.server.url}/v1/jobs`, { method: 'OPTIONS', headers: { origin: 'https://ui.example.com', 'access-control-request-method': 'POST' } }, resolve);
      req.on('error', reject);
      req.end();
    });
    allowed.resume();
    assert.equal(allowed.statusCode, 204);
    assert.equal(allowed.headers['access-control-allow-origin'], 'https://ui.example.com');
    assert.match(String(allowed.headers['access-control-allow-methods']), /POST/);
    assert.equal((await ask('https://evil.example')).status, 403);
  });

  it('refuses a Host that is not one of its names with 403 naming --allowed-host, and accepts configured and advertised ones', async (t) => {
    const s = await startServer(t, { advertiseUrl: 'http://berth-1.internal:7460', browser: { allowedHosts: ['berth.example.com'] } });
    const res = await raw(`${s.server.url}/v1/jobs`, { headers: { host: 'evil.example:7460' } });
    assert.equal(res.status, 403);
    assert.match(res.json.error!.message, /^Cannot GET \/v1\/jobs: Host "evil\.example:7460" is refused: .*start it with --allowed-host evil\.example$/);
    const write = await raw(`${s.server.url}/v1/kv/app`, { method: 'PUT', headers: { host: 'evil.example' }, body: 'v' });
    assert.equal(write.status, 403);
    assert.equal((await s.request('GET', '/v1/kv/app')).status, 404, 'the refused write changed nothing');
    for (const host of ['berth.example.com:7460', 'berth-1.internal:7460', 'localhost:8500', '127.0.0.1:8500', '[::1]:7460']) {
      assert.equal((await raw(`${s.server.url}/v1/jobs`, { headers: { host } })).status, 200, host);
    }
  });

  it("keeps Consul's raw KV PUT open to any content type, but not to a foreign Origin", async (t) => {
    const s = await startServer(t);
    const put = await raw(`${s.server.url}/v1/kv/app/config`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(put.text, 'true');
    const form = await raw(`${s.server.url}/v1/kv/app/form`, { method: 'PUT', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' });
    assert.equal(form.text, 'true');
    const foreign = await raw(`${s.server.url}/v1/kv/app/evil`, { method: 'PUT', headers: { origin: 'http://evil.example', 'content-type': 'text/plain' }, body: 'x' });
    assert.equal(foreign.status, 403);
    assert.equal((await s.request('GET', '/v1/kv/app/evil')).status, 404);
  });

  it('answers a body over the limit with 413 and a clear message, and headers over 16 KiB with 431', async (t) => {
    const s = await startServer(t);
    const big = await raw(`${s.server.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.alloc(MAX_BODY_BYTES + 1, 0x20) });
    assert.equal(big.status, 413);
    assert.match(big.json.error!.message, /the body is larger than the limit of 4 MiB/);
    const headers = await raw(`${s.server.url}/v1/jobs`, { headers: { 'x-padding': 'a'.repeat(20 * 1024) } });
    assert.equal(headers.status, 431);
  });
});

describe('browser guard: the exec WebSocket', () => {
  /** A stand-in agent endpoint that keeps every exec session open and counts the messages it gets. */
  async function fakeAgent(t: TestContext): Promise<{ url: string; received: number[] }> {
    const received: number[] = [];
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.on('message', (data: Buffer) => received.push(data.length)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.close();
    });
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
  }

  async function allocOnAgent(t: TestContext, s: TestServer): Promise<{ alloc: Allocation; received: number[] }> {
    const agent = await fakeAgent(t);
    await s.registerNode({ httpAddr: agent.url });
    t.after(s.keepAlive('node-a'));
    await s.ok('POST', '/v1/jobs', jobYaml(), 'application/yaml');
    const [alloc] = await eventually('the allocation', async () => {
      const allocs = await s.nodeAllocs('node-a');
      return allocs.length === 1 ? allocs : undefined;
    });
    return { alloc, received: agent.received };
  }

  function open(url: string, headers: Record<string, string> = {}): Promise<{ ws?: WebSocket; status?: number; body?: string }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      ws.on('open', () => resolve({ ws }));
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
      ws.on('error', reject);
    });
  }

  it('refuses an upgrade from a foreign Origin or at a foreign Host with 403 and lets the CLI (no Origin) in', async (t) => {
    const s = await startServer(t);
    const { alloc } = await allocOnAgent(t, s);
    const url = `${s.server.url.replace(/^http/, 'ws')}/v1/allocations/${alloc.id}/exec?command=${encodeURIComponent('["id"]')}`;
    const foreign = await open(url, { origin: 'http://evil.example' });
    assert.equal(foreign.status, 403);
    assert.match((JSON.parse(foreign.body!) as { error: { message: string } }).error.message, /open a WebSocket at \/v1\/allocations\/.*\/exec: Origin "http:\/\/evil\.example" is refused.*--allowed-origin/);
    const rebound = await open(url, { host: 'evil.example:7460' });
    assert.equal(rebound.status, 403);
    const cli = await open(url);
    assert.ok(cli.ws, 'the CLI connects');
    cli.ws.close();
    const own = await open(url, { origin: s.server.url });
    assert.ok(own.ws, 'a page the server served connects');
    own.ws.close();
  });

  it('relays a message under the frame limit and closes the socket on a larger one (1009)', async (t) => {
    const s = await startServer(t);
    const { alloc, received } = await allocOnAgent(t, s);
    const { ws } = await open(`${s.server.url.replace(/^http/, 'ws')}/v1/allocations/${alloc.id}/exec?command=${encodeURIComponent('["sh"]')}`);
    assert.ok(ws);
    ws.send('a'.repeat(512 * 1024));
    await eventually('the agent gets the 512 KiB message', async () => (received.includes(512 * 1024) ? true : undefined));
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.send('a'.repeat(MAX_EXEC_MESSAGE_BYTES + 1));
    assert.equal(await closed, 1009);
    assert.ok(!received.includes(MAX_EXEC_MESSAGE_BYTES + 1), 'the large message never reached the agent');
  });
});
