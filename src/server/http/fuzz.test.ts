/**
 * Fuzzing the HTTP API of a real in-process server (memory backend, a fake clock so that nothing
 * writes on its own): every route's path parameters, query and body, job specs as JSON and YAML,
 * and KV keys. No request may get a 5xx, and a request that is refused (4xx) must change nothing.
 * Runs are bounded so that the file stays within a few seconds per property.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { FakeClock } from '../../testing/index.ts';
import { jobYaml, startServer, type Answer, type TestServer } from '../test-server.test-helper.ts';
import { routeRules } from './acl-guard.ts';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A server with a node, a running job, a KV key and a session: something for each route to find. */
async function populated(t: TestContext): Promise<{ s: TestServer; ids: string[] }> {
  const s = await startServer(t, { clock: new FakeClock() });
  await s.registerNode();
  const { evalId } = await s.ok<{ evalId: string }>('POST', '/v1/jobs', jobYaml({ id: 'web', count: 2 }), 'application/yaml');
  const deadline = Date.now() + 5_000;
  while (s.server.ctx.view.allocsByJob('web').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await s.ok('PUT', '/v1/kv/config/app', 'value');
  const { ID } = await s.ok<{ ID: string }>('PUT', '/v1/session/create', {});
  const alloc = s.server.ctx.view.allocsByJob('web')[0]!;
  return { s, ids: ['web', 'node-a', evalId, alloc.id, alloc.id.slice(0, 8), ID, 'config/app'] };
}

/** The state's revision: a refused request must leave it where it was. */
const revision = (s: TestServer): Promise<number> => s.server.ctx.backend.revision();

/** Resolves once nothing has written for 50 ms: what accepted requests set off (evaluations, plans) is done. */
async function quiet(s: TestServer): Promise<void> {
  for (let last = -1, now = await revision(s); now !== last; last = now, now = await revision(s)) await new Promise((r) => setTimeout(r, 50));
}

/**
 * Send a request; when it is refused but the revision moved, the write may be the background work
 * of an earlier accepted request (a scale's evaluation): let that settle and send it again, and
 * then it must change nothing.
 */
async function refusedChangesNothing(s: TestServer, send: () => Promise<Answer>, what: string): Promise<Answer> {
  const before = await revision(s);
  const res = await send();
  assertNo5xx(res, what);
  if (res.status < 400 || (await revision(s)) === before) return res;
  await quiet(s);
  const again = await revision(s);
  const second = await send();
  if (second.status >= 400) assert.equal(await revision(s), again, `${what} was refused (${second.status}) but wrote`);
  return second;
}

/**
 * A 5xx is a bug, whatever the input; but for one answer Consul gives itself: a Consul route asked
 * for another datacenter answers 500 `No path to datacenter`, which consul-template and linkerd
 * read (consul/conventions.ts).
 */
function assertNo5xx(res: Answer, what: string): void {
  if (res.status === 500 && res.text === 'No path to datacenter') return;
  // The routes that proxy to an agent (stats, logs, exec, restart) say so when it cannot be reached: the test's node has none.
  if (res.status === 503 && /no reachable agent/.test(res.text)) return;
  assert.ok(res.status < 500, `${what} answered ${res.status}: ${res.text.slice(0, 400)}`);
}

/** Any JSON value, a little deeper than a spec: bodies of every shape. */
const jsonBody = fc.jsonValue({ maxDepth: 4 });
/** Strings that are odd for paths and keys: unicode, control characters, separators, dots. */
const oddString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '.', '..', '/', '%', '%00', '%ZZ', 'a/b', 'a%2Fb', ' ', '\u0000', '\uD800', '😀', 'x'.repeat(300)),
);

/**
 * A path segment as a client sends it: every byte of the UTF-8 form percent-encoded but the
 * unreserved ones (encodeURIComponent throws on a lone surrogate; its UTF-8 form is U+FFFD's).
 */
