import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRoutes, RouteTable } from './route-table.ts';

const table = new RouteTable([
  { service: 'web', host: 'example.test' },
  { service: 'api', host: 'example.test', pathPrefix: '/api' },
  { service: 'api-v2', host: 'Example.test', pathPrefix: '/api/v2/' },
  { service: 'fallback' },
  { service: 'docs', pathPrefix: '/docs' },
]);
const to = (host: string | undefined, path: string): string | undefined => table.match(host, path)?.service;

test('the longest matching path prefix of the request host wins', () => {
  assert.equal(to('example.test', '/'), 'web');
  assert.equal(to('example.test', '/api'), 'api');
  assert.equal(to('example.test', '/api/users?x=1'), 'api');
  assert.equal(to('example.test', '/api/v2/users'), 'api-v2');
  assert.equal(to('EXAMPLE.test:8080', '/api?q'), 'api', 'host case and port do not matter');
});

test('prefixes match whole path segments only', () => {
  assert.equal(to('example.test', '/apis'), 'web');
  assert.equal(to('other.test', '/docsy'), 'fallback');
});

test('routes without a host serve other hosts and a missing Host', () => {
  assert.equal(to('other.test', '/docs/intro'), 'docs');
  assert.equal(to(undefined, '/'), 'fallback');
  assert.equal(new RouteTable([{ service: 'x', host: 'a.test' }]).match('b.test', '/'), undefined);
});

test('a host and path claimed by two services is refused with both routes named', () => {
  const problems = checkRoutes([
    { service: 'a', host: 'h.test', pathPrefix: '/x/' },
    { service: 'b', host: 'H.test', pathPrefix: '/x' },
    { service: 'c', pathPrefix: 'nope' },
  ]);
  assert.deepEqual(problems.map((p) => p.path), ['routes[1]', 'routes[2].pathPrefix']);
  assert.match(problems[0].message, /already routed to service "a" by routes\[0\]/);
  assert.throws(() => new RouteTable([{ service: 'a' }, { service: 'b', pathPrefix: '/' }]), /routes\[1\]: host "\*" path "\/" is already routed to service "a"/);
});
