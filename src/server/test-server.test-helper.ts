/** A real server on the memory backend, and what the server's own tests send it. */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { Allocation, Node } from '../model/index.ts';
import type { AllocUpdate, JobSummary, NodeRegisterRequest } from '../api/index.ts';
import { MemoryBackend } from '../state/index.ts';
import { silentLogger } from '../lib/index.ts';
import { Server, type ServerOptions } from './server.ts';

/** A response of `app.inject`, with its body parsed. */
export interface Answer<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: T;
  text: string;
}

/** A started server (memory backend, silent, a free port), stopped when the test ends. */
export async function startServer(t: TestContext, options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const server = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0, ...options });
  const ts = new TestServer(server);
  t.after(() => ts.stop());
  return ts;
}

/** Calls the server's HTTP app without a socket, as an agent or the CLI would over one. */
export class TestServer {
  readonly server: Server;
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(server: Server) {
    this.server = server;
  }

  async request<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, contentType?: string): Promise<Answer<T>> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (payload !== undefined) headers['content-type'] = contentType ?? 'application/json';
    const res = await this.server.app.inject({ method, url, payload, headers });
    let parsed: unknown = res.body;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      // Not JSON (metrics): the text is the body.
    }
    return { status: res.statusCode, headers: res.headers, body: parsed as T, text: res.body };
  }

  /** Like `request`, but the answer must be 200. */
  async ok<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, contentType?: string): Promise<T> {
    const res = await this.request<T>(method, url, body, contentType);
    assert.equal(res.status, 200, `${method} ${url} answered ${res.status}: ${res.text.slice(0, 500)}`);
    return res.body;
  }

  /** Register a node as an agent does. */
  async registerNode(overrides: Partial<NodeRegisterRequest> = {}): Promise<NodeRegisterRequest> {
    const body = nodeBody(overrides);
    await this.ok('PUT', '/v1/nodes/register', body);
    return body;
  }

  /** Heartbeat a node every `everyMs` until the returned function is called (or the server stops). */
  keepAlive(nodeId: string, everyMs = 50): () => void {
    const timer = setInterval(() => {
      if (!this.#stopped) void this.request('PUT', `/v1/nodes/${nodeId}/heartbeat`);
    }, everyMs);
    this.#timers.add(timer);
    return () => {
      clearInterval(timer);
      this.#timers.delete(timer);
    };
  }

  nodeAllocs(nodeId: string): Promise<Allocation[]> {
    return this.ok<Allocation[]>('GET', `/v1/nodes/${nodeId}/allocations`);
  }

  node(nodeId: string): Promise<Node> {
    return this.ok<Node>('GET', `/v1/nodes/${nodeId}`);
  }

  summary(jobId: string): Promise<JobSummary> {
    return this.ok<JobSummary>('GET', `/v1/jobs/${jobId}/summary`);
  }

  /** Report allocations as the agent on `nodeId` would. */
  report(nodeId: string, allocs: Allocation[], clientStatus: AllocUpdate['clientStatus']): Promise<Answer<{ index: number }>> {
    const updates: AllocUpdate[] = allocs.map((a) => ({ id: a.id, clientStatus, taskStates: {} }));
    return this.request('PUT', `/v1/nodes/${nodeId}/allocations`, { allocs: updates });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    await this.server.stop();
  }
}

/** What an agent sends to register: a process-driver host with 2 cores and 2 GiB in dc1. */
export function nodeBody(overrides: Partial<NodeRegisterRequest> = {}): NodeRegisterRequest {
  const id = overrides.id ?? 'node-a';
  return {
    id,
    name: id,
    datacenter: 'dc1',
    address: '127.0.0.1',
    httpAddr: '',
    attributes: { os: 'linux', arch: 'x86_64' },
    drivers: { process: { detected: true, healthy: true } },
    defaultDriver: 'process',
    resources: { cpu: 2, memoryMiB: 2048 },
    portRange: { min: 20_000, max: 20_100 },
    ...overrides,
  };
}

/** A service (or `type`) job of one process task, as YAML; `update` gives it a rollout of one at a time. */
export function jobYaml(options: { id?: string; count?: number; memory?: string; cpu?: string; type?: string; update?: boolean } = {}): string {
  return [
    `id: ${options.id ?? 'web'}`,
    `type: ${options.type ?? 'service'}`,
    ...(options.update ? ['update: {max_parallel: 1}'] : []),
    'groups:',
    '  - name: web',
    `    count: ${options.count ?? 1}`,
    '    tasks:',
    '      - name: server',
    '        driver: process',
    '        config:',
    '          command: /bin/sleep',
    '          args: ["3600"]',
    '        resources:',
    `          cpu: ${options.cpu ?? '100m'}`,
    `          memory: ${options.memory ?? '64Mi'}`,
    '',
  ].join('\n');
}

/** Poll `probe` until it returns a value other than undefined, or fail after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