function encode(segment: string): string {
  return [...Buffer.from(segment, 'utf8')].map((b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

/** `:param` of a route pattern filled from `values`. */
function fill(pattern: string, values: string[]): string {
  let i = 0;
  return pattern.replace(/:[A-Za-z]+|\*/g, () => encode(values[i++ % values.length] ?? 'x'));
}

/** A query string from fuzzed pairs; `index` and `wait` are left out so that no blocking query waits. */
function queryOf(pairs: [string, string][]): string {
  const q = new URLSearchParams(pairs.filter(([k]) => k !== 'index' && k !== 'wait' && k !== 'follow')).toString();
  return q ? `?${q}` : '';
}

/** Query keys the routes read, so that fuzzed values reach real parsers and not only unknown keys. */
const queryKey = fc.oneof(fc.constantFrom('purge', 'prefix', 'recurse', 'keys', 'separator', 'cas', 'acquire', 'release', 'flags', 'raw', 'dc', 'filter', 'namespace', 'passing', 'tag', 'near', 'task', 'type', 'origin', 'offset', 'limit', 'tail', 'stream', 'diff', 'detach', 'region', 'stale', 'consistent'), fc.string({ maxLength: 8 }));

describe('HTTP API under fuzzed input', { timeout: 120_000 }, () => {
  it('answers every route with no 5xx, whatever the path parameters, query and body, and a refused request changes nothing', async (t) => {
    const { s, ids } = await populated(t);
    const routes = routeRules(s.server.app).filter((r) => !r.url.startsWith('/v1/event/stream') && r.url !== '*');
    assert.ok(routes.length > 50, `the route table is read (${routes.length} routes)`);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.array(fc.oneof(fc.constantFrom(...ids), oddString), { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(queryKey, oddString), { maxLength: 4 }),
        fc.option(jsonBody, { nil: undefined }),
        async (route, params, query, body) => {
          const url = fill(route.url, params) + queryOf(query);
          const sent = route.method === 'GET' || route.method === 'DELETE' ? undefined : body;
          await refusedChangesNothing(s, () => s.request(route.method as Method, url, sent), `${route.method} ${url} ${JSON.stringify(sent)?.slice(0, 200)}`);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('takes or refuses job specs of every shape, JSON and YAML, with no 5xx; a refused one changes nothing', async (t) => {
    const { s } = await populated(t);
    const base = { id: 'fz', groups: [{ name: 'g', count: 1, tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' } }] }] };
    // A valid spec with one value replaced at a random place: the nearest misses are the likeliest bugs.
    const paths = ['id', 'type', 'priority', 'datacenters', 'meta', 'groups', 'update', 'constraints', 'max_run_duration', 'periodic', 'parameterized', 'g.name', 'g.count', 'g.tasks', 'g.restart', 'g.ports', 'g.services', 'g.update', 'g.spreads', 'g.reschedule', 't.name', 't.driver', 't.config', 't.env', 't.resources', 't.kill_timeout', 't.lifecycle', 't.templates', 't.logs', 't.max_run_duration', 't.services', 'c.command', 'c.args', 'c.image'];
    const mutated = fc.tuple(fc.constantFrom(...paths), fc.oneof(jsonBody, oddString)).map(([path, value]) => {
      const spec = structuredClone(base);
      const [where, key] = path.includes('.') ? path.split('.') : ['j', path];
      const group = spec.groups[0]!;
      const task = group.tasks[0]!;
      const target = ({ j: spec, g: group, t: task, c: task.config } as Record<string, Record<string, unknown>>)[where!]!;
      target[key!] = value;
      return JSON.stringify(spec);
    });
    const yamlText = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.constantFrom('id: a\ngroups: *x', '&a [*a]', 'id: !!binary AAAA', '{"id": 1e999}', ':\n  - :\n', 'a: &a\n  b: *a\n'));
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated.map((b) => ['application/json', b] as const), yamlText.map((y) => ['application/yaml', y] as const)), fc.constantFrom('/v1/jobs', '/v1/jobs/fz/plan'), async ([type, text], route) => {
        const res = await refusedChangesNothing(s, () => s.request('POST', route, text, type), `POST ${route} ${text.slice(0, 300)}`);
        if (res.status === 200 && route === '/v1/jobs') assert.equal((await s.request('GET', '/v1/jobs/fz')).status, 200);
      }),
      { numRuns: 1000 },
    );
  });

  it('stores any KV key it accepts and reads it back the same; refused keys change nothing', async (t) => {
    const { s } = await populated(t);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), oddString), fc.string({ maxLength: 40 }), async (key, value) => {
        const path = `/v1/kv/${key.split('/').map(encode).join('/')}`;
        const put = await refusedChangesNothing(s, () => s.request('PUT', path, value, 'text/plain'), `PUT ${path}`);
        if (put.status >= 400) return;
        const get = await s.request('GET', `${path}?raw`);
        assertNo5xx(get, `GET ${path}`);
        assert.equal(get.status, 200, `${JSON.stringify(key)} was stored but cannot be read: ${get.text}`);
        assert.equal(get.text, value);
        const del = await s.request('DELETE', path);
        assert.equal(del.status, 200);
      }),
      { numRuns: 800 },
    );
  });
});
