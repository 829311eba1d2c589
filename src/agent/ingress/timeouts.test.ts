import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { silentLogger } from '../../lib/index.ts';
import { freePorts } from '../../testing/index.ts';
import { makeDataPath, type IngressSettings } from './settings.ts';

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

function haproxyInstalled(): boolean {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Status and milliseconds of a GET with Host `slow.example`. */
function timedGet(port: number): Promise<[number, number]> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', headers: { host: 'slow.example' }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve([res.statusCode ?? 0, Date.now() - start]));
    }).on('error', reject);
  });
}

/** Milliseconds until the ingress closes a TCP connection on which nothing is sent. */
function idleClose(port: number): Promise<number> {
  const start = Date.now();
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    // HAProxy resets a connection it times out, the built-in path ends it: closed either way.
    c.on('close', () => resolve(Date.now() - start));
    c.on('error', () => undefined);
    c.resume();
  });
}

for (const proxy of ['builtin', 'haproxy'] as const) {
  describe(`ingress timeouts (${proxy})`, () => {
    test('--ingress-request-timeout answers 504 for an instance that is too slow, and --ingress-idle-timeout closes an idle TCP route connection', async (t: TestContext) => {
      if (proxy === 'haproxy' && !haproxyInstalled()) {
        if (process.env.CI === 'true') assert.fail('haproxy is not installed');
        return t.skip('haproxy is not installed');
      }
      // Answers after 5 s: a 200 would mean the request timeout did not act.
      const slow = http.createServer((_req, res) => void setTimeout(() => res.end('late'), 5000).unref());
      const silent = net.createServer((s) => s.on('error', () => undefined));
      const [slowPort, silentPort] = [await listen(slow), await listen(silent)];
      const [httpPort, tcpPort] = await freePorts(2);
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-ingress-timeouts-'));
      const settings: IngressSettings = { addresses: [{ host: '127.0.0.1', port: httpPort }], proxy, requestTimeoutMs: 700, idleTimeoutMs: 900 };
      const ingress = makeDataPath(settings, { dataDir: dir, logger: silentLogger() });
      t.after(async () => {
        await ingress.close();
        slow.closeAllConnections();
        slow.close();
        silent.close();
        await fs.rm(dir, { recursive: true, force: true });
      });
      await ingress.start();
      const endpoints = new Map([
        ['slow', [{ id: 's1', host: '127.0.0.1', port: slowPort }]],
        ['silent', [{ id: 'q1', host: '127.0.0.1', port: silentPort }]],
      ]);
      await ingress.apply({ http: [{ service: 'slow', host: 'slow.example', pathPrefix: '/' }], tcp: [{ port: tcpPort, service: 'silent' }], endpoints });
      const [status, ms] = await timedGet(httpPort);
      assert.equal(status, 504, 'the gateway timed out');
      assert.ok(ms >= 600, `504 after the request timeout (700 ms), not before: took ${ms} ms`);
      const closedAfter = await idleClose(tcpPort);
      // Without the flag it would stay open for the default 60 s.
      assert.ok(closedAfter >= 800 && closedAfter < 10_000, `closed after the idle timeout (900 ms), took ${closedAfter} ms`);
    });
  });
}
