import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import type { CheckSpec, CheckStatus } from '../../model/index.ts';
import { CheckRunner, decodeHealthStatus, encodeHealthRequest, probe } from './index.ts';

function spec(over: Partial<CheckSpec>): CheckSpec {
  return { type: 'http', intervalMs: 1000, timeoutMs: 500, successBeforePassing: 0, failuresBeforeCritical: 0, ...over };
}

async function listen(server: net.Server | http.Server | http2.Http2Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('checks: probes', () => {
  it('http passes on 2xx, warns on 429, fails on 500 and on a closed port', async (t) => {
    let code = 200;
    const server = http.createServer((_req, res) => res.writeHead(code).end('ok body'));
    const port = await listen(server);
    t.after(() => server.close());
    const target = { host: '127.0.0.1', port };
    const pass = await probe(spec({ path: '/health' }), target);
    assert.equal(pass.status, 'passing');
    assert.match(pass.output, /HTTP GET http:\/\/127\.0\.0\.1:\d+\/health: 200 OK Output: ok body/);
    code = 429;
    assert.equal((await probe(spec({}), target)).status, 'warning');
    code = 500;
    assert.equal((await probe(spec({}), target)).status, 'critical');
    code = 302;
    assert.equal((await probe(spec({ expectStatus: { min: 200, max: 399 } }), target)).status, 'passing');
    server.close();
    assert.equal((await probe(spec({}), { host: '127.0.0.1', port: 1 })).status, 'critical');
  });

  it('tcp passes when the port accepts and fails when it does not', async (t) => {
    const server = net.createServer((s) => s.end());
    const port = await listen(server);
    t.after(() => server.close());
    assert.deepEqual(await probe(spec({ type: 'tcp' }), { host: '127.0.0.1', port }), { status: 'passing', output: `TCP connect 127.0.0.1:${port}: Success` });
    assert.equal((await probe(spec({ type: 'tcp' }), { host: '127.0.0.1', port: 1 })).status, 'critical');
  });

  it('script checks map exit 0, 1 and others to passing, warning and critical', async () => {
    for (const [exitCode, status] of [[0, 'passing'], [1, 'warning'], [2, 'critical']] as const) {
      const r = await probe(spec({ type: 'script', command: 'x' }), { host: '', port: 0, exec: async () => ({ exitCode, output: 'out' }) });
      assert.deepEqual(r, { status, output: 'out' });
    }
    assert.equal((await probe(spec({ type: 'script', command: 'x' }), { host: '', port: 0 })).status, 'critical');
  });

  it('grpc asks the standard health service and passes on SERVING', async (t) => {
    let serving = 1;
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      assert.equal(headers[':path'], '/grpc.health.v1.Health/Check');
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      const msg = Buffer.from([0x08, serving]);
      const frame = Buffer.alloc(5);
      frame.writeUInt32BE(msg.length, 1);
      stream.end(Buffer.concat([frame, msg]));
    });
    const port = await listen(server);
    t.after(() => server.close());
    assert.equal((await probe(spec({ type: 'grpc', grpcService: 'api' }), { host: '127.0.0.1', port })).status, 'passing');
    serving = 2;
    const r = await probe(spec({ type: 'grpc' }), { host: '127.0.0.1', port });
    assert.deepEqual(r.status, 'critical');
    assert.match(r.output, /NOT_SERVING/);
    assert.equal(decodeHealthStatus(Buffer.concat([encodeHealthRequest(''), Buffer.from([])])), 0);
  });
});

describe('checks: runner', () => {
  function runner(results: CheckStatus[], over: Partial<CheckSpec> = {}, onRestart?: (r: string) => void) {
    const reports: CheckStatus[] = [];
    let fail = false;
    const r = new CheckRunner({
      id: 'c1',
      spec: spec(over),
      target: { host: '', port: 0 },
      probe: async () => ({ status: results.shift() ?? 'passing', output: '' }),
      report: async (_id, status) => {
        if (fail) throw new Error('server away');
        reports.push(status);
      },
      onRestart,
    });
    return { r, reports, setFail: (f: boolean) => (fail = f) };
  }

  it('reports only transitions, after the thresholds', async () => {
    const { r, reports } = runner(['passing', 'passing', 'passing', 'critical', 'critical', 'passing'], { successBeforePassing: 2, failuresBeforeCritical: 2 });
    for (let i = 0; i < 6; i++) await r.runOnce();
    // 1st run: still critical (first report, since the catalog's state is unknown); 2nd: passing;
    // 4th: one failure is below the threshold; 5th: critical; 6th: one success is not enough.
    assert.deepEqual(reports, ['critical', 'passing', 'critical']);
  });

  it('reports again after a failed report', async () => {
    const { r, reports, setFail } = runner(['passing', 'passing']);
    setFail(true);
    await r.runOnce();
    setFail(false);
    await r.runOnce();
    assert.deepEqual(reports, ['passing']);
  });

  it('reports its level again after the task restarted, unchanged as it is', async () => {
    const { r, reports } = runner(['passing', 'passing', 'passing']);
    await r.runOnce();
    await r.runOnce();
    r.taskRestarted();
    await r.runOnce();
    assert.deepEqual(reports, ['passing', 'passing']);
  });

  it('check_restart restarts after limit critical results past the grace period', async () => {
    const restarts: string[] = [];
    const { r } = runner(['critical', 'critical', 'critical', 'passing', 'critical'], { checkRestart: { limit: 2, graceMs: 0 } }, (why) => restarts.push(why));
    r.start();
    r.stop();
    for (let i = 0; i < 5; i++) await r.runOnce().catch(() => undefined);
    assert.equal(restarts.length, 0, 'a stopped runner does nothing');
    const live = runner(['critical', 'critical', 'critical', 'passing', 'critical'], { checkRestart: { limit: 2, graceMs: 0 } }, (why) => restarts.push(why));
    for (let i = 0; i < 5; i++) await live.r.runOnce();
    assert.equal(restarts.length, 1);
    assert.match(restarts[0], /unhealthy 2 times/);
  });
});
