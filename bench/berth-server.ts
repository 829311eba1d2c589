/**
 * What the HTTP benchmarks share: a `berth server` process started from bin/berth.js and waited
 * for, and one request over node:http(s) with a keep-alive agent (fetch costs the client about
 * twice the CPU per request, and with the client on the same 2 cores the client, not the server,
 * would set the rate).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { freePorts } from '../test/harness/berth.ts';

const root = path.resolve(import.meta.dirname, '..');

/** An answer, its body read whole. */
export interface Answer {
  status: number;
  text: string;
}

/** One request on a keep-alive agent (http or https by the URL). */
export function send(agent: http.Agent, url: string, init: { method: string; body?: string; headers?: Record<string, string> }): Promise<Answer> {
  const secure = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(url, { method: init.method, agent, headers: init.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** A running `berth server`. */
export interface BenchServer {
  url: string;
  child: ChildProcess;
  /** SIGTERM, and wait for it to exit. */
  stop(): Promise<void>;
}

/**
 * Start `berth server` on free loopback ports with its state in `dataDir` and `flags` more;
 * resolves once `GET /v1/status/leader` answers (through `agent`, for an https server).
 */
export async function startServer(options: { dataDir: string; flags?: string[]; https?: boolean; agent?: http.Agent }): Promise<BenchServer> {
  const [port, dnsPort] = await freePorts(2);
  const args = ['server', '--data-dir', options.dataDir, '--http-addr', `127.0.0.1:${port}`, '--dns-addr', `127.0.0.1:${dnsPort}`, ...(options.flags ?? [])];
  const child = spawn(process.execPath, [path.join(root, 'bin/berth.js'), ...args], { stdio: 'ignore' });
  const url = `${options.https ? 'https' : 'http'}://127.0.0.1:${port}`;
  const agent = options.agent ?? new http.Agent();
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  for (let i = 0; ; i++) {
    try {
      if ((await send(agent, `${url}/v1/status/leader`, { method: 'GET' })).status < 500) return { url, child, stop };
    } catch {
      // Not listening yet.
    }
    if (i > 200 || child.exitCode !== null) {
      await stop();
      throw new Error(`Cannot start berth server ${args.join(' ')} for the bench`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
