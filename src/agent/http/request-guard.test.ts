import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { silentLogger } from '../../lib/index.ts';
import { buildAgentApp } from './endpoint.ts';

describe("agent endpoint's request guard", () => {
  it('refuses any web page (Origin) and a foreign Host with 403, and serves the server (neither)', async (t) => {
    const app = await buildAgentApp(new Map(), new Map(), { logger: silentLogger(), bindHost: '10.1.2.3' });
    t.after(() => app.close());
    const call = (headers: Record<string, string>) => app.inject({ method: 'GET', url: '/v1/client/allocations/a1/logs', headers });

    const page = await call({ host: '127.0.0.1:4646', origin: 'http://127.0.0.1:4646' });
    assert.equal(page.statusCode, 403);
    assert.match(page.json<{ error: { message: string } }>().error.message, /Origin "http:\/\/127\.0\.0\.1:4646" is refused: the agent's endpoint serves berth servers, never web pages/);
    const rebound = await call({ host: 'evil.example:4646' });
    assert.equal(rebound.statusCode, 403);
    assert.match(rebound.json<{ error: { message: string } }>().error.message, /Host "evil\.example:4646" is refused/);

    for (const host of ['10.1.2.3:4646', '127.0.0.1:4646', 'localhost']) {
      assert.equal((await call({ host })).statusCode, 404, `${host}: passes the guard to the route (no such allocation)`);
    }
  });

  it('refuses an exec WebSocket that carries an Origin with 403, and upgrades one from a server (none)', async (t) => {
    const app = await buildAgentApp(new Map(), new Map(), { logger: silentLogger() });
    t.after(() => app.close());
    const base = (await app.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws');
    const open = (headers: Record<string, string>) =>
      new Promise<{ status?: number; message?: string }>((resolve, reject) => {
        const ws = new WebSocket(`${base}/v1/client/allocations/a1/exec?command=${encodeURIComponent('["id"]')}`, { headers });
        ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
        ws.on('message', (data) => resolve({ message: String(data) }));
        ws.on('error', reject);
      });
    assert.deepEqual(await open({ origin: 'http://evil.example' }), { status: 403 });
    assert.deepEqual(await open({ host: 'evil.example' }), { status: 403 });
    assert.match((await open({})).message!, /this agent does not run it/, 'past the guard, to the exec itself');
  });
});
