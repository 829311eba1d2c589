import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, test } from 'node:test';
import { silentLogger } from '../../lib/index.ts';
import { freePorts } from '../../testing/index.ts';
import { BuiltinIngress } from './builtin.ts';

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

describe('the built-in ingress', () => {
  test('routes HTTP by host and a TCP port to the plan\'s endpoints, and follows a new plan', async (t) => {
    const web = http.createServer((req, res) => res.end(`web ${req.url}`));
    const echo = net.createServer((s) => s.pipe(s));
    const [webPort, echoPort] = [await listen(web), await listen(echo)];
    const [httpPort, tcpPort] = await freePorts(2);
    const ingress = new BuiltinIngress({ addresses: [{ host: '127.0.0.1', port: httpPort }], logger: silentLogger() });
    await ingress.start();
    t.after(async () => {
      await ingress.close();
      web.close();
      echo.close();
    });
    const endpoints = new Map([
      ['web', [{ id: 'w1', host: '127.0.0.1', port: webPort }]],
      ['echo', [{ id: 'e1', host: '127.0.0.1', port: echoPort }]],
    ]);
    await ingress.apply({ http: [{ service: 'web', host: 'web.example', pathPrefix: '/' }], tcp: [{ port: tcpPort, service: 'echo' }], endpoints });
    // fetch sends no Host of our choosing: node:http does.
    const get = (host: string): Promise<[number, string]> =>
      new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: httpPort, path: '/x', headers: { host } }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c));
          res.on('end', () => resolve([res.statusCode ?? 0, body]));
        }).on('error', reject);
      });
    assert.deepEqual(await get('web.example'), [200, 'web /x']);
    assert.equal((await get('other.example'))[0], 404);
    const echoed = await new Promise<string>((resolve, reject) => {
      const c = net.connect(tcpPort, '127.0.0.1', () => c.end('ping'));
      let got = '';
      c.on('data', (d: Buffer) => (got += d));
      c.on('end', () => resolve(got));
      c.on('error', reject);
    });
    assert.equal(echoed, 'ping');
    await ingress.apply({ http: [{ service: 'web', host: 'web.example', pathPrefix: '/' }], tcp: [], endpoints: new Map([['web', []]]) });
    const [status, body] = await get('web.example');
    assert.equal(status, 503);
    assert.match(body, /no healthy instance of service "web"/);
    await assert.rejects(new Promise((resolve, reject) => net.connect(tcpPort, '127.0.0.1', () => resolve(undefined)).on('error', reject)), /ECONNREFUSED/, 'the TCP route\'s listener is closed');
  });

  test('a TCP route whose port is taken is bound once it is free, with backoff, without waiting for a route change', async (t) => {
    const echo = net.createServer((s) => s.pipe(s));
    const echoPort = await listen(echo);
    const [httpPort, tcpPort] = await freePorts(2);
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(tcpPort, '127.0.0.1', resolve));
    const ingress = new BuiltinIngress({ addresses: [{ host: '127.0.0.1', port: httpPort }], logger: silentLogger(), retryBaseMs: 100 });
    await ingress.start();
    t.after(async () => {
      await ingress.close();
      echo.close();
      squatter.close();
    });
    await ingress.apply({ http: [], tcp: [{ port: tcpPort, service: 'echo' }], endpoints: new Map([['echo', [{ id: 'e1', host: '127.0.0.1', port: echoPort }]]]) });
    // Tries at +100, +300, +700 ms ... fail while the port is held.
    await new Promise((r) => setTimeout(r, 500));
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    const ping = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const c = net.connect(tcpPort, '127.0.0.1', () => c.end('ping'));
        let got = '';
        c.on('data', (d: Buffer) => (got += d));
        c.on('end', () => resolve(got));
        c.on('error', reject);
      });
    const deadline = Date.now() + 8000;
    let got: string | undefined;
    while (got === undefined && Date.now() < deadline) {
      got = await ping().catch(() => undefined);
      if (got === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(got, 'ping', 'the route is served once its port is free, with no new plan');
  });
});
